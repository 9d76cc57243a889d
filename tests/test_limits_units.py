"""Units of the limits package: the sliding window's guarantees, bounded memory, helpers."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatgpt_api.limits import InProcessLimiter, InProcessLocks, retry_after_header
from chatgpt_api.limits.redis_conn import describe_url, url_secrets
from chatgpt_api.limits.window import SlidingWindow

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@settings(max_examples=200, deadline=None)
@given(
    limit=st.integers(min_value=1, max_value=5),
    gaps=st.lists(st.floats(min_value=0, max_value=30), min_size=1, max_size=40),
)
def test_never_more_than_the_limit_in_any_window(limit: int, gaps: list[float]) -> None:
    window = SlidingWindow(width=0.1, buckets=600)
    now = 5000.0
    passed: list[float] = []
    for gap in gaps:
        now += gap
        if window.try_charge(now, limit, None, 0).allowed:
            passed.append(now)
    for i, start in enumerate(passed):
        assert sum(1 for t in passed[i:] if t - start < 60.0) <= limit


@settings(max_examples=200, deadline=None)
@given(
    limit=st.integers(min_value=1, max_value=5),
    gaps=st.lists(st.floats(min_value=0, max_value=30), min_size=1, max_size=40),
)
def test_retry_after_is_enough_and_at_most_a_window(limit: int, gaps: list[float]) -> None:
    window = SlidingWindow(width=0.1, buckets=600)
    now = 5000.0
    for gap in gaps:
        now += gap
        verdict = window.try_charge(now, limit, None, 0)
        if not verdict.allowed:
            assert 0 < verdict.retry_after <= 60.1 + 1e-9
            probe = SlidingWindow(0.1, 600, {b: list(c) for b, c in window.counts.items()})
            probe.requests, probe.chars = window.requests, window.chars
            assert probe.try_charge(now + verdict.retry_after + 1e-6, limit, None, 0).allowed


async def test_idle_keys_are_evicted() -> None:
    clock = FakeClock()
    limiter = InProcessLimiter(clock=clock)
    for n in range(100):
        await limiter.acquire(f"key-{n}", requests_per_minute=5, chars_per_minute=None, chars=1)
    assert limiter.tracked_keys == 100
    clock.now += 61
    for _ in range(30):
        await limiter.acquire("busy", requests_per_minute=5, chars_per_minute=None, chars=1)
    assert limiter.tracked_keys == 1


async def test_stream_slots_and_locks_leave_no_state_behind() -> None:
    limiter, locks = InProcessLimiter(), InProcessLocks()
    async with limiter.stream_slot("k", 3), limiter.stream_slot("k", 3):
        assert limiter.tracked_keys == 1
    assert limiter.tracked_keys == 0

    async def use(account: str) -> None:
        async with locks.hold(account, max_wait=10, max_queue=10):
            await asyncio.sleep(0)

    await asyncio.gather(*(use(f"a{n % 5}") for n in range(50)))
    assert locks.tracked_accounts == 0


def test_retry_after_header_rounds_up_to_whole_seconds() -> None:
    assert [retry_after_header(s) for s in (0, 0.2, 1.0, 3.01, 59.9)] == ["1", "1", "1", "4", "60"]


def test_redis_urls_are_described_without_credentials() -> None:
    url = "redis://user:hunter2pw@cache.internal:6380/2"
    assert describe_url(url) == "redis://cache.internal:6380/2"
    assert url_secrets(url) == ["hunter2pw", "user"]
    assert url_secrets("redis://127.0.0.1:6379/0") == []
