"""Refusing a client's credential that cannot be sent in an HTTP header.

A token with a NUL, CR, LF or another control character would make the upstream request fail
inside the HTTP client ("fetch failed") after the turn was opened; worse, CR/LF is how headers
are injected. Such a credential is refused before anything is sent or stored, with a message
that says why (the seed routes answer it as their usual 500 ``{"message"}``, ``/v1`` as 400).
"""

from __future__ import annotations

import re

from chatgpt_api.errors import RequestError

#: Control characters are not allowed in a header value (RFC 9110 5.5), except horizontal tab.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")

INVALID_CREDENTIAL = (
    "invalid [access_token]: the access token or API key contains a control character "
    "(NUL, CR, LF, ...) and cannot be sent in an Authorization header"
)


def has_control_character(value: str) -> bool:
    """True if ``value`` holds a character no header value may carry (NUL, CR, LF, ...)."""
    return _CONTROL.search(value) is not None


def check_header_credential(credential: str | None) -> None:
    """Raise :class:`RequestError` if ``credential`` holds a character a header cannot carry."""
    if credential and has_control_character(credential):
        raise RequestError(INVALID_CREDENTIAL)
