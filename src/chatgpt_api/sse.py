"""Server-Sent Events: bytes → :class:`ServerSentEvent`, and events → bytes.

The decoder follows the WHATWG event-stream rules and is incremental, so any chunking of the
same byte stream yields the same events:

* lines end with LF, CR or CRLF — a CRLF split across two chunks is one line end;
* ``data:`` lines (one optional space after the colon) of one event are joined with ``\\n``;
* an event is dispatched at a blank line; an event without data is not dispatched;
* comment lines (``:...``) are ignored, ``event:``, ``id:`` and ``retry:`` are kept;
* bytes are decoded as UTF-8 one complete line at a time, so a multi-byte character split
  across chunks is decoded correctly (invalid bytes become U+FFFD, as the standard says).

Unlike the standard, :meth:`SSEDecoder.close` dispatches a final event that lacks its blank
line: a stream that ends cleanly loses nothing. A line or event larger than ``max_event_size``
raises :class:`EventTooLarge`, bounding memory whatever the peer sends.

Nothing here knows about any particular upstream protocol.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MAX_EVENT_SIZE = 8 * 1024 * 1024


#: A longer ``retry`` is ignored like an invalid one (int() refuses over 4,300 digits, and no
#: reconnection time needs more than 20).
_MAX_RETRY_DIGITS = 20


class EventTooLarge(ValueError):
    """A line or event exceeded the decoder's size limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"event larger than {limit} bytes")
        self.limit = limit


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    data: str
    event: str = ""
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """Incremental event-stream decoder: call :meth:`feed` per chunk, :meth:`close` at EOF."""

    __slots__ = ("_buffer", "_data", "_data_size", "_event", "_id", "_max", "_retry", "_skip_lf")

    def __init__(self, max_event_size: int = DEFAULT_MAX_EVENT_SIZE) -> None:
        self._max = max_event_size
        self._buffer = b""
        self._skip_lf = False
        self._data: list[str] = []
        self._data_size = 0
        self._event = ""
        self._id: str | None = None
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        if self._skip_lf and chunk:
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
            self._skip_lf = False
        buffer = self._buffer + chunk if self._buffer else chunk
        end = max(buffer.rfind(b"\n"), buffer.rfind(b"\r"))
        if end < 0:
            self._keep(buffer)
            return []
        if buffer[end] == 0x0D and end == len(buffer) - 1:
            self._skip_lf = True
        events: list[ServerSentEvent] = []
        for line in buffer[: end + 1].splitlines():
            if len(line) > self._max:
                raise EventTooLarge(self._max)
            event = self._process_line(line)
            if event is not None:
                events.append(event)
        self._keep(buffer[end + 1 :])
        return events

    def close(self) -> list[ServerSentEvent]:
        """End of stream: process a last unterminated line and dispatch a pending event."""
        events: list[ServerSentEvent] = []
        if self._buffer:
            line, self._buffer = self._buffer, b""
            self._process_line(line)
        event = self._process_line(b"")
        if event is not None:
            events.append(event)
        return events

    def _keep(self, rest: bytes) -> None:
        """Hold an unterminated line, unless it already makes its line or event too large.

        The checks are lower bounds of the complete line's, so whether a stream raises does not
        depend on how it is chunked.
        """
        if len(rest) > self._max:
            raise EventTooLarge(self._max)
        field, sep, value = rest.partition(b":")
        if field == b"data" and sep and self._data_size + len(value) > self._max:
            raise EventTooLarge(self._max)
        self._buffer = rest

    def _process_line(self, line: bytes) -> ServerSentEvent | None:
        if not line:
            return self._dispatch()
        if line[:1] == b":":
            return None
        field, sep, value = line.partition(b":")
        if sep and value[:1] == b" ":
            value = value[1:]
        if field == b"data":
            self._data_size += len(value) + 1
            if self._data_size > self._max:
                raise EventTooLarge(self._max)
            self._data.append(value.decode("utf-8", "replace"))
        elif field == b"event":
            self._event = value.decode("utf-8", "replace")
        elif field == b"id":
            if b"\x00" not in value:
                self._id = value.decode("utf-8", "replace")
        elif field == b"retry" and value.isdigit() and len(value) <= _MAX_RETRY_DIGITS:
            self._retry = int(value)
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        if not self._data:
            self._event = ""
            return None
        data = self._data[0] if len(self._data) == 1 else "\n".join(self._data)
        event = ServerSentEvent(data=data, event=self._event, id=self._id, retry=self._retry)
        self._data = []
        self._data_size = 0
        self._event = ""
        return event


def encode_event(data: str, event: str | None = None) -> bytes:
    """One event in wire form; a multi-line ``data`` becomes several ``data:`` lines."""
    head = f"event: {event}\n" if event else ""
    if "\n" in data or "\r" in data:
        lines = data.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        body = "".join(f"data: {line}\n" for line in lines)
    else:
        body = f"data: {data}\n"
    return (head + body + "\n").encode()
