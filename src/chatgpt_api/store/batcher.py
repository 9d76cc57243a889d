"""A single-writer queue: callers submit items, one task writes everything queued so far at once.

Used on SQLite (one writer at a time anyway) so that the turns of concurrent requests share one
transaction: while a batch is being committed, the next requests queue up and go together in
the next one. There is no waiting for a batch to fill: at low load every batch is one item and
no latency is added.

* Each caller awaits its own result, set only after its batch was committed (or its error).
* A cancelled caller's item stays queued and is written exactly once; the caller sees
  :class:`asyncio.CancelledError` at once and the outcome is logged if it is an error.
* :meth:`WriteBatcher.drain` waits until everything submitted so far is written.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

#: Writes a batch; returns one outcome per item (a result, or the exception for its caller).
BatchWriter = Callable[[Sequence[T]], Awaitable[Sequence[R | BaseException]]]


class WriteBatcher(Generic[T, R]):
    """Queue items for one writer task; at most ``max_batch`` items per call of ``write``."""

    def __init__(self, write: BatchWriter[T, R], *, max_batch: int = 64) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._write = write
        self._max_batch = max_batch
        self._queue: deque[tuple[T, asyncio.Future[R]]] = deque()
        self._task: asyncio.Task[None] | None = None

    @property
    def pending(self) -> int:
        """Items submitted and not yet written."""
        return len(self._queue)

    async def submit(self, item: T) -> R:
        """Queue ``item`` and wait for its outcome (its result, or its error raised)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._queue.append((item, future))
        if self._task is None:
            self._task = loop.create_task(self._drain(), name="store-writer")
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            if not future.done():
                future.add_done_callback(_log_orphan)
            raise

    async def drain(self) -> None:
        """Return once every item submitted so far is written (or failed)."""
        while self._task is not None:
            await asyncio.shield(self._task)

    async def _drain(self) -> None:
        try:
            while self._queue:
                count = min(len(self._queue), self._max_batch)
                batch = [self._queue.popleft() for _ in range(count)]
                try:
                    outcomes = await self._write([item for item, _ in batch])
                    if len(outcomes) != len(batch):
                        raise RuntimeError("the batch writer returned the wrong number of outcomes")
                except asyncio.CancelledError:
                    for _, future in (*batch, *self._queue):
                        future.cancel()
                    self._queue.clear()
                    raise
                except Exception as error:  # the writer itself failed: every item fails
                    outcomes = [error] * len(batch)
                for (_, future), outcome in zip(batch, outcomes, strict=True):
                    if future.done():
                        continue
                    if isinstance(outcome, BaseException):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
        finally:
            self._task = None


def _log_orphan(future: asyncio.Future[Any]) -> None:
    """The outcome of an item whose caller went away: nobody else will read its error."""
    if future.cancelled():
        return
    if (error := future.exception()) is not None:
        log.warning("a store write whose caller was cancelled failed: %s", error)
