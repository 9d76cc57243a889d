"""Processes under test: start pinned with ``taskset``, wait for the port, read /proc, stop.

CPU time is read from ``/proc/<pid>/stat`` (utime + stime + cutime + cstime, in clock ticks)
for a process and all its descendants; memory is ``VmRSS`` from ``/proc/<pid>/status`` summed
over the same tree.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
SERVICE_CPU = "0"
DRIVER_CPU = "1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], seconds: float = 60.0) -> None:
    """Block until something accepts on ``port`` (bounded); fail if ``proc`` exits first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listened on port {port} within {seconds:.0f} s")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()


def descendants(pid: int) -> list[int]:
    """``pid`` and every live descendant."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry))
    tree: list[int] = []
    todo = [pid]
    while todo and len(tree) < 10_000:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU of ``pids`` and their reaped children, in seconds."""
    total = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is not None:
            total += sum(int(v) for v in fields[11:15])
    return total / TICKS


def rss_bytes(pids: Sequence[int]) -> int:
    """Resident memory of ``pids`` (VmRSS), summed."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
                    break
        except OSError:
            continue
    return total


class Proc:
    """A child process pinned to ``cpus``, with its output in ``log``."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        cpus: str,
        log: Path,
        env: Mapping[str, str] | None = None,
        port: int | None = None,
        start_seconds: float = 60.0,
    ) -> None:
        self.name = name
        self.port = port
        full_env = {**os.environ, **(env or {})}
        log.parent.mkdir(parents=True, exist_ok=True)
        self._log = log.open("wb")
        self.popen = subprocess.Popen(
            ["taskset", "-c", cpus, *argv],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=full_env,
            start_new_session=True,
        )
        if port is not None:
            try:
                wait_port(port, self.popen, start_seconds)
            except RuntimeError:
                self.stop()
                raise
        self._tree = descendants(self.popen.pid)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def tree(self) -> list[int]:
        """The process and its descendants (re-read: workers may have been started)."""
        self._tree = descendants(self.popen.pid)
        return self._tree

    def cpu(self) -> float:
        return cpu_seconds(self.tree())

    def rss(self) -> int:
        return rss_bytes(self._tree)

    def stop(self, seconds: float = 10.0) -> None:
        """SIGTERM the process group, then SIGKILL after ``seconds``."""
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, signal.SIGTERM)
                self.popen.wait(seconds)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)
            except ProcessLookupError:
                pass
        self._log.close()
