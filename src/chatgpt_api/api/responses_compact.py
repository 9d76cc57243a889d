"""``POST /v1/responses/compact``: a long conversation's input window, compacted by its model.

The window is the history a ``previous_response_id`` continues (read from the conversation tree)
followed by ``input``. The same backend the model routes to writes a summary of it (one turn run
by the turn runner, not stored); the answer (``object: "response.compaction"``) keeps the
window's user messages and replaces everything else by one ``compaction`` item whose
``encrypted_content`` is opaque to the client. Handed back as input to ``POST /v1/responses``,
that item gives the model the summary
(:func:`chatgpt_api.api.responses_input.compaction_message`). ``model`` is required (400).
A route with ``responses = "native"`` forwards the request to its upstream's own endpoint.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from chatgpt_api.api.conversation_items import as_messages, path_items, resolved_path
from chatgpt_api.api.openai_compat import read_json_object
from chatgpt_api.api.responses_input import (
    bridge_input,
    encode_summary,
    item_id,
    passthrough_for,
)
from chatgpt_api.api.responses_models import parse_responses_request
from chatgpt_api.api.responses_native import forward_response
from chatgpt_api.api.responses_render import ResponseMeta, usage_object
from chatgpt_api.api.state import AppState
from chatgpt_api.api.turns import run_turn
from chatgpt_api.errors import NotFound, RequestError
from chatgpt_api.http_responses import JSONResponse
from chatgpt_api.keys.gate import authenticate
from chatgpt_api.messages import Message
from chatgpt_api.service import TurnInput, deadline_after

#: The fields of a compaction request (anything else is refused, naming it).
FIELDS = frozenset(
    {
        "model",
        "input",
        "previous_response_id",
        "instructions",
        "prompt_cache_key",
        "prompt_cache_retention",
        "service_tier",
    }
)
_ASK = (
    "Summarize the conversation above so that it can be continued from the summary alone: "
    "keep every fact, name, number, decision, open question, tool call and tool result that "
    "may matter later. Answer with the summary only."
)


async def compact_response(request: Request) -> Response:
    state: AppState = request.app.state.chatgpt
    deadline = deadline_after(state.settings.upstream_timeout)
    caller = await authenticate(request)
    body = await read_json_object(request, state.settings.max_body_size)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise RequestError("Missing required parameter: 'model'.", param="model")
    route = state.service.registry.resolve(model)
    if route.responses == "native":
        return await forward_response(
            state, request, caller, route, body, deadline, endpoint="responses/compact"
        )
    for name in body:
        if name not in FIELDS:
            raise RequestError(f"Unknown parameter: '{name}'.", param=name)
    parsed = parse_responses_request(body)
    history: tuple[Message, ...] = ()
    kept: list[dict[str, Any]] = []
    if parsed.previous_response_id is not None:
        record = None
        if state.responses is not None and state.store is not None:
            record = await state.responses.get(parsed.previous_response_id, owner=caller.owner)
        if record is None:
            raise NotFound(
                f"Previous response with id '{parsed.previous_response_id}' not found.",
                param="previous_response_id",
            )
        assert state.store is not None
        path = await resolved_path(state.store, record.conversation_id, record.message_id)
        history = as_messages(path)
        kept = [i for i in path_items(path) if i.get("role") == "user"]
    bridged = bridge_input(parsed) if parsed.input else None
    new = bridged.messages if bridged else ()
    if bridged:
        kept += [dict(i) for i in bridged.items if i.get("role") == "user"]
    if not history and not new:
        raise RequestError(
            "Nothing to compact: give 'input' or 'previous_response_id'.", param="input"
        )
    instructions = bridged.instructions if bridged else ()
    window = (*history, *new, Message("user", _ASK))
    turn = TurnInput(
        model=model,
        messages=window,
        credential=caller.upstream_credential,
        owner=caller.owner,
        passthrough=passthrough_for(route, parsed, stream=False),
        store=False,
        instructions=instructions,
    )
    running = await run_turn(
        state, turn, stream=False, deadline=deadline, request=request, caller=caller
    )
    assert running.answer is not None
    meta = ResponseMeta(f"resp_{uuid.uuid4().hex}", model, parsed, window, False)
    raw_usage = (running.answer.raw or {}).get("usage")
    usage = usage_object(running.answer, raw_usage if isinstance(raw_usage, dict) else None, meta)
    compaction = {
        "type": "compaction",
        "id": item_id("cmp"),
        "encrypted_content": encode_summary(running.answer.text),
    }
    return JSONResponse(
        {
            "id": meta.id,
            "object": "response.compaction",
            "created_at": int(time.time()),
            "output": [*kept, compaction],
            "usage": usage,
        }
    )
