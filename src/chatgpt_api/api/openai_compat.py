"""The OpenAI-compatible surface: ``POST /v1/chat/completions``, ``GET /v1/models``.

Responses and stream chunks have the exact OpenAI shapes (``chat.completion``,
``chat.completion.chunk``, ``data: [DONE]``), so the official SDKs work unchanged. Two
extension fields ride along: ``conversation_id`` and ``message_id`` (on the completion object,
and on the final chunk of a stream) — pass them back as ``conversation_id`` /
``parent_message_id`` to continue the server-side conversation tree.

When a backend reports no token usage (the ChatGPT web backend), ``usage`` is an estimate of
about four characters per token. A stream that fails after it began ends with one
``data: {"error": {...}}`` event, as OpenAI's does.

``Authorization: Bearer`` is checked by :func:`chatgpt_api.auth.gate.authenticate` first on every
route: a gateway key identifies the caller (and owner) and never goes upstream; any other value
is passed through as the upstream credential only while keys are not required.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from chatgpt_api.api.admission import admit
from chatgpt_api.api.bodies import read_body
from chatgpt_api.api.disconnect import cancel_on_disconnect
from chatgpt_api.api.drain import openai_shutdown_frame
from chatgpt_api.api.errors import openai_error_body, openai_error_response
from chatgpt_api.api.openai_request import parse_completion_request
from chatgpt_api.api.request_limits import check_request_size
from chatgpt_api.api.responses import JSONResponse
from chatgpt_api.api.state import AppState
from chatgpt_api.api.streaming import DONE_FRAME, EventStreamResponse
from chatgpt_api.auth.gate import authenticate
from chatgpt_api.errors import ModelNotFound, RequestError
from chatgpt_api.messages import ChatEvent, Finished, Message, TextDelta, Usage
from chatgpt_api.observability.context import note_first_token
from chatgpt_api.service import collect_answer, deadline_after, next_event

STARTED = int(time.time())


async def read_json_object(request: Request, limit: int) -> dict[str, Any]:
    body = await read_body(request, limit)
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RequestError(f"We could not parse the JSON body of your request: {exc}") from None
    if not isinstance(obj, dict):
        raise RequestError("The request body must be a JSON object.")
    return obj


@dataclass(frozen=True, slots=True)
class _Meta:
    id: str
    created: int
    model: str
    prompt: tuple[Message, ...]


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def usage_object(answer: Finished, meta: _Meta) -> dict[str, int]:
    usage = answer.usage or Usage(
        sum(estimate_tokens(m.content) + 4 for m in meta.prompt), estimate_tokens(answer.text)
    )
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


def completion_object(answer: Finished, meta: _Meta) -> dict[str, Any]:
    return {
        "id": meta.id,
        "object": "chat.completion",
        "created": meta.created,
        "model": meta.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer.text, "refusal": None},
                "logprobs": None,
                "finish_reason": answer.finish_reason,
            }
        ],
        "usage": usage_object(answer, meta),
        "system_fingerprint": None,
        "conversation_id": answer.conversation_id,
        "message_id": answer.message_id,
    }


def _chunk(meta: _Meta, delta: dict[str, Any], finish: str | None = None) -> bytes:
    chunk = {
        "id": meta.id,
        "object": "chat.completion.chunk",
        "created": meta.created,
        "model": meta.model,
        "system_fingerprint": None,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


async def completion_frames(
    first: ChatEvent,
    events: AsyncGenerator[ChatEvent, None],
    meta: _Meta,
    include_usage: bool,
    deadline: float | None = None,
) -> AsyncGenerator[bytes, None]:
    sent = ""
    event = first
    yield _chunk(meta, {"role": "assistant", "content": "", "refusal": None})
    try:
        while not isinstance(event, Finished):
            # A rewrite that does not extend what was sent cannot be taken back: skip it.
            text = sent + event.text if isinstance(event, TextDelta) else event.text
            if text.startswith(sent) and len(text) > len(sent):
                yield _chunk(meta, {"content": text[len(sent) :]})
                sent = text
            event = await next_event(events, deadline)
    except Exception as exc:
        _, body, _ = openai_error_body(exc)
        yield b"data: " + orjson.dumps(body) + b"\n\n"
        return
    finally:
        await events.aclose()
    final = {
        "id": meta.id,
        "object": "chat.completion.chunk",
        "created": meta.created,
        "model": meta.model,
        "system_fingerprint": None,
        "choices": [
            {"index": 0, "delta": {}, "logprobs": None, "finish_reason": event.finish_reason}
        ],
        "conversation_id": event.conversation_id,
        "message_id": event.message_id,
    }
    yield b"data: " + orjson.dumps(final) + b"\n\n"
    if include_usage:
        usage = {**final, "choices": [], "usage": usage_object(event, meta)}
        yield b"data: " + orjson.dumps(usage) + b"\n\n"
    yield DONE_FRAME


async def chat_completions(request: Request) -> Response:
    state: AppState = request.app.state.chatgpt
    deadline = deadline_after(state.settings.upstream_timeout)
    try:
        caller = await authenticate(request)
        body = await read_json_object(request, state.settings.max_body_size)
        parsed = parse_completion_request(
            body,
            default_model=state.settings.model,
            credential=caller.upstream_credential,
            owner=caller.owner,
        )
        check_request_size(parsed.turn.messages, state.settings)
        chars = sum(len(m.content) for m in parsed.turn.messages)
        admission = await admit(state, request, caller, chars)
        try:
            turn = await cancel_on_disconnect(request.receive, state.service.open_turn(parsed.turn))
        except BaseException:
            if admission is not None:
                await admission.release()
            raise
        if admission is not None:
            turn.events = admission.wrap(turn.events)
        meta = _Meta(
            f"chatcmpl-{uuid.uuid4().hex}",
            int(time.time()),
            parsed.turn.model,
            parsed.turn.messages,
        )
        if parsed.stream:
            first = await cancel_on_disconnect(request.receive, next_event(turn.events, deadline))
            note_first_token(stream=True)
            frames = completion_frames(first, turn.events, meta, parsed.include_usage, deadline)
            return EventStreamResponse(frames, openai_shutdown_frame())  # type: ignore[return-value]
        answer = await cancel_on_disconnect(request.receive, collect_answer(turn.events, deadline))
        note_first_token(stream=False)
    except Exception as exc:
        return openai_error_response(exc)
    return JSONResponse(completion_object(answer, meta))


def _model_object(name: str, owner: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": STARTED, "owned_by": owner}


def _models(state: AppState) -> dict[str, dict[str, Any]]:
    models = {r.name: _model_object(r.name, r.backend) for r in state.service.registry.listed()}
    default = state.settings.model
    if default not in models:
        try:
            route = state.service.registry.resolve(default)
        except ModelNotFound:
            return models
        models[default] = _model_object(default, route.backend)
    return models


async def list_models(request: Request) -> Response:
    state: AppState = request.app.state.chatgpt
    try:
        await authenticate(request)
    except Exception as exc:
        return openai_error_response(exc)
    return JSONResponse({"object": "list", "data": list(_models(state).values())})


async def get_model(request: Request) -> Response:
    state: AppState = request.app.state.chatgpt
    name = request.path_params["model"]
    try:
        await authenticate(request)
    except Exception as exc:
        return openai_error_response(exc)
    model = _models(state).get(name)
    if model is None:
        return openai_error_response(ModelNotFound(name))
    return JSONResponse(model)
