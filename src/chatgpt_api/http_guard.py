"""Connection and request-head limits enforced at the socket, before any ASGI code runs.

:class:`GuardedHttpProtocol` extends uvicorn's httptools protocol (passed as ``http=``). It
buffers request heads itself and feeds only whole heads to the parser (constant work per byte),
answering ``414``/``431`` past ``max_header_bytes``; enforces an idle deadline for new
connections and one deadline per head (``408``); caps open connections per process and per
client address (``503``, trusted proxies exempt). Refusals write their answer, half-close,
drain a little and close; warnings about them are rate-limited. Cost: one ``bytes.find`` per
read and a flag per phase (about a microsecond per keep-alive request).
"""

from __future__ import annotations

import ipaddress
import logging
import resource
import time
from asyncio import TimerHandle
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from weakref import WeakKeyDictionary

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

log = logging.getLogger("chatgpt_api.http_guard")

_HEAD_END = b"\r\n\r\n"
#: What a refused connection may still send (and have discarded) before it is cut off.
_LINGER_BYTES = 1024 * 1024
_LINGER_SECONDS = 2.0
#: Descriptors kept free for everything but client connections (upstreams, database, files).
_RESERVED_DESCRIPTORS = 128

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class ConnectionLimits:
    """The socket-level limits one server applies (see the module docstring)."""

    header_timeout: float = 10.0
    idle_timeout: float = 10.0
    max_header_bytes: int = 64 * 1024
    max_connections: int = 4096
    #: 0: no per-address cap.
    max_connections_per_client: int = 256
    #: Peers exempt from the per-address cap (the load balancers of ``trusted_proxies``).
    trusted_networks: tuple[Network, ...] = field(default_factory=tuple)

    def trusted(self, host: str) -> bool:
        if not self.trusted_networks:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.trusted_networks)


def parse_networks(text: str) -> tuple[Network, ...]:
    """``"10.0.0.1, 10.1.0.0/16"`` → networks; a :class:`ValueError` names a bad entry."""
    networks: list[Network] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"not an IP address or CIDR: {item!r}") from None
    return tuple(networks)


class GuardedConfig(uvicorn.Config):
    """A uvicorn config carrying the :class:`ConnectionLimits` its protocol instances read."""

    def __init__(self, app: Any, *, connection_limits: ConnectionLimits, **kwargs: Any) -> None:
        kwargs.setdefault("http", GuardedHttpProtocol)
        kwargs.setdefault("timeout_keep_alive", connection_limits.idle_timeout)
        super().__init__(app, **kwargs)
        self.connection_limits = connection_limits


def raise_open_file_limit() -> int:
    """Raise this process's soft ``RLIMIT_NOFILE`` to its hard limit; the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft == resource.RLIM_INFINITY:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1_048_576)
    else:
        target = hard
    if soft != target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            log.warning("could not raise the open-file limit from %d to %d", soft, target)
    return soft


def connection_cap(wanted: int) -> int:
    """``wanted``, lowered so that client connections cannot exhaust the open-file limit."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    room = max(16, soft - _RESERVED_DESCRIPTORS)
    if wanted > room:
        log.warning(
            "max_connections %d lowered to %d: the open-file limit is %d (raise it with ulimit -n)",
            wanted,
            room,
            soft,
        )
        return room
    return wanted


def _answer(status: int, reason: str, message: str, extra: bytes = b"") -> bytes:
    body = b'{"message":"' + message.encode() + b'"}'
    return (
        f"HTTP/1.1 {status} {reason}\r\n".encode()
        + b"content-type: application/json; charset=utf-8\r\n"
        + f"content-length: {len(body)}\r\n".encode()
        + extra
        + b"connection: close\r\n\r\n"
        + body
    )


BUSY = _answer(503, "Service Unavailable", "too many connections", b"retry-after: 1\r\n")
URI_TOO_LONG = _answer(414, "URI Too Long", "request URI too long")
HEADERS_TOO_LARGE = _answer(
    431, "Request Header Fields Too Large", "request header fields too large"
)
HEAD_TIMEOUT = _answer(408, "Request Timeout", "request header timeout")


class _Throttled:
    """A warning logged at most once per ``every`` seconds, with how many were folded in."""

    def __init__(self, text: str, every: float = 10.0) -> None:
        self.text = text
        self.every = every
        self.last = -every
        self.folded = 0

    def __call__(self) -> None:
        now = time.monotonic()
        if now - self.last < self.every:
            self.folded += 1
            return
        suffix = f" ({self.folded} more since the last warning)" if self.folded else ""
        log.warning("%s%s", self.text, suffix)
        self.last, self.folded = now, 0


_WARN_BUSY = _Throttled("connection refused: too many open connections (max_connections)")
_WARN_CLIENT = _Throttled(
    "connection refused: too many open connections from one address (max_connections_per_client)"
)
_WARN_HEAD = _Throttled("request refused: request head larger than max_header_size")

#: The base class's per-request methods, called directly on the hot path (no ``super()``).
_BASE_DATA_RECEIVED = HttpToolsProtocol.data_received
_BASE_HEADERS_COMPLETE = HttpToolsProtocol.on_headers_complete
_BASE_MESSAGE_COMPLETE = HttpToolsProtocol.on_message_complete

#: Open connections per peer address, per server (its ``ServerState``).
_PER_CLIENT: WeakKeyDictionary[ServerState, dict[str, int]] = WeakKeyDictionary()


def _release_host(server_state: Any, host: str) -> None:
    """One connection fewer from ``host`` (the per-address cap)."""
    counts = _PER_CLIENT.get(server_state)
    if counts is not None:
        left = counts.get(host, 1) - 1
        if left > 0:
            counts[host] = left
        else:
            counts.pop(host, None)


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with head buffering, deadlines and connection caps."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limits = getattr(self.config, "connection_limits", None)
        self.limits: ConnectionLimits = limits or ConnectionLimits()
        #: True while the parser is between requests or inside a head (not in a body).
        self._awaiting_head = True
        self._head_chunks: list[bytes] = []
        self._head_size = 0
        #: The last three bytes already scanned, for a blank line split over two reads.
        self._head_tail = b""
        self._request_line_seen = False
        self._head_done = False
        self._deadline: TimerHandle | None = None
        self._head_deadline_armed = False
        self._counted_host: str | None = None
        self._linger_budget = -1

    # -- connection caps ---------------------------------------------------------------

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        limits = self.limits
        if len(self.connections) > limits.max_connections:
            _WARN_BUSY()
            self._refuse(BUSY)
            return
        host = self.client[0] if self.client else None
        if host is not None and limits.max_connections_per_client and not limits.trusted(host):
            counts = _PER_CLIENT.setdefault(self.server_state, {})
            held = counts.get(host, 0)
            if held >= limits.max_connections_per_client:
                _WARN_CLIENT()
                self._refuse(BUSY)
                return
            counts[host] = held + 1
            self._counted_host = host
        self._arm(limits.idle_timeout, self._idle_expired)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        host = self._counted_host
        if host is not None:
            self._counted_host = None
            _release_host(self.server_state, host)
        self._head_chunks = []
        super().connection_lost(exc)

    def handle_websocket_upgrade(self) -> None:
        """Hand the connection to uvicorn's WebSocket protocol (``/v1/responses``' WebSocket
        mode), which then counts it in the global cap; its per-address count is released when
        the WebSocket closes, and this protocol's deadlines stop here."""
        transport = self.transport
        super().handle_websocket_upgrade()
        self._disarm()
        host, self._counted_host = self._counted_host, None
        if host is None:
            return
        protocol = transport.get_protocol()
        closed = protocol.connection_lost
        state = self.server_state

        def connection_lost(exc: Exception | None) -> None:
            _release_host(state, host)
            closed(exc)

        protocol.connection_lost = connection_lost  # type: ignore[method-assign]

    # -- reading -----------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if not self._awaiting_head:
            _BASE_DATA_RECEIVED(self, data)
            return
        if self._linger_budget >= 0:
            self._linger(len(data))
            return
        # Where the blank line ending the head starts in ``data`` (negative: in the tail).
        end: int | None = data.find(_HEAD_END)
        if end == -1:
            end = None
            if self._head_tail:
                found = (self._head_tail + data[:3]).find(_HEAD_END)
                if found >= 0:
                    end = found - len(self._head_tail)
        if end is None:
            self._buffer(data)
            return
        head_size = self._head_size + end + len(_HEAD_END)
        if head_size > self.limits.max_header_bytes:
            self._refuse_head(data[: max(end, 0)])
            return
        if self._head_chunks:
            self._head_chunks.append(data)
            data = b"".join(self._head_chunks)
            self._head_chunks = []
            self._head_size = 0
            self._request_line_seen = False
        self._head_done = False
        _BASE_DATA_RECEIVED(self, data)
        if self._head_done:
            if self._deadline is not None:
                self._disarm()
        elif not self.transport.is_closing():
            # Only blank lines before a request line: the head is still to come.
            self._start_head_deadline()
        self._head_tail = data[-3:] if self._awaiting_head else b""

    def _buffer(self, data: bytes) -> None:
        self._head_size += len(data)
        if self._head_size > self.limits.max_header_bytes:
            self._refuse_head(data)
            return
        self._head_chunks.append(data)
        self._head_tail = (self._head_tail + data[-3:])[-3:]
        if not self._request_line_seen and b"\n" in data:
            self._request_line_seen = True
        self._start_head_deadline()

    def _start_head_deadline(self) -> None:
        if not self._head_deadline_armed:
            # The head has started: one deadline for all of it, replacing the idle or
            # keep-alive timer.
            self._unset_keepalive_if_required()
            self._arm(self.limits.header_timeout, self._head_expired)
            self._head_deadline_armed = True

    def on_headers_complete(self) -> None:
        self._awaiting_head = False
        self._head_done = True
        self._head_deadline_armed = False
        _BASE_HEADERS_COMPLETE(self)

    def on_message_complete(self) -> None:
        self._awaiting_head = True
        _BASE_MESSAGE_COMPLETE(self)

    # -- deadlines ---------------------------------------------------------------------

    def _arm(self, seconds: float, expired: Callable[[], None]) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _idle_expired(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def _head_expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._response_pending():
            self._end_after_response()
            return
        self._refuse(HEAD_TIMEOUT)

    # -- refusing ----------------------------------------------------------------------

    def _refuse_head(self, received: bytes) -> None:
        line_done = self._request_line_seen or b"\n" in received
        _WARN_HEAD()
        if self._response_pending():
            self._end_after_response()
            return
        self._refuse(HEADERS_TOO_LARGE if line_done else URI_TOO_LONG)

    def _response_pending(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete

    def _end_after_response(self) -> None:
        """A pipelined head went wrong behind a response still being written: read no more,
        and close once that response ends (uvicorn closes a cycle without keep-alive)."""
        self._head_chunks = []
        self.cycle.keep_alive = False
        self.flow.pause_reading()

    def _refuse(self, answer: bytes) -> None:
        """Answer, stop sending, discard a little more input, then close."""
        self._head_chunks = []
        self._linger_budget = _LINGER_BYTES
        self._awaiting_head = True
        transport = self.transport
        transport.write(answer)
        if transport.can_write_eof():
            transport.write_eof()
            self._arm(_LINGER_SECONDS, transport.close)
        else:  # pragma: no cover - TLS transports cannot half-close
            transport.close()

    def _linger(self, size: int) -> None:
        self._linger_budget -= size
        if self._linger_budget < 0 and not self.transport.is_closing():
            self.transport.close()
