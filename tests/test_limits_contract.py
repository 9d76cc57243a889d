"""The RateLimiter / AccountLocks contract, run against the in-process and the Redis versions.

Redis is the real server on 127.0.0.1:6379 (``CHATGPT_API_TEST_REDIS_URL`` to change it), from
the ``redis_url`` fixture: keys under the run's own prefix, deleted at the end; the Redis half
skipped when Redis is unreachable, except in CI (``CI=true``), where it fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from chatgpt_api.limits import (
    AccountLocks,
    InProcessLimiter,
    InProcessLocks,
    PoolBusy,
    RateLimited,
    RateLimiter,
    RedisGuard,
    RedisLimiter,
    RedisLocks,
    enforce,
)
from tests.services import RUN_PREFIX

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Impl:
    """Builds limiters and locks of one kind; closes what it built."""

    kind: str
    make_limiter: Callable[[float], RateLimiter]
    make_locks: Callable[[], AccountLocks]
    closers: list[Callable[[], Awaitable[None]]]

    def limiter(self, window: float = 60.0) -> RateLimiter:
        built = self.make_limiter(window)
        self.closers.append(built.close)
        return built

    def locks(self) -> AccountLocks:
        built = self.make_locks()
        self.closers.append(built.close)
        return built


@pytest.fixture(params=["memory", "redis"])
async def impl(request: pytest.FixtureRequest) -> AsyncIterator[Impl]:
    if request.param == "memory":
        built = Impl("memory", lambda w: InProcessLimiter(window=w), InProcessLocks, [])
    else:
        url = request.getfixturevalue("redis_url")
        prefix = f"{RUN_PREFIX}:{uuid.uuid4().hex[:8]}"

        def limiter(window: float) -> RateLimiter:
            return RedisLimiter(RedisGuard(url), prefix=prefix, window=window)

        def locks() -> AccountLocks:
            return RedisLocks(RedisGuard(url), prefix=prefix)

        built = Impl("redis", limiter, locks, [])
    try:
        yield built
    finally:
        for close in built.closers:
            await close()


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 10.0) -> None:
    """Wait (bounded) until ``check()`` is true."""
    for _ in range(int(seconds / 0.01)):
        if await check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached in time")


# --- requests and characters per minute ----------------------------------------------------


async def test_requests_per_minute_exact_under_200_concurrent_acquires(impl: Impl) -> None:
    limiter = impl.limiter()
    decisions = await asyncio.gather(
        *(
            limiter.acquire("k", requests_per_minute=25, chars_per_minute=None, chars=1)
            for _ in range(200)
        )
    )
    allowed = [d for d in decisions if d.allowed]
    denied = [d for d in decisions if not d.allowed]
    assert len(allowed) == 25
    assert {d.limit for d in denied} == {"requests"}
    assert all(0 < d.retry_after <= 60.2 for d in denied)


async def test_chars_per_minute(impl: Impl) -> None:
    limiter = impl.limiter()

    async def ask(chars: int) -> bool:
        decision = await limiter.acquire(
            "k", requests_per_minute=None, chars_per_minute=100, chars=chars
        )
        return decision.allowed

    assert [await ask(30) for _ in range(4)] == [True, True, True, False]
    assert await ask(10)  # exactly 100
    assert not await ask(1)
    with pytest.raises(RateLimited) as caught:
        await enforce(limiter, "k", requests_per_minute=None, chars_per_minute=100, chars=5)
    error = caught.value
    assert (error.status, error.error_type, error.code, error.limit) == (
        429,
        "requests",
        "rate_limit_exceeded",
        "chars",
    )
    assert 0 < error.retry_after <= 60.2
    assert "characters per minute" in error.message


async def test_a_request_larger_than_the_budget_never_passes(impl: Impl) -> None:
    limiter = impl.limiter()
    decision = await limiter.acquire("k", requests_per_minute=10, chars_per_minute=50, chars=51)
    assert not decision.allowed and decision.oversized and decision.limit == "chars"
    with pytest.raises(RateLimited, match="Request too large"):
        await enforce(limiter, "k", requests_per_minute=10, chars_per_minute=50, chars=51)
    # Nothing was charged: the full budget is still there.
    ok = await limiter.acquire("k", requests_per_minute=10, chars_per_minute=50, chars=50)
    assert ok.allowed


async def test_both_limits_and_no_limits(impl: Impl) -> None:
    limiter = impl.limiter()
    for _ in range(3):
        assert (
            await limiter.acquire("k", requests_per_minute=3, chars_per_minute=10, chars=1)
        ).allowed
    denied = await limiter.acquire("k", requests_per_minute=3, chars_per_minute=10, chars=1)
    assert denied.limit == "requests"
    unlimited = await limiter.acquire("k", requests_per_minute=None, chars_per_minute=None, chars=9)
    assert unlimited.allowed
    assert not (
        await limiter.acquire("z", requests_per_minute=0, chars_per_minute=None, chars=0)
    ).allowed


async def test_retry_after_is_when_the_request_would_pass(impl: Impl) -> None:
    window = 1.2
    limiter = impl.limiter(window)
    for _ in range(2):
        assert (
            await limiter.acquire("k", requests_per_minute=2, chars_per_minute=None, chars=0)
        ).allowed
    denied = await limiter.acquire("k", requests_per_minute=2, chars_per_minute=None, chars=0)
    assert not denied.allowed
    assert 0 < denied.retry_after <= window * (1 + 2 / 600) + 0.01
    await asyncio.sleep(denied.retry_after + 0.05)
    again = await limiter.acquire("k", requests_per_minute=2, chars_per_minute=None, chars=0)
    assert again.allowed


async def test_adjust_charges_the_real_size_and_release_refunds(impl: Impl) -> None:
    limiter = impl.limiter()

    async def ask(chars: int, key: str = "k") -> bool:
        decision = await limiter.acquire(
            key, requests_per_minute=3, chars_per_minute=100, chars=chars
        )
        return decision.allowed

    first = await limiter.acquire("k", requests_per_minute=3, chars_per_minute=100, chars=50)
    first = await limiter.adjust(first, 90)
    assert first.chars == 90
    assert not await ask(20)
    assert await ask(10)  # 90 + 10
    await limiter.release(first)  # refunds one request and its 90 characters
    assert await ask(80)
    assert not await ask(15)  # 3 requests: 10 + 80 + 15 > 100 ... and the request limit
    assert await ask(10)  # requests: 10, 80, 10 -> 3 in the window
    assert not await ask(0)


async def test_a_flood_on_one_key_leaves_another_key_its_share(impl: Impl) -> None:
    limiter = impl.limiter()

    async def fire(key: str, count: int) -> int:
        decisions = await asyncio.gather(
            *(
                limiter.acquire(key, requests_per_minute=10, chars_per_minute=None, chars=1)
                for _ in range(count)
            )
        )
        return sum(d.allowed for d in decisions)

    flood, calm = await asyncio.gather(fire("flood", 200), fire("calm", 10))
    assert (flood, calm) == (10, 10)


# --- concurrent streams --------------------------------------------------------------------


async def test_stream_slots(impl: Impl) -> None:
    limiter = impl.limiter()
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(2):
            await stack.enter_async_context(limiter.stream_slot("k", 2))
        with pytest.raises(RateLimited) as caught:
            async with limiter.stream_slot("k", 2):
                pass
        assert caught.value.limit == "streams" and caught.value.status == 429
        assert caught.value.retry_after > 0
        async with limiter.stream_slot("other", 2):
            pass
        async with limiter.stream_slot("k", None):
            pass
    async with limiter.stream_slot("k", 2), limiter.stream_slot("k", 2):
        pass


async def test_a_stream_slot_is_freed_when_the_body_raises(impl: Impl) -> None:
    limiter = impl.limiter()
    with pytest.raises(ValueError, match="boom"):
        async with limiter.stream_slot("k", 1):
            raise ValueError("boom")
    async with limiter.stream_slot("k", 1):
        pass


# --- account locks -------------------------------------------------------------------------


async def test_account_lock_mutual_exclusion(impl: Impl) -> None:
    locks = impl.locks()
    inside = 0
    most = 0
    done = 0

    async def worker() -> None:
        nonlocal inside, most, done
        async with locks.hold("acct", max_wait=60, max_queue=100):
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.005)
            inside -= 1
            done += 1

    await asyncio.gather(*(worker() for _ in range(12)))
    assert (most, done, inside) == (1, 12, 0)
    assert await locks.busy("acct") == 0


async def test_bounded_queue_and_busy_counts(impl: Impl) -> None:
    locks = impl.locks()
    release = asyncio.Event()
    entered: list[int] = []

    async def waiter(n: int) -> None:
        async with locks.hold("acct", max_wait=60, max_queue=2):
            entered.append(n)

    async with locks.hold("acct", max_wait=1, max_queue=2):
        assert await locks.busy("acct") == 1
        waiters = [asyncio.create_task(waiter(n)) for n in range(2)]

        async def two_waiting() -> bool:
            return await locks.busy("acct") == 3

        await eventually(two_waiting)
        with pytest.raises(PoolBusy) as caught:
            async with locks.hold("acct", max_wait=60, max_queue=2):
                pass
        assert caught.value.status == 503 and caught.value.retry_after >= 1
        assert "queue" in caught.value.message
        assert await locks.busy("other") == 0
        async with locks.hold("other", max_wait=0, max_queue=0):
            pass
        release.set()
    await asyncio.wait_for(asyncio.gather(*waiters), 30)
    assert sorted(entered) == [0, 1]
    assert await locks.busy("acct") == 0


async def test_max_wait_is_enforced(impl: Impl) -> None:
    locks = impl.locks()
    async with locks.hold("acct", max_wait=1, max_queue=5):
        with pytest.raises(PoolBusy, match="no turn"):
            async with locks.hold("acct", max_wait=0.2, max_queue=5):
                pass
        assert await locks.busy("acct") == 1  # the waiter left the queue
    async with locks.hold("acct", max_wait=0, max_queue=0):
        pass


async def test_a_lock_is_released_when_the_body_raises(impl: Impl) -> None:
    locks = impl.locks()
    with pytest.raises(ValueError, match="boom"):
        async with locks.hold("acct", max_wait=1, max_queue=1):
            raise ValueError("boom")
    assert await locks.busy("acct") == 0
    async with locks.hold("acct", max_wait=0, max_queue=0):
        pass


async def test_a_cancelled_waiter_leaves_the_queue(impl: Impl) -> None:
    locks = impl.locks()
    async with locks.hold("acct", max_wait=1, max_queue=5):
        task = asyncio.create_task(_hold_once(locks, "acct"))

        async def queued() -> bool:
            return await locks.busy("acct") == 2

        await eventually(queued)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert await locks.busy("acct") == 1
    assert await locks.busy("acct") == 0
    async with locks.hold("acct", max_wait=0, max_queue=0):
        pass


async def _hold_once(locks: AccountLocks, account: str) -> None:
    async with locks.hold(account, max_wait=60, max_queue=5):
        pass
