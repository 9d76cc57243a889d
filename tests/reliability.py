"""Measuring the service from outside for the fault tests (tests/test_faults*.py,
tests/test_client_faults*.py), and recording what they measured.

* :class:`ServiceProcess` runs the service in a subprocess (``python -m tests.reliability``) so
  that its file descriptors, threads, TCP connections and RSS can be read from ``/proc``. The
  subprocess serves the real app, wrapped by a test-only ``GET /_probe`` answering the number
  of asyncio tasks of its event loop (nothing is added to the product).
* :func:`snapshot` reads those figures (Linux only).
* :func:`record` writes one JSON object per test to ``test-output/reliability/<name>.json``
  (name, fault, expected, observed, the checked ``expect``/``got`` pairs, figures), for the
  documentation generator, which fails any scenario whose ``got`` differs from its ``expect``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "test-output" / "reliability"

#: ``CHATGPT_API_SOAK=1``: the long variants (1,000 requests and more); CI runs short ones.
SOAK = os.environ.get("CHATGPT_API_SOAK", "") not in ("", "0", "false")

_TCP_STATES = {
    "01": "ESTABLISHED",
    "02": "SYN_SENT",
    "03": "SYN_RECV",
    "04": "FIN_WAIT1",
    "05": "FIN_WAIT2",
    "06": "TIME_WAIT",
    "07": "CLOSE",
    "08": "CLOSE_WAIT",
    "09": "LAST_ACK",
    "0A": "LISTEN",
    "0B": "CLOSING",
}


def record(
    name: str,
    fault: str,
    expected: str,
    observed: str,
    *,
    expect: dict[str, Any] | None = None,
    got: dict[str, Any] | None = None,
    **figures: Any,
) -> None:
    """Write one result object to ``test-output/reliability/<name>.json``.

    ``expect`` / ``got`` are the machine-checked form of ``expected`` / ``observed``: the
    report generator fails the scenario when any ``got`` value differs from the ``expect``
    value of the same key (a list in ``expect`` means "one of these"). Record them, and record
    the scenario even when its assertions are about to fail, so the report shows the failure.
    """
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")
    doc: dict[str, Any] = {"name": name, "fault": fault, "expected": expected, "observed": observed}
    if expect is not None:
        doc["expect"] = expect
        doc["got"] = got or {}
    doc["figures"] = figures
    (RESULTS_DIR / f"{safe}.json").write_text(json.dumps(doc, indent=2, sort_keys=False) + "\n")


# --------------------------------------------------------------------------- /proc figures


@dataclass(frozen=True)
class Snapshot:
    """What a process holds at one moment."""

    fds: int
    threads: int
    rss_kib: int
    #: The process's TCP sockets, as ``(state, local port, remote port)`` → count.
    tcp: dict[tuple[str, int, int], int] = field(default_factory=dict)
    tasks: int | None = None

    def connections(
        self,
        *,
        remote_port: int | None = None,
        local_port: int | None = None,
        state: str | None = None,
    ) -> int:
        return sum(
            n
            for (st, local, remote), n in self.tcp.items()
            if (remote_port is None or remote == remote_port)
            and (local_port is None or local == local_port)
            and (state is None or st == state)
            and st != "LISTEN"
        )

    def figures(self, upstream_port: int, service_port: int) -> dict[str, int | None]:
        return {
            "fds": self.fds,
            "threads": self.threads,
            "rss_kib": self.rss_kib,
            "asyncio_tasks": self.tasks,
            "upstream_connections": self.connections(remote_port=upstream_port),
            "upstream_close_wait": self.connections(remote_port=upstream_port, state="CLOSE_WAIT"),
            "client_connections": self.connections(local_port=service_port),
        }


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    for entry in fd_dir.iterdir():
        try:
            target = os.readlink(entry)
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def _tcp_sockets(pid: int) -> dict[tuple[str, int, int], int]:
    inodes = _socket_inodes(pid)
    counts: dict[tuple[str, int, int], int] = {}
    for table in ("tcp", "tcp6"):
        path = Path(f"/proc/{pid}/net/{table}")
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            parts = line.split()
            if len(parts) < 10 or parts[9] not in inodes:
                continue
            local_port = int(parts[1].rsplit(":", 1)[1], 16)
            remote_port = int(parts[2].rsplit(":", 1)[1], 16)
            key = (_TCP_STATES.get(parts[3], parts[3]), local_port, remote_port)
            counts[key] = counts.get(key, 0) + 1
    return counts


def snapshot(pid: int, tasks: int | None = None) -> Snapshot:
    """File descriptors, threads, RSS and TCP sockets of process ``pid``."""
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return Snapshot(
        fds=len(os.listdir(f"/proc/{pid}/fd")),
        threads=int(fields["Threads"].strip()),
        rss_kib=int(fields["VmRSS"].split()[0]),
        tcp=_tcp_sockets(pid),
        tasks=tasks,
    )


# --------------------------------------------------------------------------- the subprocess


class ServiceProcess:
    """``with ServiceProcess(home, CHATGPT_API_X="...") as svc: svc.snapshot()``."""

    def __init__(self, home: Path, **env: str) -> None:
        self.home = home
        self.env = {
            **os.environ,
            # This tree's sources first: the service under test is the one beside the tests.
            "PYTHONPATH": os.pathsep.join((str(ROOT / "src"), str(ROOT))),
            "CHATGPT_API_HOST": "127.0.0.1",
            "CHATGPT_API_PORT": "0",
            "CHATGPT_API_HOME": str(home),
            "CHATGPT_API_UPSTREAM_ALLOWLIST": "127.0.0.1,::1",
            "CHATGPT_API_ACCESS_LOG": "false",
            "CHATGPT_API_LOG_LEVEL": "error",
            **env,
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.port = 0
        self.stderr_path = home / "service.stderr"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def __enter__(self) -> ServiceProcess:
        stderr = self.stderr_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
        stderr.close()
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode()  # the service prints it once it listens
        match = re.fullmatch(r"Listening on http://localhost:(\d+)\n", line)
        if match is None:
            self.__exit__()
            raise RuntimeError(f"the service did not start: {line!r} {self.stderr()}")
        self.port = int(match.group(1))
        self.url = f"http://127.0.0.1:{self.port}"
        return self

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def __exit__(self, *exc_info: object) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tasks(self) -> int:
        response = httpx.get(f"{self.url}/_probe", timeout=10)
        response.raise_for_status()
        return int(response.json()["tasks"])

    def snapshot(self) -> Snapshot:
        tasks = self.tasks()
        return snapshot(self.pid, tasks)

    def settled(
        self,
        baseline: Snapshot,
        upstream_port: int,
        *,
        fd_slack: int,
        seconds: float = 20.0,
        clients: bool = True,
    ) -> Snapshot:
        """A snapshot once the process is back near ``baseline`` (or after ``seconds``).

        "Near" allows ``fd_slack`` extra descriptors (idle keep-alive connections to the
        upstream), no CLOSE_WAIT socket and (``clients``) no client connection; the caller
        asserts on what is returned.
        """
        deadline = time.monotonic() + seconds
        while True:
            now = self.snapshot()
            upstream_waiting = now.connections(remote_port=upstream_port, state="CLOSE_WAIT")
            tasks_ok = now.tasks is None or baseline.tasks is None or now.tasks <= baseline.tasks
            clients_ok = not clients or now.connections(local_port=self.port) == 0
            if (
                now.fds <= baseline.fds + fd_slack
                and upstream_waiting == 0
                and tasks_ok
                and clients_ok
            ) or (time.monotonic() >= deadline):
                return now
            time.sleep(0.25)


def _probe_wrapper(app: Any) -> Any:
    """The app, plus ``GET /_probe`` → ``{"tasks": <asyncio tasks of this loop>}``."""

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/_probe":
            body = json.dumps({"tasks": len(asyncio.all_tasks())}).encode()
            headers = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await app(scope, receive, send)

    return wrapped


def _serve() -> int:
    import contextlib

    from chatgpt_api.config import Settings
    from chatgpt_api.logs import configure_logging
    from chatgpt_api.server import AnnouncingServer, uvicorn_config

    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    config = uvicorn_config(settings)
    config.app = _probe_wrapper(config.app)
    server = AnnouncingServer(config)
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    return 0


if __name__ == "__main__":
    sys.exit(_serve())


__all__ = ["SOAK", "ServiceProcess", "Snapshot", "asdict", "record", "snapshot"]
