"""The Redis rate limiter: one budget per key shared by every instance.

Each check-and-charge is one Lua script (:mod:`chatgpt_api.limits.redis_scripts`), so with any
number of processes at most ``requests_per_minute`` requests pass per window. Stream slots are
leases in a sorted set, renewed while held and removed on exit; a crashed process's slots expire
after ``lease_seconds``. Outages follow the guard's failure mode (see
:mod:`chatgpt_api.limits.redis_conn`): fail-open admits requests and grants slots unrecorded.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any, Literal, cast

from chatgpt_api.errors import ServiceError
from chatgpt_api.limits import redis_scripts as lua
from chatgpt_api.limits.base import BUCKETS_PER_WINDOW, WINDOW_SECONDS, Decision, stream_limited
from chatgpt_api.limits.redis_conn import RedisGuard
from chatgpt_api.limits.redis_lease import keep_alive


class RedisLimiter:
    """:class:`~chatgpt_api.limits.base.RateLimiter` backed by Redis."""

    def __init__(
        self,
        guard: RedisGuard,
        *,
        prefix: str = "chatgpt-api",
        window: float = WINDOW_SECONDS,
        lease_seconds: float = 30.0,
    ) -> None:
        self._guard = guard
        self._prefix = prefix
        self._width_us = max(1, round(window * 1_000_000 / BUCKETS_PER_WINDOW))
        self._lease_ms = int(lease_seconds * 1000)
        self._acquire = guard.script(lua.ACQUIRE)
        self._adjust = guard.script(lua.ADJUST)
        self._slot_acquire = guard.script(lua.SLOT_ACQUIRE)
        self._slot_renew = guard.script(lua.SLOT_RENEW)

    def _window_keys(self, key: str) -> list[str]:
        base = f"{self._prefix}:rl:{{{key}}}"
        return [f"{base}:buckets", f"{base}:counts"]

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
        args = [
            self._width_us,
            BUCKETS_PER_WINDOW,
            -1 if requests_per_minute is None else requests_per_minute,
            -1 if chars_per_minute is None else chars_per_minute,
            chars,
        ]
        keys = self._window_keys(key)
        reply = await self._guard.call(lambda: self._acquire(keys, args))
        if reply is None:  # fail-open
            return Decision(True, key=key, chars=chars)
        allowed, limit, wait_us, bucket, oversized = cast(list[Any], reply)
        return Decision(
            bool(allowed),
            retry_after=int(wait_us) / 1_000_000,
            limit=cast(Literal["requests", "chars"] | None, limit or None),
            key=key,
            bucket=int(bucket) if bucket else None,
            chars=chars,
            oversized=bool(oversized),
        )

    async def adjust(self, decision: Decision, actual_chars: int) -> Decision:
        await self._change(decision, 0, actual_chars - decision.chars)
        return replace(decision, chars=actual_chars)

    async def release(self, decision: Decision) -> None:
        await self._change(decision, -1, -decision.chars)

    async def _change(self, decision: Decision, d_requests: int, d_chars: int) -> None:
        if decision.bucket is None:
            return
        keys = self._window_keys(decision.key)
        args = [self._width_us, BUCKETS_PER_WINDOW, decision.bucket, d_requests, d_chars]
        await self._guard.call(lambda: self._adjust(keys, args))

    @asynccontextmanager
    async def stream_slot(self, key: str, max_concurrent: int | None) -> AsyncIterator[None]:
        if max_concurrent is None:
            yield
            return
        slots = f"{self._prefix}:streams:{{{key}}}"
        token = secrets.token_hex(8)
        args = [token, max_concurrent, self._lease_ms]
        granted = await self._guard.call(lambda: self._slot_acquire([slots], args))
        if granted is None:  # fail-open: an unrecorded slot
            yield
            return
        if not granted:
            raise stream_limited(max_concurrent)

        async def renew() -> bool | None:
            ok = await self._guard.call(lambda: self._slot_renew([slots], [token, self._lease_ms]))
            return None if ok is None else bool(ok)

        try:
            async with keep_alive(renew, self._lease_ms / 1000, f"stream slot of {key}"):
                yield
        finally:
            await self._forget(lambda: self._guard.client.zrem(slots, token))

    async def _forget(self, command: Any) -> None:
        """Best-effort cleanup on exit: an outage here must not mask the request's outcome."""
        with contextlib.suppress(ServiceError):  # closed mode, Redis away: the lease expires
            await self._guard.call(command)

    async def close(self) -> None:
        await self._guard.close()
