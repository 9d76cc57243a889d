"""Refusing oversized request headers before any route sees them.

The HTTP parser accepts headers of any size; a gateway should not. A request whose headers
exceed ``MAX_HEADER_BYTES`` in total or ``MAX_HEADERS`` in number gets
``431 Request Header Fields Too Large`` at once (the connection is then closed).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

MAX_HEADER_BYTES = 64 * 1024
MAX_HEADERS = 200
_BODY = b'{"message":"request header fields too large"}'


class HeaderLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = scope["headers"]
            if len(headers) > MAX_HEADERS or (
                sum(len(name) + len(value) for name, value in headers) > MAX_HEADER_BYTES
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
