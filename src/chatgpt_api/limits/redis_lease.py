"""Keeping a Redis lease alive while it is held.

A lease (stream slot or account lock) expires after ``ttl`` unless renewed, so a crashed
instance frees what it held within ``ttl``. :func:`keep_alive` renews every ``ttl / 3`` in a
background task, for at most :data:`MAX_HOLD_SECONDS` (a bound on any single request); a renewal
that fails (Redis away) is logged and retried on the next tick, one that finds the lease gone
stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from chatgpt_api.errors import ServiceError

log = logging.getLogger("chatgpt_api.limits")

MAX_HOLD_SECONDS = 3600.0


async def _renew_loop(renew: Callable[[], Awaitable[bool | None]], ttl: float, what: str) -> None:
    interval = ttl / 3
    for _ in range(int(MAX_HOLD_SECONDS / interval) + 1):
        await asyncio.sleep(interval)
        try:
            renewed = await renew()
        except ServiceError as exc:  # closed mode: Redis away; the lease may lapse
            log.warning("could not renew %s: %s", what, exc.message)
            continue
        if renewed is False:
            log.warning("%s expired before it was released", what)
            return


@contextlib.asynccontextmanager
async def keep_alive(
    renew: Callable[[], Awaitable[bool | None]], ttl: float, what: str
) -> AsyncIterator[None]:
    """Renew a lease in the background for the duration of the ``async with`` block."""
    task = asyncio.create_task(_renew_loop(renew, ttl, what))
    try:
        yield
    finally:
        task.cancel()
        await asyncio.wait({task})  # never raises the task's CancelledError
