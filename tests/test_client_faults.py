"""Client faults: a client that leaves mid-answer, a client that stops reading, and a thousand
connections opened and dropped half-way through a request.

* Leaving mid-stream cancels the upstream request within one second and the turn is stored as
  ``partial`` with the text generated so far (both surfaces, streamed and whole).
* A client that stops reading holds the answer back: the service applies backpressure all the
  way to the upstream (which can then send only what the socket buffers hold), and the
  service's RSS stays bounded while a 256 MiB answer is pending.
* 1,000 concurrent connections opened and dropped (nothing sent, half a request line, half
  the headers, half a body, a reset) leave no descriptor, connection or task behind, and the
  service still answers.

The service runs in a subprocess where it is measured (see :mod:`tests.reliability`).
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import struct
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chatgpt_api.testing import EmulatorOptions, EmulatorThread
from tests.reliability import SOAK, ServiceProcess, record
from tests.servers import ServiceThread

pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs /proc")

FLOOD_BYTES = 256 * 1024 * 1024
FLOOD_PIECE = 16 * 1024
#: The most the upstream may push while the client reads nothing: socket buffers on both hops
#: (loopback autotuning reaches a few MB each) and the service's own small read/write buffers.
BACKPRESSURE_LIMIT = 64 * 1024 * 1024
RSS_LIMIT_KIB = 64 * 1024


# --------------------------------------------------------------------------- helpers


class FloodUpstream:
    """An OpenAI-style upstream streaming an answer of ``total`` bytes as fast as it may
    (each write awaits the socket's drain, so it only goes as fast as its reader reads)."""

    def __init__(self, total: int = FLOOD_BYTES) -> None:
        self.total = total
        self.sent = 0
        self.requests = 0
        self.closed = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self.port = 0

    def __enter__(self) -> FloodUpstream:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        future.result(10)
        return self

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.requests += 1
        self.closed.clear()
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            found = re.search(rb"(?i)content-length: *(\d+)", head)
            await reader.readexactly(int(found.group(1)) if found else 0)
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n"
            )
            content = "x" * FLOOD_PIECE
            event = b"data: " + json.dumps({"choices": [{"delta": {"content": content}}]}).encode()
            event += b"\n\n"
            chunk = b"%x\r\n" % len(event) + event + b"\r\n"
            while self.sent < self.total:
                writer.write(chunk)
                self.sent += len(chunk)
                await writer.drain()
            done = b"data: [DONE]\n\n"
            writer.write(b"%x\r\n" % len(done) + done + b"\r\n0\r\n\r\n")
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            self.closed.set()

    def __exit__(self, *exc_info: object) -> None:
        async def stop() -> None:
            if self._server is not None:
                self._server.close()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def http_request(port: int, path: str, body: bytes, content_type: str) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def v1_body(model: str, prompt: str, *, stream: bool = True) -> bytes:
    return json.dumps(
        {"model": model, "messages": [{"role": "user", "content": prompt}], "stream": stream}
    ).encode()


def read_until(sock: socket.socket, needle: bytes, limit: int = 1 << 20) -> bytes:
    received = b""
    while needle not in received:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before {needle!r}"
        received += chunk
        assert len(received) < limit
    return received


def stored_answer(url: str, title: str, seconds: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        page = httpx.get(f"{url}/v1/conversations", params={"limit": 50}, timeout=10).json()
        found = [c for c in page["data"] if c["title"] == title]
        if found:
            tree = httpx.get(f"{url}/v1/conversations/{found[0]['id']}", timeout=10).json()
            answer: dict[str, Any] = tree["messages"][-1]
            if answer["role"] == "assistant":
                return answer
        assert time.monotonic() < deadline, f"no turn titled {title!r} was stored"
        time.sleep(0.05)


# --------------------------------------------------------------------------- leaving mid-answer


@pytest.fixture(scope="module")
def slow() -> Iterator[EmulatorThread]:
    """An upstream answering in 50 pieces, 100 ms apart (5 s per answer)."""
    with EmulatorThread(EmulatorOptions(chunks=50, chunk_delay_ms=100)) as emu:
        yield emu


@pytest.fixture(scope="module")
def svc(slow: EmulatorThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceThread]:
    home = tmp_path_factory.mktemp("client-faults")
    (home / "models.toml").write_text(
        f'[models."slow"]\nbackend = "openai-compatible"\nbase_url = "{slow.url}/v1"\n'
        'upstream_model = "gpt-4o-mini"\napi_key = "sk-configured"\n'
    )
    with ServiceThread(
        home=home,
        models_file=home / "models.toml",
        reverse_proxy=f"{slow.url}/backend-api/conversation",
    ) as service:
        yield service


@pytest.mark.parametrize(
    ("surface", "stream"),
    [("seed", True), ("seed", False), ("v1", True), ("v1", False)],
    ids=["seed-stream", "seed-whole", "v1-stream", "v1-whole"],
)
def test_client_leaving_mid_answer_cancels_upstream_and_stores_partial(
    svc: ServiceThread, slow: EmulatorThread, surface: str, stream: bool
) -> None:
    slow.clear()
    port = int(svc.url.rsplit(":", 1)[1])
    prompt = f"leave {surface} {uuid.uuid4().hex[:8]}"
    if surface == "seed":
        form = f"access_token=tok&prompt={prompt.replace(' ', '+')}&stream={str(stream).lower()}"
        raw = http_request(
            port, "/send_message", form.encode(), "application/x-www-form-urlencoded"
        )
        marker = b'"delta"'
    else:
        raw = http_request(
            port,
            "/v1/chat/completions",
            v1_body("slow", prompt, stream=stream),
            "application/json",
        )
        # Text, not the role chunk's empty content (relayed as the upstream sent it).
        marker = b'"content":"Y'
    sock = socket.create_connection(("127.0.0.1", port))
    try:
        sock.sendall(raw)
        if stream:
            read_until(sock, marker)  # the answer had begun reaching the client
        else:
            deadline = time.monotonic() + 10
            while not slow.requests or slow.requests[0].ended_at is not None:
                assert time.monotonic() < deadline
                time.sleep(0.01)
            time.sleep(0.5)  # a few pieces of the answer have been generated upstream
    finally:
        left = time.monotonic()
        sock.close()
    assert slow.wait_until_closed(0, timeout=1.0), "upstream still open 1 s after the client left"
    cancelled_after = slow.requests[0].ended_at - left  # type: ignore[operator]
    assert slow.requests[0].client_went_away
    answer = stored_answer(svc.url, prompt)
    assert answer["status"] == "partial", answer
    assert answer["error"] == "cancelled"
    if stream:
        assert answer["content"], "the text the client had received was not stored"
    record(
        f"client-leaves-mid-answer-{surface}-{'stream' if stream else 'whole'}",
        f"client disconnects mid-answer ({'/send_message' if surface == 'seed' else '/v1'}, "
        f"{'stream' if stream else 'whole answer'})",
        "upstream request cancelled within 1 s; turn stored as partial",
        f"upstream closed {cancelled_after * 1000:.0f} ms after the client left; stored "
        f"{answer['status']} with {len(answer['content'])} characters",
        requests=1,
        upstream_cancelled_after_ms=round(cancelled_after * 1000),
        stored_status=answer["status"],
        stored_chars=len(answer["content"]),
        data_lost=0,
    )


# --------------------------------------------------------------------------- measured process


@pytest.fixture(scope="module")
def flood() -> Iterator[FloodUpstream]:
    with FloodUpstream() as upstream:
        yield upstream


@pytest.fixture(scope="module")
def measured(
    flood: FloodUpstream, emulator: EmulatorThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    home = tmp_path_factory.mktemp("client-faults-process")
    (home / "models.toml").write_text(
        f'[models."flood"]\nbackend = "openai-compatible"\n'
        f'base_url = "http://127.0.0.1:{flood.port}/v1"\napi_key = "sk-configured"\n'
    )
    with ServiceProcess(
        home,
        CHATGPT_API_MODELS_FILE=str(home / "models.toml"),
        CHATGPT_API_REVERSE_PROXY=f"{emulator.url}/backend-api/conversation",
        # Backpressure, not the answer cap (tests/test_answer_limits.py), is measured here.
        CHATGPT_API_MAX_ANSWER_SIZE=str(FLOOD_BYTES * 2),
    ) as svc:
        yield svc


def answers_normally(url: str) -> None:
    response = httpx.post(
        f"{url}/send_message", data={"access_token": "tok", "prompt": "still there?"}, timeout=30
    )
    assert response.status_code == 200, response.text
    assert response.json()["text"]


@pytest.mark.parametrize("surface", ["v1", "seed"])
def test_client_that_stops_reading_gets_backpressure(
    measured: ServiceProcess, flood: FloodUpstream, surface: str
) -> None:
    answers_normally(measured.url)
    before = measured.snapshot()
    flood.sent = 0
    prompt = f"flood {uuid.uuid4().hex[:8]}"
    if surface == "v1":
        raw = http_request(
            measured.port, "/v1/chat/completions", v1_body("flood", prompt), "application/json"
        )
    else:
        form = f"access_token=tok&model=flood&stream=true&prompt={prompt.replace(' ', '+')}"
        raw = http_request(
            measured.port, "/send_message", form.encode(), "application/x-www-form-urlencoded"
        )
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
    sock.connect(("127.0.0.1", measured.port))
    peak_rss = before.rss_kib
    samples: list[int] = []
    try:
        sock.sendall(raw)
        read_until(sock, b"xxxx")  # the answer flows; from now on the client reads nothing
        # Wait until the upstream is blocked (its count stops growing), at most ~8 s.
        for _ in range(16):
            time.sleep(0.5)
            samples.append(flood.sent)
            peak_rss = max(peak_rss, measured.snapshot().rss_kib)
            if len(samples) >= 3 and samples[-1] == samples[-3]:
                break
        stalled_at = flood.sent
        # The stream still works once the client reads again.
        sock.settimeout(10)
        resumed = 0
        while resumed < 4 * 1024 * 1024:
            chunk = sock.recv(1 << 20)
            assert chunk
            resumed += len(chunk)
    finally:
        sock.close()
    assert flood.closed.wait(2.0), "the upstream was not closed after the client left"
    rss_growth = peak_rss - before.rss_kib
    record(
        f"slow-reader-backpressure-{surface}",
        f"client stops reading a {FLOOD_BYTES >> 20} MiB streamed answer ({surface})",
        f"upstream blocked after < {BACKPRESSURE_LIMIT >> 20} MiB; service RSS growth "
        f"< {RSS_LIMIT_KIB >> 10} MiB; upstream closed when the client leaves",
        f"upstream stopped after {stalled_at / 2**20:.1f} MiB of {FLOOD_BYTES >> 20} MiB; "
        f"RSS grew {rss_growth / 1024:.1f} MiB",
        offered_bytes=FLOOD_BYTES,
        upstream_bytes_sent_while_stalled=stalled_at,
        rss_before_kib=before.rss_kib,
        rss_peak_kib=peak_rss,
        rss_growth_kib=rss_growth,
        samples=samples,
    )
    assert stalled_at < BACKPRESSURE_LIMIT, samples
    assert rss_growth < RSS_LIMIT_KIB
    answers_normally(measured.url)


def _drop(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()  # a reset, not a FIN


_PARTIALS = (
    b"",  # connect, send nothing
    b"POST /send_mes",  # half a request line
    b"POST /send_message HTTP/1.1\r\nHost: x\r\nContent-Type: applic",  # half the headers
    # complete headers, half the body
    b"POST /send_message HTTP/1.1\r\nHost: x\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n"
    b"access_token=tok&prompt=hi",
    b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b'Content-Length: 500\r\n\r\n{"model": "gpt-4o-mi',
)


def open_and_drop(measured: ServiceProcess, count: int) -> int:
    """Open ``count`` connections at once, each with a partial request, then drop them all
    (half with a FIN, half with a reset); returns the peak of client connections seen."""
    port = measured.port
    peak = 0
    socks: list[socket.socket] = []
    try:
        for index in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            socks.append(sock)
            data = _PARTIALS[index % len(_PARTIALS)]
            if data:
                sock.sendall(data)
        deadline = time.monotonic() + 20
        while True:  # until the service has accepted (nearly) all of them
            clients = measured.snapshot().connections(local_port=port)
            peak = max(peak, clients)
            if clients >= count or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        for index, sock in enumerate(socks):
            if index % 2:
                _drop(sock)
            else:
                sock.close()
    return peak


def test_thousand_connections_opened_and_dropped_leave_nothing(
    measured: ServiceProcess,
) -> None:
    answers_normally(measured.url)
    # Warm up: the first partial requests grow the store's connection pool (a /v1 request
    # checks gateway keys before reading its body) to its steady size; that is the baseline.
    open_and_drop(measured, 200)
    baseline = measured.settled(measured.snapshot(), 0, fd_slack=0, seconds=5)
    count = 1000
    rounds = 3 if SOAK else 1
    started = time.monotonic()
    peak_clients = max(open_and_drop(measured, count) for _ in range(rounds))
    after = measured.settled(baseline, 0, fd_slack=2, seconds=20)
    elapsed = time.monotonic() - started
    port = measured.port
    leaks = {
        "fds": max(0, after.fds - baseline.fds - 2),
        "client_connections": after.connections(local_port=port),
        "asyncio_tasks": max(0, (after.tasks or 0) - (baseline.tasks or 0)),
        "threads": max(0, after.threads - baseline.threads),
    }
    record(
        "connections-opened-and-dropped" + ("-soak" if SOAK else ""),
        f"{count} concurrent connections opened and dropped half-way through a request (x{rounds})",
        "descriptors, connections and tasks back to baseline; the service still answers",
        f"peak {peak_clients} open client connections; leaks {sum(leaks.values())}",
        connections=count * rounds,
        peak_client_connections=peak_clients,
        seconds=round(elapsed, 1),
        leaks_found=sum(leaks.values()),
        leaks=leaks,
        before={"fds": baseline.fds, "tasks": baseline.tasks, "threads": baseline.threads},
        after={"fds": after.fds, "tasks": after.tasks, "threads": after.threads},
    )
    assert peak_clients >= count * 0.9
    assert leaks == dict.fromkeys(leaks, 0), (baseline, after)
    answers_normally(measured.url)
