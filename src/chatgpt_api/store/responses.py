"""Stored Responses API responses (the ``responses`` table) and the Conversations API's
conversation metadata (``conversation_metadata``), on the conversation store's engine.

A record keeps the response object as it was returned and its input items, and points at the
answer's node in the conversation tree (``conversation_id``, ``message_id``): a
``previous_response_id`` continues the conversation from there. Owner scoping is the
conversation store's: a response of another owner reads exactly like a missing one. Deleting a
conversation deletes its responses and metadata (foreign keys); deleting a response leaves the
tree alone. Metadata is read and written for a conversation whose ownership the caller checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC

from sqlalchemy import ColumnElement, delete, insert, select
from sqlalchemy.engine import Connection

from chatgpt_api.store.response_record import ResponseRecord as ResponseRecord
from chatgpt_api.store.schema import conversation_metadata
from chatgpt_api.store.schema import responses as table
from chatgpt_api.store.sql import SQLStore


def _owned_by(owner: str | None) -> ColumnElement[bool]:
    return table.c.owner.is_(None) if owner is None else table.c.owner == owner


class ResponseStore:
    def __init__(self, store: SQLStore) -> None:
        self._store = store

    async def add(self, record: ResponseRecord) -> None:
        await self._store.execute(
            insert(table).values(
                id=record.id,
                owner=record.owner,
                conversation_id=record.conversation_id,
                message_id=record.message_id,
                body=dict(record.body),
                input_items=[dict(item) for item in record.input_items],
                created_at=record.created_at.astimezone(UTC),
            )
        )

    async def get(self, response_id: str, *, owner: str | None) -> ResponseRecord | None:
        query = select(table).where(table.c.id == response_id, _owned_by(owner))
        rows = await self._store.rows(query)
        if not rows:
            return None
        row = rows[0]
        return ResponseRecord(
            id=row.id,
            owner=row.owner,
            conversation_id=row.conversation_id,
            message_id=row.message_id,
            body=row.body,
            input_items=row.input_items,
            created_at=row.created_at,
        )

    async def delete(self, response_id: str, *, owner: str | None) -> bool:
        query = delete(table).where(table.c.id == response_id, _owned_by(owner))
        return await self._store.execute(query) > 0

    async def metadata(self, conversation_id: str) -> dict[str, str]:
        """The conversation's metadata (``{}`` when none was set)."""
        query = select(conversation_metadata.c.metadata).where(
            conversation_metadata.c.conversation_id == conversation_id
        )
        rows = await self._store.rows(query)
        value = rows[0][0] if rows else None
        return dict(value) if isinstance(value, dict) else {}

    async def set_metadata(self, conversation_id: str, value: Mapping[str, str]) -> None:
        """Replace the conversation's metadata."""
        where = conversation_metadata.c.conversation_id == conversation_id
        remove = delete(conversation_metadata).where(where)
        add = insert(conversation_metadata).values(
            conversation_id=conversation_id, metadata=dict(value)
        )

        def replace(connection: Connection) -> None:
            connection.execute(remove)
            connection.execute(add)

        await self._store.write(replace)
