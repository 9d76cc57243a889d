"""The dedicated client session for client-given upstream URLs, pinned to checked addresses.

The shared session pools connections and caches DNS for the configured upstreams; a client URL
must reuse neither. This session's connector resolves through :class:`VettingResolver` (DNS
cache off), which returns exactly the addresses :meth:`UpstreamPolicy.vet_name` checked, so a
rebinding DNS server has nothing to rebind; TLS still verifies the URL's host name. Redirects are
not followed and environment proxies ignored. :class:`RequestUpstreams` bundles the policy with
this session; backends call :func:`pinned` for a client-given URL.
"""

from __future__ import annotations

import socket

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from chatgpt_api.errors import UpstreamForbidden
from chatgpt_api.http_session import create_session
from chatgpt_api.netpolicy.policy import UpstreamPolicy


class VettingResolver(AbstractResolver):
    """An aiohttp resolver whose every answer passed the :class:`UpstreamPolicy`."""

    def __init__(self, policy: UpstreamPolicy) -> None:
        self._policy = policy

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = await self._policy.vet_name(host, port, family)
        return [
            ResolveResult(
                hostname=host,
                host=str(address),
                port=port,
                family=socket.AF_INET6 if address.version == 6 else socket.AF_INET,
                proto=socket.IPPROTO_TCP,
                flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
            )
            for address in addresses
        ]

    async def close(self) -> None:
        return None


class RequestUpstreams:
    """The policy for client-given upstream URLs and the session that connects to them."""

    def __init__(self, policy: UpstreamPolicy, connect_timeout: float) -> None:
        self.policy = policy
        self._connect_timeout = connect_timeout
        self._session: aiohttp.ClientSession | None = None

    def prepare(self, url: URL) -> tuple[aiohttp.ClientSession, URL]:
        """The pinned session and ``url`` as it may be requested, or :class:`UpstreamForbidden`.

        See :meth:`UpstreamPolicy.check_url`; names are checked when the connection is made.
        """
        return self.session, self.policy.check_url(url)

    @property
    def session(self) -> aiohttp.ClientSession:
        """The pinned session (created on first use, inside the running event loop)."""
        if self._session is None or self._session.closed:
            resolver = VettingResolver(self.policy)
            self._session = create_session(self._connect_timeout, resolver=resolver)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def pinned(
    upstreams: RequestUpstreams | None, url: URL, field: str = "reverse_proxy"
) -> tuple[aiohttp.ClientSession, URL]:
    """:meth:`RequestUpstreams.prepare`, failing closed when a backend was built without one."""
    if upstreams is None:
        raise UpstreamForbidden(f"{field} refused: per-request upstreams are not set up here")
    return upstreams.prepare(url)
