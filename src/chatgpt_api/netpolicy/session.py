"""The dedicated client session for client-given upstream URLs, pinned to checked addresses.

Why a second session: the shared session (``http_session.create_session``) pools connections
and caches DNS answers for the trusted, configured upstreams. A client URL naming the same host
could otherwise reuse a connection or a cached answer that was never checked. This session has
its own connector, whose resolver is :class:`VettingResolver`:

* aiohttp asks the resolver once for each new connection (its DNS cache is off), and connects
  to exactly the addresses the resolver returns — the ones :meth:`UpstreamPolicy.vet_name` just
  resolved and checked. No other lookup happens, so a rebinding DNS server has nothing to
  rebind. TLS still verifies the certificate against the URL's host name (SNI and ``Host`` are
  unchanged), because the connection is pinned at the resolver, not by rewriting the URL.
* IP-literal hosts never reach a resolver; :meth:`UpstreamPolicy.check_url` checks them and
  rewrites them to the canonical address before the request.
* Pooled keep-alive connections are keyed by host and port, and every one was made to a checked
  address, so reuse is safe. Redirects are never followed (``allow_redirects=False`` in
  ``_http.open_stream``), and proxies from the environment are ignored (``trust_env=False``).

:class:`RequestUpstreams` bundles the policy with this session (created on first use, closed
with the :class:`~chatgpt_api.backends.pool.BackendPool` by the app's lifespan); backends call
:func:`pinned` for a client-given URL.
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
