"""An Anthropic Messages request as a chat completions turn (:class:`TurnInput`).

Content is converted by :mod:`.anthropic_content`. OpenAI-style backends get the parameters as
a chat completions passthrough (tools and ``tool_choice``, ``max_tokens``, ``stop_sequences``,
sampling, ``metadata.user_id``, ``thinking`` and ``output_config`` as ``reasoning_effort`` /
``response_format``). The ChatGPT web backend takes text, base64 images and documents; what it
cannot honour is a 400 naming the parameter, and ``max_tokens`` / ``stop_sequences`` are
enforced by the gateway (:class:`~chatgpt_api.api.anthropic_render.TextLimiter`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import ValidationError

from chatgpt_api.api.anthropic_content import chat_messages, estimate_input_tokens
from chatgpt_api.api.anthropic_models import (
    CountTokensBody,
    MessagesBody,
    ThinkingEnabled,
    Tool,
    ToolChoiceAny,
    ToolChoiceNone,
    ToolChoiceTool,
    unknown_field,
)
from chatgpt_api.api.coerce import is_message_id
from chatgpt_api.capabilities import web_not_emulated, web_unsupported
from chatgpt_api.errors import RequestError
from chatgpt_api.messages import GenerationParams
from chatgpt_api.registry import ModelRoute
from chatgpt_api.service import TurnInput

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
    # A web model with tool emulation takes tools and a tool history (docs/chatgpt-web-tools.md).
    emulated = web and route.emulate_tools
    messages = chat_messages(request, web=web and not emulated, model=request.model)
    conversation_id = _message_id(request.conversation_id, "conversation_id")
    parent_id = _message_id(request.parent_message_id, "parent_message_id")
    if parent_id and not conversation_id:
        raise RequestError(
            "'parent_message_id' needs 'conversation_id'.", param="parent_message_id"
        )
    stops = tuple(request.stop_sequences or ())
    user = request.metadata.user_id if request.metadata else None
    if web:
        _check_web_parameters(request, emulated)
        passthrough: dict[str, Any] | None = _emulated_fields(request) if emulated else None
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


def _check_web_parameters(request: MessagesBody, emulated: bool) -> None:
    model = request.model
    if request.tools and not emulated:
        raise web_not_emulated("'tools'", "tools", model)
    choice = request.tool_choice
    if isinstance(choice, ToolChoiceAny | ToolChoiceTool) and not emulated:
        raise web_not_emulated("'tool_choice' (forcing a tool call)", "tool_choice", model)
    for name in ("temperature", "top_p", "top_k"):
        if getattr(request, name) is not None:
            raise web_unsupported(f"'{name}'", name, model)
    if isinstance(request.thinking, ThinkingEnabled):
        raise web_unsupported("'thinking' (a thinking budget)", "thinking", model)
    config = request.output_config
    if config is not None and config.effort is not None:
        raise web_unsupported("'output_config.effort'", "output_config.effort", model)
    if config is not None and config.format is not None and not emulated:
        raise web_not_emulated("'output_config.format'", "output_config.format", model)


def _emulated_fields(request: MessagesBody) -> dict[str, Any]:
    """The chat completions fields the web tool emulation reads (tools, the answer format)."""
    fields = _tool_fields(request)
    config = request.output_config
    if config is not None and config.format is not None:
        fields["response_format"] = _response_format(config.format.schema_)
    return fields


def _response_format(schema: Any) -> dict[str, Any]:
    return {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": schema, "strict": True},
    }


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
        body["response_format"] = _response_format(config.format.schema_)
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
