"""Value types of the conversation store: what goes in (:class:`NewMessage`) and what comes out
(:class:`Conversation`, :class:`StoredMessage`).

All are frozen. Timestamps are timezone-aware UTC datetimes. A conversation is a tree of
messages: each message points to its ``parent_id`` (None for a root) in the same conversation,
and ``current_node`` is the message at the tip of the branch the user is on.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal, TypeAlias, get_args

from chatgpt_api.messages import Role, Usage

MessageStatus = Literal["complete", "partial", "error"]
#: The roles of :data:`chatgpt_api.messages.Role` ("developer" is OpenAI's newer "system").
StoredRole: TypeAlias = Role

_UUID7_CLEAR: Final = ~(0xF << 76 | 0x3 << 62) & (1 << 128) - 1
_UUID7_SET: Final = 0x7 << 76 | 0x2 << 62
MESSAGE_STATUSES: Final = frozenset(get_args(MessageStatus))
STORED_ROLES: Final = frozenset(get_args(StoredRole))


def storable_text(text: str) -> str:
    """``text`` as both databases can store it: NUL (refused by PostgreSQL) and lone surrogates
    (not encodable as UTF-8) become U+FFFD; anything else is kept as is."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    if text.isascii():  # no surrogates: skip the copy that encoding makes
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # Pairs of surrogates become the character they encode; lone ones become U+FFFD.
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def new_id() -> str:
    """A fresh id for a conversation or a message: a UUID version 7 string (RFC 9562).

    The first 48 bits are the time in milliseconds, the other 74 free bits random: ids made
    one after the other land next to each other in the indexes, so a batch of turns touches a
    few index pages instead of one per id and index (the main cost of a commit on SQLite).
    """
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(_random_bytes(10))
    text = f"{value & _UUID7_CLEAR | _UUID7_SET:032x}"  # version 7, variant 10
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


class _RandomPool:
    """``os.urandom`` read 4 KiB at a time (one system call per ~400 ids), emptied in a
    forked child so that no two processes hand out the same bytes."""

    def __init__(self) -> None:
        self.buffer, self.used = b"", 0
        self.lock = threading.Lock()
        os.register_at_fork(after_in_child=self.empty)

    def empty(self) -> None:
        self.buffer, self.used = b"", 0

    def take(self, size: int) -> bytes:
        with self.lock:
            if self.used + size > len(self.buffer):
                self.buffer, self.used = os.urandom(4096), 0
            start = self.used
            self.used = start + size
            return self.buffer[start : start + size]


_random_bytes = _RandomPool().take


def usage_from_json(value: Mapping[str, object]) -> Usage:
    """A :class:`Usage` from ``{"prompt_tokens": n, "completion_tokens": m}`` (missing → 0)."""
    return Usage(
        prompt_tokens=_count(value.get("prompt_tokens")),
        completion_tokens=_count(value.get("completion_tokens")),
    )


def _count(value: object) -> int:
    return int(value) if isinstance(value, int | float) else 0


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    title: str | None
    owner: str | None
    backend: str
    model: str
    upstream_conversation_id: str | None
    current_node: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class StoredMessage:
    id: str
    conversation_id: str
    parent_id: str | None
    role: StoredRole
    content: str
    model: str | None
    status: MessageStatus
    error: str | None
    upstream_message_id: str | None
    usage: Usage | None
    latency_ms: int | None
    created_at: datetime
    #: The message in OpenAI chat form when it has more than text (tool calls, a tool result,
    #: content parts, a name…); large inline data is replaced by attachment references.
    payload: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to add with :meth:`ConversationStore.add_turn`; ``id=None`` → a new id."""

    role: StoredRole
    content: str
    model: str | None = None
    status: MessageStatus = "complete"
    error: str | None = None
    upstream_message_id: str | None = None
    #: A :class:`Usage`, or its JSON form ``{"prompt_tokens": n, "completion_tokens": m}``.
    usage: Usage | Mapping[str, int] | None = None
    latency_ms: int | None = None
    id: str | None = None
    #: The message in OpenAI chat form, when it has more than ``role`` and ``content`` text.
    payload: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.usage is not None and not isinstance(self.usage, Usage):
            object.__setattr__(self, "usage", usage_from_json(self.usage))
        if self.role not in STORED_ROLES:
            raise ValueError(f"role must be one of {sorted(STORED_ROLES)}, not {self.role!r}")
        if self.status not in MESSAGE_STATUSES:
            raise ValueError(
                f"status must be one of {sorted(MESSAGE_STATUSES)}, not {self.status!r}"
            )
        if self.latency_ms is not None and self.latency_ms < 0:
            raise ValueError("latency_ms must not be negative")


@dataclass(frozen=True, slots=True)
class NewConversation:
    """How :meth:`ConversationStore.record_turn` creates the conversation when it must.

    ``id=None`` → a new id; ``title`` is made storable like message text.
    """

    backend: str
    model: str
    title: str | None = None
    upstream_conversation_id: str | None = None
    id: str | None = None


@dataclass(frozen=True, slots=True)
class RecordedTurn:
    """What :meth:`ConversationStore.record_turn` wrote: the conversation the turn is in (and
    whether the call created it) and the turn's messages, root-most first."""

    conversation_id: str
    created: bool
    messages: list[StoredMessage]
    #: The siblings of the last message written with it (other choices of an answer).
    alternatives: list[StoredMessage] = dataclasses.field(default_factory=list)
