"""Choosing the implementation: Redis when a URL is configured, else in-process."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatgpt_api.limits.base import AccountLocks, RateLimiter
from chatgpt_api.limits.memory import InProcessLimiter, InProcessLocks

if TYPE_CHECKING:
    from chatgpt_api.limits.redis_conn import FailureMode


def create_limits(
    redis_url: str | None,
    *,
    failure_mode: FailureMode = "closed",
    prefix: str = "chatgpt-api",
    lease_seconds: float = 30.0,
) -> tuple[RateLimiter, AccountLocks]:
    """Redis-backed limits when ``redis_url`` is set (shared by instances), else in-process.

    Nothing connects here: the first call does, so the service starts while Redis is down and
    follows ``failure_mode`` until it is back. Close both with :func:`close_limits`.
    """
    if not redis_url:
        return InProcessLimiter(), InProcessLocks()
    # Imported here: the redis package is loaded only by a service that uses it.
    from chatgpt_api.limits.redis_conn import RedisGuard
    from chatgpt_api.limits.redis_limiter import RedisLimiter
    from chatgpt_api.limits.redis_locks import RedisLocks

    guard = RedisGuard(redis_url, failure_mode=failure_mode)
    return (
        RedisLimiter(guard, prefix=prefix, lease_seconds=lease_seconds),
        RedisLocks(guard, prefix=prefix, lease_seconds=lease_seconds),
    )


async def close_limits(limiter: RateLimiter, locks: AccountLocks) -> None:
    """Close both (they may share one Redis connection pool; closing twice is harmless)."""
    await limiter.close()
    await locks.close()
