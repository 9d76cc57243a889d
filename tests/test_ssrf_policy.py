"""The network policy's pieces without any network: host parsing, classification, allowlist.

Property tests (hypothesis) pin the classifier down: every address of a refused network is
refused, public addresses pass, and every IPv6 form that carries an IPv4 address (mapped,
compatible, NAT64, 6to4) is classified like that IPv4 address.
"""

from __future__ import annotations

import asyncio
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

import pytest
from hypothesis import given
from hypothesis import strategies as st
from yarl import URL

from chatgpt_api.config import Settings
from chatgpt_api.errors import UpstreamForbidden, UpstreamURLError
from chatgpt_api.netpolicy import Allowlist, UpstreamPolicy, classify, parse_host_address
from chatgpt_api.netpolicy.addresses import InvalidAddress

REFUSED_V4 = {
    "0.0.0.0/8": "an unspecified address",
    "10.0.0.0/8": "a private address",
    "100.64.0.0/10": "a carrier-grade NAT address",
    "127.0.0.0/8": "a loopback address",
    "169.254.0.0/16": "a link-local address",
    "172.16.0.0/12": "a private address",
    "192.0.0.0/24": "a reserved address",
    "192.0.2.0/24": "a documentation address",
    "192.168.0.0/16": "a private address",
    "198.18.0.0/15": "a benchmarking address",
    "198.51.100.0/24": "a documentation address",
    "203.0.113.0/24": "a documentation address",
    "224.0.0.0/4": "a multicast address",
    "240.0.0.0/4": "a reserved address",
}
REFUSED_V6 = {
    "::1/128": "a loopback address",
    "fc00::/7": "a private address",
    "fe80::/10": "a link-local address",
    "ff00::/8": "a multicast address",
    "2001:db8::/32": "a documentation address",
    "100::/64": "a reserved address",
}
PUBLIC_V4 = ["8.8.8.8", "1.1.1.1", "93.184.216.34", "100.63.255.255", "100.128.0.0", "11.0.0.1"]


def _in(network: IPv4Network | IPv6Network) -> st.SearchStrategy[int]:
    return st.integers(int(network.network_address), int(network.broadcast_address))


v4_refused = st.sampled_from(sorted(REFUSED_V4)).flatmap(
    lambda net: _in(IPv4Network(net)).map(lambda n: (IPv4Address(n), REFUSED_V4[net]))
)
v6_refused = st.sampled_from(sorted(REFUSED_V6)).flatmap(
    lambda net: _in(IPv6Network(net)).map(lambda n: (IPv6Address(n), REFUSED_V6[net]))
)
any_v4 = st.integers(0, 2**32 - 1).map(IPv4Address)


@given(v4_refused)
def test_every_address_of_a_refused_ipv4_network_is_refused(case: tuple[IPv4Address, str]) -> None:
    address, reason = case
    assert (classify(address) or "").startswith(reason)


@given(v6_refused)
def test_every_address_of_a_refused_ipv6_network_is_refused(case: tuple[IPv6Address, str]) -> None:
    address, reason = case
    assert (classify(address) or "").startswith(reason)


@given(any_v4)
def test_ipv6_forms_are_classified_like_their_ipv4(v4: IPv4Address) -> None:
    inner = classify(v4)
    forms = {
        "an IPv4-mapped form": IPv6Address(0xFFFF_0000_0000 | int(v4)),
        "a NAT64 form": IPv6Address((0x64FF9B << 96) | int(v4)),
        "a 6to4 form": IPv6Address((0x2002 << 112) | (int(v4) << 80) | 1),
    }
    if int(v4) > 1:
        forms["an IPv4-compatible form"] = IPv6Address(int(v4))
    for form, v6 in forms.items():
        outer = classify(v6)
        if inner is None:
            assert outer is None, v6
        else:
            assert outer == f"{form} of {v4}, {inner}", v6


@given(any_v4)
def test_every_numeric_spelling_of_an_ipv4_address_parses_to_it(v4: IPv4Address) -> None:
    n = int(v4)
    a, b, c, d = v4.packed
    for spelling in (
        str(n),
        hex(n),
        f"0{n:o}",
        f"{a}.{(b << 16) | (c << 8) | d}",
        f"{a}.{b}.{(c << 8) | d}",
        f"0{a:o}.0x{b:x}.{c}.0{d:o}",
        f"{v4}.",
    ):
        assert parse_host_address(spelling) == v4, spelling


@pytest.mark.parametrize("address", [*PUBLIC_V4, "2606:4700::1111", "2a00:1450:4001::200e"])
def test_public_addresses_pass(address: str) -> None:
    assert classify(ip_address(address)) is None


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("169.254.169.254", "a link-local address (cloud metadata service)"),
        ("fd00:ec2::254", "a private address (unique local) (cloud metadata service)"),
        ("::", "an unspecified address"),
        ("255.255.255.255", "a reserved address"),
        ("fe80::1%eth0", "a link-local address"),
        ("::ffff:169.254.169.254", "an IPv4-mapped form of 169.254.169.254, a link-local address"),
        ("2001::1", "a reserved address (IETF protocol assignments)"),
        ("64:ff9b:1::1", "a private address (local-use NAT64)"),
    ],
)
def test_named_reasons(address: str, reason: str) -> None:
    assert (classify(ip_address(address)) or "").startswith(reason)


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0X7F000001", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("127.0.0.1.", "127.0.0.1"),
        ("0", "0.0.0.0"),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
        ("fe80::1%25eth0", "fe80::1%eth0"),
    ],
)
def test_numeric_hosts_parse_like_a_resolver(host: str, address: str) -> None:
    assert parse_host_address(host) == ip_address(address)


@pytest.mark.parametrize(
    "host", ["1.2.3.4.5", "08.0.0.1", "256.0.0.1", "1.2.3.256", "foo.1", "::g"]
)
def test_invalid_numeric_hosts(host: str) -> None:
    with pytest.raises(InvalidAddress):
        parse_host_address(host)


@pytest.mark.parametrize("host", ["example.com", "localhost", "1.example", "0x7f.example", "a-1"])
def test_names_are_names(host: str) -> None:
    assert parse_host_address(host) is None


def test_allowlist_entries() -> None:
    allow = Allowlist.parse(" Proxy.Internal. , 127.0.0.1, 10.1.0.0/16, [::1], exämple.com,, ")
    assert allow.allows_name("proxy.internal") and allow.allows_name("PROXY.internal.")
    assert allow.allows_name("xn--exmple-cua.com")
    assert not allow.allows_name("other.internal")
    for ok in ("127.0.0.1", "10.1.255.255", "::1", "::ffff:127.0.0.1", "::ffff:10.1.0.9"):
        assert allow.allows_address(ip_address(ok)), ok
    for no in ("127.0.0.2", "10.2.0.1", "::2"):
        assert not allow.allows_address(ip_address(no)), no
    assert not Allowlist.parse("")


@pytest.mark.parametrize("entry", ["10.0.0.0/33", "1.2.3.4.5", "exa mple.com"])
def test_bad_allowlist_entries_are_named(entry: str) -> None:
    with pytest.raises(ValueError, match="not a"):
        Allowlist.parse(f"127.0.0.1,{entry}")
    with pytest.raises(ValueError, match="upstream_allowlist"):
        Settings(upstream_allowlist=entry)


def _policy(answers: dict[str, list[str]], allow: str = "") -> UpstreamPolicy:
    async def resolve(host: str, port: int, family: int) -> list[str]:
        return answers[host.lower().rstrip(".")]

    return UpstreamPolicy(allowlist=Allowlist.parse(allow), resolve=resolve)


def test_check_url_rewrites_allowed_numeric_hosts_to_the_checked_address() -> None:
    policy = _policy({}, "127.0.0.1")
    checked = policy.check_url(URL("http://2130706433:8080/a?b=1"))
    assert str(checked) == "http://127.0.0.1:8080/a?b=1"
    plain = URL("https://example.com/x")
    assert policy.check_url(plain) is plain  # names are checked when connecting


def test_check_url_messages_hide_userinfo() -> None:
    policy = _policy({})
    with pytest.raises(UpstreamForbidden) as userinfo:
        policy.check_url(URL("http://admin:hunter2@example.com/"))
    assert "hunter2" not in userinfo.value.message and "admin" not in userinfo.value.message
    with pytest.raises(UpstreamForbidden) as refused:
        policy.check_url(URL("http://0x7f.1:9/"))
    assert refused.value.message == (
        "reverse_proxy refused: 0x7f.1 is 127.0.0.1, a loopback address "
        "(allow it with CHATGPT_API_UPSTREAM_ALLOWLIST)"
    )
    assert refused.value.status == 403 and refused.value.code == "upstream_forbidden"
    with pytest.raises(UpstreamURLError) as invalid:
        policy.check_url(URL("http://1.2.3.4.5/x"))
    assert invalid.value.message == "Failed to parse URL from http://1.2.3.4.5/x"


def test_off_switch_names_the_setting() -> None:
    policy = UpstreamPolicy(enabled=False, allowlist=Allowlist.parse("0.0.0.0/0"))
    with pytest.raises(UpstreamForbidden, match="CHATGPT_API_ALLOW_REQUEST_UPSTREAMS=false"):
        policy.check_url(URL("https://example.com/"))


def test_any_refused_answer_refuses_the_name() -> None:
    policy = _policy({"mixed.test": ["93.184.216.34", "10.0.0.7"], "ok.test": ["93.184.216.34"]})
    with pytest.raises(UpstreamForbidden) as refused:
        asyncio.run(policy.vet_name("mixed.test", 443, 0))
    assert refused.value.message == (
        "reverse_proxy refused: mixed.test resolves to 10.0.0.7, a private address "
        "(allow it with CHATGPT_API_UPSTREAM_ALLOWLIST)"
    )
    assert asyncio.run(policy.vet_name("ok.test", 443, 0)) == [ip_address("93.184.216.34")]


def test_allowlisted_name_or_network_opens_its_answers() -> None:
    answers = {"proxy.internal": ["10.0.0.7"], "other.internal": ["10.9.0.1", "10.0.0.8"]}
    by_name = _policy(answers, "proxy.internal")
    assert asyncio.run(by_name.vet_name("PROXY.internal.", 80, 0)) == [ip_address("10.0.0.7")]
    by_cidr = _policy(answers, "10.0.0.0/8")
    assert len(asyncio.run(by_cidr.vet_name("other.internal", 80, 0))) == 2
    partial = _policy(answers, "10.9.0.1")
    with pytest.raises(UpstreamForbidden, match=r"resolves to 10\.0\.0\.8"):
        asyncio.run(partial.vet_name("other.internal", 80, 0))
