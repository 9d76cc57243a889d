"""In-process implementations: one instance's limits and locks (the default without Redis).

Everything runs on the event loop with a monotonic clock; no method awaits between reading and
updating state, so check-and-charge is atomic. Memory is bounded by activity: a key whose window
is empty is evicted (the least recently used keys are checked on every call), and stream-slot
and lock entries disappear when nothing holds or waits for them.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Literal, cast

from chatgpt_api.limits.base import (
    BUCKETS_PER_WINDOW,
    WINDOW_SECONDS,
    Decision,
    pool_busy_retry_after,
    stream_limited,
)
from chatgpt_api.limits.errors import PoolBusy
from chatgpt_api.limits.window import SlidingWindow

#: Idle keys checked for eviction per call (amortised O(1) cleanup).
_EVICT_PER_CALL = 4


class InProcessLimiter:
    """:class:`~chatgpt_api.limits.base.RateLimiter` for one process."""

    def __init__(
        self,
        *,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._width = window / BUCKETS_PER_WINDOW
        self._clock = clock
        self._windows: OrderedDict[str, SlidingWindow] = OrderedDict()
        self._streams: dict[str, int] = {}

    async def acquire(
        self,
        key: str,
        *,
        requests_per_minute: int | None,
        chars_per_minute: int | None,
        chars: int,
    ) -> Decision:
        if requests_per_minute is None and chars_per_minute is None:
            return Decision(True, key=key, chars=chars)
        now = self._clock()
        self._evict_idle(now)
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = SlidingWindow(self._width, BUCKETS_PER_WINDOW)
        self._windows.move_to_end(key)
        verdict = window.try_charge(now, requests_per_minute, chars_per_minute, chars)
        return Decision(
            verdict.allowed,
            retry_after=verdict.retry_after,
            limit=cast(Literal["requests", "chars"] | None, verdict.limit),
            key=key,
            bucket=verdict.bucket if verdict.allowed else None,
            chars=chars,
            oversized=verdict.oversized,
        )

    async def adjust(self, decision: Decision, actual_chars: int) -> Decision:
        self._change(decision, 0, actual_chars - decision.chars)
        return replace(decision, chars=actual_chars)

    async def release(self, decision: Decision) -> None:
        self._change(decision, -1, -decision.chars)

    def _change(self, decision: Decision, d_requests: int, d_chars: int) -> None:
        window = self._windows.get(decision.key)
        if decision.bucket is None or window is None:
            return
        window.adjust(self._clock(), decision.bucket, d_requests, d_chars)

    def _evict_idle(self, now: float) -> None:
        for _ in range(min(_EVICT_PER_CALL, len(self._windows))):
            key, window = next(iter(self._windows.items()))
            if not window.idle(now):
                return
            del self._windows[key]

    @property
    def tracked_keys(self) -> int:
        """Keys with state in memory (for tests and metrics)."""
        return len(self._windows) + len(self._streams)

    @asynccontextmanager
    async def stream_slot(self, key: str, max_concurrent: int | None) -> AsyncIterator[None]:
        if max_concurrent is None:
            yield
            return
        held = self._streams.get(key, 0)
        if held >= max_concurrent:
            raise stream_limited(max_concurrent)
        self._streams[key] = held + 1
        try:
            yield
        finally:
            left = self._streams[key] - 1
            if left:
                self._streams[key] = left
            else:
                del self._streams[key]

    async def close(self) -> None:
        self._windows.clear()


class _AccountState:
    __slots__ = ("lock", "waiting")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.waiting = 0


class InProcessLocks:
    """:class:`~chatgpt_api.limits.base.AccountLocks` for one process (FIFO, asyncio.Lock)."""

    def __init__(self) -> None:
        self._states: dict[str, _AccountState] = {}

    @asynccontextmanager
    async def hold(
        self, account_id: str, *, max_wait: float, max_queue: int
    ) -> AsyncIterator[None]:
        state = self._states.get(account_id)
        if state is None:
            state = self._states[account_id] = _AccountState()
        try:
            await self._acquire(account_id, state, max_wait, max_queue)
        except BaseException:
            self._forget_if_idle(account_id, state)
            raise
        try:
            yield
        finally:
            state.lock.release()
            self._forget_if_idle(account_id, state)

    async def _acquire(
        self, account_id: str, state: _AccountState, max_wait: float, max_queue: int
    ) -> None:
        if not state.lock.locked() and state.waiting == 0:
            await state.lock.acquire()  # free: returns without suspending
            return
        if state.waiting >= max_queue or max_wait <= 0:
            raise PoolBusy(
                f"account {account_id} is busy: its queue is full",
                retry_after=pool_busy_retry_after(max_wait),
            )
        state.waiting += 1
        try:
            async with asyncio.timeout(max_wait):
                await state.lock.acquire()
        except TimeoutError:
            raise PoolBusy(
                f"account {account_id} is busy: no turn within {max_wait:g}s",
                retry_after=pool_busy_retry_after(max_wait),
            ) from None
        finally:
            state.waiting -= 1

    def _forget_if_idle(self, account_id: str, state: _AccountState) -> None:
        if not state.lock.locked() and state.waiting == 0:
            self._states.pop(account_id, None)

    async def busy(self, account_id: str) -> int:
        state = self._states.get(account_id)
        if state is None:
            return 0
        return int(state.lock.locked()) + state.waiting

    @property
    def tracked_accounts(self) -> int:
        """Accounts with state in memory (for tests and metrics)."""
        return len(self._states)

    async def close(self) -> None:
        return None
