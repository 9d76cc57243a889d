"""Graceful shutdown: how requests still running when the server stops come to an end.

On SIGTERM uvicorn stops accepting, lets in-flight requests run for ``shutdown_grace`` seconds,
then cancels them. This module makes that cancellation a clean end: a running stream gets its
surface's error frame (:func:`seed_shutdown_frame`, :func:`openai_shutdown_frame`) and a proper
end, its turn stored as ``partial``; a request not answered yet gets a 503 (see
:mod:`chatgpt_api.api.lifecycle`); the lifespan waits up to :data:`END_SECONDS` for every
request to end before closing the store. Ending a stream is given :data:`SEND_SECONDS`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

import orjson
from starlette.types import Scope, Send

log = logging.getLogger("chatgpt_api.shutdown")

#: How long the lifespan waits, after the grace period, for cancelled requests to end.
END_SECONDS: Final = 5.0
#: How long a cancelled stream may take to write its last frame to a slow client.
SEND_SECONDS: Final = 1.0
SHUTDOWN_MESSAGE: Final = "the service is shutting down: the answer was cut off"


def seed_shutdown_frame() -> bytes:
    return b"event: error\ndata: " + orjson.dumps({"message": SHUTDOWN_MESSAGE}) + b"\n\n"


def openai_shutdown_frame() -> bytes:
    error = {"message": SHUTDOWN_MESSAGE, "type": "server_error", "param": None}
    return b"data: " + orjson.dumps({"error": error | {"code": "shutting_down"}}) + b"\n\n"


async def end_cut_off_stream(send: Send, frame: bytes) -> None:
    """Write ``frame`` and the end of the body, giving a slow client :data:`SEND_SECONDS`."""
    try:
        async with asyncio.timeout(SEND_SECONDS):
            await send({"type": "http.response.body", "body": frame, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
    except (TimeoutError, OSError):
        pass


def swallow_cancellation() -> None:
    """Consume the cancellation uvicorn sent this task: it ends on its own, now."""
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()


class InFlight:
    """Counts the HTTP requests being answered; :meth:`wait_idle` waits for none to be."""

    def __init__(self) -> None:
        self.count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def enter(self) -> None:
        self.count += 1
        self._idle.clear()

    def leave(self) -> None:
        self.count -= 1
        if self.count == 0:
            self._idle.set()

    async def wait_idle(self) -> None:
        """Wait up to :data:`END_SECONDS` for every request to end."""
        if self.count == 0:
            return
        log.info("waiting for %d request(s) to end before closing the store", self.count)
        try:
            async with asyncio.timeout(END_SECONDS):
                await self._idle.wait()
        except TimeoutError:
            log.warning("%d request(s) still running at shutdown", self.count)


async def refuse_cut_off(scope: Scope, send: Send) -> None:
    """Answer a request cancelled before it answered with a 503 (given :data:`SEND_SECONDS`)."""
    body: dict[str, object] = {"message": SHUTDOWN_MESSAGE}
    if str(scope.get("path", "")).startswith("/v1/"):
        body = {"error": body | {"type": "server_error", "param": None, "code": "shutting_down"}}
    headers = [
        (b"content-type", b"application/json; charset=utf-8"),
        (b"connection", b"close"),
    ]
    try:
        async with asyncio.timeout(SEND_SECONDS):
            await send({"type": "http.response.start", "status": 503, "headers": headers})
            await send({"type": "http.response.body", "body": orjson.dumps(body)})
    except (TimeoutError, OSError):
        pass
