"""``GET /healthz`` (liveness) and ``GET /readyz`` (the store and Redis answer)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from chatgpt_api.observability import health
from chatgpt_api.observability.health import ReadinessChecks
from tests.pg import allow_connections, pg_url
from tests.servers import ServiceThread

#: A configured upstream (never contacted here), so /readyz has no "upstream" note.
PROXY = "https://proxy.example/backend-api/conversation"


def test_healthz_and_readyz_on_sqlite(tmp_path: Path) -> None:
    with ServiceThread(home=tmp_path, reverse_proxy=PROXY) as svc:
        live = httpx.get(f"{svc.url}/healthz")
        ready = httpx.get(f"{svc.url}/readyz")
    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"store": "ok", "redis": "disabled"}}
    assert ready.headers["content-type"] == "application/json; charset=utf-8"


def test_readyz_without_a_store(tmp_path: Path) -> None:
    with ServiceThread(home=tmp_path, store=False, reverse_proxy=PROXY) as svc:
        ready = httpx.get(f"{svc.url}/readyz")
    assert ready.json() == {"status": "ready", "checks": {"store": "disabled", "redis": "disabled"}}


def test_readyz_says_when_no_upstream_is_configured(tmp_path: Path) -> None:
    with ServiceThread(home=tmp_path) as svc:
        ready = httpx.get(f"{svc.url}/readyz")
    assert ready.status_code == 200, "requests may still bring their own [reverse_proxy]"
    body = ready.json()
    assert body["checks"] == {"store": "ok", "redis": "disabled", "upstream": "not_configured"}
    assert body["notes"]["upstream"].startswith("none: use --demo")
    assert "--reverse-proxy URL" in body["notes"]["upstream"]


def test_probes_need_no_api_key(tmp_path: Path) -> None:
    with ServiceThread(home=tmp_path, require_api_key=True) as svc:
        assert httpx.get(f"{svc.url}/v1/models").status_code == 401
        assert httpx.get(f"{svc.url}/healthz").status_code == 200
        assert httpx.get(f"{svc.url}/readyz").status_code == 200


def test_readyz_is_503_while_the_database_refuses_connections(pg_database: str) -> None:
    with ServiceThread(database_url=pg_url(pg_database), reverse_proxy=PROXY) as svc:
        assert httpx.get(f"{svc.url}/readyz", timeout=10).status_code == 200

        asyncio.run(allow_connections(pg_database, False))
        down = httpx.get(f"{svc.url}/readyz", timeout=10)
        live = httpx.get(f"{svc.url}/healthz", timeout=10)

        asyncio.run(allow_connections(pg_database, True))
        again = httpx.get(f"{svc.url}/readyz", timeout=10)
    assert down.status_code == 503
    body = down.json()
    assert body["status"] == "unavailable"
    assert body["checks"] == {"store": "error", "redis": "disabled"}
    assert body["errors"]["store"].startswith("the conversation store is unavailable")
    assert len(body["errors"]["store"]) <= 200
    assert "postgres@" not in down.text
    assert live.status_code == 200  # liveness does not depend on the database
    assert again.status_code == 200


def test_readyz_is_503_when_redis_is_unreachable(tmp_path: Path) -> None:
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    url = "redis://:hunter2-redis-pass@127.0.0.1:9/0"
    with ServiceThread(home=tmp_path, redis_url=url, reverse_proxy=PROXY) as svc:
        down = httpx.get(f"{svc.url}/readyz", timeout=10)
    assert down.status_code == 503
    body = down.json()
    assert body["checks"] == {"store": "ok", "redis": "error"}
    assert body["errors"]["redis"].startswith("Redis at redis://127.0.0.1:9/0 is unreachable")
    assert "hunter2" not in down.text


def test_readyz_pings_redis(tmp_path: Path, redis_url: str) -> None:
    with ServiceThread(home=tmp_path, redis_url=redis_url, reverse_proxy=PROXY) as svc:
        ready = httpx.get(f"{svc.url}/readyz", timeout=10)
    assert ready.json() == {"status": "ready", "checks": {"store": "ok", "redis": "ok"}}


def test_checks_time_out_and_can_be_added(monkeypatch: pytest.MonkeyPatch) -> None:
    async def hangs() -> None:
        await asyncio.sleep(60)

    async def fine() -> None:
        return None

    async def fails() -> None:
        raise RuntimeError("password=hunter2 was refused\nsecond line")

    async def run() -> tuple[dict[str, str], dict[str, str]]:
        checks = ReadinessChecks()
        checks.add("slow", hangs)
        checks.add("fine", fine)
        checks.add("broken", fails)
        checks.add("off", None)
        return await checks.run()

    monkeypatch.setattr(health, "CHECK_TIMEOUT", 0.2)
    statuses, errors = asyncio.run(run())
    assert statuses == {"slow": "error", "fine": "ok", "broken": "error", "off": "disabled"}
    assert errors == {
        "slow": "no answer within 0.2 s",
        "broken": "password=[REDACTED] was refused second line",
    }
