"""Connections that never finish a request head, and connection caps, through real sockets
(issue 13, item 1; the protocol is :mod:`chatgpt_api.http_guard`).

* Hundreds of connections holding a partial head (2,000 with ``CHATGPT_API_SOAK=1``) are all
  held while ``/healthz`` keeps answering fast, then closed by the server at the header
  deadline — with ``408`` — and the process is back to its descriptors.
* A silent connection, a partial head, a head trickled one byte at a time and an idle
  keep-alive connection are each closed after their deadline.
* One connection past ``max_connections`` or past ``max_connections_per_client`` gets a fast
  ``503`` and is closed; other addresses and trusted proxies are unaffected.

Timing bounds are generous (a loaded two-core machine): deadlines are checked to fire, and not
before their time, within seconds rather than milliseconds.
"""

from __future__ import annotations

import os
import re
import resource
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatgpt_api.testing import EmulatorOptions, EmulatorThread
from tests.rawhttp import (
    HEALTHZ,
    PARTIAL_HEAD,
    connect,
    healthz_latency,
    percentile,
    read_until_closed,
    status_of,
)
from tests.reliability import SOAK, ServiceProcess, Snapshot, record, snapshot
from tests.servers import ServiceThread

#: Slow connections held at once: 300 in CI, the issue's 2,000 in the opt-in run.
SLOW_CONNECTIONS = 2000 if SOAK else 300
#: Loopback source addresses the slow connections are spread over (the default per-address
#: cap, 256, stays in force: each address holds fewer).
SOURCES = [f"127.0.0.{n}" for n in range(2, 12)]
HEADER_TIMEOUT = 15.0 if SOAK else 6.0


@pytest.fixture()
def slow_service(tmp_path: Path) -> Iterator[ServiceProcess]:
    with ServiceProcess(
        tmp_path,
        CHATGPT_API_HEADER_TIMEOUT=str(HEADER_TIMEOUT),
        CHATGPT_API_IDLE_TIMEOUT=str(HEADER_TIMEOUT),
    ) as svc:
        yield svc


def _accepted(svc: ServiceProcess, wanted: int) -> tuple[Snapshot, int]:
    """The service's snapshot once it has accepted ``wanted`` connections (or after 3 s)."""
    deadline = time.monotonic() + 3
    while True:
        now = snapshot(svc.pid)
        accepted = now.connections(local_port=svc.port, state="ESTABLISHED")
        if accepted >= wanted or time.monotonic() > deadline:
            return now, accepted
        time.sleep(0.1)


def test_slow_connections_held_while_healthz_answers(slow_service: ServiceProcess) -> None:
    url = slow_service.url
    baseline = [healthz_latency(url)[0] for _ in range(50)]
    before = snapshot(slow_service.pid)

    held: list[socket.socket] = []
    opened = time.monotonic()
    try:
        for n in range(SLOW_CONNECTIONS):
            sock = connect(url, SOURCES[n % len(SOURCES)], timeout=60)
            sock.sendall(PARTIAL_HEAD)
            held.append(sock)
        open_seconds = time.monotonic() - opened
        during, server_side = _accepted(slow_service, SLOW_CONNECTIONS)

        samples = [healthz_latency(url) for _ in range(200)]
        latencies = [seconds for seconds, _ in samples]
        statuses = {status for _, status in samples}
        p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
        still_open = time.monotonic() - opened < HEADER_TIMEOUT

        # The deadline closes every one of them, each with a 408.
        answers = []
        for sock in held:
            sock.settimeout(max(1.0, opened + HEADER_TIMEOUT + 30 - time.monotonic()))
            answers.append(status_of(read_until_closed(sock)))
        closed_after = time.monotonic() - opened
    finally:
        for sock in held:
            sock.close()
    after = slow_service.settled(before, upstream_port=0, fd_slack=4, seconds=20)

    timed_out = sum(1 for status in answers if status == 408)
    record(
        f"slow-connections-partial-head-{SLOW_CONNECTIONS}",
        f"{SLOW_CONNECTIONS} connections each holding a partial request head (from "
        f"{len(SOURCES)} loopback addresses), header_timeout {HEADER_TIMEOUT:g} s; "
        "200 GET /healthz on new connections meanwhile",
        "all held; /healthz p99 < 100 ms; every slow connection closed with 408 at the deadline",
        f"{min(server_side, SLOW_CONNECTIONS)} of {SLOW_CONNECTIONS} held; "
        f"/healthz p99 {p99 * 1000:.1f} ms; {timed_out} closed with 408 "
        f"after {closed_after:.1f} s",
        keep=SOAK,
        connections_held=server_side,
        healthz_p50_ms=round(p50 * 1000, 2),
        healthz_p99_ms=round(p99 * 1000, 2),
        healthz_p99_idle_ms=round(percentile(baseline, 0.99) * 1000, 2),
        healthz_statuses=sorted(s for s in statuses if s is not None),
        seconds_to_open=round(open_seconds, 1),
        closed_with_408=timed_out,
        fds_before=before.fds,
        fds_during=during.fds,
        fds_after=after.fds,
        rss_growth_kib=during.rss_kib - before.rss_kib,
    )
    assert server_side >= SLOW_CONNECTIONS
    assert statuses == {200}
    assert still_open, "the slow connections took longer to open than the header deadline"
    # The target is 100 ms; the bound here allows for a loaded CI machine.
    assert p99 < 1.0, f"/healthz p99 {p99:.3f} s with {SLOW_CONNECTIONS} slow connections"
    assert timed_out == SLOW_CONNECTIONS, answers[:10]
    assert closed_after >= HEADER_TIMEOUT - 0.5
    assert after.connections(local_port=slow_service.port) == 0
    assert after.fds <= before.fds + 4


@pytest.fixture(scope="module")
def short_deadlines() -> Iterator[ServiceThread]:
    with ServiceThread(header_timeout=1.5, idle_timeout=1.5) as svc:
        yield svc


def _closed_after(sock: socket.socket) -> tuple[float, int | None]:
    started = time.monotonic()
    sock.settimeout(30)
    response = read_until_closed(sock)
    return time.monotonic() - started, status_of(response)


def _trickle_then_wait(url: str) -> tuple[float, int | None]:
    """A head sent one byte every 0.25 s: the deadline covers the whole head."""
    started = time.monotonic()
    with connect(url) as sock:
        sock.settimeout(30)
        for byte in PARTIAL_HEAD + b"a" * 40:
            try:
                sock.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                break
            if select.select([sock], [], [], 0.25)[0] or time.monotonic() - started > 20:
                break  # the server answered (or it never will)
        response = read_until_closed(sock)
    return time.monotonic() - started, status_of(response)


@pytest.mark.parametrize("kind", ["silent", "partial head", "trickled head", "idle keep-alive"])
def test_deadlines(short_deadlines: ServiceThread, kind: str) -> None:
    url = short_deadlines.url
    if kind == "trickled head":
        seconds, status = _trickle_then_wait(url)
    else:
        with connect(url) as sock:
            if kind == "partial head":
                sock.sendall(PARTIAL_HEAD)
            elif kind == "idle keep-alive":
                sock.sendall(HEALTHZ.replace(b"Connection: close\r\n", b""))
                first = sock.recv(65536)
                assert status_of(first) == 200
            seconds, status = _closed_after(sock)
    expected = 408 if kind in ("partial head", "trickled head") else None
    record(
        f"connection-deadline-{kind.replace(' ', '-')}",
        f"one connection: {kind}; header_timeout and idle_timeout 1.5 s",
        f"closed after the deadline{' with 408' if expected else ', no answer'}",
        f"closed after {seconds:.2f} s, " + (f"status {status}" if status else "no answer"),
        seconds=round(seconds, 2),
    )
    assert status == expected
    assert 1.2 <= seconds < 15
    assert healthz_latency(url)[1] == 200


def _refused(sock: socket.socket) -> tuple[int | None, float]:
    started = time.monotonic()
    sock.settimeout(10)
    response = read_until_closed(sock)
    return status_of(response), time.monotonic() - started


def test_global_connection_cap() -> None:
    with ServiceThread(max_connections=20, max_connections_per_client=0) as svc:
        held = [connect(svc.url, "127.0.0.2") for _ in range(20)]
        try:
            time.sleep(0.3)
            status, seconds = _refused(connect(svc.url, "127.0.0.3"))
            for sock in held[:5]:
                sock.close()
            time.sleep(0.5)
            after_release = healthz_latency(svc.url, "127.0.0.3")[1]
        finally:
            for sock in held:
                sock.close()
    record(
        "connection-cap-global",
        "21 connections with max_connections 20",
        "the 21st gets 503 at once and is closed; served again once some close",
        f"21st: {status} after {seconds * 1000:.0f} ms; after closing 5: {after_release}",
        refusal_ms=round(seconds * 1000, 1),
    )
    assert status == 503
    assert seconds < 5
    assert after_release == 200


def test_per_client_connection_cap() -> None:
    with ServiceThread(max_connections_per_client=5, trusted_proxies="127.0.0.4") as svc:
        held = [connect(svc.url, "127.0.0.2") for _ in range(5)]
        proxy = [connect(svc.url, "127.0.0.4") for _ in range(8)]
        try:
            time.sleep(0.3)
            status, seconds = _refused(connect(svc.url, "127.0.0.2"))
            other = healthz_latency(svc.url, "127.0.0.3")[1]
            through_proxy = healthz_latency(svc.url, "127.0.0.4")[1]
            held.pop().close()
            time.sleep(0.5)
            after_release = healthz_latency(svc.url, "127.0.0.2")[1]
        finally:
            for sock in held + proxy:
                sock.close()
    record(
        "connection-cap-per-client",
        "6 connections from one address with max_connections_per_client 5; 9 from a "
        "trusted proxy; 1 from another address",
        "the 6th gets 503 at once; the proxy and the other address are served",
        f"6th: {status} after {seconds * 1000:.0f} ms; other address: {other}; "
        f"trusted proxy's 9th: {through_proxy}; after one closes: {after_release}",
        refusal_ms=round(seconds * 1000, 1),
    )
    assert status == 503
    assert seconds < 5
    assert (other, through_proxy, after_release) == (200, 200, 200)


def test_start_up_raises_the_open_file_limit(tmp_path: Path) -> None:
    """``serve`` raises the soft descriptor limit to the hard one, and lowers
    ``max_connections`` to what the descriptors allow (with a warning)."""

    def low_limits() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 400))

    root = Path(__file__).resolve().parent.parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATGPT_API")}
    env.update(
        PYTHONPATH=os.pathsep.join([str(root / "src"), str(root)]),
        CHATGPT_API_HOME=str(tmp_path),
        CHATGPT_API_ACCESS_LOG="false",
    )
    stderr_path = tmp_path / "serve.stderr"
    with stderr_path.open("wb") as stderr:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "chatgpt_api.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            preexec_fn=low_limits,
        )
    try:
        assert proc.stdout is not None
        port = None
        deadline = time.monotonic() + 30
        while port is None and time.monotonic() < deadline:
            line = proc.stdout.readline().decode()
            if not line:
                break
            match = re.search(r"http://(?:localhost|127\.0\.0\.1):(\d+)", line)
            port = int(match.group(1)) if match else None
        assert port is not None, stderr_path.read_text()
        limits = Path(f"/proc/{proc.pid}/limits").read_text()
        soft = next(line.split()[3] for line in limits.splitlines() if "open files" in line)
        assert healthz_latency(f"http://127.0.0.1:{port}")[1] == 200
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()
    assert soft == "400"
    assert "max_connections 4096 lowered to 272" in stderr_path.read_text()


def test_stalled_pipelined_head_ends_the_connection_after_the_running_answer() -> None:
    """A second request head that stalls while the first answer is still streaming does not cut
    that answer: the connection closes once it has ended."""
    with (
        EmulatorThread(EmulatorOptions(chunks=6, chunk_delay_ms=500)) as upstream,
        ServiceThread(
            reverse_proxy=f"{upstream.url}/backend-api/conversation",
            header_timeout=1.0,
            idle_timeout=1.0,
        ) as svc,
    ):
        body = b"access_token=tok&prompt=hi&stream=true"
        with connect(svc.url, timeout=30) as sock:
            sock.sendall(
                b"POST /send_message HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
            )
            time.sleep(0.3)
            sock.sendall(PARTIAL_HEAD)  # the next request, never finished
            started = time.monotonic()
            response = read_until_closed(sock)
            seconds = time.monotonic() - started
    assert status_of(response) == 200
    assert b"408" not in response.split(b"\r\n", 1)[1]
    assert response.rstrip().endswith(b"0"), response[-200:]  # the chunked answer ended
    assert b"[DONE]" in response
    assert seconds >= 1.5  # the answer took its 3 s, well past the 1 s header deadline
