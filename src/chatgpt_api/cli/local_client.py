"""The CLI's in-process client: the service built from the settings, no server needed.

:meth:`LocalClient.open` builds the app (:func:`chatgpt_api.server.build_app`) and enters its
lifespan, so backends, pool and store are those of ``chatgpt-api serve`` with the same settings.
Turns go through the one turn runner, streamed (httpx's ASGI transport would buffer them); the
conversation commands go through the app's own routes. The key is checked by the service's
rules. One :class:`asyncio.Runner` runs every operation: Ctrl-C cancels the answer in progress
(stored as ``partial``) and the client stays usable.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Coroutine
from contextlib import AsyncExitStack, aclosing
from typing import Any, TypeVar

import httpx
import orjson

from chatgpt_api.api.chat_render import estimate_tokens
from chatgpt_api.api.openai_request import parse_completion_request
from chatgpt_api.api.state import AppState
from chatgpt_api.api.turns import run_turn
from chatgpt_api.cli.client import (
    CliError,
    CompletionBuilder,
    Reply,
    TextSink,
    TurnRequest,
    completion_body,
)
from chatgpt_api.cli.http_client import decode_json, path_segment
from chatgpt_api.cli.setting_options import load_settings
from chatgpt_api.config import Settings
from chatgpt_api.errors import ServiceError
from chatgpt_api.keys.gate import identify
from chatgpt_api.messages import ChatEvent, Finished, TextDelta

T = TypeVar("T")

#: The credential sent to the built-in emulator in demo mode when no key is given.
DEMO_CREDENTIAL = "demo"


async def _chain(
    first: ChatEvent, rest: AsyncGenerator[ChatEvent, None]
) -> AsyncGenerator[ChatEvent, None]:
    yield first
    async for event in rest:
        yield event


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, ServiceError):
        return exc.message
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class LocalClient:
    """A :class:`~chatgpt_api.cli.client.ChatClient` on the in-process service."""

    def __init__(
        self,
        runner: asyncio.Runner,
        stack: AsyncExitStack,
        state: AppState,
        http: httpx.AsyncClient,
        api_key: str | None,
    ) -> None:
        self._runner, self._stack, self._state, self._http = runner, stack, state, http
        settings = state.settings
        self._api_key = api_key or (DEMO_CREDENTIAL if settings.demo else None)
        self.target = "local:" + (
            "demo" if settings.demo else str(settings.database_url or settings.home)
        )

    @classmethod
    def open(cls, api_key: str | None, settings: Settings | None = None) -> LocalClient:
        """Start the in-process service (settings from the environment unless given)."""
        from chatgpt_api.server import build_app

        settings = settings or load_settings({})
        app = build_app(settings)
        runner = asyncio.Runner()
        stack = AsyncExitStack()
        try:
            runner.run(stack.enter_async_context(app.router.lifespan_context(app)))
        except BaseException as exc:
            runner.close()
            if isinstance(exc, Exception):
                raise CliError(_one_line(exc)) from None
            raise
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://in-process", headers=headers
        )
        state: AppState = app.state.chatgpt
        return cls(runner, stack, state, http, api_key)

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        try:
            return self._runner.run(coro)
        except CliError:
            raise
        except Exception as exc:
            raise CliError(_one_line(exc)) from None

    def close(self) -> None:
        try:
            self._run(self._http.aclose())
            self._run(self._stack.aclose())
        finally:
            self._runner.close()

    def check(self) -> None:
        """Nothing to check: the service was built when the client opened."""

    async def _json(self, method: str, path: str) -> dict[str, Any]:
        return decode_json(await self._http.request(method, path))

    def list_conversations(self, limit: int, offset: int) -> dict[str, Any]:
        return self._run(self._json("GET", f"/v1/conversations?limit={limit}&offset={offset}"))

    def get_conversation(self, conversation_id: str) -> dict[str, Any]:
        return self._run(self._json("GET", f"/v1/conversations/{path_segment(conversation_id)}"))

    def export_conversation(self, conversation_id: str) -> dict[str, Any]:
        path = f"/v1/conversations/{path_segment(conversation_id)}/export"
        return self._run(self._json("GET", path))

    def delete_conversation(self, conversation_id: str) -> dict[str, Any]:
        return self._run(self._json("DELETE", f"/v1/conversations/{path_segment(conversation_id)}"))

    def ask(self, turn: TurnRequest, on_text: TextSink | None) -> Reply:
        return self._run(self._ask(turn, on_text))

    async def _ask(self, turn: TurnRequest, on_text: TextSink | None) -> Reply:
        state = self._state
        caller = await identify(
            state.keys, state.settings.require_api_key, bearer=self._api_key, field_value=None
        )
        parsed = parse_completion_request(
            orjson.dumps(completion_body(turn)),
            default_model=state.settings.model,
            credential=caller.upstream_credential,
            owner=caller.owner,
        )
        running = await run_turn(state, parsed.turn, stream=True, deadline=None)
        builder = CompletionBuilder(model=parsed.turn.model)

        def emit(text: str) -> None:
            # A rewrite that does not extend what was shown cannot be taken back: skip it.
            if text.startswith(builder.text) and len(text) > len(builder.text):
                if on_text is not None:
                    on_text(text[len(builder.text) :])
                builder.text = text

        async with aclosing(running.events) as events:
            assert running.first is not None
            async for event in _chain(running.first, events):
                if isinstance(event, Finished):
                    emit(event.text)
                    builder.text = event.text
                    builder.finish_reason = event.finish_reason
                    builder.conversation_id = event.conversation_id
                    builder.message_id = event.message_id
                    prompt = sum(estimate_tokens(m.content) + 4 for m in parsed.turn.messages)
                    usage = (prompt, estimate_tokens(event.text))
                    if event.usage is not None:
                        usage = (event.usage.prompt_tokens, event.usage.completion_tokens)
                    builder.usage = {
                        "prompt_tokens": usage[0],
                        "completion_tokens": usage[1],
                        "total_tokens": usage[0] + usage[1],
                    }
                    return builder.reply()
                emit(builder.text + event.text if isinstance(event, TextDelta) else event.text)
        raise CliError("the upstream sent no answer")
