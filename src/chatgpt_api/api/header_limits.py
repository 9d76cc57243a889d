"""Refusing oversized request headers before any route sees them (the second line).

The first line is at the socket (:mod:`chatgpt_api.http_guard`): it counts a request head's
bytes as they arrive and refuses it before the parser buffers it. The request-lifecycle
middleware (:mod:`.lifecycle`) checks the parsed headers of every request with
:func:`headers_too_large`: more than ``max_bytes`` in total (names and values; the
``max_header_size`` setting) or more than ``MAX_HEADERS`` in number gets ``431 Request Header
Fields Too Large`` at once (the connection is then closed). It catches what the socket cannot
count exactly (a head begun inside the read that ended the previous request) and the number.
"""

from __future__ import annotations

from starlette.types import Send

MAX_HEADER_BYTES = 64 * 1024
MAX_HEADERS = 200
_BODY = b'{"message":"request header fields too large"}'


def headers_too_large(headers: list[tuple[bytes, bytes]], max_bytes: int) -> bool:
    """More than ``MAX_HEADERS`` headers, or more than ``max_bytes`` of names and values."""
    if len(headers) > MAX_HEADERS:
        return True
    total = 0
    for name, value in headers:
        total += len(name) + len(value)
    return total > max_bytes


async def refuse_headers(send: Send) -> None:
    """Answer ``431`` (and close the connection)."""
    await send(
        {
            "type": "http.response.start",
            "status": 431,
            "headers": [
                (b"content-type", b"application/json; charset=utf-8"),
                (b"content-length", str(len(_BODY)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": _BODY})
