"""Responses API request → chat completions: input items to messages, fields to passthrough.

Items become :class:`Message` values with ``raw``: ``message`` parts (text, image, file,
output text, refusal), ``function_call`` → the assistant's ``tool_calls``,
``function_call_output`` → a ``tool`` message, a ``compaction`` item → a system message with
its summary; ``instructions`` lead this turn only; handed-back ``reasoning`` items are kept, not
sent. Request fields map onto their chat completions twins (``max_output_tokens``,
``text.format``, ``reasoning.effort``, tools); what has no equivalent, or that the ChatGPT web
backend cannot honour, is a 400 naming the field.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from typing import Any, cast

import orjson

from chatgpt_api.api.responses_models import ResponsesRequest
from chatgpt_api.capabilities import check_web_request
from chatgpt_api.errors import RequestError
from chatgpt_api.messages import JSONObject, Message, Role
from chatgpt_api.registry import ModelRoute

#: ``include`` values the bridge honours (encrypted reasoning: bridged answers have none).
INCLUDES = frozenset({"message.output_text.logprobs", "reasoning.encrypted_content"})
_MESSAGE_ROLES = frozenset({"user", "system", "developer", "assistant"})
#: Request fields copied to the chat completions request under the same name.
_SAME_NAME = (
    "temperature",
    "top_p",
    "user",
    "safety_identifier",
    "prompt_cache_key",
    "service_tier",
    "top_logprobs",
)


def item_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def _fail(message: str, param: str) -> RequestError:
    return RequestError(message, param=param)


@dataclass(frozen=True, slots=True)
class BridgedInput:
    #: The new messages of the turn, in chat form.
    messages: tuple[Message, ...]
    #: ``instructions`` as a system message: sent first on this turn, never stored.
    instructions: tuple[Message, ...]
    #: The input items as stored and listed by ``GET /v1/responses/{id}/input_items``.
    items: tuple[JSONObject, ...]


def input_items(request: ResponsesRequest) -> list[dict[str, Any]]:
    """The request's input as items, each with an ``id`` (a string input is one user message)."""
    raw = request.input
    if raw is None:
        return []
    if isinstance(raw, str):
        return [_message_item("user", [{"type": "input_text", "text": raw}])]
    return normalized_items(raw)


def normalized_items(raw: list[Any], param: str = "input") -> list[dict[str, Any]]:
    """Items as stored and listed: each with an ``id`` and a ``type``, message content as parts."""
    items: list[dict[str, Any]] = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise _fail("Each item must be an object.", f"{param}[{index}]")
        kind = item.get("type", "message" if "role" in item else None)
        if kind == "message":
            content = item.get("content")
            if isinstance(content, str):
                text_type = "output_text" if item.get("role") == "assistant" else "input_text"
                content = [{"type": text_type, "text": content}]
            items.append({**_message_item(item.get("role"), content), **item, "content": content})
            items[-1].setdefault("type", "message")
        elif isinstance(kind, str):
            prefix = {"function_call": "fc", "reasoning": "rs"}.get(kind, "item")
            items.append({"id": item_id(prefix), **item})
        else:
            raise _fail("Each item needs a 'type' (or a 'role').", f"{param}[{index}]")
    return items


def _message_item(role: Any, content: Any) -> dict[str, Any]:
    return {
        "id": item_id("msg"),
        "type": "message",
        "role": role,
        "content": content,
        "status": "completed",
    }


def bridge_input(request: ResponsesRequest) -> BridgedInput:
    items = input_items(request)
    messages = item_messages(items)
    if not messages:
        raise _fail("'input' must hold at least one message or item.", "input")
    instructions = (Message("system", request.instructions),) if request.instructions else ()
    return BridgedInput(tuple(messages), instructions, tuple(items))


def item_messages(items: list[dict[str, Any]], param: str = "input") -> list[Message]:
    """Normalized items as chat messages (function calls folded into assistant messages)."""
    messages: list[Message] = []
    for index, item in enumerate(items):
        _add_item(messages, item, f"{param}[{index}]")
    return messages


def _add_item(messages: list[Message], item: dict[str, Any], param: str) -> None:
    kind = item["type"]
    if kind == "message":
        messages.append(_message(item, param))
    elif kind == "function_call":
        _add_call(messages, item, param)
    elif kind == "function_call_output":
        messages.append(_call_output(item, param))
    elif kind == "reasoning":
        return
    elif kind == "compaction":
        messages.append(compaction_message(item, param))
    elif kind == "item_reference":
        raise _fail(
            "'item_reference' input items are not supported: send the item itself, or "
            "continue with 'previous_response_id'.",
            f"{param}.type",
        )
    else:
        raise _fail(
            f"Input items of type '{kind}' are not supported by this gateway (it serves "
            "message, function_call, function_call_output and reasoning items).",
            f"{param}.type",
        )


def _string(item: dict[str, Any], name: str, param: str) -> str:
    value = item.get(name)
    if not isinstance(value, str):
        raise _fail(f"Invalid '{name}': expected a string.", f"{param}.{name}")
    return value


def _message(item: dict[str, Any], param: str) -> Message:
    role = item.get("role")
    if role not in _MESSAGE_ROLES:
        raise _fail(
            "Invalid 'role': expected one of assistant, developer, system, user.",
            f"{param}.role",
        )
    content = item.get("content")
    if not isinstance(content, list):
        raise _fail("Invalid 'content': expected a string or a list of parts.", f"{param}.content")
    if role == "assistant":
        return _assistant(content, param)
    parts = [_input_part(part, f"{param}.content[{i}]") for i, part in enumerate(content)]
    text = "\n".join(p["text"] for p in parts if p["type"] == "text")
    if all(p["type"] == "text" for p in parts):
        return Message(cast(Role, role), text)
    return Message(cast(Role, role), text, {"role": role, "content": parts})


def _input_part(part: Any, param: str) -> dict[str, Any]:
    if not isinstance(part, dict):
        raise _fail("Each content part must be an object with a 'type'.", param)
    kind = part.get("type")
    if kind in ("input_text", "output_text", "text"):
        return {"type": "text", "text": _string(part, "text", param)}
    if kind == "input_image":
        url = part.get("image_url")
        if not isinstance(url, str):
            raise _fail(
                "Invalid 'input_image': 'image_url' (a URL or a data URL) is required; file "
                "ids are not supported by this gateway.",
                f"{param}.image_url",
            )
        return {
            "type": "image_url",
            "image_url": {"url": url, "detail": part.get("detail") or "auto"},
        }
    if kind == "input_file":
        data = part.get("file_data")
        if not isinstance(data, str):
            raise _fail(
                "Invalid 'input_file': 'file_data' is required; file ids and file URLs are "
                "not supported by this gateway.",
                f"{param}.file_data",
            )
        file: dict[str, Any] = {"file_data": data}
        if isinstance(part.get("filename"), str):
            file["filename"] = part["filename"]
        return {"type": "file", "file": file}
    raise _fail(f"Content parts of type '{kind}' are not supported here.", f"{param}.type")


def _assistant(content: list[Any], param: str) -> Message:
    texts: list[str] = []
    refusals: list[str] = []
    for i, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("output_text", "input_text", "text"):
            texts.append(_string(part, "text", f"{param}.content[{i}]"))
        elif kind == "refusal":
            refusals.append(_string(part, "refusal", f"{param}.content[{i}]"))
        else:
            raise _fail(
                f"Assistant content parts of type '{kind}' are not supported.",
                f"{param}.content[{i}].type",
            )
    text = "".join(texts)
    if not refusals:
        return Message("assistant", text)
    return Message(
        "assistant",
        text,
        {"role": "assistant", "content": text or None, "refusal": "".join(refusals)},
    )


def _add_call(messages: list[Message], item: dict[str, Any], param: str) -> None:
    call = {
        "id": _string(item, "call_id", param),
        "type": "function",
        "function": {
            "name": _string(item, "name", param),
            "arguments": _string(item, "arguments", param),
        },
    }
    last = messages[-1] if messages else None
    if last is not None and last.role == "assistant":
        wire = dict(last.wire())
        wire["tool_calls"] = [*wire.get("tool_calls", []), call]
        if not wire.get("content"):
            wire["content"] = None
        messages[-1] = Message("assistant", last.content, wire)
        return
    messages.append(
        Message("assistant", "", {"role": "assistant", "content": None, "tool_calls": [call]})
    )


def _call_output(item: dict[str, Any], param: str) -> Message:
    output = item.get("output")
    if isinstance(output, list):
        parts = [_input_part(part, f"{param}.output[{i}]") for i, part in enumerate(output)]
        if any(p["type"] != "text" for p in parts):
            raise _fail(
                "Only text parts can be sent back in a function_call_output through a chat "
                "completions upstream.",
                f"{param}.output",
            )
        output = "\n".join(p["text"] for p in parts)
    if not isinstance(output, str):
        raise _fail("Invalid 'output': expected a string or a list of parts.", f"{param}.output")
    wire = {"role": "tool", "tool_call_id": _string(item, "call_id", param), "content": output}
    return Message("tool", output, wire)


_PREFIX = "chatgpt-api.compaction.v1:"


def encode_summary(summary: str) -> str:
    return _PREFIX + base64.urlsafe_b64encode(orjson.dumps({"summary": summary})).decode()


def compaction_message(item: dict[str, Any], param: str) -> Message:
    """A ``compaction`` input item as the message it stands for."""
    content = item.get("encrypted_content")
    summary = None
    if isinstance(content, str) and content.startswith(_PREFIX):
        try:
            summary = orjson.loads(base64.urlsafe_b64decode(content[len(_PREFIX) :]))["summary"]
        except (binascii.Error, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            summary = None
    if not isinstance(summary, str):
        raise RequestError(
            "Invalid 'encrypted_content': not a compaction made by this gateway.",
            param=f"{param}.encrypted_content",
        )
    return Message("system", f"Summary of the conversation so far:\n\n{summary}")


# --- request fields ------------------------------------------------------------------------


def chat_fields(request: ResponsesRequest) -> list[tuple[str, str, Any]]:
    """``(responses param, chat completions field, value)`` for everything to send upstream."""
    fields: list[tuple[str, str, Any]] = []
    unsupported = {
        "background": request.background or None,
        "prompt": request.prompt,
        "max_tool_calls": request.max_tool_calls,
    }
    for name, value in unsupported.items():
        if value is not None:
            raise _fail(f"'{name}' is not supported by this gateway.", name)
    if request.tools:
        fields.append(("tools", "tools", [_tool(t, i) for i, t in enumerate(request.tools)]))
        if request.parallel_tool_calls is not None:
            fields.append(
                ("parallel_tool_calls", "parallel_tool_calls", request.parallel_tool_calls)
            )
    if request.tool_choice is not None:
        fields.append(("tool_choice", "tool_choice", _tool_choice(request.tool_choice)))
    if request.text is not None:
        if request.text.format is not None:
            response_format = _response_format(request.text.format)
            if response_format is not None:
                fields.append(("text.format", "response_format", response_format))
        if request.text.verbosity is not None:
            fields.append(("text.verbosity", "verbosity", request.text.verbosity))
    if request.max_output_tokens is not None:
        fields.append(("max_output_tokens", "max_completion_tokens", request.max_output_tokens))
    if request.reasoning is not None:
        for name in ("summary", "generate_summary"):
            if getattr(request.reasoning, name) is not None:
                raise _fail(
                    "Reasoning summaries are not available through a chat completions "
                    "upstream: leave 'reasoning.summary' unset.",
                    f"reasoning.{name}",
                )
        if request.reasoning.effort is not None:
            fields.append(("reasoning.effort", "reasoning_effort", request.reasoning.effort))
    for index, included in enumerate(request.include or ()):
        if included not in INCLUDES:
            raise _fail(
                f"include value '{included}' is not supported (supported: "
                f"{', '.join(sorted(INCLUDES))}).",
                f"include[{index}]",
            )
    if "message.output_text.logprobs" in (request.include or ()) or request.top_logprobs:
        fields.append(("include", "logprobs", True))
    for name in _SAME_NAME:
        value = getattr(request, name)
        if value is not None and not (name == "top_logprobs" and value == 0):
            fields.append((name, name, value))
    for name, value in request.extras().items():
        fields.append((name, name, value))
    return fields


def _tool(tool: dict[str, Any], index: int) -> dict[str, Any]:
    param = f"tools[{index}]"
    if tool.get("type") != "function":
        raise _fail(
            f"Tools of type '{tool.get('type')}' are not supported by this gateway (function "
            "tools only).",
            f"{param}.type",
        )
    function: dict[str, Any] = {"name": _string(tool, "name", param)}
    for name in ("description", "parameters", "strict"):
        if tool.get(name) is not None:
            function[name] = tool[name]
    return {"type": "function", "function": function}


def _tool_choice(choice: str | dict[str, Any]) -> Any:
    if isinstance(choice, str):
        if choice not in ("auto", "none", "required"):
            raise _fail("Invalid 'tool_choice': expected auto, none or required.", "tool_choice")
        return choice
    kind = choice.get("type")
    if kind == "function":
        return {"type": "function", "function": {"name": _string(choice, "name", "tool_choice")}}
    if kind == "allowed_tools":
        tools = choice.get("tools")
        if not isinstance(tools, list):
            raise _fail("Invalid 'tool_choice.tools': expected a list.", "tool_choice.tools")
        p = "tool_choice.tools"
        return {
            "type": "allowed_tools",
            "allowed_tools": {
                "mode": choice.get("mode", "auto"),
                "tools": [
                    {"type": "function", "function": {"name": _string(t, "name", f"{p}[{i}]")}}
                    for i, t in enumerate(tools)
                    if isinstance(t, dict)
                ],
            },
        }
    raise _fail(f"tool_choice of type '{kind}' is not supported.", "tool_choice.type")


def _response_format(fmt: dict[str, Any]) -> dict[str, Any] | None:
    kind = fmt.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        schema = fmt.get("schema")
        if not isinstance(schema, dict):
            raise _fail("Invalid 'text.format.schema': expected an object.", "text.format.schema")
        spec: dict[str, Any] = {"name": _string(fmt, "name", "text.format"), "schema": schema}
        for name in ("description", "strict"):
            if fmt.get(name) is not None:
                spec[name] = fmt[name]
        return {"type": "json_schema", "json_schema": spec}
    raise _fail(f"text.format of type '{kind}' is not supported.", "text.format.type")


def passthrough_for(
    route: ModelRoute, request: ResponsesRequest, *, stream: bool
) -> dict[str, Any]:
    """The chat completions fields for ``route``'s backend (a 400 naming what it refuses)."""
    fields = chat_fields(request)
    if route.backend == "chatgpt-web":
        for param, name, value in fields:
            try:
                check_web_request({name: value}, (), model=route.name)
            except RequestError:
                raise _fail(
                    f"'{param}' is not supported by the chatgpt-web backend (model "
                    f"'{route.name}'): remove it, or use a model routed to an openai or "
                    "openai-compatible backend (see docs/compatibility.md).",
                    param,
                ) from None
        return {name: value for _, name, value in fields}
    passthrough: dict[str, Any] = {"stream": stream}
    if stream and route.include_usage:
        passthrough["stream_options"] = {"include_usage": True}
    passthrough.update((name, value) for _, name, value in fields)
    return passthrough
