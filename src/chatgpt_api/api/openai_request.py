"""Turning an OpenAI ``POST /v1/chat/completions`` body into a :class:`TurnInput`.

Nothing is dropped: each message keeps its OpenAI form (``Message.raw``: content parts, tool
calls, ``tool_call_id``, ``name``, unknown fields), and every field other than ``model``,
``messages`` and the gateway's extensions ``conversation_id`` / ``parent_message_id`` is kept as
the turn's ``passthrough``, relayed as it is by OpenAI-style backends (a backend that cannot
honour a field refuses it: :mod:`chatgpt_api.capabilities`). The checks here are those the
gateway itself relies on; every problem is a 400 naming the field (``param``).

The legacy ``function`` role is kept as it is in ``raw`` and stored as a ``tool`` message.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, cast

from chatgpt_api.api.coerce import is_message_id
from chatgpt_api.errors import RequestError
from chatgpt_api.messages import GenerationParams, Message, Role
from chatgpt_api.service import TurnInput

ROLES: frozenset[str] = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
#: Fields that are the gateway's own and never go upstream (besides ``model``/``messages``).
EXTENSIONS: frozenset[str] = frozenset(
    {"model", "messages", "conversation_id", "parent_message_id"}
)
MAX_STOP = 4


@dataclass(frozen=True, slots=True)
class CompletionInput:
    turn: TurnInput
    stream: bool
    include_usage: bool


def _fail(message: str, param: str) -> RequestError:
    return RequestError(message, param=param)


def _number(body: dict[str, Any], name: str, low: float, high: float) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise _fail(f"Invalid type for '{name}': expected a number.", name)
    if not low <= value <= high:
        raise _fail(f"Invalid '{name}': must be between {low:g} and {high:g}.", name)
    return float(value)


def _max_tokens(body: dict[str, Any]) -> int | None:
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise _fail(f"Invalid '{name}': expected a positive integer.", name)
        return value
    return None


def _stop(body: dict[str, Any]) -> tuple[str, ...]:
    value = body.get("stop")
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        if len(value) > MAX_STOP:
            raise _fail(f"Invalid 'stop': at most {MAX_STOP} sequences.", "stop")
        return tuple(value)
    raise _fail("Invalid type for 'stop': expected a string or a list of strings.", "stop")


def _content(value: Any, index: int) -> str:
    """The message's text: a string, or its text parts joined (other parts are kept in raw)."""
    param = f"messages[{index}].content"
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        texts = []
        for part_index, part in enumerate(value):
            if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                raise _fail("Each content part must be an object with a 'type'.", param)
            if part["type"] in ("text", "refusal"):
                text = part.get(part["type"])
                if not isinstance(text, str):
                    raise _fail(
                        f"Invalid {part['type']} part: '{part['type']}' must be a string.",
                        f"{param}[{part_index}]",
                    )
                texts.append(text)
        return "\n".join(texts)
    raise _fail("Invalid type for content: expected a string or a list of parts.", param)


def _messages(body: dict[str, Any]) -> tuple[Message, ...]:
    raw = body.get("messages")
    if not isinstance(raw, list) or not raw:
        raise _fail("'messages' must be a non-empty array of messages.", "messages")
    messages = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise _fail("Each message must be an object.", f"messages[{index}]")
        role = item.get("role")
        if not isinstance(role, str) or role not in ROLES:  # a dict or list is unhashable
            raise _fail(
                f"Invalid 'role': expected one of {', '.join(sorted(ROLES))}.",
                f"messages[{index}].role",
            )
        stored_role = "tool" if role == "function" else role
        messages.append(
            Message(cast(Role, stored_role), _content(item.get("content"), index), item)
        )
    return tuple(messages)


def _flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _fail(f"Invalid type for '{name}': expected a boolean.", name)
    return value


def _id(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not is_message_id(value):
        raise _fail(f"Invalid '{name}': expected an 8-4-4-4-12 hex id.", name)
    return value


def parse_completion_request(
    body: dict[str, Any], *, default_model: str, credential: str | None, owner: str | None = None
) -> CompletionInput:
    model = body.get("model", default_model)
    if not isinstance(model, str) or not model:
        raise _fail("Invalid 'model': expected a non-empty string.", "model")
    n = body.get("n")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 128):
        raise _fail("Invalid 'n': expected an integer from 1 to 128.", "n")
    user = body.get("user")
    if user is not None and not isinstance(user, str):
        raise _fail("Invalid type for 'user': expected a string.", "user")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise _fail("Invalid type for 'stream_options': expected an object.", "stream_options")
    include_usage = _flag(options or {}, "include_usage")
    conversation_id = _id(body, "conversation_id")
    parent_id = _id(body, "parent_message_id")
    if parent_id and not conversation_id:
        raise _fail("'parent_message_id' needs 'conversation_id'.", "parent_message_id")
    params = GenerationParams(
        temperature=_number(body, "temperature", 0, 2),
        top_p=_number(body, "top_p", 0, 1),
        max_tokens=_max_tokens(body),
        stop=_stop(body),
        user=user,
    )
    turn = TurnInput(
        model=model,
        messages=_messages(body),
        credential=credential,
        conversation_id=conversation_id,
        parent_message_id=parent_id,
        params=params,
        owner=owner,
        passthrough={k: v for k, v in body.items() if k not in EXTENSIONS},
    )
    return CompletionInput(turn, _flag(body, "stream"), include_usage)
