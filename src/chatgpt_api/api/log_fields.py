"""Making client-chosen text safe to write into an access-log line.

* :func:`redact_url` replaces every query (and fragment) value of a URL with ``[REDACTED]``,
  except the values of :data:`HARMLESS_QUERY_NAMES`. It goes by what is allowed, not by what
  looks secret, so ``?secret=``, ``?session=`` or ``?authorization=Bearer%20...`` never reach a
  log whatever the name. A parameter without ``=`` counts as a value.
* :func:`escape_field` escapes text as nginx's access log does (``escape=default``): ``"``,
  ``\\``, control characters and every byte above 126 become ``\\xHH`` (upper-case hex; a
  character beyond Latin-1 is escaped byte by byte in UTF-8). A quote or a line break in a
  User-Agent, Referer or path then cannot close a field or start a forged line.
* :func:`clean_field` escapes a field, masking secrets first
  (:func:`~chatgpt_api.redact.redact_text` needs the unescaped text to see JSON-shaped ones).
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import unquote

from chatgpt_api.redact import MASK, redact_text

#: Query parameter names whose values are logged as they are (compared case-insensitively,
#: after percent-decoding): paging and format switches that never carry a credential.
HARMLESS_QUERY_NAMES: Final = frozenset(
    {"limit", "offset", "page", "per_page", "order", "sort", "stream", "format", "model"}
)

_NEEDS_ESCAPE: Final = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    raw = bytes([code]) if code < 256 else char.encode("utf-8", "surrogatepass")
    return "".join(f"\\x{byte:02X}" for byte in raw)


def escape_field(text: str) -> str:
    """``text`` escaped as nginx escapes access-log variables (see the module docstring)."""
    if _NEEDS_ESCAPE.search(text) is None:
        return text
    return _NEEDS_ESCAPE.sub(_escape_char, text)


def clean_field(text: str) -> str:
    """``text`` escaped for a quoted access-log field, its secrets masked first when escaping
    changes it (``\\x22`` would hide a JSON-shaped secret from the patterns). Text that needs
    no escaping is returned as it is: the access log's
    :class:`~chatgpt_api.redact.RedactingFilter` masks the whole line, which costs one pass
    instead of one per field."""
    if _NEEDS_ESCAPE.search(text) is None:
        return text
    return _NEEDS_ESCAPE.sub(_escape_char, redact_text(text))


def _redact_parameters(query: str) -> str:
    parts = []
    for part in query.split("&"):
        name, equals, value = part.partition("=")
        if not equals:  # a bare value: "?<token>"
            harmless = not part or unquote(part).lower() in HARMLESS_QUERY_NAMES
            parts.append(part if harmless else MASK)
        elif not value or unquote(name).lower() in HARMLESS_QUERY_NAMES:
            parts.append(part)
        else:
            parts.append(f"{name}={MASK}")
    return "&".join(parts)


def redact_url(url: str) -> str:
    """``url`` with every query and fragment value masked but those of harmless names."""
    path, question, rest = url.partition("?")
    if not question:
        path, hash_mark, fragment = url.partition("#")
        return path + (hash_mark + _redact_parameters(fragment) if hash_mark else "")
    query, hash_mark, fragment = rest.partition("#")
    redacted = f"{path}?{_redact_parameters(query)}"
    return redacted + (hash_mark + _redact_parameters(fragment) if hash_mark else "")
