"""IP addresses: parsing hosts the way resolvers do, and which addresses are not public.

:func:`parse_host_address` follows the URL standard's host parser (IPv4 in one to four decimal,
octal or hex parts such as ``127.1`` or ``2130706433``; IPv6 with an optional zone id); a host
whose last label is numeric but invalid is :class:`InvalidAddress`, any other host a name.
:func:`classify` says why an address is refused as an upstream (``"a loopback address"``), or
None; IPv4 addresses embedded in IPv6 ones are classified like the address they carry.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

IPAddress = IPv4Address | IPv6Address

PRIVATE = "a private address"
LOOPBACK = "a loopback address"
LINK_LOCAL = "a link-local address"
UNSPECIFIED = "an unspecified address"
MULTICAST = "a multicast address"
RESERVED = "a reserved address"
DOCUMENTATION = "a documentation address"

Network = IPv4Network | IPv6Network

_V4_REFUSED: tuple[tuple[Network, str], ...] = tuple(
    (IPv4Network(net), reason)
    for net, reason in (
        ("0.0.0.0/8", UNSPECIFIED),
        ("10.0.0.0/8", PRIVATE),
        ("100.64.0.0/10", "a carrier-grade NAT address"),
        ("127.0.0.0/8", LOOPBACK),
        ("169.254.0.0/16", LINK_LOCAL),
        ("172.16.0.0/12", PRIVATE),
        ("192.0.0.0/24", RESERVED + " (IETF protocol assignments)"),
        ("192.0.2.0/24", DOCUMENTATION),
        ("192.88.99.0/24", RESERVED + " (6to4 relay anycast)"),
        ("192.168.0.0/16", PRIVATE),
        ("198.18.0.0/15", "a benchmarking address"),
        ("198.51.100.0/24", DOCUMENTATION),
        ("203.0.113.0/24", DOCUMENTATION),
        ("224.0.0.0/4", MULTICAST),
        ("240.0.0.0/4", RESERVED),
    )
)

_V6_REFUSED: tuple[tuple[Network, str], ...] = tuple(
    (IPv6Network(net), reason)
    for net, reason in (
        ("::/128", UNSPECIFIED),
        ("::1/128", LOOPBACK),
        ("100::/64", RESERVED + " (discard-only)"),
        ("2001::/23", RESERVED + " (IETF protocol assignments)"),
        ("2001:db8::/32", DOCUMENTATION),
        ("3fff::/20", DOCUMENTATION),
        ("64:ff9b:1::/48", PRIVATE + " (local-use NAT64)"),
        ("fc00::/7", PRIVATE + " (unique local)"),
        ("fe80::/10", LINK_LOCAL),
        ("fec0::/10", PRIVATE + " (site-local)"),
        ("ff00::/8", MULTICAST),
    )
)

#: IPv6 prefixes that carry an IPv4 address, and how to read it out.
_MAPPED = IPv6Network("::ffff:0:0/96")
_COMPATIBLE = IPv6Network("::/96")
_NAT64 = IPv6Network("64:ff9b::/96")
_SIX_TO_FOUR = IPv6Network("2002::/16")

#: Cloud instance metadata services (AWS, GCP, Azure, ... and AWS's IPv6 endpoint).
METADATA_ADDRESSES = frozenset({IPv4Address("169.254.169.254"), IPv6Address("fd00:ec2::254")})


class InvalidAddress(ValueError):
    """A host that must be an IP address (numeric last label, or a colon) but is not one."""


def parse_host_address(host: str) -> IPAddress | None:
    """The address a URL host stands for, ``None`` for a name, or :class:`InvalidAddress`."""
    text = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if ":" in text:
        try:
            return IPv6Address(text.replace("%25", "%", 1))
        except ValueError:
            raise InvalidAddress(host) from None
    labels = text.split(".")
    if len(labels) > 1 and labels[-1] == "":
        labels.pop()
    if not labels or not _is_number(labels[-1]):
        return None
    value = _parse_ipv4(labels)
    if value is None:
        raise InvalidAddress(host)
    return IPv4Address(value)


def _is_number(label: str) -> bool:
    if label[:2].lower() == "0x":
        return all(c in "0123456789abcdefABCDEF" for c in label[2:])
    return label.isascii() and label.isdigit()


def _parse_part(label: str) -> int | None:
    if label[:2].lower() == "0x":
        digits, base = label[2:], 16
        if not digits:
            return 0
    elif len(label) > 1 and label.startswith("0"):
        digits, base = label[1:], 8
    else:
        digits, base = label, 10
    try:
        return int(digits, base) if digits.isascii() and digits.isalnum() else None
    except ValueError:
        return None


def _parse_ipv4(labels: list[str]) -> int | None:
    if len(labels) > 4 or any(label == "" for label in labels):
        return None
    parts = [_parse_part(label) for label in labels]
    if any(part is None for part in parts):
        return None
    numbers = [part for part in parts if part is not None]
    *head, last = numbers
    if any(part > 255 for part in head) or last >= 256 ** (5 - len(numbers)):
        return None
    value = last
    for index, part in enumerate(head):
        value += part << (8 * (3 - index))
    return value


def embedded_ipv4(ip: IPv6Address) -> tuple[IPv4Address, str] | None:
    """The IPv4 address carried by ``ip`` and the name of the form, if it carries one."""
    if ip in _MAPPED:
        return IPv4Address(int(ip) & 0xFFFFFFFF), "an IPv4-mapped form"
    if ip in _NAT64:
        return IPv4Address(int(ip) & 0xFFFFFFFF), "a NAT64 form"
    if ip in _COMPATIBLE and int(ip) > 1:
        return IPv4Address(int(ip) & 0xFFFFFFFF), "an IPv4-compatible form"
    if ip in _SIX_TO_FOUR:
        return IPv4Address((int(ip) >> 80) & 0xFFFFFFFF), "a 6to4 form"
    return None


def without_scope(ip: IPAddress) -> IPAddress:
    """``ip`` without its IPv6 zone id (classification ignores the interface)."""
    if isinstance(ip, IPv6Address) and ip.scope_id:
        return IPv6Address(int(ip))
    return ip


def classify(ip: IPAddress) -> str | None:
    """Why ``ip`` may not be an upstream (``"a loopback address"``), or ``None`` if public."""
    ip = without_scope(ip)
    if isinstance(ip, IPv4Address):
        reason = _lookup(ip, _V4_REFUSED)
    else:
        embedded = embedded_ipv4(ip) if int(ip) > 1 else None
        if embedded is not None:
            v4, form = embedded
            inner = classify(v4)
            return None if inner is None else f"{form} of {v4}, {inner}"
        reason = _lookup(ip, _V6_REFUSED)
        if reason is None and ip.is_reserved:
            reason = RESERVED
    if reason is None and not ip.is_global:
        reason = RESERVED
    if reason is not None and ip in METADATA_ADDRESSES:
        reason += " (cloud metadata service)"
    return reason


def _lookup(ip: IPAddress, table: tuple[tuple[Network, str], ...]) -> str | None:
    for network, reason in table:
        if ip in network:
            return reason
    return None


__all__ = [
    "IPAddress",
    "InvalidAddress",
    "Network",
    "classify",
    "embedded_ipv4",
    "parse_host_address",
    "without_scope",
]
