"""Tool calling and structured output on ChatGPT web, by emulation (opt-in per model).

:class:`WebToolEmulation` wraps the web backend for routes with ``emulate_tools = true``. With
tools or an answer format, the protocol's instructions (:mod:`.web_tool_prompt`) go in front of
the prompt and the reply is read as it streams (:mod:`.web_tool_answer`): text is held back only
while it may be a call; a call comes out as an OpenAI upstream would send it; structured output
is checked against its schema. A reply that breaks the protocol gets one repair turn; a second
is a 502 (:class:`~.web_tool_answer.ToolEmulationFailed`).
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import replace
from typing import Any

from chatgpt_api.backends.base import Backend
from chatgpt_api.backends.web_tool_answer import (
    InvalidReply,
    ToolEmulationFailed,
    call_state,
    parse_calls,
    parse_output,
)
from chatgpt_api.backends.web_tool_prompt import first_prompt, repair_prompt
from chatgpt_api.backends.web_tool_spec import Emulation, emulation_of
from chatgpt_api.messages import (
    ChatEvent,
    ChatRequest,
    Choice,
    Finished,
    Message,
    TextDelta,
    TextReset,
    Usage,
)
from chatgpt_api.redact import redact_text


class WebToolEmulation:
    """The web backend, with the tool protocol on the requests that need it."""

    name = "chatgpt-web"

    def __init__(self, web: Backend) -> None:
        self._web = web

    async def stream_chat(self, request: ChatRequest) -> AsyncGenerator[ChatEvent, None]:
        emulation = emulation_of(request.passthrough)
        if not emulation.active:
            async with aclosing(self._web.stream_chat(request)) as events:
                async for event in events:
                    yield event
            return
        *earlier, last = request.messages
        prompt = first_prompt(emulation, last.content)
        attempt = replace(request, messages=(*earlier, Message("user", prompt)))
        reply = _Reply(emulation, request)
        for round_number in (1, 2):
            async with aclosing(self._web.stream_chat(attempt)) as events:
                async for event in events:
                    if isinstance(event, Finished):
                        answer = event
                        break
                    for out in reply.feed(event):
                        yield out
                else:  # pragma: no cover - the web backend always ends with Finished
                    return
            try:
                for out in reply.finish(answer):
                    yield out
                return
            except InvalidReply as bad:
                if round_number == 2:
                    raise _failure(bad, request) from None
                attempt = replace(
                    request,
                    messages=(Message("user", repair_prompt(emulation, bad.problem)),),
                    conversation_id=answer.conversation_id,
                    parent_message_id=answer.message_id,
                    user_message_id=str(uuid.uuid4()),
                )
                reply = _Reply(emulation, request)


def _failure(bad: InvalidReply, request: ChatRequest) -> ToolEmulationFailed:
    """The 502; the problem quotes model output, redacted like every upstream-derived text."""
    about = f'tool "{bad.tool}": ' if bad.tool else ""
    problem = redact_text(f"{about}{bad.problem}", (request.credential,))
    return ToolEmulationFailed(
        f"ChatGPT web (model {request.model!r}) did not follow the tool protocol, even after "
        f"one repair turn: {problem}"
    )


class _Reply:
    """One upstream reply being read: held back, passed on as text, or turned into calls."""

    def __init__(self, emulation: Emulation, request: ChatRequest) -> None:
        self._emulation = emulation
        self._request = request
        #: Must the whole reply be seen before anything is sent (a call or JSON is required)?
        self._hold_all = emulation.output is not None or emulation.choice in (
            "required",
            "forced",
        )
        self._text = ""
        self._streaming = False  # decided: plain text, passed on as it comes

    def feed(self, event: ChatEvent) -> list[ChatEvent]:
        if self._streaming:
            return [event]
        if isinstance(event, TextDelta):
            self._text += event.text
        elif isinstance(event, TextReset):
            self._text = event.text
        if self._hold_all or call_state(self._text) != "text":
            return []
        self._streaming = True
        return [TextDelta(self._text)]

    def finish(self, answer: Finished) -> list[ChatEvent]:
        """The events that end the reply; raises :class:`InvalidReply`."""
        if self._streaming:
            return [answer]
        text = answer.text
        emulation = self._emulation
        if emulation.calls_tools and call_state(text) == "call":
            return self._calls(parse_calls(text, emulation), answer)
        if emulation.choice == "forced":
            raise InvalidReply(
                f'you must call the tool "{emulation.forced}" with the tool call format.',
                tool=emulation.forced,
            )
        if emulation.choice == "required":
            raise InvalidReply("you must call at least one tool, with the tool call format.")
        if emulation.output is not None:
            text = parse_output(text, emulation.output)
            answer = replace(answer, text=text)
        return [TextDelta(text), answer] if text else [answer]

    def _calls(self, calls: list[dict[str, Any]], answer: Finished) -> list[ChatEvent]:
        message = {"role": "assistant", "content": None, "tool_calls": calls}
        usage = Usage(
            sum(math.ceil(len(m.content) / 4) + 4 for m in self._request.messages),
            math.ceil(len(answer.text) / 4),
        )
        chunks = _ToolCallChunks(self._request.model)
        role = {"role": "assistant", "content": None}
        events: list[ChatEvent] = [TextDelta("", chunks.delta(role))]
        for index, call in enumerate(calls):
            opening = {**call, "index": index, "function": {**call["function"], "arguments": ""}}
            events.append(TextDelta("", chunks.delta({"tool_calls": [opening]})))
            fragment = {"index": index, "function": {"arguments": call["function"]["arguments"]}}
            events.append(TextDelta("", chunks.delta({"tool_calls": [fragment]})))
        events.append(TextDelta("", chunks.delta({}, finish="tool_calls")))
        options = (self._request.passthrough or {}).get("stream_options")
        if isinstance(options, dict) and options.get("include_usage"):
            events.append(TextDelta("", chunks.usage(usage)))
        choice = Choice(0, message, "tool_calls")
        events.append(
            replace(answer, text="", finish_reason="tool_calls", usage=usage, choices=(choice,))
        )
        return events


class _ToolCallChunks:
    """``chat.completion.chunk`` objects of one emulated answer."""

    def __init__(self, model: str) -> None:
        self._id = f"chatcmpl-{uuid.uuid4().hex}"
        self._created = int(time.time())
        self._model = model

    def _chunk(self, choices: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
            "system_fingerprint": None,
            "choices": choices,
        }

    def delta(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return self._chunk([choice])

    def usage(self, usage: Usage) -> dict[str, Any]:
        return {
            **self._chunk([]),
            "usage": {
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "total_tokens": usage.total_tokens,
            },
        }
