"""Log records as JSON lines, and the request id on every record.

:class:`RequestIdFilter` (on every handler) sets ``record.request_id`` (None outside a request).
:class:`JsonFormatter` writes one JSON object per line — ``ts``, ``level``, ``logger``,
``message``, ``request_id``, plus an access record's fields (:mod:`chatgpt_api.api.access_log`)
or a redacted ``exception``. Messages are redacted by :class:`~chatgpt_api.redact.RedactingFilter`;
access fields carrying client text are redacted here, so a line is always valid JSON.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import orjson

from chatgpt_api.observability.context import current_request_id
from chatgpt_api.redact import redact_text

#: Access fields that carry text chosen by the client (redacted before they are written).
CLIENT_TEXT_FIELDS = ("path", "referer", "user_agent")
_SEPARATOR = "\n"  # no secret pattern spans a newline between two redacted fields


class RequestIdFilter(logging.Filter):
    """Sets ``record.request_id`` (None outside a request); never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id()
        return True


class TextFormatter(logging.Formatter):
    """``<time> <LEVEL> <logger> [<request id>]: <message>`` (``[-]`` outside a request)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, "request_id", None) is None:
            record.request_id = "-"
        return super().format(record)


def redact_fields(values: list[str]) -> list[str]:
    """``values`` redacted in one pass (or one by one if a mask would span two of them)."""
    joined = _SEPARATOR.join(values)
    parts = redact_text(joined).split(_SEPARATOR)
    if len(parts) == len(values):
        return parts
    return [redact_text(value) for value in values]


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": _timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        access = getattr(record, "access", None)
        if isinstance(access, dict):
            fields = dict(access)
            present = [name for name in CLIENT_TEXT_FIELDS if isinstance(fields.get(name), str)]
            for name, value in zip(
                present, redact_fields([fields[name] for name in present]), strict=True
            ):
                fields[name] = value
            line.update(fields)
        if record.exc_info and not record.exc_text:
            record.exc_text = redact_text(self.formatException(record.exc_info))
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = redact_text(self.formatStack(record.stack_info))
        return orjson.dumps(line).decode()


def _timestamp(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"
