"""WebSocket mode of the Responses API: many responses, one after another, on one socket.

``ws://…/v1/responses``: each ``{"type": "response.create", …}`` message holds a
``POST /v1/responses`` body (always streamed) and is answered with the HTTP stream's events, one
JSON message each; keys, limits and storage are those of HTTP. ``previous_response_id`` may also
name the socket's latest ``store: false`` response, kept in memory. Errors are ``{"type":
"error", ...}`` messages and the socket stays open (``previous_response_not_found``,
``response_already_in_flight``, ``invalid_event``, ``websocket_connection_limit_reached`` after
:data:`CONNECTION_SECONDS`, and every HTTP error).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from chatgpt_api.api.errors import openai_error_body, openai_error_response
from chatgpt_api.api.responses_api import (
    Continuation,
    PreparedResponse,
    prepare_response,
    save_response,
)
from chatgpt_api.api.responses_models import parse_responses_request
from chatgpt_api.api.responses_render import response_events
from chatgpt_api.api.state import AppState
from chatgpt_api.api.turns import run_turn
from chatgpt_api.errors import RequestError
from chatgpt_api.keys.gate import Caller, identify
from chatgpt_api.messages import Finished, Message
from chatgpt_api.service import deadline_after

#: How long one socket may live (OpenAI's limit: 60 minutes).
CONNECTION_SECONDS = 3600.0
#: Fields of the HTTP body that a ``response.create`` message must not carry.
TRANSPORT_FIELDS = ("stream", "stream_options", "background")


class PreviousResponseNotFound(RequestError):
    code = "previous_response_not_found"


class ResponseInFlight(RequestError):
    status = 409
    code = "response_already_in_flight"


class InvalidEvent(RequestError):
    code = "invalid_event"


class ConnectionLimitReached(RequestError):
    code = "websocket_connection_limit_reached"


def responses_socket_routes() -> list[WebSocketRoute]:
    return [WebSocketRoute("/v1/responses", responses_socket)]


def _bearer(websocket: WebSocket) -> str | None:
    scheme, _, value = websocket.headers.get("authorization", "").partition(" ")
    return (value.strip() or None) if scheme.lower() == "bearer" else None


async def responses_socket(websocket: WebSocket) -> None:
    state: AppState = websocket.app.state.chatgpt
    try:
        caller = await identify(
            state.keys, state.settings.require_api_key, bearer=_bearer(websocket), field_value=None
        )
    except Exception as exc:
        if "websocket.http.response" in websocket.scope.get("extensions", {}):
            await websocket.send_denial_response(openai_error_response(exc))
        else:
            await websocket.close(code=1008)
        return
    await websocket.accept()
    await _Socket(state, websocket, caller).serve()


@dataclass(frozen=True, slots=True)
class _Latest:
    """The socket's most recent response: its id and how to continue from it."""

    id: str
    continuation: Continuation


class _Socket:
    def __init__(self, state: AppState, websocket: WebSocket, caller: Caller) -> None:
        self._state = state
        self._websocket = websocket
        self._caller = caller
        self._sending = asyncio.Lock()
        self._latest: _Latest | None = None

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        closes_at = loop.time() + CONNECTION_SECONDS
        turn: asyncio.Task[None] | None = None
        receiving: asyncio.Task[str] = asyncio.create_task(self._websocket.receive_text())
        try:
            while True:
                waiting: set[asyncio.Task[Any]] = {receiving} | ({turn} if turn else set())
                done, _ = await asyncio.wait(
                    waiting,
                    timeout=max(0.0, closes_at - loop.time()),
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if turn is not None and turn in done:
                    turn = None
                if loop.time() >= closes_at and turn is None:
                    await self._error(
                        ConnectionLimitReached(
                            f"This connection reached its {CONNECTION_SECONDS:g}-second limit: "
                            "open a new one."
                        )
                    )
                    await self._websocket.close(code=1000)
                    return
                if receiving not in done:
                    continue
                text = receiving.result()  # raises WebSocketDisconnect when the client left
                receiving = asyncio.create_task(self._websocket.receive_text())
                if turn is not None:
                    await self._error(
                        ResponseInFlight(
                            "A response is already in progress on this connection: wait for "
                            "its final event before sending another response.create."
                        )
                    )
                    continue
                turn = asyncio.create_task(self._respond(text))
        except (WebSocketDisconnect, RuntimeError):
            return  # the client went away (or the socket closed under a pending receive)
        finally:
            for task in (receiving, turn):
                if task is not None and not task.done():
                    task.cancel()
                    with contextlib.suppress(BaseException):
                        await task

    async def _send(self, event: dict[str, Any]) -> None:
        async with self._sending:
            await self._websocket.send_text(orjson.dumps(event).decode())

    async def _error(self, exc: BaseException) -> None:
        status, body, _ = openai_error_body(exc)
        error: dict[str, Any] = body["error"]  # type: ignore[assignment]
        flat = {"code": error.get("code"), "message": error["message"], "param": error.get("param")}
        await self._send({"type": "error", "status": status, **flat, "error": error})

    async def _respond(self, text: str) -> None:
        try:
            body = _create_event(text)
            parsed = parse_responses_request(body)
            previous = await self._continuation(parsed.previous_response_id)
            prepared = await prepare_response(
                self._state, self._caller, parsed, previous, stream=True
            )
            route = self._state.service.registry.resolve(prepared.turn.model)
            if route.responses == "native":
                raise RequestError(
                    f"Model '{route.name}' forwards the Responses API to its upstream: use "
                    "HTTP for it.",
                    param="model",
                )
            deadline = deadline_after(self._state.settings.upstream_timeout)
            running = await run_turn(
                self._state,
                prepared.turn,
                stream=True,
                deadline=deadline,
                request=self._websocket,
                caller=self._caller,
            )
        except Exception as exc:
            await self._error(exc)
            return
        assert running.first is not None

        async def save(obj: dict[str, Any], answer: Finished) -> None:
            await save_response(self._state, self._caller, prepared, obj, answer)
            self._remember(prepared, answer)

        events = response_events(prepared.meta, running.first, running.events, save, deadline)
        async with contextlib.aclosing(events):
            try:
                async for event in events:
                    await self._send(event)
            except (WebSocketDisconnect, OSError, RuntimeError):
                return  # the client went away mid-answer: the turn is stored as partial

    async def _continuation(self, previous_id: str | None) -> Continuation | None:
        if previous_id is None:
            return None
        if self._latest is not None and self._latest.id == previous_id:
            return self._latest.continuation
        record = None
        if self._state.responses is not None:
            record = await self._state.responses.get(previous_id, owner=self._caller.owner)
        if record is None:
            raise PreviousResponseNotFound(
                f"Previous response with id '{previous_id}' not found: a 'store: false' "
                "response can only be continued on its connection, as the latest one. Send the "
                "whole context without 'previous_response_id'.",
                param="previous_response_id",
            )
        return Continuation(record.conversation_id, record.message_id)

    def _remember(self, prepared: PreparedResponse, answer: Finished) -> None:
        if answer.conversation_id:
            # Stored (our node), or ChatGPT web (its upstream keeps the conversation).
            continuation = Continuation(answer.conversation_id, answer.message_id)
        else:
            message = answer.all_choices()[0].message
            assistant = Message("assistant", answer.text, message)
            continuation = Continuation(None, None, (*prepared.turn.messages, assistant))
        self._latest = _Latest(prepared.meta.id, continuation)


def _create_event(text: str) -> dict[str, Any]:
    try:
        event = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise InvalidEvent("Each message must be a JSON object.") from None
    if not isinstance(event, dict) or event.get("type") != "response.create":
        raise InvalidEvent('Expected a {"type": "response.create", ...} message.', param="type")
    body = {k: v for k, v in event.items() if k != "type"}
    for name in TRANSPORT_FIELDS:
        if name in body:
            raise RequestError(
                f"'{name}' is not used over WebSocket (responses are always streamed).",
                param=name,
            )
    return body
