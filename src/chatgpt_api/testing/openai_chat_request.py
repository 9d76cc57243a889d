"""Validation of a ``POST /v1/chat/completions`` body, like the real API: :class:`ChatRequest`.

Errors are :class:`~.openai_errors.OpenAIError` with OpenAI's wording, ``param`` and ``code``.
Besides the messages (every role; text, image, audio and file parts) the emulator reads
``stream`` / ``stream_options``, ``n`` (1-128), ``max_tokens`` / ``max_completion_tokens``,
``stop``, the tool fields (:mod:`.openai_tools`), ``response_format``, ``logprobs`` /
``top_logprobs`` (0-20) and ``service_tier``. Other fields are accepted and ignored.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from .openai_errors import OpenAIError, below_min, invalid_type, invalid_value, missing
from .openai_media import check_part
from .openai_tools import ToolsRequest, parse_tools

__all__ = [
    "EMBEDDING_MODEL_MARK",
    "MESSAGE_ROLES",
    "ChatRequest",
    "ResponseFormat",
    "message_text",
    "parse_chat_request",
    "parse_json_object",
]

MESSAGE_ROLES = ("system", "assistant", "user", "function", "tool", "developer")
#: A model whose id contains this is an embeddings model, not a chat model.
EMBEDDING_MODEL_MARK = "embedding"
MAX_N = 128
MAX_TOP_LOGPROBS = 20
SERVICE_TIERS = ("auto", "default", "flex", "scale", "priority")
_MAX_STOP = 4
_SCHEMA_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
NOT_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
    "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
    "sent was not valid JSON.)"
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


def parse_json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or the API's 400 for anything else."""
    try:
        doc = json.loads(body) if body.strip() else None
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        raise OpenAIError(400, NOT_JSON)
    return doc


def _check_message(index: int, message: Any) -> dict[str, Any]:
    param = f"messages[{index}]"
    if not isinstance(message, dict):
        raise invalid_type(param, "an object", message)
    role = message.get("role")
    if role is None:
        raise missing(f"{param}.role")
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
        message.get("tool_calls") or message.get("function_call") or message.get("refusal")
    )
    if content is None and not may_be_empty:
        raise missing(f"{param}.content")
    if content is not None and not isinstance(content, str | list):
        raise invalid_type(f"{param}.content", "one of a string or array of objects", content)
    if role == "tool" and not isinstance(message.get("tool_call_id"), str):
        raise missing(f"{param}.tool_call_id")
    if isinstance(content, list):
        for j, part in enumerate(content):
            part_param = f"{param}.content[{j}]"
            if not isinstance(part, dict):
                raise invalid_type(part_param, "an object", part)
            if "type" not in part:
                raise missing(f"{part_param}.type")
            check_part(part_param, part)
    return message


def _optional_int(body: dict[str, Any], name: str, minimum: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid_type(name, "an integer", value)
    if value < minimum:
        raise below_min(name, minimum, value)
    return value


def _at_most(name: str, maximum: int, value: int | None) -> None:
    if value is not None and value > maximum:
        raise OpenAIError(
            400,
            f"Invalid '{name}': integer above maximum value. Expected a value <= {maximum}, "
            f"but got {value} instead.",
            param=name,
            code="integer_above_max_value",
        )


def _stops(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value else ()
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise invalid_type("stop", "one of a string or array of strings", value)
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
class ResponseFormat:
    """A ``response_format``: ``json_object``, or ``json_schema`` with its schema."""

    type: str
    schema: dict[str, Any] = field(default_factory=dict)
    name: str = ""


def _response_format(value: Any, messages: tuple[dict[str, Any], ...]) -> ResponseFormat | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid_type("response_format", "an object", value)
    kind = value.get("type")
    if kind is None:
        raise missing("response_format.type")
    if kind == "text":
        return None
    if kind == "json_object":
        if not any("json" in message_text(m.get("content")).lower() for m in messages):
            raise OpenAIError(
                400,
                "'messages' must contain the word 'json' in some form, to use 'response_format' "
                "of type 'json_object'.",
                param="messages",
            )
        return ResponseFormat("json_object")
    if kind != "json_schema":
        raise invalid_value(
            "response_format.type",
            f"Invalid value: '{kind}'. Supported values are: 'text', 'json_object' and "
            "'json_schema'.",
        )
    spec = value.get("json_schema")
    if spec is None:
        raise missing("response_format.json_schema")
    if not isinstance(spec, dict):
        raise invalid_type("response_format.json_schema", "an object", spec)
    name = spec.get("name")
    if name is None:
        raise missing("response_format.json_schema.name")
    if not isinstance(name, str) or not _SCHEMA_NAME.match(name):
        raise invalid_value(
            "response_format.json_schema.name",
            "Invalid 'response_format.json_schema.name': string does not match pattern. "
            "Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.",
        )
    schema = spec.get("schema", {})
    if not isinstance(schema, dict):
        raise invalid_type("response_format.json_schema.schema", "an object", schema)
    return ResponseFormat("json_schema", schema, name)


@dataclass(frozen=True)
class ChatRequest:
    """A validated ``POST /v1/chat/completions`` body."""

    model: str
    messages: tuple[dict[str, Any], ...]
    stream: bool = False
    include_usage: bool = False
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    n: int = 1
    tools: ToolsRequest = field(default_factory=ToolsRequest)
    response_format: ResponseFormat | None = None
    logprobs: bool = False
    top_logprobs: int = 0
    service_tier: str | None = None


def _stream_fields(doc: dict[str, Any]) -> tuple[bool, bool]:
    stream = doc.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise invalid_type("stream", "a boolean", stream)
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
            raise invalid_type("stream_options", "an object", options)
        flag = options.get("include_usage")
        if flag is not None and not isinstance(flag, bool):
            raise invalid_type("stream_options.include_usage", "a boolean", flag)
        include_usage = bool(flag)
    return bool(stream), include_usage


def _logprob_fields(doc: dict[str, Any]) -> tuple[bool, int]:
    logprobs = doc.get("logprobs")
    if logprobs is not None and not isinstance(logprobs, bool):
        raise invalid_type("logprobs", "a boolean", logprobs)
    top = _optional_int(doc, "top_logprobs", 0)
    _at_most("top_logprobs", MAX_TOP_LOGPROBS, top)
    if top is not None and not logprobs:
        raise OpenAIError(
            400,
            "Invalid value for 'top_logprobs': 'logprobs' must be set to true when "
            "'top_logprobs' is used.",
            param="top_logprobs",
        )
    return bool(logprobs), top or 0


def _service_tier(doc: dict[str, Any]) -> str | None:
    tier = doc.get("service_tier")
    if tier is not None and tier not in SERVICE_TIERS:
        raise invalid_value(
            "service_tier",
            f"Invalid value: {json.dumps(tier)}. Supported values are: "
            + ", ".join(f"'{t}'" for t in SERVICE_TIERS)
            + ".",
        )
    return tier if isinstance(tier, str) else None


def parse_chat_request(body: bytes, models: tuple[str, ...]) -> ChatRequest:
    """Validate a request body like the real API; raises :class:`OpenAIError` (400 / 404)."""
    doc = parse_json_object(body)
    model = doc.get("model")
    if model is None:
        raise missing("model")
    if not isinstance(model, str):
        raise invalid_type("model", "a string", model)
    raw_messages = doc.get("messages")
    if raw_messages is None:
        raise missing("messages")
    if not isinstance(raw_messages, list):
        raise invalid_type("messages", "an array", raw_messages)
    if not raw_messages:
        raise OpenAIError(
            400,
            "Invalid 'messages': empty array. Expected an array with minimum length 1, "
            "but got an empty array instead.",
            param="messages",
            code="empty_array",
        )
    messages = tuple(_check_message(i, m) for i, m in enumerate(raw_messages))
    stream, include_usage = _stream_fields(doc)
    n = _optional_int(doc, "n", 1)
    _at_most("n", MAX_N, n)
    max_tokens = _optional_int(doc, "max_tokens", 1)
    max_completion = _optional_int(doc, "max_completion_tokens", 1)
    stop = _stops(doc.get("stop"))
    tools = parse_tools(doc)
    response_format = _response_format(doc.get("response_format"), messages)
    logprobs, top_logprobs = _logprob_fields(doc)
    service_tier = _service_tier(doc)
    if model not in models:
        raise OpenAIError(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            code="model_not_found",
        )
    if EMBEDDING_MODEL_MARK in model:
        raise OpenAIError(
            404,
            "This is not a chat model and thus not supported in the v1/chat/completions endpoint.",
            param="model",
            code="model_not_found",
        )
    return ChatRequest(
        model=model,
        messages=messages,
        stream=stream,
        include_usage=include_usage,
        max_tokens=max_completion if max_completion is not None else max_tokens,
        stop=stop,
        n=n or 1,
        tools=tools,
        response_format=response_format,
        logprobs=logprobs,
        top_logprobs=top_logprobs,
        service_tier=service_tier,
    )
