"""``GET /metrics``: exact counts and labels after real traffic through the emulator."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from chatgpt_api.accounts.pool import LIST_CACHE_SECONDS
from chatgpt_api.accounts.records import Account
from chatgpt_api.accounts.repository import AccountRepository
from chatgpt_api.observability.metrics import Metrics, account_states
from chatgpt_api.store import default_database_url, open_store
from chatgpt_api.testing import EmulatorOptions, EmulatorThread
from tests.clock import FakeClock
from tests.conftest import fixture_url
from tests.servers import ServiceThread

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
SEED = {"route": "/send_message", "backend": "chatgpt-web", "model": "gpt-3.5-turbo"}
CHAT = {"route": "/v1/chat/completions", "backend": "chatgpt-web"}


def scrape(url: str) -> Samples:
    response = httpx.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def series(samples: Samples, name: str) -> list[dict[str, str]]:
    return [dict(labels) for sample_name, labels in samples if sample_name == name]


@pytest.fixture()
def svc(emulator: EmulatorThread, tmp_path: Path) -> Iterator[ServiceThread]:
    """A service of its own, so that its counts start at zero."""
    with ServiceThread(
        reverse_proxy=f"{emulator.url}/backend-api/conversation", home=tmp_path
    ) as s:
        yield s


def seed(url: str, **fields: str) -> httpx.Response:
    data = {"access_token": "tok", "prompt": "hi", **fields}
    return httpx.post(f"{url}/send_message", data=data, timeout=30)


def test_requests_latency_and_first_token_by_route_backend_model_status(
    svc: ServiceThread,
) -> None:
    assert seed(svc.url).status_code == 200
    assert seed(svc.url).status_code == 200
    assert seed(svc.url, stream="true").status_code == 200
    chat = httpx.post(
        f"{svc.url}/v1/chat/completions",
        json={"model": "made-up-model", "messages": [{"role": "user", "content": "hi"}]},
        headers={"Authorization": "Bearer tok"},
        timeout=30,
    )
    assert chat.status_code == 200
    assert httpx.get(f"{svc.url}/v1/conversations/not-a-real-id").status_code == 404
    assert httpx.get(f"{svc.url}/no/such/page").status_code == 404
    assert seed(svc.url, timeout="-1").status_code == 500

    samples = scrape(svc.url)
    requests = "chatgpt_api_requests_total"
    assert value(samples, requests, method="POST", status="200", **SEED) == 3
    # A model name the registry does not list is "other": clients cannot mint label values.
    assert value(samples, requests, method="POST", status="200", model="other", **CHAT) == 1
    none = {"backend": "none", "model": "none"}
    conversation = {"route": "/v1/conversations/{id}", **none}
    assert value(samples, requests, method="GET", status="404", **conversation) == 1
    assert value(samples, requests, route="unmatched", method="GET", status="404", **none) == 1
    # Refused before any backend was chosen.
    bad = {"route": "/send_message", "method": "POST", "status": "500", **none}
    assert value(samples, requests, **bad) == 1
    # The raw path never becomes a label.
    assert not any("not-a-real-id" in str(labels) for _, labels in samples)
    assert not any("/no/such/page" in str(labels) for _, labels in samples)

    errors = "chatgpt_api_errors_total"
    assert value(samples, errors, status="404", error="NotFound", **conversation) == 1
    assert value(samples, errors, route="unmatched", status="404", error="http", **none) == 1
    assert value(samples, errors, route="/send_message", status="500", error="RequestError", **none)
    assert len(series(samples, errors)) == 3

    duration = "chatgpt_api_request_duration_seconds"
    assert value(samples, f"{duration}_count", **SEED) == 3
    assert value(samples, f"{duration}_count", model="other", **CHAT) == 1
    assert value(samples, f"{duration}_bucket", le="+Inf", **SEED) == 3
    assert 0 < value(samples, f"{duration}_sum", **SEED) < 30
    ttft = "chatgpt_api_time_to_first_token_seconds"
    assert value(samples, f"{ttft}_count", **SEED) == 3  # streamed and not
    assert value(samples, f"{ttft}_count", model="other", **CHAT) == 1
    assert value(samples, f"{ttft}_sum", **SEED) <= value(samples, f"{duration}_sum", **SEED)
    assert value(samples, f"{ttft}_count", **conversation) == 0  # no answer, no first token

    assert value(samples, "chatgpt_api_active_streams", backend="chatgpt-web") == 0
    assert value(samples, "process_resident_memory_bytes") > 0


def test_store_latency_counts_each_call(svc: ServiceThread) -> None:
    first = seed(svc.url).json()
    follow_up = seed(
        svc.url,
        conversation_id=first["conversation_id"],
        parent_message_id=first["parent_message_id"],
    )
    assert follow_up.status_code == 200
    listing = httpx.get(f"{svc.url}/v1/conversations", timeout=10)
    assert listing.json()["total"] == 1

    samples = scrape(svc.url)
    store = "chatgpt_api_store_operation_seconds"
    # Each turn is one store call (record_turn: the first creates its conversation with it).
    assert value(samples, f"{store}_count", operation="record_turn") == 2
    assert value(samples, f"{store}_count", operation="add_turn") == 0
    assert value(samples, f"{store}_count", operation="create_conversation") == 0
    assert value(samples, f"{store}_count", operation="list_conversations") == 1
    assert value(samples, f"{store}_count", operation="count_conversations") == 1
    assert value(samples, f"{store}_bucket", operation="record_turn", le="+Inf") == 2
    assert value(samples, f"{store}_count", operation="rename") == 0  # listed, never called


def test_stream_errors_are_counted_with_their_class(
    svc: ServiceThread, emulator: EmulatorThread
) -> None:
    broken = seed(svc.url, stream="true", reverse_proxy=fixture_url(emulator, "F4"))
    assert broken.status_code == 200
    assert b"event: error" in broken.content
    samples = scrape(svc.url)
    labels = {"route": "/send_message", "backend": "chatgpt-web", "model": "gpt-3.5-turbo"}
    assert value(samples, "chatgpt_api_requests_total", method="POST", status="200", **labels) == 1
    errors = series(samples, "chatgpt_api_errors_total")
    assert errors == [{**labels, "status": "200", "error": "UpstreamStreamError"}]


def test_active_streams_while_a_stream_is_open(tmp_path: Path) -> None:
    with (
        EmulatorThread(EmulatorOptions(chunks=6, chunk_delay_ms=150)) as slow,
        ServiceThread(reverse_proxy=f"{slow.url}/backend-api/conversation", home=tmp_path) as svc,
    ):
        data = {"access_token": "tok", "prompt": "hi", "stream": "true"}
        with httpx.stream("POST", f"{svc.url}/send_message", data=data, timeout=30) as response:
            lines = response.iter_lines()
            assert next(lines).startswith("data: ")
            during = scrape(svc.url)
            assert "".join(lines).endswith("[DONE]")
        after = scrape(svc.url)
    streams = "chatgpt_api_active_streams"
    assert value(during, streams, backend="chatgpt-web") == 1
    assert value(after, streams, backend="chatgpt-web") == 0


def _account(name: str, status: str = "healthy", cooling: bool = False) -> Account:
    now = datetime.now(UTC)
    return Account(
        id=name,
        name=name,
        backend="chatgpt-web",
        kind="access_token",
        access_secret=None,
        session_secret=None,
        expires_at=None,
        status=status,  # type: ignore[arg-type]
        reason=None,
        cooldown_until=now + timedelta(minutes=5) if cooling else now - timedelta(minutes=5),
        created_at=now,
        updated_at=now,
    )


def test_account_states() -> None:
    accounts = [
        _account("a"),
        _account("b"),
        _account("c", cooling=True),
        _account("d", status="unhealthy", cooling=True),  # unhealthy wins over cooling
        replace(_account("e"), backend="openai"),
    ]
    assert account_states(accounts) == {
        ("chatgpt-web", "healthy"): 2,
        ("chatgpt-web", "cooling"): 1,
        ("chatgpt-web", "unhealthy"): 1,
        ("openai", "healthy"): 1,
        ("openai", "cooling"): 0,
        ("openai", "unhealthy"): 0,
    }
    metrics = Metrics()
    metrics.set_pool_snapshot(accounts)
    text = metrics.render().decode()
    assert 'chatgpt_api_pool_accounts{backend="chatgpt-web",state="cooling"} 1.0' in text
    metrics.set_pool_snapshot(None)
    assert "chatgpt_api_pool_accounts{" not in metrics.render().decode()


def test_pool_accounts_are_read_at_scrape_time(tmp_path: Path, emulator: EmulatorThread) -> None:
    async def add(names: list[str]) -> None:
        store = await open_store(default_database_url(tmp_path))
        repository = AccountRepository(store)
        try:
            for name in names:
                await repository.add(
                    name=name,
                    backend="chatgpt-web",
                    kind="access_token",
                    access_secret=None,
                    session_secret=None,
                    expires_at=None,
                )
            accounts = {a.name: a.id for a in await repository.list()}
            if "sick" in accounts:
                await repository.mark_unhealthy(accounts["sick"], "test")
            if "resting" in accounts:
                until = datetime.now(UTC) + timedelta(minutes=5)
                await repository.cool_down(accounts["resting"], until, "test")
        finally:
            await store.close()

    asyncio.run(add(["ok-1", "ok-2", "sick", "resting"]))
    clock = FakeClock()
    with ServiceThread(
        reverse_proxy=f"{emulator.url}/backend-api/conversation", home=tmp_path, clock=clock
    ) as s:
        before = scrape(s.url)
        asyncio.run(add(["ok-3"]))
        clock.advance(LIST_CACHE_SECONDS + 0.1)  # past the pool's cache of its account list
        after = scrape(s.url)
    pool = "chatgpt_api_pool_accounts"
    web = {"backend": "chatgpt-web"}
    assert value(before, pool, state="healthy", **web) == 2
    assert value(before, pool, state="unhealthy", **web) == 1
    assert value(before, pool, state="cooling", **web) == 1
    assert value(after, pool, state="healthy", **web) == 3


def test_every_app_has_its_own_registry(emulator: EmulatorThread, tmp_path: Path) -> None:
    proxy = f"{emulator.url}/backend-api/conversation"
    with (
        ServiceThread(reverse_proxy=proxy, home=tmp_path / "a") as one,
        ServiceThread(reverse_proxy=proxy, home=tmp_path / "b") as two,
    ):
        assert seed(one.url).status_code == 200
        first, second = scrape(one.url), scrape(two.url)
    total = "chatgpt_api_requests_total"
    assert value(first, total, method="POST", status="200", **SEED) == 1
    assert value(second, total, method="POST", status="200", **SEED) == 0
