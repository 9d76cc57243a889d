"""What a turn is made of: the client's input, the history budget, the plan and the result."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field

from chatgpt_api.messages import ChatEvent, ChatRequest, GenerationParams, JSONObject, Message
from chatgpt_api.registry import ModelRoute


@dataclass(frozen=True, slots=True)
class TurnInput:
    """What a client asked for, whatever the surface."""

    model: str
    #: New messages when continuing a stored conversation; otherwise the whole history.
    messages: tuple[Message, ...]
    credential: str | None = None
    conversation_id: str | None = None
    parent_message_id: str | None = None
    upstream_url: str | None = None
    params: GenerationParams = field(default_factory=GenerationParams)
    owner: str | None = None
    #: The chat completions surface's other fields, relayed as sent (see ChatRequest).
    passthrough: JSONObject | None = None
    #: False: the turn is not stored (the Responses API's ``store: false``); a follow-up may
    #: still read the stored history it continues from.
    store: bool = True
    #: Messages sent first on this turn only, never stored (the Responses API's
    #: ``instructions``, which a follow-up does not carry over).
    instructions: tuple[Message, ...] = ()
    #: False: a history longer than the budget is refused (400 naming ``truncation``) rather
    #: than trimmed (the Responses API's ``truncation: "disabled"``).
    truncate: bool = True


@dataclass(frozen=True, slots=True)
class HistoryBudget:
    max_messages: int = 100
    max_chars: int = 100_000


@dataclass(slots=True)
class Turn:
    route: ModelRoute
    events: AsyncGenerator[ChatEvent, None]


@dataclass(slots=True)
class TurnPlan:
    """Where a turn will be stored."""

    route: ModelRoute
    request: ChatRequest
    stored_conversation: str | None
    parent_id: str | None
    new_messages: tuple[Message, ...]
    owner: str | None
    stateful: bool
