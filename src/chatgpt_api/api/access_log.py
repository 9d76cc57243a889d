"""One access-log line per request, in Apache's combined format (as the seed's morgan wrote).

Query values of logged URLs are ``[REDACTED]`` except a few harmless names, and client-chosen
text is escaped as nginx does (:mod:`chatgpt_api.api.log_fields`), so a secret never reaches the
log and no client can forge a field. A client gone before the answer is logged with ``-``. With
``structured=True`` (``log_format=json``) the record carries an ``access`` dict written as JSON
fields by :class:`~chatgpt_api.observability.logformat.JsonFormatter`.
"""

from __future__ import annotations

import logging
import time

from starlette.types import Scope

from chatgpt_api.api.log_fields import clean_field, redact_url
from chatgpt_api.logs import ACCESS_LOGGER

log = logging.getLogger(ACCESS_LOGGER)


def log_access(
    scope: Scope, status: int | None, length: int, seconds: float, structured: bool
) -> None:
    """Write the request's access-log line (called by :mod:`.lifecycle` once it has ended)."""
    if not log.isEnabledFor(logging.INFO):
        return
    if structured:
        _log_structured(scope, status, length, seconds)
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


def _target(scope: Scope) -> str:
    """The request target as the client sent it, with its query values redacted."""
    target = scope.get("raw_path", b"").decode("latin-1") or scope["path"]
    query = scope.get("query_string", b"")
    if query:
        target = f"{target}?{query.decode('latin-1')}"
    return redact_url(target)


def _client_headers(scope: Scope) -> tuple[str | None, str | None]:
    """The Referer (its query values redacted) and User-Agent; the last of each wins."""
    referer = agent = None
    for name, value in scope["headers"]:
        if name == b"referer":
            referer = value.decode("latin-1")
        elif name == b"user-agent":
            agent = value.decode("latin-1")
    return (None if referer is None else redact_url(referer)), agent


def _line(scope: Scope, status: int | None, length: int) -> str:
    client = scope.get("client")
    host = client[0] if client else "-"
    referer, agent = _client_headers(scope)
    when = _timestamp()
    shown_status = "-" if status is None or status == 499 else str(status)
    shown_length = "-" if shown_status == "-" else str(length)
    method, target = clean_field(scope["method"]), clean_field(_target(scope))
    return (
        f'{host} - - [{when}] "{method} {target} HTTP/{scope["http_version"]}" '
        f'{shown_status} {shown_length} "{clean_field(referer or "-")}" '
        f'"{clean_field(agent or "-")}"'
    )


def _log_structured(scope: Scope, status: int | None, length: int, seconds: float) -> None:
    client = scope.get("client")
    referer, agent = _client_headers(scope)
    fields = {
        "method": scope["method"],
        "path": _target(scope),
        "status": status,
        "bytes": length if status is not None else None,
        "duration_ms": round(seconds * 1000, 3),
        "client": client[0] if client else None,
        "referer": referer,
        "user_agent": agent,
    }
    log.info("%s %s %s", scope["method"], scope["path"], status or "-", extra={"access": fields})
