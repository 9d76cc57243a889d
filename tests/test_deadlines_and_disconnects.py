"""Timeouts abort the upstream request; a client that goes away cancels it; streams flow."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import orjson
import pytest

from chatgpt_api.testing import EmulatorOptions, EmulatorThread
from tests.conftest import fixture_url
from tests.servers import ServiceThread

TIMEOUT_MESSAGE = {"message": "ChatGPT timed out waiting for response"}


def wait_for_requests(emulator: EmulatorThread, count: int, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while len(emulator.requests) < count:
        assert time.monotonic() < deadline, "the upstream never received the request"
        time.sleep(0.01)


@pytest.mark.parametrize("name", ["stall", "stall-headers", "never-ends"])
def test_timeout_aborts_the_upstream_request(
    client: httpx.Client, emulator: EmulatorThread, name: str
) -> None:
    emulator.clear()
    response = client.post(
        "/send_message",
        data={
            "access_token": "tok",
            "prompt": "hi",
            "timeout": "300",
            "reverse_proxy": fixture_url(emulator, name),
        },
    )
    assert response.status_code == 500
    assert response.json() == TIMEOUT_MESSAGE
    assert emulator.wait_until_closed(0, timeout=1.0)


def test_timeout_in_stream_mode_is_an_error_frame(client: httpx.Client) -> None:
    with EmulatorThread(EmulatorOptions(chunks=40, chunk_delay_ms=100)) as slow:
        response = client.post(
            "/send_message",
            data={
                "access_token": "tok",
                "prompt": "hi",
                "timeout": "1e3",
                "stream": "true",
                "reverse_proxy": f"{slow.url}/backend-api/conversation",
            },
        )
        assert response.status_code == 200
        assert response.content.startswith(b'data: {"delta":')
        assert response.content.endswith(
            b"event: error\ndata: " + orjson.dumps(TIMEOUT_MESSAGE) + b"\n\n"
        )
        assert slow.wait_until_closed(0, timeout=1.0)


def test_timeout_before_the_first_event_in_stream_mode_is_plain_500(
    client: httpx.Client, emulator: EmulatorThread
) -> None:
    response = client.post(
        "/send_message",
        data={
            "access_token": "tok",
            "prompt": "hi",
            "timeout": "200",
            "stream": "true",
            "reverse_proxy": fixture_url(emulator, "slow-drip"),
        },
    )
    assert response.status_code == 500
    assert response.json() == TIMEOUT_MESSAGE


@pytest.mark.parametrize("value", ["0", "", "abc", "Infinity", "0x7fffffff"])
def test_timeouts_that_mean_no_timeout(client: httpx.Client, value: str) -> None:
    response = client.post(
        "/send_message", data={"access_token": "tok", "prompt": "hi", "timeout": value}
    )
    assert response.status_code == 200


def raw_post(url: str, fields: dict[str, str]) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    body = urlencode(fields).encode()
    sock = socket.create_connection((host, int(port)))
    sock.sendall(
        b"POST /send_message HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    return sock


@pytest.mark.parametrize(
    ("name", "stream"),
    [("stall", "false"), ("never-ends", "false"), ("never-ends", "true"), ("stall", "true")],
)
def test_client_going_away_closes_the_upstream_connection(
    service: ServiceThread, emulator: EmulatorThread, name: str, stream: str
) -> None:
    emulator.clear()
    sock = raw_post(
        service.url,
        {
            "access_token": "tok",
            "prompt": "hi",
            "stream": stream,
            "reverse_proxy": fixture_url(emulator, name),
        },
    )
    wait_for_requests(emulator, 1)
    sock.close()
    assert emulator.wait_until_closed(0, timeout=1.0), (
        "upstream still open 1 s after the client left"
    )
    assert emulator.requests[0].client_went_away


def test_client_going_away_mid_answer(service: ServiceThread) -> None:
    with EmulatorThread(EmulatorOptions(chunks=50, chunk_delay_ms=100)) as slow:
        sock = raw_post(
            service.url,
            {
                "access_token": "tok",
                "prompt": "hi",
                "stream": "true",
                "reverse_proxy": f"{slow.url}/backend-api/conversation",
            },
        )
        received = b""
        while b"delta" not in received:  # the answer had begun
            chunk = sock.recv(65536)
            assert chunk, "connection closed before the answer began"
            received += chunk
        sock.close()
        assert slow.wait_until_closed(0, timeout=1.0)


def test_stream_frames_leave_before_the_upstream_finishes(service: ServiceThread) -> None:
    with EmulatorThread(EmulatorOptions(chunks=6, chunk_delay_ms=150)) as slow:
        fields = {
            "access_token": "tok",
            "prompt": "hello",
            "stream": "true",
            "reverse_proxy": f"{slow.url}/backend-api/conversation",
        }
        with httpx.stream("POST", f"{service.url}/send_message", data=fields, timeout=30) as r:
            assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
            lines: Iterator[str] = r.iter_lines()
            first = next(line for line in lines if line)
            assert first.startswith('data: {"delta":')
            assert slow.requests[0].ended_at is None  # upstream still streaming: no buffering
            rest = [line for line in lines if line]
        frames = [first, *rest]
        deltas = [orjson.loads(f.removeprefix("data: "))["delta"] for f in frames[:-2]]
        final = orjson.loads(frames[-2].removeprefix("data: "))
        assert "".join(deltas) == final["text"]
        assert len(deltas) >= 3
        assert list(final) == ["text", "conversation_id", "parent_message_id"]
        assert frames[-1] == "data: [DONE]"


def test_service_still_healthy_after_faults(client: httpx.Client) -> None:
    response = client.post("/send_message", data={"access_token": "tok", "prompt": "still ok"})
    assert response.status_code == 200
