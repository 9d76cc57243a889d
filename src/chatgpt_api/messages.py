"""Value types shared by the API layer, the service and the backends.

A backend turns a :class:`ChatRequest` into an async stream of :data:`ChatEvent` values; raw
upstream JSON never leaves the backend. A non-streaming answer is the collected stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Role = Literal["system", "developer", "user", "assistant", "tool"]


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class GenerationParams:
    """Sampling and length settings passed to backends that take them."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    user: str | None = None


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One turn to send upstream.

    ``messages`` is the history to send, ending with the new user message; stateful backends
    (ChatGPT web) send only the last one and identify the rest by ``conversation_id`` and
    ``parent_message_id``. ``credential`` is the access token or API key to use.
    ``upstream_url`` overrides the backend's configured URL for this request (the seed's
    ``reverse_proxy`` field); ``None`` means "use the configured one".
    """

    messages: tuple[Message, ...]
    model: str
    credential: str
    conversation_id: str | None = None
    parent_message_id: str | None = None
    upstream_url: str | None = None
    params: GenerationParams = field(default_factory=GenerationParams)
    #: Id to give the new user message upstream (stateful backends); ``None`` → a fresh uuid4.
    user_message_id: str | None = None

    @property
    def prompt(self) -> str:
        """The new user message."""
        return self.messages[-1].content if self.messages else ""


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class TextDelta:
    """New answer text, to be appended to what was emitted before."""

    text: str


@dataclass(frozen=True, slots=True)
class TextReset:
    """The upstream rewrote the answer: ``text`` replaces everything emitted so far."""

    text: str


@dataclass(frozen=True, slots=True)
class Finished:
    """The answer is complete. ``text`` is the whole answer.

    ``conversation_id`` and ``message_id`` are the upstream's ids (stateful backends) or
    ``None``/generated ones (stateless backends).
    """

    text: str
    conversation_id: str | None
    message_id: str
    finish_reason: str = "stop"
    usage: Usage | None = None


ChatEvent = TextDelta | TextReset | Finished
