"""The OpenAI chat completions protocol as the emulator plays it: validation, answers, objects.

Nothing here does I/O; :mod:`.openai_emulator` serves these objects over HTTP.

The answer is deterministic: ``You said: "<last user message>". This is turn N of this
conversation.`` where N is the number of user messages in the request (so a history rebuilt
by a gateway is visible in the answer). ``stop`` cuts the answer at the first stop string
(finish reason ``stop``), ``max_tokens`` / ``max_completion_tokens`` keep that many words
(finish reason ``length``). Tokens are counted as whitespace-separated words.
"""

from __future__ import annotations

import json
import re
import secrets
import string
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "MESSAGE_ROLES",
    "ChatRequest",
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
    "sse_bytes",
    "stream_objects",
]

MESSAGE_ROLES = ("system", "assistant", "user", "function", "tool", "developer")
_MAX_STOP = 4
_ID_ALPHABET = string.ascii_letters + string.digits
_WORD = re.compile(r"\S+")
_NOT_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
    "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
    "sent was not valid JSON.)"
)


def error_body(
    message: str,
    type_: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    """An OpenAI error document: ``{"error": {message, type, param, code}}``."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


@dataclass
class OpenAIError(Exception):
    """A request the emulator refuses, with the OpenAI error body to answer."""

    status: int
    message: str
    type: str = "invalid_request_error"
    param: str | None = None
    code: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        """The JSON error document."""
        return error_body(self.message, self.type, self.param, self.code)


# --------------------------------------------------------------------------- validation


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _invalid_type(param: str, expected: str, value: Any) -> OpenAIError:
    return OpenAIError(
        400,
        f"Invalid type for '{param}': expected {expected}, but got {_json_type(value)} instead.",
        param=param,
        code="invalid_type",
    )


def _missing(param: str) -> OpenAIError:
    return OpenAIError(
        400,
        f"Missing required parameter: '{param}'.",
        param=param,
        code="missing_required_parameter",
    )


def _below_min(param: str, minimum: int, value: int) -> OpenAIError:
    return OpenAIError(
        400,
        f"Invalid '{param}': integer below minimum value. Expected a value >= {minimum}, "
        f"but got {value} instead.",
        param=param,
        code="integer_below_min_value",
    )


def message_text(content: Any) -> str:
    """The text of a message's ``content`` (a string, or text parts joined by newlines)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        ]
        return "\n".join(texts)
    return ""


def _check_message(index: int, message: Any) -> dict[str, Any]:
    param = f"messages[{index}]"
    if not isinstance(message, dict):
        raise _invalid_type(param, "an object", message)
    role = message.get("role")
    if role is None:
        raise _missing(f"{param}.role")
    if role not in MESSAGE_ROLES:
        supported = ", ".join(f"'{r}'" for r in MESSAGE_ROLES[:-1])
        raise OpenAIError(
            400,
            f"Invalid value: {json.dumps(role)}. Supported values are: {supported}, "
            f"and '{MESSAGE_ROLES[-1]}'.",
            param=f"{param}.role",
            code="invalid_value",
        )
    content = message.get("content")
    may_be_empty = role == "assistant" and (
        message.get("tool_calls") or message.get("function_call")
    )
    if content is None and not may_be_empty:
        raise _missing(f"{param}.content")
    if content is not None and not isinstance(content, str | list):
        raise _invalid_type(f"{param}.content", "one of a string or array of objects", content)
    if isinstance(content, list):
        for j, part in enumerate(content):
            part_param = f"{param}.content[{j}]"
            if not isinstance(part, dict):
                raise _invalid_type(part_param, "an object", part)
            if "type" not in part:
                raise _missing(f"{part_param}.type")
            if part["type"] == "text" and not isinstance(part.get("text"), str):
                raise _missing(f"{part_param}.text")
    return message


def _optional_int(body: dict[str, Any], name: str, minimum: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid_type(name, "an integer", value)
    if value < minimum:
        raise _below_min(name, minimum, value)
    return value


def _stops(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value else ()
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise _invalid_type("stop", "one of a string or array of strings", value)
    if len(value) > _MAX_STOP:
        raise OpenAIError(
            400,
            f"Invalid 'stop': array too long. Expected an array with maximum length {_MAX_STOP}, "
            f"but got an array with length {len(value)} instead.",
            param="stop",
            code="array_above_max_length",
        )
    return tuple(s for s in value if s)


@dataclass(frozen=True)
class ChatRequest:
    """A validated ``POST /v1/chat/completions`` body."""

    model: str
    messages: tuple[dict[str, Any], ...]
    stream: bool = False
    include_usage: bool = False
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()


def parse_chat_request(body: bytes, models: tuple[str, ...]) -> ChatRequest:
    """Validate a request body like the real API; raises :class:`OpenAIError` (400 / 404)."""
    try:
        doc = json.loads(body) if body.strip() else None
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        raise OpenAIError(400, _NOT_JSON)
    model = doc.get("model")
    if model is None:
        raise _missing("model")
    if not isinstance(model, str):
        raise _invalid_type("model", "a string", model)
    raw_messages = doc.get("messages")
    if raw_messages is None:
        raise _missing("messages")
    if not isinstance(raw_messages, list):
        raise _invalid_type("messages", "an array", raw_messages)
    if not raw_messages:
        raise OpenAIError(
            400,
            "Invalid 'messages': empty array. Expected an array with minimum length 1, "
            "but got an empty array instead.",
            param="messages",
            code="empty_array",
        )
    messages = tuple(_check_message(i, m) for i, m in enumerate(raw_messages))
    stream = doc.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise _invalid_type("stream", "a boolean", stream)
    options = doc.get("stream_options")
    include_usage = False
    if options is not None:
        if not stream:
            raise OpenAIError(
                400,
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                param="stream_options",
            )
        if not isinstance(options, dict):
            raise _invalid_type("stream_options", "an object", options)
        flag = options.get("include_usage")
        if flag is not None and not isinstance(flag, bool):
            raise _invalid_type("stream_options.include_usage", "a boolean", flag)
        include_usage = bool(flag)
    n = _optional_int(doc, "n", 1)
    if n is not None and n > 1:
        raise OpenAIError(
            400,
            f"Invalid 'n': the emulator only supports n=1, got {n}.",
            param="n",
            code="unsupported_value",
        )
    max_tokens = _optional_int(doc, "max_tokens", 1)
    max_completion = _optional_int(doc, "max_completion_tokens", 1)
    stop = _stops(doc.get("stop"))
    if model not in models:
        raise OpenAIError(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            code="model_not_found",
        )
    return ChatRequest(
        model=model,
        messages=messages,
        stream=bool(stream),
        include_usage=include_usage,
        max_tokens=max_completion if max_completion is not None else max_tokens,
        stop=stop,
    )


# --------------------------------------------------------------------------- the answer


def count_tokens(text: str) -> int:
    """The emulator's token count: the number of whitespace-separated words."""
    return len(text.split())


@dataclass(frozen=True)
class Completion:
    """The assistant's answer to a :class:`ChatRequest`."""

    content: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int

    @property
    def usage(self) -> dict[str, int]:
        """The ``usage`` object."""
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }


def complete(request: ChatRequest) -> Completion:
    """The deterministic answer, cut by ``stop`` and ``max_tokens``."""
    user_texts = [message_text(m.get("content")) for m in request.messages if m["role"] == "user"]
    prompt = user_texts[-1] if user_texts else ""
    text = f'You said: "{prompt}". This is turn {len(user_texts)} of this conversation.'
    cuts = [i for i in (text.find(s) for s in request.stop) if i >= 0]
    if cuts:
        text = text[: min(cuts)]
    finish_reason = "stop"
    if request.max_tokens is not None:
        words = list(_WORD.finditer(text))
        if len(words) > request.max_tokens:
            text = text[: words[request.max_tokens - 1].end()]
            finish_reason = "length"
    prompt_tokens = sum(count_tokens(message_text(m.get("content"))) for m in request.messages)
    return Completion(text, finish_reason, prompt_tokens, count_tokens(text))


# --------------------------------------------------------------------------- objects


def new_completion_id() -> str:
    """A fresh ``chatcmpl-…`` id (29 random letters and digits, like the real ones)."""
    return "chatcmpl-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(29))


def chat_completion(
    completion_id: str, created: int, model: str, completion: Completion
) -> dict[str, Any]:
    """The non-streamed ``chat.completion`` object."""
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": completion.content,
                    "refusal": None,
                },
                "logprobs": None,
                "finish_reason": completion.finish_reason,
            }
        ],
        "usage": completion.usage,
        "system_fingerprint": None,
    }


def completion_chunk(
    completion_id: str,
    created: int,
    model: str,
    delta: dict[str, Any],
    finish_reason: str | None = None,
    *,
    include_usage: bool = False,
) -> dict[str, Any]:
    """One ``chat.completion.chunk`` (with ``"usage": null`` when usage was requested)."""
    chunk: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": None,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }
    if include_usage:
        chunk["usage"] = None
    return chunk


def stream_objects(
    completion_id: str,
    created: int,
    request: ChatRequest,
    completion: Completion,
    pieces: list[str],
) -> list[dict[str, Any]]:
    """Every chunk of a streamed answer, in order (``data: [DONE]`` not included).

    The role chunk, one chunk per piece of content, the chunk with the finish reason, and
    with ``stream_options.include_usage`` a last chunk with ``choices: []`` and the usage.
    """
    usage = request.include_usage

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return completion_chunk(
            completion_id, created, request.model, delta, finish_reason, include_usage=usage
        )

    out = [chunk({"role": "assistant", "content": ""})]
    out.extend(chunk({"content": piece}) for piece in pieces if piece)
    out.append(chunk({}, completion.finish_reason))
    if usage:
        last = chunk({})
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
