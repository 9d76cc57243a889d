"""Per-account locks in Redis: one request in flight per account across every instance.

The lock is ``SET lock <token> NX PX <ttl>``, renewed while held and deleted only by its holder
(compare-and-delete in Lua), so a crashed holder frees the account within ``lease_seconds``.
Waiters register in a sorted set scored by their deadline (the queue; its size is checked
atomically against ``max_queue`` on entry) and poll with a short, capped backoff until they get
the lock or ``max_wait`` runs out (:class:`~chatgpt_api.limits.errors.PoolBusy`). Fairness is
not strict: a newcomer may take a lock that has just been freed.

With Redis away in fail-open mode, locks fall back to in-process ones, which still keep one
request per account per instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from chatgpt_api.errors import ServiceError
from chatgpt_api.limits import redis_scripts as lua
from chatgpt_api.limits.base import pool_busy_retry_after
from chatgpt_api.limits.errors import PoolBusy
from chatgpt_api.limits.memory import InProcessLocks
from chatgpt_api.limits.redis_conn import RedisGuard
from chatgpt_api.limits.redis_lease import keep_alive

#: Polling backoff of waiters: starts here, doubles, capped at POLL_MAX.
POLL_MIN = 0.005
POLL_MAX = 0.1


class RedisLocks:
    """:class:`~chatgpt_api.limits.base.AccountLocks` backed by Redis."""

    def __init__(
        self, guard: RedisGuard, *, prefix: str = "chatgpt-api", lease_seconds: float = 30.0
    ) -> None:
        self._guard = guard
        self._prefix = prefix
        self._lease_ms = int(lease_seconds * 1000)
        self._fallback = InProcessLocks()
        self._enter = guard.script(lua.LOCK_ENTER)
        self._poll = guard.script(lua.LOCK_POLL)
        self._renew = guard.script(lua.LOCK_RENEW)
        self._release = guard.script(lua.LOCK_RELEASE)
        self._busy = guard.script(lua.LOCK_BUSY)

    def _keys(self, account_id: str) -> list[str]:
        base = f"{self._prefix}:lock:{{{account_id}}}"
        return [base, f"{base}:waiters"]

    @asynccontextmanager
    async def hold(
        self, account_id: str, *, max_wait: float, max_queue: int
    ) -> AsyncIterator[None]:
        keys = self._keys(account_id)
        token = secrets.token_hex(12)
        held = await self._acquire(account_id, keys, token, max_wait, max_queue)
        if held is None:  # fail-open: Redis is away
            async with self._fallback.hold(account_id, max_wait=max_wait, max_queue=max_queue):
                yield
            return

        async def renew() -> bool | None:
            ok = await self._guard.call(lambda: self._renew(keys[:1], [token, self._lease_ms]))
            return None if ok is None else bool(ok)

        try:
            async with keep_alive(renew, self._lease_ms / 1000, f"lock of account {account_id}"):
                yield
        finally:
            with contextlib.suppress(ServiceError):  # Redis away: the lease expires by itself
                await self._guard.call(lambda: self._release(keys[:1], [token]))

    async def _acquire(
        self, account_id: str, keys: list[str], token: str, max_wait: float, max_queue: int
    ) -> bool | None:
        """True once held; None when Redis is away in fail-open mode; else PoolBusy."""
        wait_ms = max(1, int(max_wait * 1000))
        args = [token, self._lease_ms, max(0, max_queue), wait_ms]
        try:
            entered = await self._guard.call(lambda: self._enter(keys, args))
        except asyncio.CancelledError:  # the script may have run: undo whatever it did
            await self._leave(keys, token, release=True)
            raise
        if entered is None:
            return None
        if entered == 1:
            return True
        retry_after = pool_busy_retry_after(max_wait)
        if entered == -1:
            raise PoolBusy(
                f"account {account_id} is busy: its queue is full", retry_after=retry_after
            )
        try:
            turn = await self._wait_turn(keys, token, max_wait)
        except BaseException:  # cancelled: a poll may have taken the lock unseen
            await self._leave(keys, token, release=True)
            raise
        if turn:
            return True
        await self._leave(keys, token)
        if turn is None:
            return None
        raise PoolBusy(
            f"account {account_id} is busy: no turn within {max_wait:g}s", retry_after=retry_after
        )

    async def _wait_turn(self, keys: list[str], token: str, max_wait: float) -> bool | None:
        deadline = time.monotonic() + max_wait
        delay = POLL_MIN
        max_polls = int(max_wait / POLL_MIN) + 2
        for _ in range(max_polls):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            await asyncio.sleep(min(delay, left))
            delay = min(delay * 2, POLL_MAX)
            got = await self._guard.call(lambda: self._poll(keys, [token, self._lease_ms]))
            if got is None or got == 1:
                return True if got == 1 else None
        return False

    async def _leave(self, keys: list[str], token: str, *, release: bool = False) -> None:
        with contextlib.suppress(ServiceError):
            await self._guard.call(lambda: self._guard.client.zrem(keys[1], token))
            if release:
                await self._guard.call(lambda: self._release(keys[:1], [token]))

    async def busy(self, account_id: str) -> int:
        count = await self._guard.call(lambda: self._busy(self._keys(account_id), []))
        if count is None:
            return await self._fallback.busy(account_id)
        return int(count)

    async def close(self) -> None:
        await self._guard.close()
