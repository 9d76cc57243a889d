"""Recording of the requests the emulator receives.

Each request becomes a :class:`RecordedRequest`. Its identifying fields are set once, when the
request arrives; ``ended_at`` and ``client_went_away`` are filled in when the handler finishes
or is cancelled because the client closed the connection. The :class:`RequestLog` is shared
between the emulator's event loop and other threads (``EmulatorThread``), so every access goes
through a lock and readers get copies of the list.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RecordedRequest", "RequestLog"]


@dataclass(eq=False)
class RecordedRequest:
    """One request received by the emulator."""

    method: str
    path: str
    query_string: str
    #: Header names lower-cased; a repeated header keeps its values joined by ``", "``.
    headers: dict[str, str]
    body: bytes
    #: The body parsed as JSON, or None when it is empty or not JSON.
    json: Any
    #: ``time.monotonic()`` when the request arrived.
    received_at: float
    #: ``time.monotonic()`` when the handler finished (None while it is still running).
    ended_at: float | None = None
    #: True when the handler stopped because the client closed the connection.
    client_went_away: bool = False
    #: Name of the fixture that served the request (None for the dynamic routes).
    fixture: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The body decoded as UTF-8 (invalid bytes replaced)."""
        return self.body.decode("utf-8", errors="replace")

    @property
    def duration(self) -> float | None:
        """Seconds between arrival and end, or None while still running."""
        return None if self.ended_at is None else self.ended_at - self.received_at

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable description (used by ``GET /_emulator/requests``)."""
        return {
            "method": self.method,
            "path": self.path,
            "query_string": self.query_string,
            "headers": dict(self.headers),
            "body": self.text,
            "json": self.json,
            "received_at": self.received_at,
            "ended_at": self.ended_at,
            "client_went_away": self.client_went_away,
            "fixture": self.fixture,
        }


def parse_json_body(body: bytes) -> Any:
    """``body`` parsed as JSON, or None if it is empty or not valid JSON."""
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


class RequestLog:
    """A thread-safe list of :class:`RecordedRequest` with a change notification."""

    def __init__(self) -> None:
        self._items: list[RecordedRequest] = []
        self._cond = threading.Condition()

    def add(self, record: RecordedRequest) -> None:
        with self._cond:
            self._items.append(record)
            self._cond.notify_all()

    def finish(self, record: RecordedRequest, *, went_away: bool) -> None:
        """Mark ``record`` as ended now."""
        with self._cond:
            if went_away:
                record.client_went_away = True
            record.ended_at = time.monotonic()
            self._cond.notify_all()

    def snapshot(self) -> list[RecordedRequest]:
        with self._cond:
            return list(self._items)

    def clear(self) -> None:
        with self._cond:
            self._items.clear()
            self._cond.notify_all()

    def wait_until_closed(self, index: int, timeout: float = 2.0) -> bool:
        """Block until request number ``index`` has ended; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if index < len(self._items) and self._items[index].ended_at is not None:
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)

    def is_closed(self, index: int) -> bool:
        with self._cond:
            return index < len(self._items) and self._items[index].ended_at is not None
