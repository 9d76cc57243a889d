"""Rate limits per gateway key and locks per upstream account, in process or shared in Redis.

Wiring, one call each per request::

    limiter, locks = create_limits(settings)          # at startup; close_limits() at shutdown
    decision = await enforce(limiter, key_id, requests_per_minute=60,
                             chars_per_minute=100_000, chars=len(prompt))   # or RateLimited
    async with limiter.stream_slot(key_id, max_streams):                   # or RateLimited
        async with locks.hold(account_id, max_wait=30, max_queue=8):      # or PoolBusy
            ...
    await limiter.adjust(decision, actual_chars)      # optional: charge the real size

Every error is a :class:`~chatgpt_api.errors.ServiceError` with ``status`` and ``retry_after``.
See :mod:`chatgpt_api.limits.base` for the semantics and :mod:`chatgpt_api.limits.redis_conn`
for what happens when Redis goes away. The Redis implementations (and the ``redis`` package,
~5 MB) are imported on first use only: a service without ``redis_url`` never loads them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from chatgpt_api.limits.base import AccountLocks, Decision, RateLimiter, enforce, rate_limited
from chatgpt_api.limits.errors import (
    LimiterUnavailable,
    PoolBusy,
    RateLimited,
    retry_after_header,
)
from chatgpt_api.limits.factory import close_limits, create_limits
from chatgpt_api.limits.memory import InProcessLimiter, InProcessLocks

if TYPE_CHECKING:
    from chatgpt_api.limits.redis_conn import RedisGuard
    from chatgpt_api.limits.redis_limiter import RedisLimiter
    from chatgpt_api.limits.redis_locks import RedisLocks

_LAZY = {
    "RedisGuard": "chatgpt_api.limits.redis_conn",
    "RedisLimiter": "chatgpt_api.limits.redis_limiter",
    "RedisLocks": "chatgpt_api.limits.redis_locks",
}

__all__ = [
    "AccountLocks",
    "Decision",
    "InProcessLimiter",
    "InProcessLocks",
    "LimiterUnavailable",
    "PoolBusy",
    "RateLimited",
    "RateLimiter",
    "RedisGuard",
    "RedisLimiter",
    "RedisLocks",
    "close_limits",
    "create_limits",
    "enforce",
    "rate_limited",
    "retry_after_header",
]


def __getattr__(name: str) -> object:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
