"""Conversation-store latency: :class:`TimedStore` wraps a store and times every call.

Each call is observed in ``chatgpt_api_store_operation_seconds{operation=<method>}``, whether it
succeeds or raises. The cost is two clock reads and one histogram update per store call (a turn
makes a handful); ``ping`` and ``close`` are passed through untimed.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Collection, Sequence
from typing import TypeVar

from prometheus_client import Histogram

from chatgpt_api.store import (
    Conversation,
    ConversationStore,
    NewConversation,
    NewMessage,
    RecordedTurn,
    StoredMessage,
)
from chatgpt_api.store.attachments import Attachment

T = TypeVar("T")

OPERATIONS = (
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


class TimedStore:
    """A :class:`ConversationStore` that times the calls it passes on to ``inner``."""

    def __init__(self, inner: ConversationStore, histogram: Histogram) -> None:
        self.inner = inner
        self._observe = {name: histogram.labels(name).observe for name in OPERATIONS}

    async def _timed(self, operation: str, call: Awaitable[T]) -> T:
        started = time.perf_counter()
        try:
            return await call
        finally:
            self._observe[operation](time.perf_counter() - started)

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
        return await self._timed(
            "create_conversation",
            self.inner.create_conversation(
                backend=backend,
                model=model,
                owner=owner,
                title=title,
                conversation_id=conversation_id,
                upstream_conversation_id=upstream_conversation_id,
            ),
        )

    async def get_conversation(
        self, conversation_id: str, *, owner: str | None
    ) -> Conversation | None:
        return await self._timed(
            "get_conversation", self.inner.get_conversation(conversation_id, owner=owner)
        )

    async def conversation_exists(self, conversation_id: str) -> bool:
        return await self._timed(
            "conversation_exists", self.inner.conversation_exists(conversation_id)
        )

    async def list_conversations(
        self, *, owner: str | None, limit: int = 20, offset: int = 0
    ) -> list[Conversation]:
        return await self._timed(
            "list_conversations",
            self.inner.list_conversations(owner=owner, limit=limit, offset=offset),
        )

    async def count_conversations(self, *, owner: str | None) -> int:
        return await self._timed("count_conversations", self.inner.count_conversations(owner=owner))

    async def add_turn(
        self,
        conversation_id: str,
        *,
        parent_id: str | None,
        messages: Sequence[NewMessage],
    ) -> list[StoredMessage]:
        return await self._timed(
            "add_turn",
            self.inner.add_turn(conversation_id, parent_id=parent_id, messages=messages),
        )

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
        return await self._timed(
            "record_turn",
            self.inner.record_turn(
                conversation_id,
                owner=owner,
                create=create,
                parent_id=parent_id,
                messages=messages,
                unknown_parent_is_root=unknown_parent_is_root,
                alternatives=alternatives,
            ),
        )

    async def get_message(self, message_id: str, *, conversation_id: str) -> StoredMessage | None:
        return await self._timed(
            "get_message", self.inner.get_message(message_id, conversation_id=conversation_id)
        )

    async def path_to(self, message_id: str, *, conversation_id: str) -> list[StoredMessage]:
        return await self._timed(
            "path_to", self.inner.path_to(message_id, conversation_id=conversation_id)
        )

    async def messages_of(self, conversation_id: str) -> list[StoredMessage]:
        return await self._timed("messages_of", self.inner.messages_of(conversation_id))

    async def children_of(self, message_id: str, *, conversation_id: str) -> list[StoredMessage]:
        return await self._timed(
            "children_of", self.inner.children_of(message_id, conversation_id=conversation_id)
        )

    async def set_current_node(self, conversation_id: str, message_id: str) -> None:
        await self._timed(
            "set_current_node", self.inner.set_current_node(conversation_id, message_id)
        )

    async def rename(self, conversation_id: str, title: str | None, *, owner: str | None) -> bool:
        return await self._timed("rename", self.inner.rename(conversation_id, title, owner=owner))

    async def set_upstream_conversation_id(self, conversation_id: str, value: str | None) -> None:
        await self._timed(
            "set_upstream_conversation_id",
            self.inner.set_upstream_conversation_id(conversation_id, value),
        )

    async def delete_conversation(self, conversation_id: str, *, owner: str | None) -> bool:
        return await self._timed(
            "delete_conversation", self.inner.delete_conversation(conversation_id, owner=owner)
        )

    async def attachments(self, hashes: Collection[str]) -> dict[str, Attachment]:
        return await self._timed("attachments", self.inner.attachments(hashes))

    async def ping(self) -> None:
        await self.inner.ping()

    async def close(self) -> None:
        await self.inner.close()
