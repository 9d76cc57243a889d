"""The OpenAI chat completions protocol as the emulator plays it: answers and objects (no I/O).

The answer is deterministic: ``You said: "<last user message>". This is turn N of this
conversation.`` (N the number of user messages), plus descriptions of media (:mod:`.openai_media`)
and tool results; tool calls when the tools call for them (:mod:`.openai_tools`); JSON for
``response_format`` (:mod:`.json_schema_values`). ``stop``, ``max_tokens`` (words), ``n``,
``logprobs`` (:mod:`.openai_logprobs`), ``usage``, ``service_tier`` and ``system_fingerprint``
behave like the real API.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import string
from dataclasses import dataclass
from typing import Any

from .demo import split_text
from .json_schema_values import Hints, value_for_schema
from .openai_chat_request import (
    MESSAGE_ROLES,
    ChatRequest,
    ResponseFormat,
    message_text,
    parse_chat_request,
)
from .openai_errors import OpenAIError, error_body
from .openai_logprobs import logprobs_object, split_tokens, token_logprobs
from .openai_media import describe_media
from .openai_tools import ToolCall, new_call_id, plan_calls, tool_results_text

__all__ = [
    "MESSAGE_ROLES",
    "ChatRequest",
    "Choice",
    "Completion",
    "OpenAIError",
    "chat_completion",
    "complete",
    "completion_chunk",
    "count_tokens",
    "error_body",
    "model_object",
    "models_list",
    "new_completion_id",
    "parse_chat_request",
    "split_text",
    "sse_bytes",
    "stream_objects",
    "system_fingerprint",
]

_ID_ALPHABET = string.ascii_letters + string.digits
_WORD = re.compile(r"\S+")


# --------------------------------------------------------------------------- the answer


def count_tokens(text: str) -> int:
    """The emulator's token count: the number of whitespace-separated words."""
    return len(text.split())


@dataclass(frozen=True)
class Choice:
    """One choice of an answer: a text (``content``) or tool calls."""

    index: int
    content: str | None
    finish_reason: str
    tool_calls: tuple[ToolCall, ...] = ()
    #: The calls are a legacy ``function_call`` (at most one).
    legacy: bool = False

    @property
    def tokens(self) -> int:
        calls = sum(count_tokens(f"{c.name} {c.arguments}") for c in self.tool_calls)
        return count_tokens(self.content or "") + calls


@dataclass(frozen=True)
class Completion:
    """The assistant's answer to a :class:`ChatRequest`: one or more choices."""

    choices: tuple[Choice, ...]
    prompt_tokens: int

    @property
    def content(self) -> str:
        """The first choice's text ("" for tool calls)."""
        return self.choices[0].content or ""

    @property
    def finish_reason(self) -> str:
        return self.choices[0].finish_reason

    @property
    def completion_tokens(self) -> int:
        return sum(choice.tokens for choice in self.choices)

    @property
    def usage(self) -> dict[str, Any]:
        """The ``usage`` object, with OpenAI's token details."""
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }


def _cut(text: str, request: ChatRequest) -> tuple[str, str]:
    """``text`` cut by ``stop`` and ``max_tokens``, with its finish reason."""
    cuts = [i for i in (text.find(s) for s in request.stop) if i >= 0]
    if cuts:
        text = text[: min(cuts)]
    if request.max_tokens is not None:
        words = list(_WORD.finditer(text))
        if len(words) > request.max_tokens:
            return text[: words[request.max_tokens - 1].end()], "length"
    return text, "stop"


def _structured(response_format: ResponseFormat, prompt: str, turn: int) -> str:
    if response_format.type == "json_object":
        return json.dumps({"you_said": prompt, "turn": turn}, ensure_ascii=False)
    value = value_for_schema(response_format.schema, Hints.from_text(prompt), response_format.name)
    return json.dumps(value, ensure_ascii=False)


def complete(request: ChatRequest) -> Completion:
    """The deterministic answer (see the module docstring)."""
    users = [m for m in request.messages if m["role"] == "user"]
    last_user = users[-1] if users else {}
    prompt = message_text(last_user.get("content"))
    text = f'You said: "{prompt}". This is turn {len(users)} of this conversation.'
    extras = [describe_media(last_user.get("content")), tool_results_text(request.messages)]
    text = " ".join([text, *(e for e in extras if e)])
    calls = plan_calls(request.tools, request.messages, prompt)
    choices = []
    for index in range(request.n):
        if calls:
            fresh = tuple(ToolCall(new_call_id(), c.name, c.arguments) for c in calls)
            legacy = request.tools.legacy
            finish = "function_call" if legacy else "tool_calls"
            choices.append(Choice(index, None, finish, fresh[:1] if legacy else fresh, legacy))
            continue
        if request.response_format is not None:
            answer = _structured(request.response_format, prompt, len(users))
        elif request.n > 1:
            answer = f"{text} (choice {index + 1} of {request.n})"
        else:
            answer = text
        content, finish = _cut(answer, request)
        choices.append(Choice(index, content, finish))
    prompt_tokens = sum(count_tokens(message_text(m.get("content"))) for m in request.messages)
    return Completion(tuple(choices), prompt_tokens)


# --------------------------------------------------------------------------- objects


def new_completion_id() -> str:
    """A fresh ``chatcmpl-…`` id (29 random letters and digits, like the real ones)."""
    return "chatcmpl-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(29))


def system_fingerprint(model: str) -> str:
    """``fp_`` and 10 hex digits of the model's hash (stable per model)."""
    return "fp_" + hashlib.sha256(model.encode()).hexdigest()[:10]


def _service_tier(request: ChatRequest) -> str:
    tier = request.service_tier
    return "default" if tier in (None, "auto") else str(tier)


def _message(choice: Choice) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": choice.content, "refusal": None}
    if choice.legacy and choice.tool_calls:
        call = choice.tool_calls[0]
        message["function_call"] = {"name": call.name, "arguments": call.arguments}
    elif choice.tool_calls:
        message["tool_calls"] = [call.tool_call() for call in choice.tool_calls]
    return message


def _whole_logprobs(request: ChatRequest, choice: Choice) -> dict[str, Any] | None:
    if not request.logprobs:
        return None
    if choice.content is None:
        return logprobs_object(None)
    return logprobs_object(token_logprobs(split_tokens(choice.content), request.top_logprobs))


def chat_completion(
    completion_id: str, created: int, request: ChatRequest, completion: Completion
) -> dict[str, Any]:
    """The non-streamed ``chat.completion`` object."""
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": request.model,
        "choices": [
            {
                "index": choice.index,
                "message": _message(choice),
                "logprobs": _whole_logprobs(request, choice),
                "finish_reason": choice.finish_reason,
            }
            for choice in completion.choices
        ],
        "usage": completion.usage,
        "service_tier": _service_tier(request),
        "system_fingerprint": system_fingerprint(request.model),
    }


def completion_chunk(
    completion_id: str,
    created: int,
    model: str,
    delta: dict[str, Any],
    finish_reason: str | None = None,
    *,
    include_usage: bool = False,
    index: int = 0,
    logprobs: dict[str, Any] | None = None,
    service_tier: str = "default",
) -> dict[str, Any]:
    """One ``chat.completion.chunk`` (with ``"usage": null`` when usage was requested)."""
    chunk: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "service_tier": service_tier,
        "system_fingerprint": system_fingerprint(model),
        "choices": [
            {"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish_reason}
        ],
    }
    if include_usage:
        chunk["usage"] = None
    return chunk


#: One streamed step of a choice: delta, finish reason, logprobs.
_Step = tuple[dict[str, Any], str | None, dict[str, Any] | None]


def _text_steps(request: ChatRequest, choice: Choice, pieces: int) -> list[_Step]:
    content = choice.content or ""
    steps: list[_Step] = [({"role": "assistant", "content": ""}, None, None)]
    if request.logprobs:
        tokens = split_tokens(content)
        groups = max(1, min(pieces, len(tokens)))
        size, extra = divmod(len(tokens), groups)
        start = 0
        for group in range(groups):
            end = start + size + (1 if group < extra else 0)
            if end > start:
                entries = token_logprobs(tokens, request.top_logprobs, start, end)
                content_piece = "".join(tokens[start:end])
                steps.append(({"content": content_piece}, None, logprobs_object(entries)))
            start = end
    else:
        steps.extend(({"content": p}, None, None) for p in split_text(content, pieces) if p)
    steps.append(({}, choice.finish_reason, None))
    return steps


def _call_steps(choice: Choice, pieces: int) -> list[_Step]:
    steps: list[_Step] = []
    for position, call in enumerate(choice.tool_calls):
        head: dict[str, Any]
        if choice.legacy:
            head = {"function_call": {"name": call.name, "arguments": ""}}
        else:
            item = {
                "index": position,
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            head = {"tool_calls": [item]}
        if position == 0:
            head = {"role": "assistant", "content": None, **head, "refusal": None}
        steps.append((head, None, None))
        for fragment in split_text(call.arguments, max(2, pieces)):
            if choice.legacy:
                steps.append(({"function_call": {"arguments": fragment}}, None, None))
            else:
                piece = {"index": position, "function": {"arguments": fragment}}
                steps.append(({"tool_calls": [piece]}, None, None))
    steps.append(({}, choice.finish_reason, None))
    return steps


def stream_objects(
    completion_id: str,
    created: int,
    request: ChatRequest,
    completion: Completion,
    pieces: int,
) -> list[dict[str, Any]]:
    """Every chunk of a streamed answer, in order (``data: [DONE]`` not included).

    Per choice: the role chunk, ``pieces`` chunks of content (or, per tool call, a chunk with
    its index, id, type, name and empty arguments, then its arguments in fragments), the chunk
    with the finish reason. With ``n`` > 1 the choices' chunks are interleaved (round robin),
    each carrying its choice's ``index``. With ``stream_options.include_usage`` a last chunk
    has ``choices: []`` and the usage.
    """
    usage = request.include_usage
    tier = _service_tier(request)
    per_choice = [
        _call_steps(choice, pieces) if choice.tool_calls else _text_steps(request, choice, pieces)
        for choice in completion.choices
    ]
    out = []
    for step in range(max(len(steps) for steps in per_choice)):
        for choice, steps in zip(completion.choices, per_choice, strict=True):
            if step < len(steps):
                delta, finish, logprobs = steps[step]
                out.append(
                    completion_chunk(
                        completion_id,
                        created,
                        request.model,
                        delta,
                        finish,
                        include_usage=usage,
                        index=choice.index,
                        logprobs=logprobs,
                        service_tier=tier,
                    )
                )
    if usage:
        last = completion_chunk(
            completion_id, created, request.model, {}, include_usage=True, service_tier=tier
        )
        last["choices"] = []
        last["usage"] = completion.usage
        out.append(last)
    return out


def sse_bytes(obj: Any) -> bytes:
    """One SSE event ``data: <compact JSON>`` followed by a blank line."""
    return b"data: " + json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode() + b"\n\n"


def model_object(model: str, created: int) -> dict[str, Any]:
    """One ``model`` object."""
    return {"id": model, "object": "model", "created": created, "owned_by": "emulator"}


def models_list(models: tuple[str, ...], created: int) -> dict[str, Any]:
    """The ``GET /v1/models`` document."""
    return {"object": "list", "data": [model_object(m, created) for m in models]}
