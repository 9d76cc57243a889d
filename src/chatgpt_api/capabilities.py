"""What each backend can honour, and the 400 for what it cannot.

The rule of the gateway: a field a client sent reaches the upstream exactly, or the request is
refused naming it — never dropped. OpenAI-style backends (``openai``, ``openai-compatible``)
take every chat completions field as it is (the upstream judges it). The ChatGPT web backend
speaks a different protocol: it takes the messages' text and the fields in
:data:`WEB_ACCEPTED` (which do not change the answer: the gateway honours ``stream`` and
``stream_options`` itself, the others are metadata) and image and file parts (uploaded through
the web file flow, checked by :mod:`chatgpt_api.web_media`); any other field, any other content
part and any tool history is refused by :func:`check_web_request` with a 400 naming the parameter.

:data:`CAPABILITIES` is the table the docs and ``GET /v1/models`` show.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

from chatgpt_api.errors import RequestError
from chatgpt_api.messages import Message
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
CAPABILITIES: Final[Mapping[str, Mapping[str, Support]]] = {
    "chatgpt-web": _WEB,
    "openai": _OPENAI,
    "openai-compatible": _OPENAI,
}


def check_web_request(
    passthrough: Mapping[str, Any] | None, messages: Sequence[Message], *, model: str
) -> None:
    """Refuse (400) what the ChatGPT web backend cannot honour, naming the parameter."""
    for name, value in (passthrough or {}).items():
        if name in WEB_ACCEPTED or value is None:
            continue
        if name in _WEB_NEUTRAL and value in _WEB_NEUTRAL[name]:
            continue
        raise _unsupported(f"'{name}'", name, model)
    for index, message in enumerate(messages):
        _check_web_message(message, index, model)


def _check_web_message(message: Message, index: int, model: str) -> None:
    raw = message.raw
    if raw is None:
        return
    if message.role not in _WEB_ROLES:
        raise _unsupported(
            f"messages with role '{message.role}' (tool results)", f"messages[{index}].role", model
        )
    for key, value in raw.items():
        if key not in _WEB_MESSAGE_KEYS and value is not None:
            what = "tool calls" if key in ("tool_calls", "function_call") else f"'{key}'"
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


def web_unsupported(what: str, param: str, model: str) -> RequestError:
    """The 400 for something the ChatGPT web backend cannot honour, for surfaces that check
    their own parameters (the Messages API names its own fields)."""
    return _unsupported(what, param, model)
