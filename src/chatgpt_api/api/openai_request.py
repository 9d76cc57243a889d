"""Turning an OpenAI ``POST /v1/chat/completions`` body into a :class:`TurnInput`.

The body is validated by the typed models (a 400 naming the parameter). Nothing is dropped: each
message keeps its OpenAI form in ``Message.raw``, and every field but ``model``, ``messages``
and the extensions ``conversation_id`` / ``parent_message_id`` is the turn's ``passthrough``. A
message's plain text is its string content, or its text and refusal parts joined; the legacy
``function`` role is stored as a ``tool`` message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from chatgpt_api.api.chat_models import ChatCompletionRequest, parse_chat_request, request_dict
from chatgpt_api.messages import Message, Role
from chatgpt_api.service import TurnInput

#: Fields that are the gateway's own and never go upstream as they are.
EXTENSIONS: frozenset[str] = frozenset(
    {"model", "messages", "conversation_id", "parent_message_id"}
)


@dataclass(frozen=True, slots=True)
class CompletionInput:
    turn: TurnInput
    stream: bool
    include_usage: bool


def message_text(content: Any) -> str:
    """The text of a message's ``content``: a string, or its text and refusal parts joined."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    texts = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("text", "refusal") and isinstance(part.get(kind), str):
            texts.append(part[kind])
    return "\n".join(texts)


def _message(raw: dict[str, Any]) -> Message:
    role = raw["role"]
    stored = "tool" if role == "function" else role
    return Message(cast(Role, stored), message_text(raw.get("content")), raw)


def completion_input(
    request: ChatCompletionRequest,
    *,
    default_model: str,
    credential: str | None,
    owner: str | None = None,
) -> CompletionInput:
    body = request_dict(request)
    options = request.stream_options or {}
    turn = TurnInput(
        model=request.model or default_model,
        messages=tuple(_message(cast(dict[str, Any], m)) for m in request.messages),
        credential=credential,
        conversation_id=request.conversation_id,
        parent_message_id=request.parent_message_id,
        owner=owner,
        passthrough={k: v for k, v in body.items() if k not in EXTENSIONS},
    )
    return CompletionInput(turn, bool(request.stream), bool(options.get("include_usage")))


def parse_completion_request(
    body: bytes,
    *,
    default_model: str,
    credential: str | None,
    owner: str | None = None,
) -> CompletionInput:
    """Validate ``body`` and make the turn (a :class:`RequestError` names any problem)."""
    return completion_input(
        parse_chat_request(body),
        default_model=default_model,
        credential=credential,
        owner=owner,
    )
