"""DNS rebinding: the connection goes to the address that was checked, and only there.

Two real emulators listen on the same port: A on 127.0.0.1, B on 127.0.0.2. A test resolver
plays a rebinding DNS server for ``rebind.test``: its first answer is A's address (on the
allowlist), every later answer B's (refused: loopback, not allowlisted). A gateway that checked
the name with one lookup and connected with another would reach B. Here the request reaches A,
the resolver was asked once, and B receives nothing — also when a new connection forces a new
lookup, which is then refused.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest

from chatgpt_api.backends.chatgpt_web import ChatGPTWebBackend
from chatgpt_api.errors import UpstreamForbidden
from chatgpt_api.messages import ChatRequest, Finished, Message
from chatgpt_api.netpolicy import Allowlist, UpstreamPolicy
from chatgpt_api.netpolicy.session import RequestUpstreams
from chatgpt_api.testing import EmulatorThread

PATH = "/backend-api/conversation"


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[EmulatorThread, EmulatorThread]]:
    for _ in range(20):
        with EmulatorThread() as first:
            port = int(first.url.rsplit(":", 1)[1])
            try:
                second = EmulatorThread(host="127.0.0.2", port=port)
                second.__enter__()
            except (OSError, RuntimeError):
                continue  # the port is taken on 127.0.0.2: try another one
            try:
                yield first, second
            finally:
                second.__exit__(None, None, None)
            return
    pytest.skip("no port free on both 127.0.0.1 and 127.0.0.2")


class RebindingDNS:
    """Answers ``first`` once, then ``later`` for ever; counts the questions."""

    def __init__(self, first: str, later: str) -> None:
        self.answers = [first, later]
        self.questions = 0

    async def __call__(self, host: str, port: int, family: int) -> list[str]:
        assert host == "rebind.test"
        self.questions += 1
        return [self.answers[min(self.questions, 2) - 1]]


def ask(backend: ChatGPTWebBackend, port: int) -> asyncio.Future[list[object]]:
    request = ChatRequest(
        messages=(Message("user", "hi"),),
        model="gpt-3.5-turbo",
        credential="tok-rebind",
        upstream_url=f"http://rebind.test:{port}{PATH}",
    )

    async def collect() -> list[object]:
        return [event async for event in backend.stream_chat(request)]

    return asyncio.ensure_future(collect())


def pinned_backend(dns: RebindingDNS) -> tuple[RequestUpstreams, ChatGPTWebBackend]:
    """A web backend whose per-request upstreams go through the policy, resolved by ``dns``."""
    policy = UpstreamPolicy(allowlist=Allowlist.parse("127.0.0.1"), resolve=dns)
    upstreams = RequestUpstreams(policy, connect_timeout=5)
    backend = ChatGPTWebBackend(
        upstreams.session, default_url=None, max_event_size=1 << 20, request_upstreams=upstreams
    )
    return upstreams, backend


def test_the_connection_goes_to_the_checked_address(
    servers: tuple[EmulatorThread, EmulatorThread],
) -> None:
    first, second = servers
    first.clear()
    second.clear()
    port = int(first.url.rsplit(":", 1)[1])
    dns = RebindingDNS("127.0.0.1", "127.0.0.2")

    async def scenario() -> None:
        upstreams, backend = pinned_backend(dns)
        try:
            events = await ask(backend, port)
            assert isinstance(events[-1], Finished)
            assert dns.questions == 1
            # A new connection means a new lookup: now answered with B's address, and refused.
            await upstreams.close()
            with pytest.raises(UpstreamForbidden, match=r"rebind\.test resolves to 127\.0\.0\.2"):
                await ask(backend, port)
            assert dns.questions == 2
        finally:
            await upstreams.close()

    asyncio.run(scenario())
    assert [r.path for r in first.requests] == [PATH]
    assert first.requests[0].headers["host"] == f"rebind.test:{port}"
    assert second.requests == []


def test_keep_alive_reuses_the_checked_connection_without_a_lookup(
    servers: tuple[EmulatorThread, EmulatorThread],
) -> None:
    first, second = servers
    first.clear()
    second.clear()
    port = int(first.url.rsplit(":", 1)[1])
    dns = RebindingDNS("127.0.0.1", "127.0.0.2")

    async def scenario() -> None:
        upstreams, backend = pinned_backend(dns)
        try:
            for _ in range(3):
                await ask(backend, port)
                # The body's end may arrive just after [DONE]: the connection goes back to the
                # pool once it has (read in the background), so give that a moment.
                await asyncio.sleep(0.1)
        finally:
            await upstreams.close()

    asyncio.run(scenario())
    assert dns.questions == 1
    assert len(first.requests) == 3
    assert second.requests == []


def test_the_system_resolver_is_the_default() -> None:
    from chatgpt_api.netpolicy import system_resolve

    answers = asyncio.run(system_resolve("localhost", 80, socket.AF_INET))
    assert answers == ["127.0.0.1"]
