"""Redis-only behaviour: two processes sharing one limit, leases, and Redis going away.

Uses the real Redis on 127.0.0.1:6379 (via the ``redis_url`` fixture of conftest.py: skipped
when unreachable, failed in CI) and, for outages, a throw-away ``redis-server`` on a free port
that the test kills and restarts.
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatgpt_api.config import Settings
from chatgpt_api.limits import (
    InProcessLimiter,
    InProcessLocks,
    LimiterUnavailable,
    RateLimited,
    RedisGuard,
    RedisLimiter,
    RedisLocks,
    close_limits,
    create_limits,
)
from tests.services import RUN_PREFIX, RedisServer, free_port, own_redis_server
from tests.test_limits_contract import anyio_backend

__all__ = ["anyio_backend"]

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent

# One process of the two-process test: wait for the other (a Redis counter as the barrier),
# fire every acquire at once, then take the account lock a few times while checking that no
# one else is inside; print the results as JSON.
WORKER = """
import asyncio, json, sys, time
from chatgpt_api.limits import RedisGuard, RedisLimiter, RedisLocks

url, prefix, limit, fire = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

async def main():
    guard = RedisGuard(url)
    limiter = RedisLimiter(guard, prefix=prefix)
    locks = RedisLocks(guard, prefix=prefix)
    client = guard.client
    await client.incr(prefix + ":ready")
    await client.expire(prefix + ":ready", 300)
    for _ in range(2000):
        if int(await client.get(prefix + ":ready")) >= 2:
            break
        await asyncio.sleep(0.005)
    decisions = await asyncio.gather(*(
        limiter.acquire("shared", requests_per_minute=limit, chars_per_minute=None, chars=1)
        for _ in range(fire)
    ))
    overlaps = 0
    for _ in range(5):
        async with locks.hold("acct", max_wait=60, max_queue=10):
            if await client.incr(prefix + ":inside") != 1:
                overlaps += 1
            await asyncio.sleep(0.01)
            await client.decr(prefix + ":inside")
    await guard.close()
    print(json.dumps({"allowed": sum(d.allowed for d in decisions), "overlaps": overlaps}))

asyncio.run(main())
"""


def test_two_processes_share_one_limit(redis_url: str) -> None:
    prefix = f"{RUN_PREFIX}:{uuid.uuid4().hex[:8]}"
    limit, fire = 30, 150
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, redis_url, prefix, str(limit), str(fire)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for _ in range(2)
    ]
    results = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=90)
            assert proc.returncode == 0, err
            results.append(json.loads(out))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    assert sum(r["allowed"] for r in results) == limit
    assert [r["overlaps"] for r in results] == [0, 0]


# --- leases ----------------------------------------------------------------------------------


async def test_a_crashed_holder_frees_the_account_when_its_lease_expires(redis_url: str) -> None:
    prefix = f"{RUN_PREFIX}:{uuid.uuid4().hex[:8]}"
    guard = RedisGuard(redis_url)
    locks = RedisLocks(guard, prefix=prefix)
    limiter = RedisLimiter(guard, prefix=prefix)
    try:
        # What a crashed instance leaves behind: a lock and a stream slot it will never release.
        await guard.client.set(f"{prefix}:lock:{{acct}}", "someone-else", px=300)
        await guard.client.zadd(f"{prefix}:streams:{{key}}", {"someone-else": _now_ms() + 300})
        assert await locks.busy("acct") == 1
        async with locks.hold("acct", max_wait=30, max_queue=1):
            pass
        for _ in range(300):
            try:
                async with limiter.stream_slot("key", 1):
                    break
            except RateLimited:
                await asyncio.sleep(0.01)
        else:
            raise AssertionError("the expired slot was never freed")
    finally:
        await guard.close()


async def test_only_the_holder_releases_and_the_lease_is_renewed(redis_url: str) -> None:
    prefix = f"{RUN_PREFIX}:{uuid.uuid4().hex[:8]}"
    guard = RedisGuard(redis_url)
    locks = RedisLocks(guard, prefix=prefix, lease_seconds=2.0)
    lock_key = f"{prefix}:lock:{{acct}}"
    try:
        async with locks.hold("acct", max_wait=1, max_queue=1):
            token = await guard.client.get(lock_key)
            await asyncio.sleep(2.6)  # longer than the lease: renewals (every 0.67 s) keep it
            assert await guard.client.get(lock_key) == token
        assert await guard.client.get(lock_key) is None
        # A holder whose lease lapsed (and was taken over) must not delete the new holder's lock.
        async with locks.hold("acct", max_wait=1, max_queue=1):
            await guard.client.set(lock_key, "the-new-holder", px=10_000)
        assert await guard.client.get(lock_key) == "the-new-holder"
    finally:
        await guard.client.delete(lock_key)
        await guard.close()


def _now_ms() -> int:
    return int(time.time() * 1000)


# --- Redis going away ------------------------------------------------------------------------

PASSWORD = "s3cret-pw-for-the-test"


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    yield from own_redis_server(PASSWORD)


async def test_outage_fail_closed_then_recovery(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    guard = RedisGuard(own_redis.url, failure_mode="closed")
    limiter, locks = RedisLimiter(guard), RedisLocks(guard)
    try:
        assert (await _acquire(limiter)).allowed
        own_redis.kill()
        with caplog.at_level(logging.WARNING, "chatgpt_api.limits"):
            for _ in range(3):
                with pytest.raises(LimiterUnavailable) as caught:
                    await _acquire(limiter)
        error = caught.value
        assert (error.status, error.code) == (503, "limiter_unavailable")
        assert error.message.startswith("the rate limiter (Redis) is unavailable: ")
        assert PASSWORD not in error.message and PASSWORD not in caplog.text
        assert len([r for r in caplog.records if "unavailable" in r.getMessage()]) == 1
        with pytest.raises(LimiterUnavailable):
            async with limiter.stream_slot("k", 1):
                pass
        with pytest.raises(LimiterUnavailable):
            async with locks.hold("acct", max_wait=1, max_queue=1):
                pass
        own_redis.start()
        assert (await _acquire(limiter)).allowed  # the same objects, reconnected
        async with limiter.stream_slot("k", 1), locks.hold("acct", max_wait=1, max_queue=1):
            assert await locks.busy("acct") == 1
        assert not guard.down
    finally:
        await guard.close()


async def test_outage_fail_open_then_recovery(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    guard = RedisGuard(own_redis.url, failure_mode="open")
    limiter, locks = RedisLimiter(guard), RedisLocks(guard)
    try:
        assert (await _acquire(limiter, limit=1)).allowed
        assert not (await _acquire(limiter, limit=1)).allowed
        own_redis.kill()
        with caplog.at_level(logging.INFO, "chatgpt_api.limits"):
            for _ in range(3):
                assert (await _acquire(limiter, limit=1)).allowed
            async with limiter.stream_slot("k", 1), limiter.stream_slot("k", 1):
                pass
            async with locks.hold("acct", max_wait=1, max_queue=1):  # in-process fallback
                assert await locks.busy("acct") == 1
            warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
            assert len(warnings) == 1 and "unavailable" in warnings[0].getMessage()
            assert PASSWORD not in caplog.text
            own_redis.start()
            assert (await _acquire(limiter, limit=1)).allowed  # fresh server, empty window
            assert not (await _acquire(limiter, limit=1)).allowed
        assert any("reachable again" in r.getMessage() for r in caplog.records)
    finally:
        await guard.close()


async def _acquire(limiter: RedisLimiter, limit: int = 100) -> object:
    return await limiter.acquire("k", requests_per_minute=limit, chars_per_minute=None, chars=1)


async def test_unreachable_from_the_start_is_an_error_not_a_hang() -> None:
    guard = RedisGuard(f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/0")
    try:
        with pytest.raises(LimiterUnavailable) as caught:
            await _acquire(RedisLimiter(guard))
        assert PASSWORD not in caught.value.message
    finally:
        await guard.close()


# --- the factory -----------------------------------------------------------------------------


async def test_create_limits_chooses_by_redis_url(redis_url: str) -> None:
    limiter, locks = create_limits(None)
    assert isinstance(limiter, InProcessLimiter) and isinstance(locks, InProcessLocks)
    await close_limits(limiter, locks)
    limiter, locks = create_limits(redis_url, prefix=f"{RUN_PREFIX}:factory")
    assert isinstance(limiter, RedisLimiter) and isinstance(locks, RedisLocks)
    try:
        assert (await _acquire(limiter)).allowed
        async with locks.hold("acct", max_wait=1, max_queue=1):
            assert await locks.busy("acct") == 1
    finally:
        await close_limits(limiter, locks)


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATGPT_API_REDIS_URL", "redis://127.0.0.1:6379/1")
    monkeypatch.setenv("CHATGPT_API_REDIS_FAILURE_MODE", "open")
    settings = Settings()
    assert (settings.redis_url, settings.redis_failure_mode) == ("redis://127.0.0.1:6379/1", "open")
    monkeypatch.setenv("CHATGPT_API_REDIS_FAILURE_MODE", "sometimes")
    with pytest.raises(ValueError, match="redis_failure_mode"):
        Settings()
