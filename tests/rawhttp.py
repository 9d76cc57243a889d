"""Raw-socket HTTP/1.1 for the socket-level tests: partial heads, held connections, timings,
and the CPU and peak memory of a service subprocess read from ``/proc``."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

#: A request head cut off in the middle of a header value.
PARTIAL_HEAD = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"


def address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def connect(url: str, source: str | None = None, timeout: float = 10.0) -> socket.socket:
    """A TCP connection to the service, from loopback address ``source`` if given."""
    return socket.create_connection(
        address(url), timeout=timeout, source_address=(source, 0) if source else None
    )


def read_until_closed(sock: socket.socket, limit: int = 1_000_000) -> bytes:
    """Everything the server sends until it closes (a reset or a timeout ends it too)."""
    received = b""
    try:
        while len(received) < limit:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return received


def status_of(response: bytes) -> int | None:
    """The status code of the first response in ``response``, if there is one."""
    parts = response.split(b" ", 2)
    if len(parts) >= 2 and parts[0].startswith(b"HTTP/1.") and parts[1].isdigit():
        return int(parts[1])
    return None


def healthz_latency(url: str, source: str | None = None) -> tuple[float, int | None]:
    """Seconds for one ``GET /healthz`` on a new connection, and its status."""
    started = time.perf_counter()
    with connect(url, source) as sock:
        sock.sendall(HEALTHZ)
        response = read_until_closed(sock)
    return time.perf_counter() - started, status_of(response)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time consumed so far by process ``pid``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / os.sysconf("SC_CLK_TCK")


def memory_kib(pid: int) -> tuple[int, int]:
    """``(VmRSS, VmHWM)`` of process ``pid`` in KiB: its resident and peak resident memory."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0])
    return values["VmRSS"], values["VmHWM"]
