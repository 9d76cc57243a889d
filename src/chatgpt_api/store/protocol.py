"""The :class:`ConversationStore` seam: what the service needs from a conversation store.

Contract (checked for every implementation by ``tests/test_store_contract.py``):

* Owner scoping: ``owner`` is the gateway key owning a conversation (None = anonymous, a
  separate "owner" of its own). Methods taking ``owner`` treat a conversation of another owner
  exactly like a missing one (None / False / 0), revealing nothing about it. Methods without
  ``owner`` are for the service, after it has checked ownership.
* A turn is a chain of messages written atomically: each message's parent is the previous one,
  the first's is ``parent_id`` (None or a message of the same conversation, else
  :class:`InvalidParent`). Adding from a message that is not the tip makes a sibling branch. The
  conversation's ``current_node`` moves to the turn's last message and ``updated_at`` is bumped.
  On any error nothing of the turn is written.
* ``record_turn`` is the one write of a finished turn: get-or-create the conversation, check
  the parent, append the chain and move the tip, atomically. An existing conversation of
  another owner is not appended to: it is created under ``create.id``, which then fails with
  :class:`DuplicateId` if that id is taken. Concurrent calls may share a transaction (batched on
  SQLite), but each caller gets its own result or error, only after its turn was committed; a
  turn whose caller is cancelled is written whole or not at all.
* ``updated_at`` tracks activity (new turns); ``rename``, ``set_current_node`` and
  ``set_upstream_conversation_id`` leave it alone, so renaming does not reorder the list.
* Failures of the database itself raise :class:`StoreUnavailable` (HTTP 503); the store
  recovers by itself once the database is back.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Final, Protocol

from chatgpt_api.store.attachments import Attachment
from chatgpt_api.store.values import (
    Conversation,
    NewConversation,
    NewMessage,
    RecordedTurn,
    StoredMessage,
)

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
