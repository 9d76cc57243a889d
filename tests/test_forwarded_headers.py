"""X-Forwarded-For is believed only from configured proxies (issue 13, item 9).

By default (``trusted_proxies`` empty) the peer address is the client: rotating
X-Forwarded-For neither escapes the per-address rate limit nor changes the address the access
log shows. With the peer listed in ``trusted_proxies`` the header names the client, as it must
behind a load balancer.
"""

from __future__ import annotations

import logging

import httpx
import pytest

from chatgpt_api.config import Settings
from chatgpt_api.testing import EmulatorThread
from tests.reliability import record
from tests.servers import ServiceThread


def _asks(url: str, forwarded_for: list[str]) -> list[int]:
    statuses = []
    for address in forwarded_for:
        response = httpx.post(
            f"{url}/send_message",
            data={"access_token": "tok", "prompt": "hi"},
            headers={"x-forwarded-for": address},
            timeout=30,
        )
        statuses.append(response.status_code)
    return statuses


ROTATED = ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"]


@pytest.mark.parametrize("trusted", ["", "127.0.0.1"])
def test_forwarded_for_only_from_trusted_proxies(
    emulator: EmulatorThread, caplog: pytest.LogCaptureFixture, trusted: str
) -> None:
    caplog.set_level(logging.INFO)
    with ServiceThread(
        reverse_proxy=f"{emulator.url}/backend-api/conversation",
        rate_limit_rpm=2,
        trusted_proxies=trusted,
    ) as svc:
        statuses = _asks(svc.url, ROTATED)
    logged = " ".join(entry.getMessage() for entry in caplog.records)
    spoofed_in_log = sum(address in logged for address in ROTATED)
    label = f"trusted_proxies={trusted!r}" if trusted else "default (no trusted proxy)"
    record(
        f"forwarded-for-{'trusted-proxy' if trusted else 'default'}",
        f"4 requests from 127.0.0.1 with a different X-Forwarded-For each, rate limit 2 per "
        f"minute per address; {label}",
        "each forwarded address is its own client: 4 × 200, 4 forwarded addresses logged"
        if trusted
        else "the header is ignored: 3rd and 4th refused (429), no forwarded address logged",
        f"statuses {statuses}; forwarded addresses in the access log: {spoofed_in_log}",
        statuses=statuses,
        forwarded_addresses_logged=spoofed_in_log,
    )
    if trusted:
        assert statuses == [200, 200, 200, 200]
        assert spoofed_in_log == len(ROTATED)
    else:
        assert statuses == [200, 200, 429, 429]
        assert spoofed_in_log == 0
        assert "127.0.0.1 - - [" in logged


def test_trusted_proxies_setting_is_checked() -> None:
    assert Settings(trusted_proxies="10.0.0.1, 10.1.0.0/16, ::1").trusted_proxies
    with pytest.raises(ValueError, match="not an IP address or CIDR"):
        Settings(trusted_proxies="10.0.0.1, lb.example")
