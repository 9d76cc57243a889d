"""The errors of the ``limits`` package, all :class:`~chatgpt_api.errors.ServiceError` subclasses.

::

    ServiceError
    ├── RateLimited           a key used up a per-minute budget or its stream slots (429)
    ├── PoolBusy              an account's wait queue is full or the wait expired (503)
    └── LimiterUnavailable    Redis is unreachable and the failure mode is "closed" (503)

Each carries ``retry_after`` (seconds) for the ``Retry-After`` header.
"""

from __future__ import annotations

import math
from typing import Literal

from chatgpt_api.errors import ServiceError

LimitName = Literal["requests", "chars", "streams"]


def retry_after_header(seconds: float) -> str:
    """``seconds`` as a ``Retry-After`` value: whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(seconds)))


class RateLimited(ServiceError):
    """A per-key limit was hit; ``limit`` says which one."""

    status = 429
    error_type = "requests"
    code = "rate_limit_exceeded"

    def __init__(self, message: str, *, retry_after: float, limit: LimitName) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.limit: LimitName = limit


class PoolBusy(ServiceError):
    """An upstream account could not be had in time (its queue is full or the wait expired)."""

    status = 503
    error_type = "server_error"
    code = "pool_busy"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LimiterUnavailable(ServiceError):
    """Redis cannot be reached and ``redis_failure_mode`` is ``closed``."""

    status = 503
    error_type = "server_error"
    code = "limiter_unavailable"

    def __init__(self, reason: str, *, retry_after: float = 1.0) -> None:
        super().__init__(f"the rate limiter (Redis) is unavailable: {reason}")
        self.reason = reason
        self.retry_after = retry_after
