"""Value types shared by the API layer, the service and the backends.

A backend turns a :class:`ChatRequest` into an async stream of :data:`ChatEvent` values; raw
upstream JSON never leaves the backend. A non-streaming answer is the collected stream.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One user turn to send upstream.

    ``upstream_url`` overrides the backend's configured URL for this request (the seed's
    ``reverse_proxy`` field); ``None`` means "use the configured one".
    """

    prompt: str
    model: str
    access_token: str
    conversation_id: str | None = None
    parent_message_id: str | None = None
    upstream_url: str | None = None


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
    """The answer is complete. ``text`` is the whole answer."""

    text: str
    conversation_id: str | None
    message_id: str


ChatEvent = TextDelta | TextReset | Finished
