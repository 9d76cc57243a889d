"""The network policy through the running service: a battery of tricky ``reverse_proxy`` URLs.

The service here runs WITHOUT the suite's loopback allowlist (``upstream_allowlist=""``), as a
real deployment does by default. Every tricky spelling of a loopback, private or metadata
address is refused with its reason, and a listener on 127.0.0.1 and ::1 proves that nothing
was sent anywhere. Allowlist entries (name, address, CIDR), the off switch and configured
upstreams are checked against the emulator.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest

from chatgpt_api.testing import EmulatorThread
from tests.servers import ServiceThread

HINT = " (allow it with CHATGPT_API_UPSTREAM_ALLOWLIST)"
LOOPBACK = "a loopback address"
USERINFO = (
    "credentials in the URL (user:password@host) are not accepted; the upstream request "
    "carries its own Authorization header"
)


class Listener:
    """Counts TCP connections on 127.0.0.1:PORT (and [::1]:PORT when possible)."""

    def __init__(self) -> None:
        self.connections = 0
        self._sockets = [socket.create_server(("127.0.0.1", 0))]
        self.port = self._sockets[0].getsockname()[1]
        with contextlib.suppress(OSError):  # no IPv6 loopback here
            self._sockets.append(socket.create_server(("::1", self.port), family=socket.AF_INET6))
        for sock in self._sockets:
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                conn.sendall(b"HTTP/1.1 500 Nope\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    def close(self) -> None:
        for sock in self._sockets:
            sock.close()


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    lis = Listener()
    yield lis
    lis.close()


@pytest.fixture(scope="module")
def strict(emulator: EmulatorThread) -> Iterator[httpx.Client]:
    """A service with the default policy (no allowlist) and the emulator as configured upstream."""
    with (
        ServiceThread(
            upstream_allowlist="",
            reverse_proxy=f"{emulator.url}/backend-api/conversation",
            session_url=f"{emulator.url}/api/auth/session",
        ) as svc,
        httpx.Client(base_url=svc.url, timeout=30) as http,
    ):
        yield http


def send(client: httpx.Client, proxy: str) -> httpx.Response:
    data = {"access_token": "tok-secret-1", "prompt": "hi", "reverse_proxy": proxy}
    return client.post("/send_message", data=data)


def battery(port: int) -> list[tuple[str, str]]:
    """(URL, the expected message without the prefix and hint; "" = refused or unresolvable)."""
    lo = f"127.0.0.1, {LOOPBACK}"
    return [
        (f"http://127.0.0.1:{port}/c", f"127.0.0.1 is {LOOPBACK}"),
        (f"https://127.0.0.1:{port}/c", f"127.0.0.1 is {LOOPBACK}"),
        (f"http://2130706433:{port}/c", f"2130706433 is {lo}"),
        (f"http://0177.0.0.1:{port}/c", f"0177.0.0.1 is {lo}"),
        (f"http://0x7f.1:{port}/c", f"0x7f.1 is {lo}"),
        (f"http://0x7F000001:{port}/c", f"0x7f000001 is {lo}"),
        (f"http://127.1:{port}/c", f"127.1 is {lo}"),
        (f"http://127.0.0.1.:{port}/c", f"127.0.0.1. is {lo}"),
        (f"http://0:{port}/c", "0 is 0.0.0.0, an unspecified address"),
        (f"http://0.0.0.0:{port}/c", "0.0.0.0 is an unspecified address"),
        (f"http://[::1]:{port}/c", f"::1 is {LOOPBACK}"),
        (f"http://[::]:{port}/c", ":: is an unspecified address"),
        (f"http://[::ffff:127.0.0.1]:{port}/c", f"::ffff:7f00:1 is an IPv4-mapped form of {lo}"),
        (
            f"http://[0:0:0:0:0:ffff:7f00:1]:{port}/c",
            f"::ffff:7f00:1 is an IPv4-mapped form of {lo}",
        ),
        (f"http://[::127.0.0.1]:{port}/c", f"::7f00:1 is an IPv4-compatible form of {lo}"),
        (f"http://[2002:7f00:1::]:{port}/c", f"2002:7f00:1:: is a 6to4 form of {lo}"),
        (f"http://[64:ff9b::7f00:1]:{port}/c", f"64:ff9b::7f00:1 is a NAT64 form of {lo}"),
        (f"http://[fe80::1%25lo]:{port}/c", "fe80::1%lo is a link-local address"),
        (f"http://localhost:{port}/c", f"localhost resolves to {lo}"),
        (f"http://LOCALHOST.:{port}/c", ""),  # resolves or not, depending on the machine
        (f"http://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ:{port}/c", f"localhost resolves to {lo}"),
        (f"http://１２７.０.０.１:{port}/c", f"127.0.0.1 is {LOOPBACK}"),
        (f"http://user:pw-secret-2@127.0.0.1:{port}/c", USERINFO),
        (f"http://example.com@127.0.0.1:{port}/c", USERINFO),
        (f"http://127.0.0.1%2f@localhost:{port}/c", USERINFO),
        (f"https://:pw-secret-3@example.com:{port}/c", USERINFO),
        (
            "http://169.254.169.254/latest/meta-data/",
            "169.254.169.254 is a link-local address (cloud metadata service)",
        ),
        (
            "http://[fd00:ec2::254]/latest/meta-data/",
            "fd00:ec2::254 is a private address (unique local) (cloud metadata service)",
        ),
        (
            "http://[::ffff:a9fe:a9fe]/",
            "::ffff:a9fe:a9fe is an IPv4-mapped form of "
            "169.254.169.254, a link-local address (cloud metadata service)",
        ),
        ("http://10.0.0.1/", "10.0.0.1 is a private address"),
        ("http://172.31.255.255/", "172.31.255.255 is a private address"),
        ("http://192.168.0.1:8080/", "192.168.0.1 is a private address"),
        ("http://100.64.0.1/", "100.64.0.1 is a carrier-grade NAT address"),
        ("http://198.18.0.1/", "198.18.0.1 is a benchmarking address"),
        ("http://192.0.2.1/", "192.0.2.1 is a documentation address"),
        ("http://224.0.0.1/", "224.0.0.1 is a multicast address"),
        ("http://255.255.255.255/", "255.255.255.255 is a reserved address"),
        ("http://[fc00::1]/", "fc00::1 is a private address (unique local)"),
        ("http://[ff02::1]/", "ff02::1 is a multicast address"),
    ]


def test_tricky_urls_are_refused_and_nothing_is_sent(
    strict: httpx.Client, listener: Listener
) -> None:
    for url, what in battery(listener.port):
        response = send(strict, url)
        assert response.status_code == 500, url
        message = response.json()["message"]
        if what == USERINFO:
            assert message == f"reverse_proxy refused: {USERINFO}", url
        elif what:
            assert message == f"reverse_proxy refused: {what}{HINT}", url
        else:
            assert message.startswith(("fetch failed: cannot reach ", "reverse_proxy refused: "))
        assert "secret" not in response.text
    assert listener.connections == 0


@pytest.mark.parametrize(
    "url",
    ["http://1.2.3.4.5/c", "http://08.0.0.1/c", "http://127.0.0.256/c", "http://foo.1/"],
)
def test_invalid_numeric_hosts_do_not_parse(strict: httpx.Client, url: str) -> None:
    message = send(strict, url).json()["message"]
    assert message.startswith("Failed to parse URL from http://")
    assert "secret" not in message


def test_non_http_schemes_still_do_not_parse(strict: httpx.Client, listener: Listener) -> None:
    for url in ("file:///etc/passwd", f"gopher://127.0.0.1:{listener.port}/", "ftp://10.0.0.1/"):
        assert send(strict, url).json() == {"message": f"Failed to parse URL from {url}"}
    assert listener.connections == 0


def test_configured_upstreams_are_not_subject_to_the_policy(
    strict: httpx.Client, emulator: EmulatorThread
) -> None:
    ok = strict.post("/send_message", data={"access_token": "tok", "prompt": "hi"})
    assert ok.status_code == 200, ok.text
    token = strict.post("/get_access_token", data={"session_token": "sess"})
    assert "refused" not in token.text


def test_allowlist_by_address_name_and_cidr(emulator: EmulatorThread) -> None:
    port = emulator.url.rsplit(":", 1)[1]
    cases = {
        "127.0.0.1": [f"http://127.0.0.1:{port}", f"http://2130706433:{port}"],
        "localhost": [f"http://localhost:{port}", f"http://LocalHost:{port}"],
        "127.0.0.0/8": [f"http://127.0.0.1:{port}", f"http://[::ffff:127.0.0.1]:{port}"],
    }
    for allow, bases in cases.items():
        with (
            ServiceThread(upstream_allowlist=f"10.0.0.0/8, {allow}") as svc,
            httpx.Client(base_url=svc.url, timeout=30) as http,
        ):
            for base in bases:
                response = send(http, f"{base}/backend-api/conversation")
                assert response.status_code == 200, (allow, base, response.text)
            refused = send(http, "http://192.168.1.1/backend-api/conversation")
            assert refused.json()["message"].startswith("reverse_proxy refused: 192.168.1.1")


def test_off_switch_refuses_every_request_url(emulator: EmulatorThread) -> None:
    with (
        ServiceThread(
            allow_request_upstreams=False,
            upstream_allowlist="127.0.0.1",
            reverse_proxy=f"{emulator.url}/backend-api/conversation",
        ) as svc,
        httpx.Client(base_url=svc.url, timeout=30) as http,
    ):
        refused = send(http, f"{emulator.url}/backend-api/conversation")
        assert refused.status_code == 500
        assert refused.json() == {
            "message": "reverse_proxy refused: per-request upstreams are turned off on this "
            "server (CHATGPT_API_ALLOW_REQUEST_UPSTREAMS=false); omit reverse_proxy to use the "
            "configured upstream"
        }
        ok = http.post("/send_message", data={"access_token": "tok", "prompt": "hi"})
        assert ok.status_code == 200


def test_redirects_to_a_refused_host_are_not_followed(listener: Listener) -> None:
    """An allowed upstream answering 307 to a loopback listener: the listener gets nothing."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def redirect() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(65536)
            location = f"http://127.0.0.1:{listener.port}/steal"
            conn.sendall(
                f"HTTP/1.1 307 Temporary Redirect\r\nLocation: {location}\r\n"
                "Content-Length: 0\r\nConnection: close\r\n\r\n".encode()
            )

    thread = threading.Thread(target=redirect, daemon=True)
    thread.start()
    before = listener.connections
    try:
        with (
            ServiceThread(upstream_allowlist="127.0.0.1/32") as svc,
            httpx.Client(base_url=svc.url, timeout=30) as http,
        ):
            # The allowlist opens 127.0.0.1 itself; even so the redirect is only reported.
            response = send(http, f"http://127.0.0.1:{port}/c")
        assert response.json() == {"message": "ChatGPT error 307: "}
    finally:
        server.close()
    thread.join(5)
    assert listener.connections == before
