"""Cancelling work when the client goes away.

:func:`cancel_on_disconnect` runs a coroutine in the current task while a small watcher task
waits for the ASGI ``http.disconnect`` message; if it comes first, the work is cancelled — which
closes the upstream request in the backend's ``finally`` — and :class:`ClientDisconnected` is
raised. Call it only once the request body has been read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from starlette.types import Receive

from chatgpt_api.api.errors import ClientDisconnected

T = TypeVar("T")


class DisconnectWatch:
    """Watches ``receive`` for a disconnect and cancels ``task`` when it comes."""

    __slots__ = ("_task", "_watcher", "disconnected", "finished")

    def __init__(self, receive: Receive) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._task = task
        self.disconnected = False
        self.finished = False
        self._watcher = asyncio.get_running_loop().create_task(self._watch(receive))

    async def _watch(self, receive: Receive) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                if not self.finished:
                    self.disconnected = True
                    self._task.cancel()
                return

    def stop(self) -> None:
        self.finished = True
        self._watcher.cancel()

    def was_cancelled_by_disconnect(self) -> bool:
        """True (and the cancellation consumed) if our own watcher cancelled the task."""
        return self.disconnected and self._task.uncancel() == 0


async def cancel_on_disconnect(receive: Receive, work: Awaitable[T]) -> T:
    watch = DisconnectWatch(receive)
    try:
        return await work
    except asyncio.CancelledError:
        if watch.was_cancelled_by_disconnect():
            raise ClientDisconnected() from None
        raise
    finally:
        watch.stop()
