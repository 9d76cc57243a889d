"""Answers in the Anthropic Messages API's shapes: the ``message`` object and its event stream.

From the assembled answer: a ``thinking`` block, a ``text`` block and a ``tool_use`` block per
tool call, with ``stop_reason`` mapped from the finish reason; usage is the upstream's or
estimated (about four characters a token). The stream is Anthropic's event sequence, arguments
relayed as they arrive; a failure after the start is one ``event: error`` frame. On the ChatGPT
web backend :class:`TextLimiter` enforces ``max_tokens`` and ``stop_sequences`` on what is shown
(the upstream's whole answer is still stored). ``conversation_id`` and ``message_id`` are
extension fields for a follow-up.
"""

from __future__ import annotations

import math
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

import orjson

from chatgpt_api.api.anthropic_bridge import MessagesInput
from chatgpt_api.api.anthropic_content import anthropic_tool_id, estimate_tokens
from chatgpt_api.api.anthropic_errors import anthropic_error_body, error_frame
from chatgpt_api.errors import UpstreamProtocolError
from chatgpt_api.messages import ChatEvent, Finished, JSONObject, TextDelta, TextReset
from chatgpt_api.service import next_event

CHARS_PER_TOKEN = 4
_STOP_REASONS = {
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "length": "max_tokens",
    "content_filter": "refusal",
}


@dataclass(frozen=True, slots=True)
class Cut:
    """The visible part of an answer and why it ended there (None: it did not)."""

    text: str
    stop_reason: str | None = None
    stop_sequence: str | None = None


class TextLimiter:
    """``max_tokens`` and ``stop_sequences`` applied by the gateway to a text answer."""

    def __init__(self, max_tokens: int, stop_sequences: tuple[str, ...]) -> None:
        self.max_chars = max_tokens * CHARS_PER_TOKEN
        self.stops = tuple(s for s in stop_sequences if s)
        self._hold = max((len(s) for s in self.stops), default=1) - 1

    def cut(self, text: str, *, final: bool) -> Cut:
        """What of ``text`` may be shown; ``final``: the answer is complete."""
        found = [(text.find(s), s) for s in self.stops if s in text]
        if found:
            index, sequence = min(found)
            if index <= self.max_chars:
                return Cut(text[:index], "stop_sequence", sequence)
        if len(text) > self.max_chars:
            return Cut(text[: self.max_chars], "max_tokens")
        if final:
            return Cut(text)
        # A stop sequence may begin in the last characters: hold them back for now.
        return Cut(text[: max(0, len(text) - self._hold)])


@dataclass(frozen=True, slots=True)
class MessageMeta:
    id: str
    request: MessagesInput


def stop_reason(finish_reason: str | None, has_tool_calls: bool) -> str:
    if has_tool_calls:
        return "tool_use"
    return _STOP_REASONS.get(finish_reason or "", "end_turn")


def matched_stop(choice: JSONObject, stops: tuple[str, ...]) -> str | None:
    """The stop sequence an upstream says ended the choice (vLLM's ``stop_reason``)."""
    value = choice.get("stop_reason")
    return value if isinstance(value, str) and value in stops else None


def _tool_input(arguments: Any) -> dict[str, Any]:
    try:
        value = orjson.loads(arguments) if isinstance(arguments, str) and arguments else {}
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise UpstreamProtocolError("the upstream's tool call arguments are not a JSON object")
    return value


def _usage(input_tokens: int, output_tokens: int) -> dict[str, int]:
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


def _ids(answer: Finished) -> dict[str, Any]:
    return {"conversation_id": answer.conversation_id, "message_id": answer.message_id}


def message_object(answer: Finished, meta: MessageMeta) -> dict[str, Any]:
    """The whole answer as an Anthropic ``message``."""
    choice = answer.all_choices()[0]
    message = choice.message
    content: list[dict[str, Any]] = []
    reasoning = message.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning:
        content.append({"type": "thinking", "thinking": reasoning, "signature": ""})
    text = choice.text or (message.get("refusal") or "")
    reason: str | None = None
    sequence: str | None = None
    if meta.request.gateway_limits:
        cut = TextLimiter(meta.request.max_tokens, meta.request.stop_sequences).cut(
            text, final=True
        )
        text, reason, sequence = cut.text, cut.stop_reason, cut.stop_sequence
    if text:
        content.append({"type": "text", "text": text})
    calls = message.get("tool_calls") or []
    for call in calls:
        function = call.get("function") or {}
        content.append(
            {
                "type": "tool_use",
                "id": anthropic_tool_id(str(call.get("id") or "")),
                "name": function.get("name") or "",
                "input": _tool_input(function.get("arguments")),
            }
        )
    if reason is None and answer.raw is not None:
        raw_choices = answer.raw.get("choices") or [{}]
        sequence = matched_stop(raw_choices[0], meta.request.stop_sequences)
        reason = "stop_sequence" if sequence else None
    reason = reason or stop_reason(choice.finish_reason or answer.finish_reason, bool(calls))
    usage = answer.usage
    output_tokens = (
        usage.completion_tokens
        if usage is not None and not meta.request.gateway_limits
        else estimate_tokens(text)
    )
    input_tokens = usage.prompt_tokens if usage is not None else meta.request.input_tokens
    return {
        "id": meta.id,
        "type": "message",
        "role": "assistant",
        "model": meta.request.model,
        "content": content,
        "stop_reason": reason,
        "stop_sequence": sequence,
        "usage": _usage(input_tokens, output_tokens),
        **_ids(answer),
    }


def _event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: ".encode() + orjson.dumps(data) + b"\n\n"


@dataclass(slots=True)
class _Blocks:
    """The content blocks of a stream: one open at a time, in order."""

    count: int = 0
    open_key: str | None = None
    open_index: int = -1
    #: Upstream tool call index → our block index.
    tools: dict[int, int] = field(default_factory=dict)
    tool_calls: int = 0

    def start(self, key: str, block: dict[str, Any]) -> list[bytes]:
        frames = self.stop()
        self.open_key, self.open_index = key, self.count
        self.count += 1
        frames.append(
            _event(
                "content_block_start",
                {"type": "content_block_start", "index": self.open_index, "content_block": block},
            )
        )
        return frames

    def stop(self) -> list[bytes]:
        if self.open_key is None:
            return []
        frame = _event(
            "content_block_stop", {"type": "content_block_stop", "index": self.open_index}
        )
        self.open_key = None
        return [frame]

    def delta(self, index: int, delta: dict[str, Any]) -> bytes:
        return _event(
            "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
        )

    def text(self, kind: str, text: str) -> list[bytes]:
        """A text or thinking fragment, opening its block if needed."""
        frames: list[bytes] = []
        if self.open_key != kind:
            block = (
                {"type": "text", "text": ""}
                if kind == "text"
                else {"type": "thinking", "thinking": "", "signature": ""}
            )
            frames = self.start(kind, block)
        delta = (
            {"type": "text_delta", "text": text}
            if kind == "text"
            else {"type": "thinking_delta", "thinking": text}
        )
        frames.append(self.delta(self.open_index, delta))
        return frames

    def tool_fragment(self, fragment: JSONObject) -> list[bytes]:
        """A ``tool_calls`` fragment of a chunk: a new ``tool_use`` block or its input."""
        position = fragment.get("index", 0)
        function = fragment.get("function") or {}
        frames: list[bytes] = []
        if position not in self.tools:
            block: dict[str, Any] = {
                "type": "tool_use",
                "id": anthropic_tool_id(str(fragment.get("id") or "")),
                "name": function.get("name") or "",
                "input": {},
            }
            frames = self.start(f"tool:{position}", block)
            self.tools[position] = self.open_index
            self.tool_calls += 1
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            partial = {"type": "input_json_delta", "partial_json": arguments}
            frames.append(self.delta(self.tools[position], partial))
        return frames


@dataclass(slots=True)
class _StreamState:
    blocks: _Blocks = field(default_factory=_Blocks)
    finish_reason: str | None = None
    #: The client's stop sequences, and the one the upstream says it matched (vLLM).
    stops: tuple[str, ...] = ()
    stop_sequence: str | None = None
    #: Text answers (web): the text so far and what was shown of it.
    text: str = ""
    shown: str = ""
    cut: Cut | None = None


def _relayed_frames(state: _StreamState, chunk: JSONObject) -> list[bytes]:
    """The frames for one upstream ``chat.completion.chunk`` (choice 0)."""
    frames: list[bytes] = []
    for choice in chunk.get("choices") or []:
        if not isinstance(choice, dict) or choice.get("index", 0) != 0:
            continue
        delta = choice.get("delta") or {}
        reasoning = delta.get("reasoning_content")
        if isinstance(reasoning, str) and reasoning:
            frames += state.blocks.text("thinking", reasoning)
        for name in ("content", "refusal"):
            text = delta.get(name)
            if isinstance(text, str) and text:
                frames += state.blocks.text("text", text)
        for fragment in delta.get("tool_calls") or []:
            if isinstance(fragment, dict):
                frames += state.blocks.tool_fragment(fragment)
        if choice.get("finish_reason"):
            state.finish_reason = choice["finish_reason"]
            state.stop_sequence = matched_stop(choice, state.stops)
    return frames


def _limited_frames(state: _StreamState, limiter: TextLimiter, *, final: bool) -> list[bytes]:
    """New visible text of a text-only answer (ChatGPT web), within the gateway's limits."""
    if state.cut is not None and state.cut.stop_reason is not None:
        return []
    cut = limiter.cut(state.text, final=final)
    state.cut = cut
    if not cut.text.startswith(state.shown) or len(cut.text) == len(state.shown):
        return []  # nothing new, or a rewrite of text already sent (it cannot be taken back)
    new = cut.text[len(state.shown) :]
    state.shown = cut.text
    return state.blocks.text("text", new)


def _whole_answer_frames(state: _StreamState, answer: Finished) -> list[bytes]:
    """The blocks of an answer that arrived whole, as one delta each."""
    choice = answer.all_choices()[0]
    message = choice.message
    state.finish_reason = choice.finish_reason or answer.finish_reason
    if answer.raw is not None:
        state.stop_sequence = matched_stop((answer.raw.get("choices") or [{}])[0], state.stops)
    frames: list[bytes] = []
    reasoning = message.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning:
        frames += state.blocks.text("thinking", reasoning)
    text = choice.text or message.get("refusal") or ""
    if text:
        frames += state.blocks.text("text", text)
    for position, call in enumerate(message.get("tool_calls") or []):
        frames += state.blocks.tool_fragment({**call, "index": position})
    return frames


def _start_frame(meta: MessageMeta) -> bytes:
    message: dict[str, Any] = {
        "id": meta.id,
        "type": "message",
        "role": "assistant",
        "model": meta.request.model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": _usage(meta.request.input_tokens, 0),
    }
    return _event("message_start", {"type": "message_start", "message": message})


def _end_frames(state: _StreamState, answer: Finished, meta: MessageMeta) -> list[bytes]:
    frames = state.blocks.stop()
    limited = state.cut if meta.request.gateway_limits else None
    sequence = limited.stop_sequence if limited else state.stop_sequence
    reason = (limited.stop_reason if limited else None) or stop_reason(
        state.finish_reason or answer.finish_reason, state.blocks.tool_calls > 0
    )
    if state.stop_sequence and not limited:
        reason = "stop_sequence"
    usage = answer.usage
    if usage is not None and not meta.request.gateway_limits:
        output_tokens = usage.completion_tokens
    else:
        shown = state.shown if meta.request.gateway_limits else answer.text
        output_tokens = math.ceil(len(shown) / CHARS_PER_TOKEN)
    input_tokens = usage.prompt_tokens if usage is not None else meta.request.input_tokens
    delta = {
        "type": "message_delta",
        "delta": {
            "stop_reason": reason,
            "stop_sequence": sequence,
        },
        "usage": _usage(input_tokens, output_tokens),
        **_ids(answer),
    }
    frames.append(_event("message_delta", delta))
    frames.append(_event("message_stop", {"type": "message_stop"}))
    return frames


async def message_frames(
    first: ChatEvent,
    events: AsyncGenerator[ChatEvent, None],
    meta: MessageMeta,
    request_id: str,
    deadline: float | None = None,
) -> AsyncGenerator[bytes, None]:
    """The Anthropic event stream of a turn whose first event is ``first``."""
    state = _StreamState(stops=meta.request.stop_sequences)
    if meta.request.gateway_limits:
        limiter = TextLimiter(meta.request.max_tokens, meta.request.stop_sequences)
    else:
        limiter = TextLimiter(1 << 40, ())  # OpenAI-style upstreams apply the limits
    yield _start_frame(meta)
    yield _event("ping", {"type": "ping"})
    event = first
    try:
        while not isinstance(event, Finished):
            frames: list[bytes]
            if isinstance(event, TextDelta) and event.raw is not None:
                frames = _relayed_frames(state, event.raw)
            else:
                if isinstance(event, TextReset):
                    state.text = event.text
                else:
                    state.text += event.text
                frames = _limited_frames(state, limiter, final=False)
            for frame in frames:
                yield frame
            event = await next_event(events, deadline)
        if meta.request.gateway_limits:
            state.text = event.text or state.text
            frames = _limited_frames(state, limiter, final=True)
        elif state.blocks.count == 0:
            frames = _whole_answer_frames(state, event)  # the upstream answered in one piece
        else:
            frames = []
        for frame in frames:
            yield frame
    except Exception as exc:
        _, body, _ = anthropic_error_body(exc, request_id)
        yield error_frame(body)
        return
    finally:
        await events.aclose()
    for frame in _end_frames(state, event, meta):
        yield frame
