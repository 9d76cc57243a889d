"""The OpenAI-compatible surface: ``POST /v1/chat/completions``, ``GET /v1/models``.

Responses and chunks have OpenAI's exact shapes, so the official SDKs work unchanged; the
extension fields ``conversation_id`` and ``message_id`` continue the server-side conversation.
What the client sent reaches an OpenAI-style upstream unchanged and its answer comes back
unchanged (:mod:`.chat_render`); a backend that cannot honour a field refuses it
(:mod:`chatgpt_api.capabilities`). A stream failing after it began ends with one error event.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from chatgpt_api.api.bodies import read_body
from chatgpt_api.api.chat_render import CompletionMeta, completion_frames, completion_object
from chatgpt_api.api.errors import openai_error_response
from chatgpt_api.api.graceful_shutdown import openai_shutdown_frame
from chatgpt_api.api.openai_request import parse_completion_request
from chatgpt_api.api.state import AppState
from chatgpt_api.api.streaming import EventStreamResponse
from chatgpt_api.api.turns import run_turn
from chatgpt_api.capabilities import capabilities_of
from chatgpt_api.errors import BodyTooLarge, ModelNotFound, RequestError
from chatgpt_api.http_responses import JSONResponse
from chatgpt_api.keys.gate import authenticate
from chatgpt_api.registry import ModelRoute
from chatgpt_api.service import deadline_after

STARTED = int(time.time())


async def read_request_body(request: Request, limit: int) -> bytes:
    """The body, or a 413 that names the limit and the setting."""
    try:
        return await read_body(request, limit)
    except BodyTooLarge:
        raise BodyTooLarge(
            f"The request body is larger than {limit} bytes, the limit of this service "
            "(setting max_body_size, CHATGPT_API_MAX_BODY_SIZE)."
        ) from None


async def read_json_object(request: Request, limit: int) -> dict[str, Any]:
    body = await read_request_body(request, limit)
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RequestError(f"We could not parse the JSON body of your request: {exc}") from None
    if not isinstance(obj, dict):
        raise RequestError("The request body must be a JSON object.")
    return obj


async def chat_completions(request: Request) -> Response:
    state: AppState = request.app.state.chatgpt
    deadline = deadline_after(state.settings.upstream_timeout)
    caller = await authenticate(request)
    body = await read_request_body(request, state.settings.max_body_size)
    parsed = parse_completion_request(
        body,
        default_model=state.settings.model,
        credential=caller.upstream_credential,
        owner=caller.owner,
    )
    turn = await run_turn(
        state,
        parsed.turn,
        stream=parsed.stream,
        deadline=deadline,
        request=request,
        caller=caller,
    )
    route = turn.route
    meta = CompletionMeta(
        f"chatcmpl-{uuid.uuid4().hex}",
        int(time.time()),
        parsed.turn.model,
        parsed.turn.messages,
        route.upstream_model if route.upstream_model != parsed.turn.model else None,
    )
    if turn.answer is None:
        assert turn.first is not None
        frames = completion_frames(turn.first, turn.events, meta, parsed.include_usage, deadline)
        return EventStreamResponse(frames, openai_shutdown_frame())
    return JSONResponse(completion_object(turn.answer, meta))


def _model_object(route: ModelRoute) -> dict[str, Any]:
    """A model; the extensions ``kind`` (chat or embedding) and ``capabilities`` say what it is
    for and what its backend can do."""
    return {
        "id": route.name,
        "object": "model",
        "created": STARTED,
        "owned_by": route.backend,
        "kind": route.kind,
        "capabilities": dict(capabilities_of(route)),
    }


def _models(state: AppState) -> dict[str, dict[str, Any]]:
    models = {r.name: _model_object(r) for r in state.service.registry.listed()}
    default = state.settings.model
    if default not in models:
        try:
            route = state.service.registry.resolve(default)
        except ModelNotFound:
            return models
        models[default] = _model_object(replace(route, name=default))
    return models


async def list_models(request: Request) -> Response:
    state: AppState = request.app.state.chatgpt
    await authenticate(request)
    return JSONResponse({"object": "list", "data": list(_models(state).values())})


async def get_model(request: Request) -> Response:
    state: AppState = request.app.state.chatgpt
    name = request.path_params["model"]
    await authenticate(request)
    model = _models(state).get(name)
    if model is None:
        return openai_error_response(ModelNotFound(name))
    return JSONResponse(model)
