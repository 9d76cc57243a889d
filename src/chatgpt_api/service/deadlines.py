"""Deadlines: absolute ``loop.time()`` values covering a whole exchange with the upstream.

On expiry the read in progress is cancelled (closing the upstream connection) and
``UpstreamTimeout`` is raised; :func:`deadline_expired` tells a turn's recorder that a
cancellation was the deadline's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import aclosing
from contextvars import ContextVar

from chatgpt_api.errors import UpstreamNoAnswer, UpstreamTimeout
from chatgpt_api.messages import ChatEvent, Finished


def deadline_after(seconds: float | None) -> float | None:
    return None if seconds is None else asyncio.get_running_loop().time() + seconds


#: The deadline guarding the read in progress. A deadline cancels the reading task: the turn's
#: recorder, which runs inside that read, sees only a cancellation and asks this whether it was
#: the deadline's (so the turn is stored with the timeout the client is told, not "cancelled").
_read_deadline: ContextVar[asyncio.Timeout | None] = ContextVar("read_deadline", default=None)


def deadline_expired() -> bool:
    timeout = _read_deadline.get()
    return timeout is not None and timeout.expired()


async def next_event(events: AsyncGenerator[ChatEvent, None], deadline: float | None) -> ChatEvent:
    """The next event, or ``UpstreamTimeout`` once the deadline passed."""
    try:
        if deadline is None:
            return await anext(events)
        async with asyncio.timeout_at(deadline) as timeout:
            token = _read_deadline.set(timeout)
            try:
                return await anext(events)
            finally:
                _read_deadline.reset(token)
    except TimeoutError:
        raise UpstreamTimeout() from None
    except StopAsyncIteration:
        raise UpstreamNoAnswer("ChatGPT sent no answer") from None


async def collect_answer(
    events: AsyncGenerator[ChatEvent, None], deadline: float | None
) -> Finished:
    """Read the whole stream and return its final event."""
    async with aclosing(events):
        try:
            async with asyncio.timeout_at(deadline) as timeout:
                token = _read_deadline.set(timeout)
                try:
                    async for event in events:
                        if isinstance(event, Finished):
                            return event
                finally:
                    _read_deadline.reset(token)
        except TimeoutError:
            raise UpstreamTimeout() from None
    raise UpstreamNoAnswer("ChatGPT sent no answer")
