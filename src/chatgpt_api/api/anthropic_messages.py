"""The Anthropic Messages surface: ``POST /v1/messages``, ``POST /v1/messages/count_tokens``.

Any model of the registry, on any backend: the request is bridged into a chat completions turn
(:mod:`.anthropic_bridge`), run by the one turn runner and rendered in Anthropic's shapes
(:mod:`.anthropic_render`, errors :mod:`.anthropic_errors`); every response has a ``request-id``.
The key comes as ``x-api-key`` or ``Authorization: Bearer``; ``anthropic-version`` and
``anthropic-beta`` are accepted, and every field this gateway does not implement is a 400 naming
it. ``count_tokens`` estimates (about four characters a token) and sends nothing upstream.
"""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import Response

from chatgpt_api.api.anthropic_bridge import bridge_messages, parse_body
from chatgpt_api.api.anthropic_content import count_tokens
from chatgpt_api.api.anthropic_errors import (
    anthropic_shutdown_frame,
    new_request_id,
)
from chatgpt_api.api.anthropic_models import CountTokensBody, MessagesBody
from chatgpt_api.api.anthropic_render import MessageMeta, message_frames, message_object
from chatgpt_api.api.openai_compat import read_json_object
from chatgpt_api.api.state import AppState
from chatgpt_api.api.streaming import EventStreamResponse
from chatgpt_api.api.turns import run_turn
from chatgpt_api.http_responses import JSONResponse
from chatgpt_api.keys.gate import authenticate
from chatgpt_api.service import deadline_after


async def create_message(request: Request) -> Response:
    state: AppState = request.app.state.chatgpt
    deadline = deadline_after(state.settings.upstream_timeout)
    request_id = new_request_id()
    caller = await authenticate(request)
    body = await read_json_object(request, state.settings.max_body_size)
    parsed = parse_body(MessagesBody, body)
    route = state.service.registry.resolve(parsed.model)
    bridged = bridge_messages(
        parsed, route, credential=caller.upstream_credential, owner=caller.owner
    )
    turn = await run_turn(
        state,
        bridged.turn,
        stream=bridged.stream,
        deadline=deadline,
        request=request,
        caller=caller,
    )
    meta = MessageMeta(f"msg_{uuid.uuid4().hex}", bridged)
    if turn.answer is None:
        assert turn.first is not None
        frames = message_frames(turn.first, turn.events, meta, request_id, deadline)
        cut_off = anthropic_shutdown_frame(request_id)
        return EventStreamResponse(frames, cut_off, headers={"request-id": request_id})
    return JSONResponse(message_object(turn.answer, meta), headers={"request-id": request_id})


async def count_message_tokens(request: Request) -> Response:
    state: AppState = request.app.state.chatgpt
    request_id = new_request_id()
    await authenticate(request)
    body = await read_json_object(request, state.settings.max_body_size)
    parsed = parse_body(CountTokensBody, body)
    state.service.registry.resolve(parsed.model)
    tokens = count_tokens(parsed)
    return JSONResponse({"input_tokens": tokens}, headers={"request-id": request_id})
