"""Network policy for upstream URLs that clients give (the seed's ``reverse_proxy``).

* :mod:`.addresses` — parse hosts like a resolver; classify addresses (loopback, private, ...).
* :mod:`.allowlist` — ``CHATGPT_API_UPSTREAM_ALLOWLIST``: names, addresses, networks.
* :mod:`.policy` — :class:`UpstreamPolicy`: the off switch, the checks, the messages.
* :mod:`.session` — :class:`RequestUpstreams`: the dedicated session whose resolver pins each
  connection to the addresses that were checked (no DNS rebinding).

Configured upstreams (``CHATGPT_API_REVERSE_PROXY``, the models file, the auth URLs) are trusted
operator settings and never pass through this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatgpt_api.netpolicy.addresses import InvalidAddress, classify, parse_host_address
from chatgpt_api.netpolicy.allowlist import Allowlist
from chatgpt_api.netpolicy.policy import Resolve, UpstreamPolicy, system_resolve

if TYPE_CHECKING:
    from chatgpt_api.netpolicy.session import RequestUpstreams


def request_upstreams(
    *,
    enabled: bool,
    allowlist: str,
    connect_timeout: float,
    resolve: Resolve = system_resolve,
) -> RequestUpstreams:
    """The per-request upstream policy and its pinned session (``allowlist`` as configured)."""
    from chatgpt_api.netpolicy.session import RequestUpstreams

    policy = UpstreamPolicy(
        enabled=enabled,
        allowlist=Allowlist.parse(allowlist),
        resolve=resolve,
        resolve_timeout=connect_timeout,
    )
    return RequestUpstreams(policy, connect_timeout)


__all__ = [
    "Allowlist",
    "InvalidAddress",
    "Resolve",
    "UpstreamPolicy",
    "classify",
    "parse_host_address",
    "request_upstreams",
    "system_resolve",
]
