"""The one request-lifecycle middleware: everything every HTTP request goes through.

In order: the header-size limit (431 at once, see :mod:`.header_limits`); the request id
(``X-Request-ID``) and the :class:`~chatgpt_api.observability.context.RequestContext` the routes
fill in; the in-flight count that graceful shutdown waits on (a request cancelled before it
answered gets a 503, see :mod:`.graceful_shutdown`); a plain 500 if a handler raised before
answering; then, once the response has ended, the metrics and the access-log line.

One ``send`` wrapper does it all: per streamed frame it adds one call and a length sum.
"""

from __future__ import annotations

import asyncio
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chatgpt_api.api.access_log import log_access
from chatgpt_api.api.graceful_shutdown import InFlight, refuse_cut_off, swallow_cancellation
from chatgpt_api.api.header_limits import MAX_HEADER_BYTES, headers_too_large, refuse_headers
from chatgpt_api.observability import context as ctx
from chatgpt_api.observability.metrics import Metrics

_INTERNAL_ERROR_HEADERS = [(b"content-type", b"text/plain; charset=utf-8")]
_REQUEST_ID = ctx.REQUEST_ID_HEADER


class RequestLifecycle:
    """``access_log``: None (off), ``"text"`` (combined format) or ``"json"`` (fields)."""

    def __init__(
        self,
        app: ASGIApp,
        metrics: Metrics,
        in_flight: InFlight | None = None,
        max_header_bytes: int = MAX_HEADER_BYTES,
        access_log: str | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.in_flight = in_flight if in_flight is not None else InFlight()
        self.max_header_bytes = max_header_bytes
        self.access_log = access_log
        self._structured = access_log == "json"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope["headers"]
        if headers_too_large(headers, self.max_header_bytes):
            await refuse_headers(send)
            return
        incoming = None
        for name, value in headers:
            if name == _REQUEST_ID:
                incoming = value
                break
        request_id = ctx.accept_request_id(incoming)
        id_header = (_REQUEST_ID, request_id.encode("ascii"))
        metrics = self.metrics
        context = ctx.RequestContext(request_id, metrics.stream_started)
        status: int | None = None
        length = 0

        async def wrapped_send(message: Message) -> None:
            nonlocal status, length
            if message["type"] == "http.response.body":
                length += len(message.get("body", b""))
            elif message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        in_flight = self.in_flight
        in_flight.enter()
        token = ctx.enter(context)
        try:
            await self.app(scope, receive, wrapped_send)
        except asyncio.CancelledError:
            # Only uvicorn cancels a request task (a client that goes away is handled inside):
            # the grace period is over. A response already under way cannot be answered again.
            if status is not None:
                raise
            swallow_cancellation()
            await refuse_cut_off(scope, wrapped_send)
        except Exception:
            if status is None:
                await wrapped_send(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": _INTERNAL_ERROR_HEADERS,
                    }
                )
                await wrapped_send({"type": "http.response.body", "body": b"Internal Server Error"})
            context.error = context.error or "InternalError"
            raise
        finally:
            try:
                metrics.record(scope, context, status)
                if self.access_log is not None:
                    seconds = time.perf_counter() - context.started
                    log_access(scope, status, length, seconds, self._structured)
            finally:
                ctx.leave(token)
                in_flight.leave()
