"""Refusing oversized request headers before any route sees them (the second line).

The first line is at the socket (:mod:`chatgpt_api.http_guard`): it counts a request head's
bytes as they arrive and refuses it before the parser buffers it. This middleware checks the
parsed headers of every request: more than ``max_bytes`` in total (names and values; the
``max_header_size`` setting) or more than ``MAX_HEADERS`` in number gets
``431 Request Header Fields Too Large`` at once (the connection is then closed). It catches
what the socket check cannot count exactly (a pipelined head that began inside the read that
ended the previous request) and the number of headers.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

MAX_HEADER_BYTES = 64 * 1024
MAX_HEADERS = 200
_BODY = b'{"message":"request header fields too large"}'


class HeaderLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int = MAX_HEADER_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = scope["headers"]
            if len(headers) > MAX_HEADERS or (
                sum(len(name) + len(value) for name, value in headers) > self.max_bytes
            ):
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
                return
        await self.app(scope, receive, send)
