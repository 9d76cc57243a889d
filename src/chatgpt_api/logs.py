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


def listening_line(port: int) -> str:
    """The seed's start-up line for stdout (a JSON line when logs are JSON)."""
    message = f"Listening on http://localhost:{port}"
    if _format != "json":
        return message
    record = logging.LogRecord("chatgpt_api.server", logging.INFO, "", 0, message, None, None)
    record.request_id = None
    return JsonFormatter().format(record)
