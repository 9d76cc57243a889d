"""Graceful shutdown: SIGTERM to ``chatgpt-api serve`` with answers streaming.

What the service does (see ``src/chatgpt_api/api/graceful_shutdown.py``):

1. SIGTERM closes the listening socket at once: new connections are refused;
2. in-flight requests get ``shutdown_grace`` seconds (``--shutdown-grace`` /
   ``CHATGPT_API_SHUTDOWN_GRACE``) to finish — those that do are stored ``complete`` and their
   clients get the whole answer;
3. at the deadline the rest are cancelled: a stream ends with an ``event: error`` frame (seed
   route) or an OpenAI error chunk with code ``shutting_down`` (``/v1``), then a proper end of
   the body — not a cut connection; a request not answered yet gets a 503; every such turn is
   stored ``partial``, before the store is closed; no traceback is logged.

Checked after a restart on the same database.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from chatgpt_api.api.graceful_shutdown import SHUTDOWN_MESSAGE
from chatgpt_api.testing import EmulatorOptions, EmulatorThread
from tests.test_durability import (
    ServeProcess,
    assert_consistent,
    client,
    sqlite_snapshot,
    write_report,
)

STREAMS = 20


@dataclass
class Exchange:
    """What one client saw."""

    kind: str  # "seed-stream", "v1-stream" or "seed-json"
    status: int = 0
    text: str = ""
    frames: list[tuple[str, str]] = field(default_factory=list)
    first_delta: asyncio.Event = field(default_factory=asyncio.Event)
    body_ended: bool = False  # the body ended properly (not a broken connection)
    json: dict[str, object] | None = None


async def exchange(http: httpx.AsyncClient, url: str, index: int, item: Exchange) -> None:
    prompt = f"shutdown test {index}"
    if item.kind == "seed-json":
        response = await http.post(
            f"{url}/send_message", data={"access_token": "tok", "prompt": prompt}
        )
        item.status, item.json, item.body_ended = response.status_code, response.json(), True
        return
    if item.kind == "v1-stream":
        request = http.stream(
            "POST",
            f"{url}/v1/chat/completions",
            headers={"Authorization": "Bearer tok"},
            json={"model": "gpt-3.5-turbo", "stream": True, "messages": [
                {"role": "user", "content": prompt}
            ]},
        )  # fmt: skip
    else:
        fields = {"access_token": "tok", "prompt": prompt, "stream": "true"}
        request = http.stream("POST", f"{url}/send_message", data=fields)
    buffer = ""
    async with request as response:
        item.status = response.status_code
        async for chunk in response.aiter_text():
            buffer += chunk
            while "\n\n" in buffer:
                block, buffer = buffer.split("\n\n", 1)
                take_frame(item, block)
        item.body_ended = True


def take_frame(item: Exchange, block: str) -> None:
    name, data = "message", ""
    for line in block.split("\n"):
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            data = line[6:]
    item.frames.append((name, data))
    if name != "message" or not data.startswith("{"):
        return
    body = json.loads(data)
    if item.kind == "v1-stream":
        for choice in body.get("choices", ()):
            item.text += choice.get("delta", {}).get("content") or ""
    elif "delta" in body:
        item.text = body["delta"] if body.get("replace") else item.text + body["delta"]
    if item.text:
        item.first_delta.set()


def refused(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return False
    except OSError:
        return True


async def sigterm_while_streaming(
    service: ServeProcess, upstream: EmulatorThread, kinds: list[str]
) -> tuple[list[Exchange], dict[str, float]]:
    """Start the exchanges, SIGTERM once every one is under way; wait for them and the exit."""
    items = [Exchange(kind) for kind in kinds]
    figures: dict[str, float] = {}
    upstream_before = len(upstream.requests)
    async with client(len(items) + 5) as http:
        tasks = [
            asyncio.create_task(exchange(http, service.url, i, item))
            for i, item in enumerate(items)
        ]
        streams = [item.first_delta.wait() for item in items if item.kind != "seed-json"]
        await asyncio.wait_for(asyncio.gather(*streams), 30)
        for _ in range(300):  # the whole answers (not streamed to us) are under way upstream
            if len(upstream.requests) - upstream_before >= len(items):
                break
            await asyncio.sleep(0.05)
        service.signal(signal.SIGTERM)
        signalled = time.monotonic()
        for _ in range(100):  # at most ~10 s
            if refused(service.url):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the service still accepts connections after SIGTERM")
        figures["seconds_to_refuse_new_connections"] = round(time.monotonic() - signalled, 3)
        figures["streams_in_flight_when_refusing"] = sum(not t.done() for t in tasks)
        await asyncio.wait_for(asyncio.gather(*tasks), 60)
        figures["seconds_to_end_every_exchange"] = round(time.monotonic() - signalled, 3)
    code = await asyncio.to_thread(service.wait, 60)
    figures["seconds_to_exit"] = round(time.monotonic() - signalled, 3)
    figures["exit_code"] = code
    return items, figures


def assert_clean_log(service: ServeProcess) -> None:
    log = service.stderr()
    assert "Traceback" not in log and "Exception in ASGI application" not in log, log[-3000:]
    assert "could not store" not in log, log[-3000:]


@pytest.fixture()
def upstream_2s() -> Iterator[EmulatorThread]:
    """Answers of about 2 s (20 chunks, 100 ms apart)."""
    with EmulatorThread(EmulatorOptions(chunks=20, chunk_delay_ms=100)) as emu:
        yield emu


@pytest.fixture()
def upstream_endless() -> Iterator[EmulatorThread]:
    """Answers far longer than the test (400 chunks, 100 ms apart: 40 s)."""
    with EmulatorThread(EmulatorOptions(chunks=400, chunk_delay_ms=100)) as emu:
        yield emu


def test_sigterm_lets_in_flight_streams_finish(tmp_path: Path, upstream_2s: EmulatorThread) -> None:
    home = tmp_path / "home"
    service = ServeProcess(home, upstream_2s.url, args=("--shutdown-grace", "30")).start()
    try:
        kinds = ["seed-stream"] * (STREAMS - 4) + ["v1-stream"] * 2 + ["seed-json"] * 2
        items, figures = asyncio.run(sigterm_while_streaming(service, upstream_2s, kinds))
    finally:
        service.kill()
    assert figures["streams_in_flight_when_refusing"] > 0  # refused while answers went on
    assert [i.status for i in items] == [200] * len(items)
    assert all(i.body_ended for i in items)
    for item in items:
        if item.kind != "seed-json":
            assert item.frames[-1] == ("message", "[DONE]"), item.frames[-2:]
    assert_clean_log(service)

    snapshot = sqlite_snapshot(home / "chatgpt-api.db")
    assert_consistent(snapshot)
    assert snapshot.status_counts() == {"complete": len(items)}
    stored = sorted(row[4] for row in snapshot.messages.values() if row[2] == "assistant")
    received = sorted(
        i.text if i.kind != "seed-json" else str((i.json or {})["text"]) for i in items
    )
    assert stored == received
    with service:  # and the restarted service serves them
        listing = httpx.get(f"{service.url}/v1/conversations", timeout=30).json()
        assert listing["total"] == len(items)
    write_report(
        "shutdown-sigterm-within-grace",
        expected="SIGTERM with answers streaming and a 30 s grace: new connections refused at "
        "once, every in-flight answer finishes and is stored complete, clean exit",
        observed="as expected",
        streams_in_flight=len(items),
        answers_completed=len(items),
        rows_checked=len(snapshot.conversations) + len(snapshot.messages),
        data_lost=0,
        shutdown_grace_seconds=30,
        **figures,
    )


def test_sigterm_past_the_grace_period_ends_streams_cleanly(
    tmp_path: Path, upstream_endless: EmulatorThread
) -> None:
    home = tmp_path / "home"
    grace = 1.0
    service = ServeProcess(
        home, upstream_endless.url, env={"CHATGPT_API_SHUTDOWN_GRACE": str(grace)}
    ).start()
    try:
        kinds = ["seed-stream"] * (STREAMS - 5) + ["v1-stream"] * 3 + ["seed-json"] * 2
        items, figures = asyncio.run(sigterm_while_streaming(service, upstream_endless, kinds))
    finally:
        service.kill()
    assert figures["streams_in_flight_when_refusing"] == len(items)
    assert all(i.body_ended for i in items), "a client saw a broken connection"
    for item in items:
        if item.kind == "seed-stream":
            assert item.status == 200
            assert item.frames[-1] == (
                "error",
                json.dumps({"message": SHUTDOWN_MESSAGE}, separators=(",", ":")),
            )
        elif item.kind == "v1-stream":
            assert item.status == 200
            error = json.loads(item.frames[-1][1])["error"]
            assert (error["code"], error["message"]) == ("shutting_down", SHUTDOWN_MESSAGE)
        else:
            assert item.status == 503
            assert item.json == {"message": SHUTDOWN_MESSAGE}
    assert_clean_log(service)

    # The turns were stored as partial before the store closed, with what had arrived.
    snapshot = sqlite_snapshot(home / "chatgpt-api.db")
    assert_consistent(snapshot)
    assert snapshot.status_counts() == {"partial": len(items)}
    stored = [row[4] for row in snapshot.messages.values() if row[2] == "assistant"]
    for item in items:
        if item.kind != "seed-json":
            assert any(text.startswith(item.text) for text in stored), item.text
    with service:
        listing = httpx.get(f"{service.url}/v1/conversations", timeout=30).json()
        assert listing["total"] == len(items)
    write_report(
        "shutdown-sigterm-past-grace",
        expected=f"SIGTERM with answers longer than the {grace:g} s grace: new connections "
        "refused at once; at the deadline every stream ends with an error frame (seed: event: "
        "error; /v1: code shutting_down) and a proper end of body, whole-answer requests get "
        "503; every turn stored partial before the store closes; no traceback",
        observed="as expected",
        streams_in_flight=len(items),
        answers_cut_off=len(items),
        stored_partial=snapshot.status_counts().get("partial", 0),
        rows_checked=len(snapshot.conversations) + len(snapshot.messages),
        data_lost=0,
        shutdown_grace_seconds=grace,
        **figures,
    )
