"""Rate limits per gateway key and locks per upstream account, in process or shared in Redis.

``create_limits(redis_url, ...)`` at start-up (``close_limits`` at shutdown); per request
``enforce(limiter, key_id, ...)`` (or :class:`RateLimited`), ``limiter.stream_slot(...)`` and
``locks.hold(account_id, ...)`` (or ``PoolBusy``), then optionally ``limiter.adjust``. Every
error is a :class:`~chatgpt_api.errors.ServiceError` with ``status`` and ``retry_after``.
Semantics in :mod:`.base`; Redis outages in :mod:`.redis_conn`. The Redis implementations are
imported on first use only.
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
