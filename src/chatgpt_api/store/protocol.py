"""The :class:`ConversationStore` seam: what the service needs from a conversation store.

Contract (tests/test_store_contract.py checks every implementation): another owner's
conversation is treated exactly like a missing one. A turn is a chain of messages written
atomically under ``parent_id`` (a non-tip parent makes a sibling branch) and moves
``current_node``. ``record_turn`` is the one write of a finished turn (get-or-create, append,
move the tip); concurrent calls may share a transaction, each caller getting its own result
after commit. ``updated_at`` tracks new turns only. Database failures raise
:class:`StoreUnavailable` (503) and the store recovers by itself.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar

from chatgpt_api.store.attachments import Attachment
from chatgpt_api.store.values import (
    Conversation,
    NewConversation,
    NewMessage,
    RecordedTurn,
    StoredMessage,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Row
    from sqlalchemy.sql import Executable

_T = TypeVar("_T")

#: The timed operations (``chatgpt_api_store_operation_seconds{operation=...}``).
OPERATIONS: Final = (
    "create_conversation",
    "get_conversation",
    "conversation_exists",
    "list_conversations",
    "count_conversations",
    "add_turn",
    "record_turn",
    "get_message",
    "path_to",
    "messages_of",
    "children_of",
    "set_current_node",
    "rename",
    "set_upstream_conversation_id",
    "delete_conversation",
    "attachments",
)

#: Times one operation: ``observe(operation, seconds)``.
Observe = Callable[[str, float], None]


class Jobs(Protocol):
    """Runs jobs (functions of a synchronous connection) the store's one way (:class:`SQLStore`):
    driver failures raise :class:`StoreUnavailable`, a duplicate :class:`DuplicateId`."""

    async def read(self, job: Callable[[Connection], _T]) -> _T: ...

    async def write(self, job: Callable[[Connection], _T]) -> _T:
        """``job`` in one write transaction, finished even if the caller is cancelled."""
        ...

    async def rows(self, query: Executable) -> Sequence[Row[Any]]:
        """The rows of a read query (one read job)."""
        ...

    async def execute(self, statement: Executable) -> int:
        """One write statement in its own transaction; the number of rows it touched."""
        ...


class ConversationStore(Protocol):
    async def create_conversation(
        self,
        *,
        backend: str,
        model: str,
        owner: str | None = None,
        title: str | None = None,
        conversation_id: str | None = None,
        upstream_conversation_id: str | None = None,
    ) -> Conversation:
        """A new, empty conversation (a new id unless ``conversation_id`` is given)."""
        ...

    async def get_conversation(
        self, conversation_id: str, *, owner: str | None
    ) -> Conversation | None: ...

    async def conversation_exists(self, conversation_id: str) -> bool:
        """True if a conversation with this id exists, whoever owns it (for the service)."""
        ...

    async def list_conversations(
        self, *, owner: str | None, limit: int = 20, offset: int = 0
    ) -> list[Conversation]:
        """The owner's conversations, most recently updated first."""
        ...

    async def count_conversations(self, *, owner: str | None) -> int: ...

    async def add_turn(
        self,
        conversation_id: str,
        *,
        parent_id: str | None,
        messages: Sequence[NewMessage],
    ) -> list[StoredMessage]:
        """Append a chain of messages under ``parent_id``; see the module docstring."""
        ...

    async def record_turn(
        self,
        conversation_id: str | None,
        *,
        owner: str | None,
        create: NewConversation | None,
        parent_id: str | None,
        messages: Sequence[NewMessage],
        unknown_parent_is_root: bool = False,
        alternatives: Sequence[NewMessage] = (),
    ) -> RecordedTurn:
        """Store a whole turn in one transaction; see the module docstring.

        Appends to the owner's conversation ``conversation_id`` if there is one; otherwise
        creates one as ``create`` says (ConversationNotFound if ``create`` is None), the chain
        at its root. A ``parent_id`` not in the conversation is :class:`InvalidParent`, or the
        root if ``unknown_parent_is_root``. ``alternatives`` (the other choices of an answer)
        are written as siblings of the chain's last message; the tip stays on that message.
        """
        ...

    async def get_message(
        self, message_id: str, *, conversation_id: str
    ) -> StoredMessage | None: ...

    async def path_to(self, message_id: str, *, conversation_id: str) -> list[StoredMessage]:
        """Root → ``message_id`` (empty if the message is not in the conversation)."""
        ...

    async def messages_of(self, conversation_id: str) -> list[StoredMessage]:
        """Every message of the conversation (the whole tree), in creation order."""
        ...

    async def children_of(self, message_id: str, *, conversation_id: str) -> list[StoredMessage]:
        """The direct replies to a message (its branches), in creation order."""
        ...

    async def set_current_node(self, conversation_id: str, message_id: str) -> None:
        """Move the tip; ConversationNotFound / MessageNotFound if either is missing."""
        ...

    async def rename(self, conversation_id: str, title: str | None, *, owner: str | None) -> bool:
        """True if the owner's conversation was renamed."""
        ...

    async def set_upstream_conversation_id(self, conversation_id: str, value: str | None) -> None:
        """Record the upstream's id for the conversation; ConversationNotFound if missing."""
        ...

    async def delete_conversation(self, conversation_id: str, *, owner: str | None) -> bool:
        """True if the owner's conversation (and all its messages) was deleted."""
        ...

    async def attachments(self, hashes: Collection[str]) -> dict[str, Attachment]:
        """The stored attachments among ``hashes`` (SHA-256 hex), by hash."""
        ...

    async def ping(self) -> None:
        """Return if the database answers; raise StoreUnavailable otherwise."""
        ...

    async def close(self) -> None: ...
