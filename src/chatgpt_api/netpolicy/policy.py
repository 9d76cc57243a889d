"""The per-request upstream policy: which client-given URLs the service may connect to.

Only client URLs (the seed's ``reverse_proxy`` field) are checked; configured upstreams are
trusted. A client URL is refused when per-request upstreams are off, or when any address its
host is or resolves to is refused by :func:`classify` (loopback, private, link-local, metadata,
...), unless the :class:`Allowlist` opens it. :meth:`UpstreamPolicy.check_url` checks IP-literal
hosts before the request; :meth:`UpstreamPolicy.vet_name` checks names inside the connection's
own resolver, so DNS rebinding has no second lookup to slip into. URL userinfo is refused, and
messages name the host and address, never the URL.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from ipaddress import ip_address

from yarl import URL

from chatgpt_api.errors import UpstreamForbidden, UpstreamURLError
from chatgpt_api.netpolicy.addresses import (
    InvalidAddress,
    IPAddress,
    classify,
    parse_host_address,
)
from chatgpt_api.netpolicy.allowlist import Allowlist

#: ``resolve(host, port, family)`` → address strings (IPv6 ones may carry ``%zone``).
Resolve = Callable[[str, int, int], Awaitable[list[str]]]

ALLOWLIST_SETTING = "CHATGPT_API_UPSTREAM_ALLOWLIST"
SWITCH_SETTING = "CHATGPT_API_ALLOW_REQUEST_UPSTREAMS"
MAX_SHOWN_HOST = 100


async def system_resolve(host: str, port: int, family: int) -> list[str]:
    """The event loop's ``getaddrinfo``, as address strings, in the order it gave them."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, family=family, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for info_family, _, _, _, sockaddr in infos:
        address = str(sockaddr[0])
        if info_family == socket.AF_INET6 and len(sockaddr) > 3 and sockaddr[3]:
            address = f"{address.split('%')[0]}%{sockaddr[3]}"
        if info_family in (socket.AF_INET, socket.AF_INET6) and address not in addresses:
            addresses.append(address)
    return addresses


class UpstreamPolicy:
    """Decides whether a client-given upstream URL may be used; see the module docstring."""

    def __init__(
        self,
        *,
        enabled: bool = True,
        allowlist: Allowlist | None = None,
        resolve: Resolve = system_resolve,
        resolve_timeout: float = 30.0,
        field: str = "reverse_proxy",
    ) -> None:
        self.enabled = enabled
        self.allowlist = allowlist or Allowlist()
        self._resolve = resolve
        self._resolve_timeout = resolve_timeout
        self._field = field

    def check_url(self, url: URL) -> URL:
        """``url`` if it may be used (IP hosts rewritten to the checked address), else raise."""
        if not self.enabled:
            raise UpstreamForbidden(
                f"{self._field} refused: per-request upstreams are turned off on this server "
                f"({SWITCH_SETTING}=false); omit {self._field} to use the configured upstream"
            )
        if url.raw_user is not None or url.raw_password is not None:
            raise UpstreamForbidden(
                f"{self._field} refused: credentials in the URL (user:password@host) are not "
                "accepted; the upstream request carries its own Authorization header",
                param=self._field,
            )
        host = url.raw_host or ""
        try:
            address = parse_host_address(host)
        except InvalidAddress:
            raise UpstreamURLError(str(url.with_user(None))) from None
        if address is None:
            return url
        self._check_address(host, address, resolved=False)
        canonical = str(address)
        return url if canonical == host else url.with_host(canonical)

    async def vet_name(self, host: str, port: int, family: int) -> list[IPAddress]:
        """The addresses to connect to for ``host``, each one checked (one lookup, no cache)."""
        try:
            literal = parse_host_address(host)
        except InvalidAddress:
            raise UpstreamURLError(_shown(host)) from None
        if literal is not None:
            self._check_address(host, literal, resolved=False)
            return [literal]
        async with asyncio.timeout(self._resolve_timeout):
            answers = await self._resolve(host, port, family)
        addresses = [ip_address(answer) for answer in answers]
        if not addresses:
            raise OSError(f"no address for {_shown(host)}")
        if not self.allowlist.allows_name(host):
            for address in addresses:
                self._check_address(host, address, resolved=True)
        return addresses

    def _check_address(self, host: str, address: IPAddress, *, resolved: bool) -> None:
        reason = classify(address)
        if reason is None or self.allowlist.allows_address(address):
            return
        shown = _shown(host)
        if resolved:
            what = f"{shown} resolves to {address}, {reason}"
        elif shown.strip("[]") == str(address):
            what = f"{address} is {reason}"
        else:
            what = f"{shown} is {address}, {reason}"
        message = f"{self._field} refused: {what} (allow it with {ALLOWLIST_SETTING})"
        raise UpstreamForbidden(message, param=self._field)


def _shown(host: str) -> str:
    """A host as shown in messages: the URL's host only (never userinfo), bounded."""
    host = host.replace("%25", "%", 1)
    return host if len(host) <= MAX_SHOWN_HOST else host[:MAX_SHOWN_HOST] + "..."
