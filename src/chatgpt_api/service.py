"""The conversation use-case: route a turn to its backend and read the answer under a deadline.

For now every model goes to the ChatGPT web backend; the store, the model registry and the
account pool hang here as they arrive. Deadlines are absolute ``loop.time()`` values covering
the whole exchange (headers and full stream), as the seed's ``timeout`` did; on expiry the
upstream request is cancelled (closing its connection) and ``UpstreamTimeout`` is raised.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import aclosing

from chatgpt_api.backends.base import Backend
from chatgpt_api.errors import UpstreamNoAnswer, UpstreamTimeout
from chatgpt_api.messages import ChatEvent, ChatRequest, Finished


class ChatService:
    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def stream(self, request: ChatRequest) -> AsyncGenerator[ChatEvent, None]:
        """The answer's events; close the iterator (``aclosing``) if you stop early."""
        return self._backend.stream_chat(request)


def deadline_after(seconds: float | None) -> float | None:
    return None if seconds is None else asyncio.get_running_loop().time() + seconds


async def next_event(events: AsyncGenerator[ChatEvent, None], deadline: float | None) -> ChatEvent:
    """The next event, or ``UpstreamTimeout`` once the deadline passed."""
    try:
        if deadline is None:
            return await anext(events)
        async with asyncio.timeout_at(deadline):
            return await anext(events)
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
            async with asyncio.timeout_at(deadline):
                async for event in events:
                    if isinstance(event, Finished):
                        return event
        except TimeoutError:
            raise UpstreamTimeout() from None
    raise UpstreamNoAnswer("ChatGPT sent no answer")
