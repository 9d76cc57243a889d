"""Images, audio and files inside stored messages, kept once by content hash.

A message's ``payload`` (its OpenAI chat form) may carry large inline data: ``data:`` URLs in
``image_url.url`` and ``file.file_data``, base64 in ``input_audio.data``. Before a turn is
stored, :func:`extract` replaces each such string by a short reference and returns the decoded
bytes as :class:`Attachment` values (SHA-256, media type, size), written to their own table once
whatever the number of messages that use them. :func:`resolve` puts the original strings back,
byte for byte, when a conversation is replayed upstream or shown.

References: ``attachment:sha256:<hex>`` stands for a ``data:<media type>;base64,...`` URL and
``attachment-b64:sha256:<hex>`` for bare base64. Inline data shorter than
:data:`INLINE_LIMIT` characters stays inline. http(s) URLs are kept as they are.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

#: Inline data shorter than this stays in the payload.
INLINE_LIMIT = 512

_DATA_URL = re.compile(r"data:([\w.+-]+/[\w.+-]+)?((?:;[^;,]*)*);base64,", re.ASCII)
_REF = re.compile(r"attachment(-b64)?:sha256:([0-9a-f]{64})")
#: The keys whose values may hold inline data (image_url.url, file.file_data, input_audio.data).
_DATA_KEYS = frozenset({"url", "file_data", "data"})


@dataclass(frozen=True, slots=True)
class Attachment:
    sha256: str
    media_type: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


def extract(payload: Mapping[str, Any]) -> tuple[dict[str, Any], list[Attachment]]:
    """``payload`` with its large inline data replaced by references, and that data."""
    found: list[Attachment] = []
    return _walk(payload, lambda text, key, parent: _take(text, key, parent, found)), found


def resolve(payload: Mapping[str, Any], lookup: Mapping[str, Attachment]) -> dict[str, Any]:
    """``payload`` with its references replaced by the original strings (missing → kept)."""
    return _walk(payload, lambda text, key, parent: _restore(text, key, lookup))


def references(payload: Mapping[str, Any]) -> set[str]:
    """The SHA-256 of every attachment ``payload`` refers to."""
    found: set[str] = set()

    def note(text: str, key: str, parent: Mapping[str, Any]) -> str:
        match = _REF.fullmatch(text) if key in _DATA_KEYS else None
        if match:
            found.add(match.group(2))
        return text

    _walk(payload, note)
    return found


_Visit = Callable[[str, str, Mapping[str, Any]], str]


def _walk(value: Mapping[str, Any], visit: _Visit) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, str):
            out[key] = visit(item, key, value)
        elif isinstance(item, Mapping):
            out[key] = _walk(item, visit)
        elif isinstance(item, list):
            out[key] = [_walk(x, visit) if isinstance(x, Mapping) else x for x in item]
        else:
            out[key] = item
    return out


def _take(text: str, key: str, parent: Mapping[str, Any], found: list[Attachment]) -> str:
    if len(text) < INLINE_LIMIT or key not in _DATA_KEYS:
        return text
    match = _DATA_URL.match(text)
    if match and match.group(1) and not match.group(2):
        data = _decode(text[match.end() :])
        if data is not None:
            attachment = _attachment(data, match.group(1))
            found.append(attachment)
            return f"attachment:sha256:{attachment.sha256}"
    if key == "data" and "format" in parent:
        data = _decode(text)
        if data is not None:
            attachment = _attachment(data, f"audio/{parent['format']}")
            found.append(attachment)
            return f"attachment-b64:sha256:{attachment.sha256}"
    return text


def _decode(text: str) -> bytes | None:
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    # Only what re-encodes to the very same text may be replaced: the replay must be exact.
    return data if base64.b64encode(data).decode("ascii") == text else None


def _attachment(data: bytes, media_type: str) -> Attachment:
    return Attachment(hashlib.sha256(data).hexdigest(), media_type, data)


def _restore(text: str, key: str, lookup: Mapping[str, Attachment]) -> str:
    match = _REF.fullmatch(text) if key in _DATA_KEYS else None
    if not match or match.group(2) not in lookup:
        return text
    attachment = lookup[match.group(2)]
    encoded = base64.b64encode(attachment.data).decode("ascii")
    if match.group(1):
        return encoded
    return f"data:{attachment.media_type};base64,{encoded}"
