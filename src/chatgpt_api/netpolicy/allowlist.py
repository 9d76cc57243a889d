"""The upstream allowlist: host names, addresses and networks opened despite the policy.

Parsed from one comma-separated setting (``CHATGPT_API_UPSTREAM_ALLOWLIST``), e.g.
``proxy.internal, 127.0.0.1, 10.1.0.0/16, ::1``. An address or network entry opens every
address it contains, and the IPv4-mapped/NAT64/6to4 forms of those addresses. A name entry is
an exact host name (case, one trailing dot and IDNA spelling do not matter, no wildcards) and
opens whatever that name resolves to: the operator trusts that name's DNS.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv6Address, ip_network

from yarl import URL

from chatgpt_api.netpolicy.addresses import (
    InvalidAddress,
    IPAddress,
    Network,
    embedded_ipv4,
    parse_host_address,
    without_scope,
)


def normalise_name(host: str) -> str:
    """``host`` as compared: lower case, IDNA (punycode) spelling, no trailing dot."""
    encoded = URL.build(scheme="http", host=host.strip().rstrip(".")).raw_host
    return (encoded or "").lower()


@dataclass(frozen=True, slots=True)
class Allowlist:
    names: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Allowlist:
        """Entries from ``a, b, c``; a :class:`ValueError` names an unusable entry."""
        names: set[str] = set()
        networks: list[Network] = []
        for raw in text.split(","):
            entry = raw.strip()
            if not entry:
                continue
            network = _as_network(entry)
            if network is not None:
                networks.append(network)
                continue
            try:
                names.add(normalise_name(entry))
            except ValueError:
                raise ValueError(f"not a host name, address or network: {entry!r}") from None
        return cls(frozenset(names), tuple(networks))

    def allows_name(self, host: str) -> bool:
        return bool(self.names) and normalise_name(host) in self.names

    def allows_address(self, ip: IPAddress) -> bool:
        ip = without_scope(ip)
        candidates: list[IPAddress] = [ip]
        if isinstance(ip, IPv6Address):
            embedded = embedded_ipv4(ip)
            if embedded is not None:
                candidates.append(embedded[0])
        return any(c in net for c in candidates for net in self.networks)

    def __bool__(self) -> bool:
        return bool(self.names or self.networks)


def _as_network(entry: str) -> Network | None:
    """``entry`` as a network (an address is a /32 or /128), or ``None`` for a name."""
    text = entry.strip("[]")
    if "/" in text:
        try:
            return ip_network(text, strict=False)
        except ValueError:
            raise ValueError(f"not a network: {entry!r}") from None
    try:
        address = parse_host_address(text)
    except InvalidAddress:
        raise ValueError(f"not an address: {entry!r}") from None
    if address is None:
        return None
    address = without_scope(address)
    return ip_network(f"{address}/{address.max_prefixlen}")
