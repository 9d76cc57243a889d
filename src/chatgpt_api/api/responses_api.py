"""The Responses API: ``POST /v1/responses`` (whole and streamed), ``GET`` / ``DELETE
/v1/responses/{id}``, ``GET /v1/responses/{id}/input_items``.

Every backend serves it, bridged through chat completions (:mod:`.responses_input`,
:mod:`.responses_render`) and run by the one turn runner. A stored response points at its
answer's node in the conversation tree (:mod:`chatgpt_api.store.responses`);
``previous_response_id`` and ``conversation`` continue from there; ``store: false`` keeps
nothing. Responses are owned by the caller's key. Routes with ``responses = "native"`` are
forwarded as they are (:mod:`.responses_native`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chatgpt_api.api.graceful_shutdown import openai_shutdown_frame
from chatgpt_api.api.openai_compat import read_json_object
from chatgpt_api.api.responses_compact import compact_response
from chatgpt_api.api.responses_input import bridge_input, passthrough_for
from chatgpt_api.api.responses_models import ResponsesRequest, parse_responses_request
from chatgpt_api.api.responses_native import forward_response
from chatgpt_api.api.responses_render import ResponseMeta, response_frames, whole_object
from chatgpt_api.api.state import AppState
from chatgpt_api.api.streaming import EventStreamResponse
from chatgpt_api.api.turns import run_turn
from chatgpt_api.errors import NotFound, RequestError
from chatgpt_api.http_responses import JSONResponse
from chatgpt_api.keys.gate import Caller, authenticate
from chatgpt_api.messages import Finished, JSONObject, Message
from chatgpt_api.registry import ModelRoute
from chatgpt_api.service import TurnInput, deadline_after
from chatgpt_api.store import Conversation
from chatgpt_api.store.response_record import ResponseRecord

if TYPE_CHECKING:
    from chatgpt_api.store.responses import ResponseStore

MAX_PAGE = 100


def responses_routes() -> list[Route]:
    return [
        Route("/v1/responses", create_response, methods=["POST"]),
        Route("/v1/responses/compact", compact_response, methods=["POST"]),
        Route("/v1/responses/{id}", get_response, methods=["GET"]),
        Route("/v1/responses/{id}", delete_response, methods=["DELETE"]),
        Route("/v1/responses/{id}/input_items", list_input_items, methods=["GET"]),
    ]


def _records(state: AppState) -> ResponseStore:
    if state.responses is None:
        raise NotFound("response not found (the conversation store is turned off)", param="id")
    return state.responses


async def _previous(
    state: AppState, request: ResponsesRequest, owner: str | None
) -> ResponseRecord | None:
    if request.previous_response_id is None:
        return None
    record = None
    if state.responses is not None:
        record = await state.responses.get(request.previous_response_id, owner=owner)
    if record is None:
        raise NotFound(
            f"Previous response with id '{request.previous_response_id}' not found.",
            param="previous_response_id",
        )
    return record


async def _conversation(
    state: AppState, request: ResponsesRequest, owner: str | None, route: ModelRoute
) -> Conversation | None:
    """The caller's conversation named by ``conversation`` (an id, or ``{"id": ...}``)."""
    value = request.conversation
    if value is None:
        return None
    conversation_id = value.get("id") if isinstance(value, dict) else value
    if not isinstance(conversation_id, str) or not conversation_id:
        raise RequestError(
            "Invalid 'conversation': expected an id or an object with an 'id'.",
            param="conversation",
        )
    found = None
    if state.store is not None:
        found = await state.store.get_conversation(conversation_id, owner=owner)
    if found is None:
        raise NotFound(f"Conversation with id '{conversation_id}' not found.", param="conversation")
    if route.backend == "chatgpt-web" and found.backend != "chatgpt-web":
        raise RequestError(
            "This conversation was not started on the chatgpt-web backend, which keeps its "
            "conversations upstream: continue it with a model routed to an openai or "
            "openai-compatible backend.",
            param="conversation",
        )
    return found


def _native_route(state: AppState, body: dict[str, Any]) -> ModelRoute | None:
    """The route of ``body``'s model if it forwards the Responses API natively."""
    model = body.get("model") or state.settings.model
    if not isinstance(model, str):
        return None  # the request's validation names the problem
    route = state.service.registry.resolve(model)
    return route if route.responses == "native" else None


@dataclass(frozen=True, slots=True)
class Continuation:
    """Where a response continues from: a stored node, or (a WebSocket's ``store: false``
    chain) the messages to send before the new ones."""

    conversation_id: str | None
    message_id: str | None
    history: tuple[Message, ...] = ()


@dataclass(frozen=True, slots=True)
class PreparedResponse:
    turn: TurnInput
    meta: ResponseMeta
    #: The input items, as stored for ``GET /v1/responses/{id}/input_items``.
    items: tuple[JSONObject, ...]


async def stored_continuation(
    state: AppState, request: ResponsesRequest, owner: str | None
) -> Continuation | None:
    """The stored response ``previous_response_id`` names (404 if the caller has none)."""
    record = await _previous(state, request, owner)
    return None if record is None else Continuation(record.conversation_id, record.message_id)


async def prepare_response(
    state: AppState,
    caller: Caller,
    parsed: ResponsesRequest,
    previous: Continuation | None,
    *,
    stream: bool,
) -> PreparedResponse:
    """The turn a bridged request runs and the response it makes (400s for what cannot be)."""
    model = parsed.model or state.settings.model
    route = state.service.registry.resolve(model)
    conversation = await _conversation(state, parsed, caller.owner, route)
    if conversation is not None and previous is not None:
        raise RequestError(
            "Use either 'previous_response_id' or 'conversation', not both.",
            param="conversation",
        )
    if conversation is not None:
        previous = Continuation(conversation.id, conversation.current_node)
    bridged = bridge_input(parsed)
    history = previous.history if previous is not None else ()
    store = parsed.store is not False and state.responses is not None
    turn = TurnInput(
        model=model,
        messages=(*history, *bridged.messages),
        credential=caller.upstream_credential,
        conversation_id=previous.conversation_id if previous is not None else None,
        parent_message_id=previous.message_id if previous is not None else None,
        owner=caller.owner,
        passthrough=passthrough_for(route, parsed, stream=stream),
        store=store,
        instructions=bridged.instructions,
        truncate=parsed.truncation == "auto",
    )
    meta = ResponseMeta(
        f"resp_{uuid.uuid4().hex}",
        model,
        parsed,
        (*bridged.instructions, *bridged.messages),
        store,
        conversation.id if conversation is not None else None,
    )
    return PreparedResponse(turn, meta, bridged.items)


async def save_response(
    state: AppState,
    caller: Caller,
    prepared: PreparedResponse,
    obj: dict[str, Any],
    answer: Finished,
) -> None:
    """Record a finished response (when it is to be stored)."""
    await _save(state, caller, prepared.meta, obj, answer, prepared.items)


async def create_response(request: Request) -> Response:
    state: AppState = request.app.state.chatgpt
    deadline = deadline_after(state.settings.upstream_timeout)
    caller = await authenticate(request)
    body = await read_json_object(request, state.settings.max_body_size)
    native = _native_route(state, body)
    if native is not None:
        return await forward_response(state, request, caller, native, body, deadline)
    parsed = parse_responses_request(body)
    previous = await stored_continuation(state, parsed, caller.owner)
    stream = bool(parsed.stream)
    prepared = await prepare_response(state, caller, parsed, previous, stream=stream)
    running = await run_turn(
        state, prepared.turn, stream=stream, deadline=deadline, request=request, caller=caller
    )

    async def save(obj: dict[str, Any], answer: Finished) -> None:
        await save_response(state, caller, prepared, obj, answer)

    if running.answer is None:
        assert running.first is not None
        frames = response_frames(prepared.meta, running.first, running.events, save, deadline)
        return EventStreamResponse(frames, openai_shutdown_frame())
    obj = whole_object(prepared.meta, running.answer)
    await save(obj, running.answer)
    return JSONResponse(obj)


async def _save(
    state: AppState,
    caller: Caller,
    meta: ResponseMeta,
    obj: dict[str, Any],
    answer: Finished,
    items: tuple[Any, ...],
) -> None:
    if not meta.store or state.responses is None or not answer.conversation_id:
        return
    await state.responses.add(
        ResponseRecord(
            id=meta.id,
            owner=caller.owner,
            conversation_id=answer.conversation_id,
            message_id=answer.message_id,
            body=obj,
            input_items=[dict(item) for item in items],
            created_at=datetime.fromtimestamp(meta.created_at, UTC),
        )
    )


async def _owned(request: Request) -> tuple[ResponseStore, ResponseRecord, str | None]:
    state: AppState = request.app.state.chatgpt
    owner = (await authenticate(request)).owner
    records = _records(state)
    record = await records.get(request.path_params["id"], owner=owner)
    if record is None:
        raise NotFound(f"Response with id '{request.path_params['id']}' not found.", param="id")
    return records, record, owner


async def get_response(request: Request) -> Response:
    _, record, _ = await _owned(request)
    return JSONResponse(record.body)


async def delete_response(request: Request) -> Response:
    records, record, owner = await _owned(request)
    await records.delete(record.id, owner=owner)
    return JSONResponse({"id": record.id, "object": "response.deleted", "deleted": True})


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit", "20")
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw[:4]) <= MAX_PAGE:
        raise RequestError(
            f"Invalid 'limit': expected an integer from 1 to {MAX_PAGE}.", param="limit"
        )
    return int(raw)


async def list_input_items(request: Request) -> Response:
    """The response's input items, newest first unless ``order=asc``; ``after``/``limit`` page."""
    _, record, _ = await _owned(request)
    limit = _limit(request)
    order = request.query_params.get("order", "desc")
    if order not in ("asc", "desc"):
        raise RequestError("Invalid 'order': expected asc or desc.", param="order")
    items = list(record.input_items)
    if order == "desc":
        items.reverse()
    after = request.query_params.get("after")
    if after is not None:
        ids = [item.get("id") for item in items]
        if after not in ids:
            raise RequestError(f"Invalid 'after': no input item '{after}'.", param="after")
        items = items[ids.index(after) + 1 :]
    page = items[:limit]
    return JSONResponse(
        {
            "object": "list",
            "data": page,
            "first_id": page[0].get("id") if page else None,
            "last_id": page[-1].get("id") if page else None,
            "has_more": len(items) > limit,
        }
    )
