"""Server-Sent Events: bytes → :class:`ServerSentEvent`.

The decoder follows the WHATWG event-stream rules (LF, CR or CRLF line ends, ``data:`` lines
joined with ``\\n``, dispatch at a blank line, comments ignored, UTF-8 decoded a whole line at a
time) and is incremental: any chunking of a stream yields the same events. Unlike the standard,
:meth:`SSEDecoder.close` dispatches a last event that lacks its blank line. A line or event over
``max_event_size`` raises :class:`EventTooLarge`. Nothing here knows any upstream protocol.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_MAX_EVENT_SIZE = 8 * 1024 * 1024


#: A longer ``retry`` is ignored like an invalid one (int() refuses over 4,300 digits, and no
#: reconnection time needs more than 20).
_MAX_RETRY_DIGITS = 20

_LINE_END = re.compile(rb"\r\n|\r|\n")
_DATA_FIELD = b"data:"
#: Buffers and values up to this size are sliced (fast for the many small events of a stream);
#: longer ones are read in place through a memoryview, so a long line is copied only once.
_SHORT_BUFFER = 64 * 1024


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

    __slots__ = (
        "_data",
        "_data_size",
        "_event",
        "_head",
        "_id",
        "_max",
        "_pending",
        "_pending_size",
        "_retry",
        "_skip_lf",
    )

    def __init__(self, max_event_size: int = DEFAULT_MAX_EVENT_SIZE) -> None:
        self._max = max_event_size
        #: The chunks of the unterminated line (joined once, when its end arrives), their
        #: total size and the line's first bytes (enough to tell a ``data:`` line).
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._head = b""
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
        end = max(chunk.rfind(b"\n"), chunk.rfind(b"\r"))
        if end < 0:
            self._keep(chunk)
            return []
        buffer = chunk
        if self._pending:
            end += self._pending_size
            buffer = b"".join((*self._pending, chunk))
            self._pending, self._pending_size, self._head = [], 0, b""
        if buffer[end] == 0x0D and end == len(buffer) - 1:
            self._skip_lf = True
        events: list[ServerSentEvent] = []
        if len(buffer) <= _SHORT_BUFFER:
            for line in buffer[: end + 1].splitlines():
                if len(line) > self._max:
                    raise EventTooLarge(self._max)
                event = self._process_line(line)
                if event is not None:
                    events.append(event)
        else:  # lines read in place: a long line is not copied whole before it is decoded
            start = 0
            for match in _LINE_END.finditer(buffer, 0, end + 1):
                stop = match.start()
                if stop - start > self._max:
                    raise EventTooLarge(self._max)
                if stop - start > _SHORT_BUFFER:
                    event = self._process_long_line(buffer, start, stop)
                else:
                    event = self._process_line(buffer[start:stop])
                if event is not None:
                    events.append(event)
                start = match.end()
        if end + 1 < len(buffer):
            self._keep(buffer[end + 1 :])
        return events

    def close(self) -> list[ServerSentEvent]:
        """End of stream: process a last unterminated line and dispatch a pending event."""
        events: list[ServerSentEvent] = []
        if self._pending:
            line = b"".join(self._pending)
            self._pending, self._pending_size, self._head = [], 0, b""
            if len(line) > _SHORT_BUFFER:
                self._process_long_line(line, 0, len(line))
            else:
                self._process_line(line)
        event = self._process_line(b"")
        if event is not None:
            events.append(event)
        return events

    def _keep(self, rest: bytes) -> None:
        """Hold (a piece of) an unterminated line, unless it already makes its line or event
        too large.

        The checks are lower bounds of the complete line's, so whether a stream raises does not
        depend on how it is chunked.
        """
        if not rest:
            return
        self._pending.append(rest)
        self._pending_size += len(rest)
        if len(self._head) < len(_DATA_FIELD):
            self._head = (self._head + rest)[: len(_DATA_FIELD)]
        if self._pending_size > self._max:
            raise EventTooLarge(self._max)
        # A data line's value (after "data:") counts towards its event already.
        if self._head == _DATA_FIELD and (
            self._data_size + self._pending_size - len(_DATA_FIELD) > self._max
        ):
            raise EventTooLarge(self._max)

    def _process_line(self, line: bytes) -> ServerSentEvent | None:
        if not line:
            return self._dispatch()
        if line[:1] == b":":
            return None
        field, sep, value = line.partition(b":")
        if sep and value[:1] == b" ":
            value = value[1:]
        if field == b"data":
            self._add_data(value)
        elif field == b"event":
            self._event = value.decode("utf-8", "replace")
        elif field == b"id":
            if b"\x00" not in value:
                self._id = value.decode("utf-8", "replace")
        elif field == b"retry" and value.isdigit() and len(value) <= _MAX_RETRY_DIGITS:
            self._retry = int(value)
        return None

    def _process_long_line(self, buffer: bytes, start: int, stop: int) -> ServerSentEvent | None:
        """A line longer than ``_SHORT_BUFFER``, ``buffer[start:stop]``, read in place: its
        value is copied once, by its decoding. Only a ``data`` line can matter that long."""
        if buffer[start : start + len(_DATA_FIELD)] != _DATA_FIELD:
            return self._process_line(buffer[start:stop])  # rare: copied, then as usual
        value = memoryview(buffer)[start + len(_DATA_FIELD) : stop]
        if value[:1].tobytes() == b" ":
            value = value[1:]
        self._add_data(value)
        return None

    def _add_data(self, value: bytes | memoryview) -> None:
        self._data_size += len(value) + 1
        if self._data_size > self._max:
            raise EventTooLarge(self._max)
        self._data.append(str(value, "utf-8", "replace"))

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
