"""Value types shared by the API layer, the service and the backends.

A backend turns a :class:`ChatRequest` into an async stream of :data:`ChatEvent` values. A
non-streaming answer is the collected stream.

Lossless relay. A message keeps, beside its plain ``content`` text, the OpenAI chat message it
came from (``raw``: tool calls, content parts, names, ids, unknown fields). A request from the
chat completions surface keeps every other field the client sent (``ChatRequest.passthrough``).
An OpenAI-style backend sends both upstream unchanged and hands back every upstream chunk as
it came (``TextDelta.raw``, ``Finished.raw``), so the same surface can forward it verbatim;
other surfaces and the store read the parsed view (text, :class:`Choice`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "developer", "user", "assistant", "tool"]


#: An OpenAI chat message or chunk as JSON (parsed, never mutated once built).
JSONObject = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Message:
    """A message of the conversation.

    ``content`` is its text (what a text-only upstream gets); ``raw`` is the OpenAI chat message
    exactly as the client sent it or the upstream answered it, when there is one.
    """

    role: Role
    content: str
    raw: JSONObject | None = None

    def wire(self) -> JSONObject:
        """The message in OpenAI chat format: ``raw``, else role and text."""
        return self.raw if self.raw is not None else {"role": self.role, "content": self.content}


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
    #: Every other field of a chat completions request, as the client sent it (``stream``,
    #: ``tools``, ``n``, unknown fields…); ``None`` for the other surfaces. OpenAI-style
    #: backends send these instead of ``params``.
    passthrough: JSONObject | None = None

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
    """New answer text, to be appended to what was emitted before.

    ``raw`` is the upstream's ``chat.completion.chunk`` it came from (OpenAI-style backends), to
    forward as it is; ``text`` is then choice 0's ``content`` fragment (possibly empty, for a
    chunk that carries only tool-call fragments, a refusal or logprobs).
    """

    text: str
    raw: JSONObject | None = None


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
    #: Every choice of the answer (``n`` > 1, tool calls, refusals); empty means one choice,
    #: the plain ``text``.
    choices: tuple[Choice, ...] = ()
    #: The upstream's whole ``chat.completion`` (a non-streamed OpenAI-style answer), to
    #: forward as it is.
    raw: JSONObject | None = None
    #: The stored id of each choice, in choice order (``message_id`` is the first).
    message_ids: tuple[str, ...] = ()

    def all_choices(self) -> tuple[Choice, ...]:
        if self.choices:
            return self.choices
        message = {"role": "assistant", "content": self.text}
        return (Choice(0, message, self.finish_reason),)


@dataclass(frozen=True, slots=True)
class Choice:
    """One choice of an answer: the assistant message in OpenAI chat format (``content``,
    ``tool_calls``, ``refusal``, reasoning fields…), its finish reason and logprobs."""

    index: int
    message: JSONObject
    finish_reason: str | None
    logprobs: Any = None

    @property
    def text(self) -> str:
        content = self.message.get("content")
        return content if isinstance(content, str) else ""


ChatEvent = TextDelta | TextReset | Finished
