"""One access-log line per request, in Apache's combined format (as the seed's morgan wrote).

``127.0.0.1 - - [26/Nov/2026:13:58:33 +0000] "POST /send_message HTTP/1.1" 200 97 "-" "curl/8.0"``

The query string is redacted (a secret in a URL never reaches the log). A request whose client
went away before an answer was sent is logged with status and length ``-``.

With ``structured=True`` (``log_format=json``) the line is a short message (``POST /path 200``)
and the record carries an ``access`` dict — method, path, status (499 when the client went away,
null when nothing was answered), bytes, duration_ms, client, referer, user_agent — that
:class:`~chatgpt_api.observability.logformat.JsonFormatter` writes as fields (redacted there).
The request id is on every record (see :mod:`chatgpt_api.logs`).
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chatgpt_api.logs import ACCESS_LOGGER
from chatgpt_api.redact import redact_text

log = logging.getLogger(ACCESS_LOGGER)


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp, structured: bool = False) -> None:
        self.app = app
        self.structured = structured

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status: int | None = None
        length = 0

        async def logged_send(message: Message) -> None:
            nonlocal status, length
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                length += len(message.get("body", b""))
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, logged_send)
        finally:
            if self.structured:
                _log_structured(scope, status, length, time.perf_counter() - started)
            else:
                log.info(_line(scope, status, length))


_stamp: tuple[int, str] = (-1, "")


def _timestamp() -> str:
    """The log's UTC timestamp, formatted once per second rather than once per request."""
    global _stamp
    now = int(time.time())
    if _stamp[0] != now:
        _stamp = (now, time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)))
    return _stamp[1]


def _line(scope: Scope, status: int | None, length: int) -> str:
    client = scope.get("client")
    host = client[0] if client else "-"
    target = scope.get("raw_path", b"").decode("latin-1") or scope["path"]
    query = scope.get("query_string", b"")
    if query:
        target = f"{target}?{redact_text(query.decode('latin-1'))}"
    referer = agent = "-"
    for name, value in scope["headers"]:  # the last one wins, as dict() did
        if name == b"referer":
            referer = value.decode("latin-1")
        elif name == b"user-agent":
            agent = value.decode("latin-1")
    when = _timestamp()
    shown_status = "-" if status is None or status == 499 else str(status)
    shown_length = "-" if shown_status == "-" else str(length)
    return (
        f'{host} - - [{when}] "{scope["method"]} {target} HTTP/{scope["http_version"]}" '
        f'{shown_status} {shown_length} "{referer}" "{agent}"'
    )


def _log_structured(scope: Scope, status: int | None, length: int, seconds: float) -> None:
    client = scope.get("client")
    target = scope.get("raw_path", b"").decode("latin-1") or scope["path"]
    query = scope.get("query_string", b"")
    if query:
        target = f"{target}?{query.decode('latin-1')}"
    referer = agent = None
    for name, value in scope["headers"]:
        if name == b"referer":
            referer = value.decode("latin-1")
        elif name == b"user-agent":
            agent = value.decode("latin-1")
    fields = {
        "method": scope["method"],
        "path": target,
        "status": status,
        "bytes": length if status is not None else None,
        "duration_ms": round(seconds * 1000, 3),
        "client": client[0] if client else None,
        "referer": referer,
        "user_agent": agent,
    }
    log.info("%s %s %s", scope["method"], scope["path"], status or "-", extra={"access": fields})
