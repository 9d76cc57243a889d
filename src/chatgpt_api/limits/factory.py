"""Choosing the implementation from the settings."""

from __future__ import annotations

from chatgpt_api.config import Settings
from chatgpt_api.limits.base import AccountLocks, RateLimiter
from chatgpt_api.limits.memory import InProcessLimiter, InProcessLocks


def create_limits(settings: Settings) -> tuple[RateLimiter, AccountLocks]:
    """Redis-backed limits when ``redis_url`` is set (shared by instances), else in-process.

    Nothing connects here: the first call does, so the service starts while Redis is down and
    follows ``redis_failure_mode`` until it is back. Close both with :func:`close_limits`.
    """
    if not settings.redis_url:
        return InProcessLimiter(), InProcessLocks()
    # Imported here: the redis package is loaded only by a service that uses it.
    from chatgpt_api.limits.redis_conn import RedisGuard
    from chatgpt_api.limits.redis_limiter import RedisLimiter
    from chatgpt_api.limits.redis_locks import RedisLocks

    guard = RedisGuard(settings.redis_url, failure_mode=settings.redis_failure_mode)
    prefix = settings.redis_key_prefix
    lease = settings.redis_lease_seconds
    return (
        RedisLimiter(guard, prefix=prefix, lease_seconds=lease),
        RedisLocks(guard, prefix=prefix, lease_seconds=lease),
    )


async def close_limits(limiter: RateLimiter, locks: AccountLocks) -> None:
    """Close both (they may share one Redis connection pool; closing twice is harmless)."""
    await limiter.close()
    await locks.close()
