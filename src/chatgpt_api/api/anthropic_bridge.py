"""An Anthropic Messages request as a chat completions turn (:class:`TurnInput`).

The chat completions message is the gateway's canonical form (:mod:`chatgpt_api.messages`):

* ``system`` (a string or text blocks) → a ``system`` message;
* user text / image / document blocks → content parts (``text``; ``image_url`` with the URL,
  or a ``data:`` URL for a base64 source; a base64 PDF → a ``file`` part, a plain-text
  document → a ``text`` part); ``tool_result`` blocks → ``tool`` messages (placed first, as the
  chat format wants them right after the assistant's calls; ``is_error`` marks the content
  with ``[tool error]``);
* assistant text → ``content``, ``tool_use`` → ``tool_calls`` (``input`` as JSON
  ``arguments``); ``thinking`` / ``redacted_thinking`` blocks handed back are accepted and not
  sent, as Anthropic's API itself drops earlier turns' thinking from the context;
* tool ids: our ``toolu_<id>`` is the upstream's ``<id>`` (:func:`anthropic_tool_id`,
  :func:`upstream_tool_id`), so a ``tool_result`` for a ``tool_use`` we gave reaches the
  upstream with the ``tool_call_id`` it issued.

Parameters, per backend (resolved from the registry first). OpenAI-style backends get a chat
completions passthrough: ``tools`` → function tools, ``tool_choice`` (auto / any → required /
tool → a named function / none; ``disable_parallel_tool_use`` → ``parallel_tool_calls:
false``), ``max_tokens`` → ``max_completion_tokens`` (``openai``) or ``max_tokens``
(``openai-compatible``: local servers know that one), ``stop_sequences`` → ``stop``,
``temperature``, ``top_p``, ``top_k`` (``openai-compatible`` only: the OpenAI API has none),
``metadata.user_id`` → ``user``, ``thinking`` (``enabled``: its budget → ``reasoning_effort``
low < 4096 ≤ medium < 16384 ≤ high; ``adaptive``: the upstream's default) and
``output_config`` (``effort`` → ``reasoning_effort``, ``format`` → a ``json_schema``
``response_format``). The ChatGPT web backend takes text only: tools, images, documents,
sampling parameters, ``top_k``, ``thinking`` (enabled) and ``output_config`` are refused with a
400 naming the parameter; ``max_tokens`` and ``stop_sequences`` are enforced by the gateway
(:class:`chatgpt_api.api.anthropic_render.TextLimiter`).

A final ``assistant`` message (Anthropic's *prefill*) is refused: a chat completions upstream
would answer it with a new message instead of continuing it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from pydantic import ValidationError

from chatgpt_api.api.anthropic_models import (
    Base64Source,
    CountTokensBody,
    DocumentBlock,
    ImageBlock,
    InputMessage,
    MessagesBody,
    PlainTextSource,
    RedactedThinkingBlock,
    TextBlock,
    ThinkingBlock,
    ThinkingEnabled,
    Tool,
    ToolChoiceAny,
    ToolChoiceNone,
    ToolChoiceTool,
    ToolResultBlock,
    ToolUseBlock,
    URLSource,
    unknown_field,
)
from chatgpt_api.api.coerce import is_message_id
from chatgpt_api.capabilities import web_unsupported
from chatgpt_api.errors import RequestError
from chatgpt_api.messages import GenerationParams, JSONObject, Message
from chatgpt_api.registry import ModelRoute
from chatgpt_api.service import TurnInput

#: Tokens counted for one image or document by the estimates (Anthropic's figure for an
#: image of about 1092×1092 pixels, the largest it takes without resizing).
ATTACHMENT_TOKENS = 1600
#: Tokens added per message by the estimates (role and separators).
MESSAGE_OVERHEAD_TOKENS = 4
TOOL_ID_PREFIX = "toolu_"
_EFFORT_LOW_BELOW = 4096
_EFFORT_MEDIUM_BELOW = 16384
_BLOCK_TAGS = frozenset(
    {
        "text",
        "image",
        "document",
        "tool_use",
        "tool_result",
        "thinking",
        "redacted_thinking",
        "base64",
        "url",
        "auto",
        "any",
        "tool",
        "none",
        "enabled",
        "disabled",
        "adaptive",
    }
)


@dataclass(frozen=True, slots=True)
class MessagesInput:
    """A parsed ``POST /v1/messages``: the turn to run and how to render its answer."""

    turn: TurnInput
    stream: bool
    #: The model as the client named it (shown in the answer).
    model: str
    max_tokens: int
    stop_sequences: tuple[str, ...]
    #: True when the gateway enforces max_tokens / stop_sequences itself (ChatGPT web).
    gateway_limits: bool
    #: Estimated input tokens (about four characters per token).
    input_tokens: int


def anthropic_tool_id(upstream_id: str) -> str:
    """The ``tool_use`` id we show for an upstream tool call id."""
    return upstream_id if upstream_id.startswith(TOOL_ID_PREFIX) else TOOL_ID_PREFIX + upstream_id


def upstream_tool_id(tool_use_id: str) -> str:
    """The upstream's tool call id for a ``tool_use`` id (the inverse of the above)."""
    if tool_use_id.startswith(TOOL_ID_PREFIX) and len(tool_use_id) > len(TOOL_ID_PREFIX):
        return tool_use_id[len(TOOL_ID_PREFIX) :]
    return tool_use_id


M = TypeVar("M", bound=CountTokensBody)


def parse_body(kind: type[M], body: dict[str, Any]) -> M:
    """``body`` validated as ``kind``; a 400 naming the first problem or unknown field."""
    try:
        parsed = kind.model_validate(body)
    except ValidationError as exc:
        # The deepest problem: for a union (a string or blocks) it is the one in the blocks.
        error = max(exc.errors(), key=lambda e: len(e["loc"]))
        param = _param(error["loc"])
        message = f"{param}: {error['msg']}" if param else error["msg"]
        raise RequestError(message, param=param or None) from None
    unknown = unknown_field(parsed, "")
    if unknown is not None:
        raise RequestError(
            f"{unknown}: this field is not supported by this gateway's Messages API "
            "(see docs/compatibility.md)",
            param=unknown,
        )
    return parsed


def _param(loc: tuple[int | str, ...]) -> str:
    path = ""
    previous: int | str | None = None
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif "[" in part or part in ("str", "int", "float", "bool", "dict"):
            continue  # a union branch's label, not a field
        elif part in _BLOCK_TAGS and (
            isinstance(previous, int) or previous in ("tool_choice", "source", "thinking")
        ):
            continue  # a discriminated union's tag
        else:
            path += f".{part}" if path else part
        previous = part
    return path


def bridge_messages(
    request: MessagesBody,
    route: ModelRoute,
    *,
    credential: str | None,
    owner: str | None,
) -> MessagesInput:
    """The turn for ``request`` on ``route``'s backend; a 400 for what it cannot honour."""
    web = route.backend == "chatgpt-web"
    messages = chat_messages(request, web=web, model=request.model)
    conversation_id = _message_id(request.conversation_id, "conversation_id")
    parent_id = _message_id(request.parent_message_id, "parent_message_id")
    if parent_id and not conversation_id:
        raise RequestError(
            "'parent_message_id' needs 'conversation_id'.", param="parent_message_id"
        )
    stops = tuple(request.stop_sequences or ())
    user = request.metadata.user_id if request.metadata else None
    if web:
        _check_web_parameters(request)
        passthrough: dict[str, Any] | None = None
        params = GenerationParams(user=user)
    else:
        passthrough = _passthrough(request, route, user)
        params = GenerationParams(
            temperature=request.temperature,
            top_p=request.top_p,
            max_tokens=request.max_tokens,
            stop=stops,
            user=user,
        )
    turn = TurnInput(
        model=request.model,
        messages=messages,
        credential=credential,
        conversation_id=conversation_id,
        parent_message_id=parent_id,
        params=params,
        owner=owner,
        passthrough=passthrough,
    )
    return MessagesInput(
        turn,
        request.stream,
        request.model,
        request.max_tokens,
        stops,
        web,
        estimate_input_tokens(request, messages),
    )


def _message_id(value: str | None, name: str) -> str | None:
    if value is not None and not is_message_id(value):
        raise RequestError(f"Invalid '{name}': expected an 8-4-4-4-12 hex id.", param=name)
    return value


def _check_web_parameters(request: MessagesBody) -> None:
    model = request.model
    if request.tools:
        raise web_unsupported("'tools'", "tools", model)
    choice = request.tool_choice
    if isinstance(choice, ToolChoiceAny | ToolChoiceTool):
        raise web_unsupported("'tool_choice' (forcing a tool call)", "tool_choice", model)
    for name in ("temperature", "top_p", "top_k"):
        if getattr(request, name) is not None:
            raise web_unsupported(f"'{name}'", name, model)
    if isinstance(request.thinking, ThinkingEnabled):
        raise web_unsupported("'thinking' (a thinking budget)", "thinking", model)
    config = request.output_config
    if config is not None and config.effort is not None:
        raise web_unsupported("'output_config.effort'", "output_config.effort", model)
    if config is not None and config.format is not None:
        raise web_unsupported("'output_config.format'", "output_config.format", model)


def _passthrough(request: MessagesBody, route: ModelRoute, user: str | None) -> dict[str, Any]:
    """The chat completions fields for an OpenAI-style upstream."""
    body: dict[str, Any] = {"stream": request.stream}
    if request.stream and route.include_usage:
        body["stream_options"] = {"include_usage": True}
    limit_name = "max_completion_tokens" if route.backend == "openai" else "max_tokens"
    body[limit_name] = request.max_tokens
    if request.stop_sequences:
        body["stop"] = list(request.stop_sequences)
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.top_k is not None:
        if route.backend != "openai-compatible":
            raise RequestError(
                f"'top_k' is not supported by the {route.backend} backend (model "
                f"'{request.model}'): remove it, or use a model routed to an "
                "openai-compatible backend.",
                param="top_k",
            )
        body["top_k"] = request.top_k
    if user is not None:
        body["user"] = user
    body.update(_tool_fields(request))
    effort = _reasoning_effort(request)
    if effort is not None:
        body["reasoning_effort"] = effort
    config = request.output_config
    if config is not None and config.format is not None:
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": config.format.schema_, "strict": True},
        }
    return body


def _tool_fields(request: MessagesBody) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    tools = request.tools or []
    if tools:
        fields["tools"] = [_function_tool(tool, index) for index, tool in enumerate(tools)]
    choice = request.tool_choice
    if choice is None:
        return fields
    if isinstance(choice, ToolChoiceNone):
        if tools:
            fields["tool_choice"] = "none"
        return fields
    if not tools:
        if isinstance(choice, ToolChoiceAny | ToolChoiceTool):
            raise RequestError(
                "tool_choice: forcing a tool call needs 'tools'.", param="tool_choice"
            )
        return fields
    if isinstance(choice, ToolChoiceAny):
        fields["tool_choice"] = "required"
    elif isinstance(choice, ToolChoiceTool):
        fields["tool_choice"] = {"type": "function", "function": {"name": choice.name}}
    else:
        fields["tool_choice"] = "auto"
    if choice.disable_parallel_tool_use:
        fields["parallel_tool_calls"] = False
    return fields


def _function_tool(tool: Tool, index: int) -> dict[str, Any]:
    if tool.type not in (None, "custom"):
        raise RequestError(
            f"tools[{index}].type: the server tool '{tool.type}' is not supported by this "
            "gateway (client tools only: name, description, input_schema).",
            param=f"tools[{index}].type",
        )
    if tool.input_schema is None:
        raise RequestError(
            f"tools[{index}].input_schema: Field required", param=f"tools[{index}].input_schema"
        )
    function: dict[str, Any] = {"name": tool.name, "parameters": tool.input_schema}
    if tool.description is not None:
        function["description"] = tool.description
    if tool.strict is not None:
        function["strict"] = tool.strict
    return {"type": "function", "function": function}


def _reasoning_effort(request: MessagesBody) -> str | None:
    config = request.output_config
    if config is not None and config.effort is not None:
        return config.effort
    thinking = request.thinking
    if isinstance(thinking, ThinkingEnabled):
        if thinking.budget_tokens < _EFFORT_LOW_BELOW:
            return "low"
        return "medium" if thinking.budget_tokens < _EFFORT_MEDIUM_BELOW else "high"
    return None  # disabled, or adaptive: the upstream's default


def chat_messages(
    request: CountTokensBody, *, web: bool, model: str, prefill_ok: bool = False
) -> tuple[Message, ...]:
    """The conversation in chat completions form (``web``: refuse what is not text)."""
    out: list[Message] = []
    system = _system_text(request.system)
    if system:
        out.append(Message("system", system, {"role": "system", "content": system}))
    last = len(request.messages) - 1
    for index, message in enumerate(request.messages):
        if message.role == "assistant":
            if index == last and not prefill_ok:
                raise RequestError(
                    f"messages[{index}]: a final assistant message (prefill) is not supported "
                    "by this gateway: the upstream would start a new message instead of "
                    "continuing it.",
                    param=f"messages[{index}]",
                )
            out.append(_assistant(message, index, web, model))
        else:
            out.extend(_user(message, index, web, model))
    return tuple(out)


def _system_text(system: str | list[TextBlock] | None) -> str:
    if system is None:
        return ""
    if isinstance(system, str):
        return system
    return "\n\n".join(block.text for block in system)


def _user(message: InputMessage, index: int, web: bool, model: str) -> list[Message]:
    content = message.content
    if isinstance(content, str):
        return [Message("user", content, {"role": "user", "content": content})]
    if not content:
        param = f"messages[{index}].content"
        raise RequestError(f"{param}: a message needs at least one content block.", param=param)
    tools: list[Message] = []
    parts: list[dict[str, Any]] = []
    texts: list[str] = []
    for block_index, block in enumerate(content):
        param = f"messages[{index}].content[{block_index}]"
        if isinstance(block, ToolResultBlock):
            if web:
                raise web_unsupported("'tool_result' blocks", param, model)
            tools.append(_tool_message(block, param))
        elif isinstance(block, TextBlock):
            parts.append({"type": "text", "text": block.text})
            texts.append(block.text)
        elif isinstance(block, ImageBlock | DocumentBlock):
            if web and not _plain_text_document(block):
                raise web_unsupported(f"'{block.type}' blocks", param, model)
            part = _attachment_part(block, param)
            parts.append(part)
            if part["type"] == "text":
                texts.append(part["text"])
        else:
            raise RequestError(
                f"{param}: a user message cannot hold a '{block.type}' block.", param=param
            )
    if not parts:
        return tools
    return [*tools, Message("user", "\n".join(texts), {"role": "user", "content": parts})]


def _plain_text_document(block: ImageBlock | DocumentBlock) -> bool:
    return isinstance(block, DocumentBlock) and isinstance(block.source, PlainTextSource)


def _attachment_part(block: ImageBlock | DocumentBlock, param: str) -> dict[str, Any]:
    source = block.source
    if isinstance(block, ImageBlock):
        if isinstance(source, Base64Source):
            url = f"data:{source.media_type};base64,{source.data}"
        elif isinstance(source, URLSource):
            url = source.url
        else:
            raise RequestError(f"{param}.source: an image needs a base64 or url source.")
        return {"type": "image_url", "image_url": {"url": url}}
    if isinstance(source, PlainTextSource):
        title = f"{block.title}\n\n" if block.title else ""
        return {"type": "text", "text": title + source.data}
    if isinstance(source, Base64Source) and source.media_type == "application/pdf":
        data_url = f"data:application/pdf;base64,{source.data}"
        filename = block.title or "document.pdf"
        return {"type": "file", "file": {"filename": filename, "file_data": data_url}}
    raise RequestError(
        f"{param}.source: only base64 PDF and plain-text documents are supported "
        "(a chat completions upstream cannot fetch a document URL).",
        param=f"{param}.source",
    )


def _tool_message(block: ToolResultBlock, param: str) -> Message:
    content = block.content
    marker = "[tool error] " if block.is_error else ""
    wire: str | list[dict[str, Any]]
    if content is None or isinstance(content, str):
        text = marker + (content or "")
        wire = text
    else:
        texts = []
        for part_index, part in enumerate(content):
            if not isinstance(part, TextBlock):
                where = f"{param}.content[{part_index}]"
                raise RequestError(
                    f"{where}: images in a tool_result are not supported (a chat completions "
                    "tool message holds text only).",
                    param=where,
                )
            texts.append(part.text)
        text = marker + "\n".join(texts)
        wire = [{"type": "text", "text": t} for t in texts]
        if marker:
            wire.insert(0, {"type": "text", "text": marker.strip()})
    raw = {"role": "tool", "tool_call_id": upstream_tool_id(block.tool_use_id), "content": wire}
    return Message("tool", text, raw)


def _assistant(message: InputMessage, index: int, web: bool, model: str) -> Message:
    content = message.content
    if isinstance(content, str):
        return Message("assistant", content, {"role": "assistant", "content": content})
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for block_index, block in enumerate(content):
        param = f"messages[{index}].content[{block_index}]"
        if isinstance(block, TextBlock):
            texts.append(block.text)
        elif isinstance(block, ToolUseBlock):
            if web:
                raise web_unsupported("'tool_use' blocks", param, model)
            if block.caller is not None and block.caller.get("type") != "direct":
                raise RequestError(
                    f"{param}.caller: only tool calls made by the model ('direct') are "
                    "supported by this gateway.",
                    param=f"{param}.caller",
                )
            arguments = orjson.dumps(block.input).decode()
            calls.append(
                {
                    "id": upstream_tool_id(block.id),
                    "type": "function",
                    "function": {"name": block.name, "arguments": arguments},
                }
            )
        elif not isinstance(block, ThinkingBlock | RedactedThinkingBlock):
            raise RequestError(
                f"{param}: an assistant message cannot hold a '{block.type}' block.", param=param
            )
    text = "".join(texts)
    raw: dict[str, Any] = {"role": "assistant", "content": text if texts or not calls else None}
    if calls:
        raw["tool_calls"] = calls
    return Message("assistant", text, raw)


def estimate_tokens(text: str) -> int:
    """About four characters per token (no tokenizer: the upstreams' differ anyway)."""
    return math.ceil(len(text) / 4)


def estimate_input_tokens(request: CountTokensBody, messages: tuple[Message, ...]) -> int:
    """The prompt's estimated size: text at four characters per token, each image or
    document :data:`ATTACHMENT_TOKENS`, tool definitions and calls as their JSON."""
    total = 0
    for message in messages:
        total += MESSAGE_OVERHEAD_TOKENS + estimate_tokens(message.content)
        total += _attachments(message.raw) * ATTACHMENT_TOKENS
        calls = (message.raw or {}).get("tool_calls")
        if calls:
            total += estimate_tokens(orjson.dumps(calls).decode())
    for tool in request.tools or []:
        total += estimate_tokens(orjson.dumps(tool.model_dump(exclude_none=True)).decode())
    return total


def _attachments(raw: JSONObject | None) -> int:
    content = (raw or {}).get("content")
    if not isinstance(content, list):
        return 0
    return sum(1 for part in content if part.get("type") in ("image_url", "file"))


def count_tokens(request: CountTokensBody) -> int:
    """``POST /v1/messages/count_tokens``: the estimate for any backend."""
    messages = chat_messages(request, web=False, model=request.model, prefill_ok=True)
    return estimate_input_tokens(request, messages)
