"""The Responses API's ``response`` object and its semantic event stream, from a finished turn.

The object echoes what the request set with the documented defaults, plus the output items,
``usage`` (estimated when the backend reports none), ``status`` (``incomplete`` with its reason)
and ``error``. The stream (:func:`response_frames`): ``response.created``, ``in_progress``, the
item events (:mod:`.responses_output`), then ``completed`` / ``incomplete``, or an ``error``
event and ``response.failed``; every event has a ``sequence_number``, and ``[DONE]`` ends it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

import orjson

from chatgpt_api.api.chat_render import estimate_tokens
from chatgpt_api.api.errors import openai_error_body
from chatgpt_api.api.responses_models import ResponsesRequest
from chatgpt_api.api.responses_output import Event, OutputBuilder
from chatgpt_api.api.streaming import DONE_FRAME
from chatgpt_api.messages import ChatEvent, Finished, JSONObject, Message, TextDelta, TextReset
from chatgpt_api.service import next_event

#: chat completions ``finish_reason`` → Responses ``incomplete_details.reason``.
_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}

#: Called with the finished object before it is announced (stores it); returns nothing.
Saver = Callable[[dict[str, Any], Finished], Awaitable[None]]


@dataclass(slots=True)
class ResponseMeta:
    id: str
    model: str
    request: ResponsesRequest
    prompt: tuple[Message, ...]
    store: bool
    conversation: str | None = None
    created_at: int = field(default_factory=lambda: int(time.time()))


def response_object(
    meta: ResponseMeta,
    *,
    status: str = "in_progress",
    output: list[dict[str, Any]] | None = None,
    usage: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
    incomplete: str | None = None,
) -> dict[str, Any]:
    request = meta.request
    extras = request.extras()
    text: dict[str, Any] = {"format": {"type": "text"}, "verbosity": "medium"}
    if request.text is not None:
        text = {
            "format": request.text.format or {"type": "text"},
            "verbosity": request.text.verbosity or "medium",
        }
    reasoning = request.reasoning
    return {
        "id": meta.id,
        "object": "response",
        "created_at": meta.created_at,
        "completed_at": int(time.time()) if status == "completed" else None,
        "status": status,
        "background": False,
        "error": error,
        "incomplete_details": None if incomplete is None else {"reason": incomplete},
        "instructions": request.instructions,
        "max_output_tokens": request.max_output_tokens,
        "max_tool_calls": request.max_tool_calls,
        "model": meta.model,
        "output": output or [],
        "parallel_tool_calls": (
            True if request.parallel_tool_calls is None else request.parallel_tool_calls
        ),
        "previous_response_id": request.previous_response_id,
        "conversation": None if meta.conversation is None else {"id": meta.conversation},
        "prompt": None,
        "prompt_cache_key": request.prompt_cache_key,
        "reasoning": {
            "effort": reasoning.effort if reasoning else None,
            "summary": reasoning.summary if reasoning else None,
        },
        "safety_identifier": request.safety_identifier,
        "service_tier": request.service_tier or "default",
        "store": meta.store,
        "temperature": 1.0 if request.temperature is None else request.temperature,
        "text": text,
        "tool_choice": "auto" if request.tool_choice is None else request.tool_choice,
        "tools": request.tools or [],
        "top_logprobs": request.top_logprobs or 0,
        "top_p": 1.0 if request.top_p is None else request.top_p,
        "presence_penalty": extras.get("presence_penalty", 0.0),
        "frequency_penalty": extras.get("frequency_penalty", 0.0),
        "truncation": request.truncation or "disabled",
        "usage": usage,
        "user": request.user,
        "metadata": request.metadata or {},
    }


def usage_object(
    answer: Finished, upstream: JSONObject | None, meta: ResponseMeta
) -> dict[str, Any]:
    """The Responses ``usage``: the upstream's counts (with their details), else estimated."""
    if upstream is not None and isinstance(upstream.get("prompt_tokens"), int):
        prompt, completion = upstream["prompt_tokens"], upstream.get("completion_tokens") or 0
        cached = (upstream.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
        reasoning = (upstream.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
    elif answer.usage is not None:
        prompt, completion = answer.usage.prompt_tokens, answer.usage.completion_tokens
        cached = reasoning = 0
    else:
        prompt = sum(estimate_tokens(m.content) + 4 for m in meta.prompt)
        completion, cached, reasoning = estimate_tokens(answer.text), 0, 0
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": prompt + completion,
    }


def incomplete_reason(answer: Finished) -> str | None:
    """Why the answer was cut off (``incomplete_details.reason``), or None."""
    first = answer.all_choices()[0]
    return _INCOMPLETE.get(first.finish_reason or answer.finish_reason)


def final_object(meta: ResponseMeta, builder: OutputBuilder, answer: Finished) -> dict[str, Any]:
    """The finished response (items closed by the caller)."""
    incomplete = incomplete_reason(answer)
    upstream_usage = builder.usage
    if (
        upstream_usage is None
        and answer.raw is not None
        and isinstance(answer.raw.get("usage"), dict)
    ):
        upstream_usage = answer.raw["usage"]
    return response_object(
        meta,
        status="completed" if incomplete is None else "incomplete",
        output=builder.items,
        usage=usage_object(answer, upstream_usage, meta),
        incomplete=incomplete,
    )


def allowed_tools(request: ResponsesRequest) -> frozenset[str] | None:
    """The function names ``tool_choice.allowed_tools`` allows, or None (no restriction)."""
    choice = request.tool_choice
    if not isinstance(choice, dict) or choice.get("type") != "allowed_tools":
        return None
    tools = choice.get("tools") or []
    return frozenset(str(t.get("name")) for t in tools if isinstance(t, dict))


def whole_object(meta: ResponseMeta, answer: Finished) -> dict[str, Any]:
    builder = OutputBuilder(allowed_tools(meta.request))
    first = answer.all_choices()[0]
    builder.message(first.message, first.logprobs)
    builder.finish(first.message, incomplete=incomplete_reason(answer) is not None)
    return final_object(meta, builder, answer)


def error_fields(exc: BaseException) -> dict[str, Any]:
    """``{type, code, message, param}`` of ``exc`` (logged once, as every error is)."""
    _, body, _ = openai_error_body(exc)
    error: dict[str, Any] = body["error"]  # type: ignore[assignment]
    return error


async def response_events(
    meta: ResponseMeta,
    first: ChatEvent,
    events: AsyncGenerator[ChatEvent, None],
    save: Saver,
    deadline: float | None,
) -> AsyncGenerator[Event, None]:
    """The streamed response's events, numbered; see the module docstring."""
    sequence = 0

    def numbered(batch: list[Event]) -> list[Event]:
        nonlocal sequence
        for event in batch:
            event["sequence_number"] = sequence
            sequence += 1
        return batch

    builder = OutputBuilder(allowed_tools(meta.request))
    opening = response_object(meta)
    for numbered_event in numbered(
        [
            {"type": "response.created", "response": opening},
            {"type": "response.in_progress", "response": opening},
        ]
    ):
        yield numbered_event
    # What was sent, as pieces (joined only to compare a rewrite: linear in the answer).
    sent: list[str] = []
    sent_length = 0
    event = first
    try:
        while not isinstance(event, Finished):
            batch: list[Event] = []
            if isinstance(event, TextDelta) and event.raw is not None:
                batch = builder.chunk(event.raw)
            elif isinstance(event, TextDelta):
                batch = builder.text(event.text)
                sent.append(event.text)
                sent_length += len(event.text)
            elif isinstance(event, TextReset) and event.text.startswith("".join(sent)):
                batch = builder.text(event.text[sent_length:])
                sent, sent_length = [event.text], len(event.text)
            for item in numbered(batch):
                yield item
            event = await next_event(events, deadline)
        message = event.all_choices()[0].message
        if not builder.started:
            for item in numbered(builder.message(message, event.all_choices()[0].logprobs)):
                yield item
        closing = builder.finish(message, incomplete=incomplete_reason(event) is not None)
        final = final_object(meta, builder, event)
        await save(final, event)
    except Exception as exc:
        error = error_fields(exc)
        code = error.get("code") or error["type"]
        failed = response_object(
            meta,
            status="failed",
            output=builder.items,
            error={"code": code, "message": error["message"]},
        )
        # The error both flat (the OpenAI SDK's shape) and nested (the Open Responses one).
        flat = {"code": code, "message": error["message"], "param": error.get("param")}
        for item in numbered(
            [
                {"type": "error", **flat, "error": {"type": error["type"], **flat}},
                {"type": "response.failed", "response": failed},
            ]
        ):
            yield item
        return
    finally:
        await events.aclose()
    kind = "response.completed" if final["status"] == "completed" else "response.incomplete"
    for item in numbered([*closing, {"type": kind, "response": final}]):
        yield item


async def response_frames(
    meta: ResponseMeta,
    first: ChatEvent,
    events: AsyncGenerator[ChatEvent, None],
    save: Saver,
    deadline: float | None,
) -> AsyncGenerator[bytes, None]:
    """The events as Server-Sent Events (``event:`` = the type), then ``data: [DONE]``."""
    async with aclosing(response_events(meta, first, events, save, deadline)) as stream:
        async for event in stream:
            yield f"event: {event['type']}\n".encode() + b"data: " + orjson.dumps(event) + b"\n\n"
    yield DONE_FRAME
