"""What each backend can honour, and the 400 for what it cannot.

A field a client sent reaches the upstream exactly, or the request is refused naming it — never
dropped. OpenAI-style backends take every field (the upstream judges). The ChatGPT web backend
takes message text, image and file parts and the harmless fields of :data:`WEB_ACCEPTED`;
:func:`check_web_request` refuses the rest. With ``emulate_tools = true`` a web route also takes
tools and ``response_format``, emulated in the prompt (:mod:`chatgpt_api.backends.web_tools`).
:data:`CAPABILITIES` is the table the docs show; ``GET /v1/models`` shows :func:`capabilities_of`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

from chatgpt_api.backends.web_tool_spec import EMULATED_FIELDS, emulation_of
from chatgpt_api.errors import RequestError
from chatgpt_api.messages import Message
from chatgpt_api.registry import ModelRoute
from chatgpt_api.web_media import MEDIA_PART_TYPES, check_media_part

Support = Literal["native", "emulated", "not available"]

#: Chat completions fields the ChatGPT web backend accepts (with the values it can honour).
WEB_ACCEPTED: Final = frozenset(
    {
        "stream",
        "stream_options",
        "user",
        "metadata",
        "store",
        "service_tier",
        "safety_identifier",
        "prompt_cache_key",
    }
)
#: Fields accepted on the web backend only with a value that asks for nothing it lacks.
_WEB_NEUTRAL: Final[Mapping[str, tuple[Any, ...]]] = {
    "n": (1,),
    "tool_choice": ("none",),
    "function_call": ("none",),
    "response_format": ({"type": "text"},),
    "logprobs": (False,),
    "modalities": (["text"],),
    "parallel_tool_calls": (True, False),
}
_WEB_MESSAGE_KEYS: Final = frozenset({"role", "content"})
#: Message fields a tool history brings, taken when tools are emulated.
_TOOL_MESSAGE_KEYS: Final = frozenset({"tool_calls", "tool_call_id", "name"})
#: How to turn the emulation on, told by the 400 when it is off.
ENABLE_EMULATION: Final = (
    "set emulate_tools = true on the model's chatgpt-web route in the models file "
    "(CHATGPT_API_MODELS_FILE; see docs/chatgpt-web-tools.md)"
)
_WEB_ROLES: Final = frozenset({"system", "developer", "user", "assistant"})

_OPENAI: Final[dict[str, Support]] = {
    "text": "native",
    "streaming": "native",
    "tools": "native",
    "structured_output": "native",
    "images": "native",
    "audio": "native",
    "files": "native",
    "n": "native",
    "logprobs": "native",
    "sampling_parameters": "native",
    "embeddings": "native",
    "server_side_conversations": "native",
}
_WEB: Final[dict[str, Support]] = {
    **{name: "not available" for name in _OPENAI},
    "text": "native",
    "streaming": "native",
    "server_side_conversations": "native",
    # Issue 12 item 1: uploaded through the web file flow (docs/chatgpt-web-files.md).
    "images": "native",
    "files": "native",
}
#: The column of a chatgpt-web model with ``emulate_tools = true``.
WEB_EMULATED_TOOLS: Final = "chatgpt-web (emulate_tools)"
CAPABILITIES: Final[Mapping[str, Mapping[str, Support]]] = {
    "chatgpt-web": _WEB,
    WEB_EMULATED_TOOLS: {**_WEB, "tools": "emulated", "structured_output": "emulated"},
    "openai": _OPENAI,
    "openai-compatible": _OPENAI,
}


def capabilities_of(route: ModelRoute) -> Mapping[str, Support]:
    """What a model can do: its backend's column, or the emulated one when it opted in."""
    if route.backend == "chatgpt-web" and route.emulate_tools:
        return CAPABILITIES[WEB_EMULATED_TOOLS]
    return CAPABILITIES.get(route.backend, {})


def check_web_request(
    passthrough: Mapping[str, Any] | None,
    messages: Sequence[Message],
    *,
    model: str,
    emulate_tools: bool = False,
) -> None:
    """Refuse (400) what the ChatGPT web backend cannot honour, naming the parameter.

    With ``emulate_tools`` the tool and answer-format fields are checked for what the
    emulation can do (:func:`~chatgpt_api.backends.web_tool_spec.emulation_of`).
    """
    for name, value in (passthrough or {}).items():
        if name in WEB_ACCEPTED or value is None:
            continue
        if emulate_tools and name in EMULATED_FIELDS:
            continue
        if name in _WEB_NEUTRAL and value in _WEB_NEUTRAL[name]:
            continue
        if name in EMULATED_FIELDS:
            raise _not_emulated(f"'{name}'", name, model)
        raise _unsupported(f"'{name}'", name, model)
    if emulate_tools:
        emulation_of(passthrough)
    for index, message in enumerate(messages):
        _check_web_message(message, index, model, emulate_tools)


def _check_web_message(message: Message, index: int, model: str, emulate_tools: bool) -> None:
    raw = message.raw
    if raw is None:
        return
    if message.role not in _WEB_ROLES and not (emulate_tools and message.role == "tool"):
        raise _not_emulated(
            f"messages with role '{message.role}' (tool results)", f"messages[{index}].role", model
        )
    for key, value in raw.items():
        if key not in _WEB_MESSAGE_KEYS and value is not None:
            if emulate_tools and key in _TOOL_MESSAGE_KEYS:
                continue
            if key == "tool_calls":
                raise _not_emulated("tool calls in messages", f"messages[{index}].{key}", model)
            what = "function calls" if key == "function_call" else f"'{key}'"
            raise _unsupported(f"{what} in messages", f"messages[{index}].{key}", model)
    content = raw.get("content")
    if isinstance(content, list):
        for part_index, part in enumerate(content):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind in MEDIA_PART_TYPES:  # uploaded (issue 12 item 1); checked there
                check_media_part(part, f"messages[{index}].content[{part_index}]", model)
                continue
            if kind != "text" or set(part) - {"type", "text"}:
                raise _unsupported(
                    f"'{kind}' content parts",
                    f"messages[{index}].content[{part_index}]",
                    model,
                )


def _unsupported(what: str, param: str, model: str) -> RequestError:
    return RequestError(
        f"{what} not supported by the chatgpt-web backend (model '{model}'): remove it, or use "
        "a model routed to an openai or openai-compatible backend (see docs/compatibility.md).",
        param=param,
    )


def _not_emulated(what: str, param: str, model: str) -> RequestError:
    return RequestError(
        f"{what} not supported by the chatgpt-web backend (model '{model}') without tool "
        f"emulation: {ENABLE_EMULATION}, or use a model routed to an openai or "
        "openai-compatible backend.",
        param=param,
    )


def web_not_emulated(what: str, param: str, model: str) -> RequestError:
    """The 400 for tools, a tool history or an answer format on a web model without tool
    emulation: it says how to turn the emulation on."""
    return _not_emulated(what, param, model)


def web_unsupported(what: str, param: str, model: str) -> RequestError:
    """The 400 for something the ChatGPT web backend cannot honour, for surfaces that check
    their own parameters (the Messages API names its own fields)."""
    return _unsupported(what, param, model)
