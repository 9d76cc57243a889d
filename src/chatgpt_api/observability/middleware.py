"""Every request gets an id (``X-Request-ID``) and is counted, timed and labelled.

The middleware sits outside every other one: it makes the request's
:class:`~chatgpt_api.observability.context.RequestContext` current (so every log record emitted
while answering carries the id), adds ``X-Request-ID`` to the response — streams and errors
included, and the plain 500 it sends itself if a handler raised before answering — and, once
the response has ended, records it in :class:`~chatgpt_api.observability.metrics.Metrics`.

Per request this costs a header scan, two clock reads, a few dictionary look-ups and three
instrument updates; nothing runs per streamed chunk.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chatgpt_api.observability import context as ctx
from chatgpt_api.observability.metrics import NO_BACKEND, UNMATCHED_ROUTE, Metrics

CLIENT_CLOSED = 499
_INTERNAL_ERROR_HEADERS = [(b"content-type", b"text/plain; charset=utf-8")]


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope["headers"]:
            if name == ctx.REQUEST_ID_HEADER:
                incoming = value
                break
        request_id = ctx.accept_request_id(incoming)
        header = (ctx.REQUEST_ID_HEADER, request_id.encode("ascii"))
        metrics = self.metrics
        context = ctx.RequestContext(request_id, metrics.stream_started)
        status: int | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        token = ctx.enter(context)
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            if status is None:
                status = 500
                await send_with_id(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": _INTERNAL_ERROR_HEADERS,
                    }
                )
                await send({"type": "http.response.body", "body": b"Internal Server Error"})
            context.error = context.error or "InternalError"
            raise
        finally:
            ctx.leave(token)
            self._record(scope, context, status)

    def _record(self, scope: Scope, context: ctx.RequestContext, status: int | None) -> None:
        metrics = self.metrics
        ended = time.perf_counter()
        route = getattr(scope.get("route"), "path", None) or UNMATCHED_ROUTE
        backend = context.backend or NO_BACKEND
        model = metrics.model_label(context.model, context.listed)
        code = status or CLIENT_CLOSED
        status_label = str(code)
        first = context.first_token_at
        metrics.record_request(
            (route, scope["method"], backend, model, status_label),
            ended - context.started,
            None if first is None else first - context.started,
        )
        if context.streaming:
            metrics.stream_ended(backend)
        if code >= 400 or context.error is not None:
            error = context.error or ("ClientDisconnected" if code == CLIENT_CLOSED else "http")
            metrics.errors.labels(route, backend, model, status_label, error).inc()
