"""The two seams: :class:`RateLimiter` (per gateway key) and :class:`AccountLocks` (per account).

Rate limits use an exact one-minute sliding window of 600 buckets: the limit is never exceeded
in any 60-second span, and ``retry_after`` is when the same request would pass. Characters are
charged up front, corrected by :meth:`RateLimiter.adjust` and refunded by
:meth:`RateLimiter.release`. Concurrent streams are leases (``stream_slot``); account locks are
a mutex per account with a bounded queue (``hold``, else :class:`PoolBusy`). One call per
request: :func:`enforce` returns the :class:`Decision` or raises :class:`RateLimited`.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Literal, Protocol

from chatgpt_api.limits.errors import RateLimited

WINDOW_SECONDS = 60.0
#: Buckets per window: the window's resolution (100 ms for a minute).
BUCKETS_PER_WINDOW = 600
#: Retry hint when every stream slot of a key is taken (a stream's end cannot be predicted).
STREAM_RETRY_AFTER = 1.0


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to :meth:`RateLimiter.acquire`.

    ``limit`` names the limit that refused the request (``None`` when allowed). ``oversized`` is
    true when the request alone is larger than ``chars_per_minute`` and can never pass.
    ``bucket`` and ``chars`` identify the charge for :meth:`RateLimiter.adjust` / ``release``.
    """

    allowed: bool
    retry_after: float = 0.0
    limit: Literal["requests", "chars"] | None = None
    key: str = ""
    bucket: int | None = None
    chars: int = 0
    oversized: bool = False


class RateLimiter(Protocol):
    """Per-key request, character and concurrent-stream limits."""

    async def acquire(
        self,
        key: str,
        *,
        requests_per_minute: int | None,
        chars_per_minute: int | None,
        chars: int,
    ) -> Decision:
        """Admit (and charge) one request of ``chars`` characters, or say when to retry."""
        ...

    async def adjust(self, decision: Decision, actual_chars: int) -> Decision:
        """Charge ``actual_chars`` instead of what ``decision`` charged; returns the new charge.

        Pass the returned decision to a later ``adjust`` or ``release``.
        """
        ...

    async def release(self, decision: Decision) -> None:
        """Refund an admitted request entirely (it was not served)."""
        ...

    def stream_slot(
        self, key: str, max_concurrent: int | None
    ) -> AbstractAsyncContextManager[None]:
        """Hold one of ``max_concurrent`` stream slots of ``key`` (``None``: unlimited)."""
        ...

    async def close(self) -> None:
        """Release connections and background tasks."""
        ...


class AccountLocks(Protocol):
    """One request in flight per upstream account, with a bounded wait queue."""

    def hold(
        self, account_id: str, *, max_wait: float, max_queue: int
    ) -> AbstractAsyncContextManager[None]:
        """Hold the account's lock; raise :class:`PoolBusy` if the queue is full or time is up."""
        ...

    async def busy(self, account_id: str) -> int:
        """Requests holding or waiting for the account."""
        ...

    async def close(self) -> None:
        """Release connections and background tasks."""
        ...


async def enforce(
    limiter: RateLimiter,
    key: str,
    *,
    requests_per_minute: int | None,
    chars_per_minute: int | None,
    chars: int,
) -> Decision:
    """:meth:`RateLimiter.acquire`, raising :class:`RateLimited` when the request is refused."""
    decision = await limiter.acquire(
        key,
        requests_per_minute=requests_per_minute,
        chars_per_minute=chars_per_minute,
        chars=chars,
    )
    if not decision.allowed:
        raise rate_limited(decision, requests_per_minute, chars_per_minute)
    return decision


def rate_limited(
    decision: Decision, requests_per_minute: int | None, chars_per_minute: int | None
) -> RateLimited:
    """The client-facing error for a refused :class:`Decision`."""
    wait = f"{decision.retry_after:.1f}"
    if decision.limit == "chars" and decision.oversized:
        message = (
            f"Request too large: {decision.chars} characters exceeds the limit of "
            f"{chars_per_minute} characters per minute."
        )
    elif decision.limit == "chars":
        message = (
            f"Rate limit reached for characters per minute (limit {chars_per_minute}). "
            f"Please try again in {wait}s."
        )
    else:
        message = (
            f"Rate limit reached for requests per minute (limit {requests_per_minute}). "
            f"Please try again in {wait}s."
        )
    return RateLimited(
        message, retry_after=decision.retry_after, limit=decision.limit or "requests"
    )


def stream_limited(max_concurrent: int) -> RateLimited:
    """The client-facing error when every stream slot of a key is taken."""
    return RateLimited(
        f"Too many concurrent streams (limit {max_concurrent}). Please try again later.",
        retry_after=STREAM_RETRY_AFTER,
        limit="streams",
    )


def pool_busy_retry_after(max_wait: float) -> float:
    """Retry hint for :class:`PoolBusy`: about one wait, between 1 and 30 seconds."""
    return max(1.0, min(max_wait, 30.0))
