"""Logging set-up: access lines to stdout, everything else (tracebacks too) to stderr.

Every handler carries :class:`~chatgpt_api.redact.RedactingFilter`, so no token, password or
cookie reaches a log line even if some library puts one in a message, and
:class:`~chatgpt_api.observability.logformat.RequestIdFilter`, so every record emitted while a
request is answered carries its id.

``log_format="text"``: access lines in Apache's combined format, unchanged (so existing parsers
keep working; the request id is in the ``X-Request-ID`` response header), other lines
``<time> <LEVEL> <logger> [<request id>]: <message>``. ``log_format="json"``: every line, the
access lines and the "Listening on" announcement included, is one JSON object (see
:mod:`chatgpt_api.observability.logformat`).
"""

from __future__ import annotations

import logging
import sys
from typing import Literal

from chatgpt_api.observability.logformat import JsonFormatter, RequestIdFilter, TextFormatter
from chatgpt_api.redact import RedactingFilter

ACCESS_LOGGER = "chatgpt_api.access"
LogFormat = Literal["text", "json"]

_format: LogFormat = "text"


def configure_logging(level: str, log_format: LogFormat = "text") -> None:
    global _format
    _format = log_format
    redacting = RedactingFilter()
    request_id = RequestIdFilter()
    json_lines = JsonFormatter() if log_format == "json" else None
    errors = logging.StreamHandler(sys.stderr)
    errors.setFormatter(json_lines or TextFormatter())
    errors.addFilter(redacting)
    errors.addFilter(request_id)
    root = logging.getLogger()
    root.handlers[:] = [errors]
    root.setLevel(level.upper())

    access = logging.StreamHandler(sys.stdout)
    access.setFormatter(json_lines or logging.Formatter("%(message)s"))
    access.addFilter(redacting)
    access.addFilter(request_id)
    access_logger = logging.getLogger(ACCESS_LOGGER)
    access_logger.handlers[:] = [access]
    access_logger.propagate = False
    access_logger.setLevel(logging.INFO)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    uvicorn_errors = logging.getLogger("uvicorn.error")
    uvicorn_errors.filters[:] = [f for f in uvicorn_errors.filters if not _is_startup_filter(f)]
    uvicorn_errors.addFilter(_drop_startup_chatter)


#: uvicorn's start-up lines, said better by the start-up summary and the "Listening on" line.
_STARTUP_CHATTER = (
    "Started server process",
    "Waiting for application startup",
    "Application startup complete",
    "Uvicorn running on",
)


def _drop_startup_chatter(record: logging.LogRecord) -> bool:
    return not (record.levelno == logging.INFO and str(record.msg).startswith(_STARTUP_CHATTER))


def _is_startup_filter(candidate: object) -> bool:
    return candidate is _drop_startup_chatter


def listening_line(port: int) -> str:
    """The seed's start-up line for stdout (a JSON line when logs are JSON)."""
    return announcement(f"Listening on http://localhost:{port}")


def announcement(message: str) -> str:
    """A start-up line for stdout as is, or as a JSON line when logs are JSON."""
    if _format != "json":
        return message
    message = message.strip()
    record = logging.LogRecord("chatgpt_api.server", logging.INFO, "", 0, message, None, None)
    record.request_id = None
    return JsonFormatter().format(record)
