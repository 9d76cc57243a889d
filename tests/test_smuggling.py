"""Request-smuggling-style and oversized inputs: the HTTP server refuses them without harm.

Duplicate or conflicting Content-Length headers, Content-Length beside chunked encoding,
malformed chunk sizes, huge headers and huge request lines each get an error or a closed
connection — never a second request smuggled behind the first — and the service keeps
answering normal requests.
"""

from __future__ import annotations

import socket

import httpx
import pytest

from tests.servers import ServiceThread

BODY = b"access_token=t&prompt=hi"


def exchange(url: str, raw: bytes, timeout: float = 5.0) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(raw)
        received = b""
        try:
            while len(received) < 1_000_000:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                received += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    return received


def statuses(response: bytes) -> list[int]:
    return [
        int(line.split()[1])
        for line in response.split(b"\r\n")
        if line.startswith(b"HTTP/1.1 ") and len(line.split()) > 1 and line.split()[1].isdigit()
    ]


SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"

CASES = {
    "conflicting content-length": (
        b"POST /send_message HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: 24\r\nContent-Length: 5\r\n\r\n" + BODY + SMUGGLED
    ),
    "content-length and chunked": (
        b"POST /send_message HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"18\r\n" + BODY + b"\r\n0\r\n\r\n" + SMUGGLED
    ),
    "bad chunk size": (
        b"POST /send_message HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"zz\r\nhello\r\n0\r\n\r\n" + SMUGGLED
    ),
    "negative content-length": (
        b"POST /send_message HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n" + SMUGGLED
    ),
    "huge header": b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 2_000_000 + b"\r\n\r\n",
    "huge request line": b"GET /" + b"a" * 2_000_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "many headers": b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-H: v\r\n" * 20_000 + b"\r\n",
    "obsolete line folding": (
        b"POST /send_message HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n 24\r\n\r\n" + BODY
    ),
}


@pytest.fixture(scope="module")
def plain_service() -> ServiceThread:
    with ServiceThread() as svc:
        yield svc  # type: ignore[misc]


@pytest.mark.parametrize("name", sorted(CASES))
def test_refused_without_smuggling(plain_service: ServiceThread, name: str) -> None:
    try:
        response = exchange(plain_service.url, CASES[name])
    except (BrokenPipeError, ConnectionResetError):
        response = b""  # the server closed the connection while we were still sending
    codes = statuses(response)
    assert len(codes) <= 1, f"more than one response: {codes}"  # nothing smuggled through
    assert b"/smuggled" not in response
    if codes:
        assert codes[0] >= 400, codes
    healthy = httpx.get(f"{plain_service.url}/healthz", timeout=10)
    assert healthy.status_code == 200
