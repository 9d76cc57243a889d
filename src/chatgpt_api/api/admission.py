"""Per-caller rate limits, charged once per request before anything is sent upstream.

The caller is its gateway key, or its client address when it has none. Limits come from the
settings ``rate_limit_rpm`` (requests per minute), ``rate_limit_cpm`` (characters per minute:
the prompt up front, corrected to prompt + answer when the answer ends) and
``rate_limit_streams`` (answers in progress at once). The limiter is in-process, or Redis when
``CHATGPT_API_REDIS_URL`` is set, so every instance enforces one shared limit. A refusal is
:class:`~chatgpt_api.limits.RateLimited` (429 with ``Retry-After``).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import AsyncExitStack, aclosing

from starlette.requests import HTTPConnection

from chatgpt_api.api.state import AppState
from chatgpt_api.keys.gate import Caller
from chatgpt_api.limits import Decision, RateLimiter, enforce
from chatgpt_api.messages import ChatEvent, Finished


class Admission:
    """What a request holds while it runs: its stream slot and its charge."""

    def __init__(
        self, limiter: RateLimiter, decision: Decision | None, stack: AsyncExitStack, chars: int
    ) -> None:
        self._limiter = limiter
        self._decision = decision
        self._stack = stack
        self._chars = chars

    def wrap(self, events: AsyncGenerator[ChatEvent, None]) -> AsyncGenerator[ChatEvent, None]:
        return self._held(events)

    async def _held(
        self, events: AsyncGenerator[ChatEvent, None]
    ) -> AsyncGenerator[ChatEvent, None]:
        try:
            async with aclosing(events):
                async for event in events:
                    if isinstance(event, Finished) and self._decision is not None:
                        actual = self._chars + len(event.text)
                        self._decision = await self._limiter.adjust(self._decision, actual)
                    yield event
        finally:
            await self.release()

    async def release(self) -> None:
        await self._stack.aclose()


def caller_key(request: HTTPConnection, caller: Caller) -> str:
    if caller.key is not None:
        return f"key:{caller.key.id}"
    client = request.client
    return f"addr:{client.host if client else 'unknown'}"


async def admit(
    state: AppState, request: HTTPConnection, caller: Caller, chars: int
) -> Admission | None:
    """Charge the caller's limits (raising ``RateLimited``); None when no limit is set."""
    settings = state.settings
    limiter = state.limiter
    rpm, cpm, streams = (
        settings.rate_limit_rpm,
        settings.rate_limit_cpm,
        settings.rate_limit_streams,
    )
    if limiter is None or not (rpm or cpm or streams):
        return None
    key = caller_key(request, caller)
    decision = None
    if rpm or cpm:
        decision = await enforce(
            limiter, key, requests_per_minute=rpm, chars_per_minute=cpm, chars=chars
        )
    stack = AsyncExitStack()
    if streams:
        await stack.enter_async_context(limiter.stream_slot(key, streams))
    return Admission(limiter, decision if cpm else None, stack, chars)
