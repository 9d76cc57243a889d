"""The ``responses`` and ``conversation_metadata`` tables (``chatgpt_api.store.responses``) on
SQLite and PostgreSQL: owner scoping, delete, and the records going with their conversation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chatgpt_api.store import NewMessage, SQLStore, open_store
from chatgpt_api.store.responses import ResponseRecord, ResponseStore
from tests.pg import pg_url

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    return pg_url(request.getfixturevalue("pg_database"))


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[SQLStore]:
    opened = await open_store(database_url)
    try:
        yield opened
    finally:
        await opened.close()


async def test_records_are_owned_deleted_and_go_with_their_conversation(store: SQLStore) -> None:
    records = ResponseStore(store)
    conversation = await store.create_conversation(backend="openai", model="m", owner="alice")
    _, answer = await store.add_turn(
        conversation.id,
        parent_id=None,
        messages=[NewMessage("user", "Hi"), NewMessage("assistant", "Hello")],
    )
    created = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    record = ResponseRecord(
        id="resp_1",
        owner="alice",
        conversation_id=conversation.id,
        message_id=answer.id,
        body={"id": "resp_1", "object": "response", "output": [{"type": "message"}]},
        input_items=[{"id": "msg_1", "type": "message", "role": "user"}],
        created_at=created,
    )
    await records.add(record)
    assert await records.get("resp_1", owner="alice") == record
    assert await records.get("resp_1", owner="bob") is None
    assert await records.get("resp_1", owner=None) is None
    assert not await records.delete("resp_1", owner="bob")
    assert await records.delete("resp_1", owner="alice")
    assert await records.get("resp_1", owner="alice") is None

    await records.add(record)
    assert await records.metadata(conversation.id) == {}
    await records.set_metadata(conversation.id, {"a": "1"})
    await records.set_metadata(conversation.id, {"b": "2"})
    assert await records.metadata(conversation.id) == {"b": "2"}
    assert await store.delete_conversation(conversation.id, owner="alice")
    assert await records.get("resp_1", owner="alice") is None
    assert await records.metadata(conversation.id) == {}
