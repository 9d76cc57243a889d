"""The ConversationStore contract, run against real SQLite (a temp dir) and real PostgreSQL.

PostgreSQL is the server on 127.0.0.1:5432 (trust auth, user ``postgres``). Each test module
creates its own database ``chatgpt_api_test_<unix time>_<random>`` (and a few more for the
fresh-database tests) and drops them at the end, so parallel runs do not collide; databases left
by killed runs are dropped by the first run an hour later. When the server is unreachable the
PostgreSQL half is skipped, except in CI (``CI=true``), where it fails loudly.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import event, text
from sqlalchemy.engine import Connection

from chatgpt_api.messages import Usage
from chatgpt_api.store import (
    Conversation,
    ConversationNotFound,
    DuplicateId,
    EngineOptions,
    InvalidParent,
    MessageNotFound,
    NewConversation,
    NewMessage,
    SQLStore,
    StoredMessage,
    StoreUnavailable,
    open_store,
    upgrade_database,
)
from chatgpt_api.store.errors import translate_errors
from chatgpt_api.store.schema import metadata

pytestmark = pytest.mark.anyio

from tests.pg import (  # noqa: E402
    fresh_database,
    pg_url,
    require_postgres,
    terminate_pg_connections,
)


@pytest.fixture(scope="module")
def migrated_pg_database() -> Iterator[str]:
    """One migrated database for the module; tests empty its tables before use."""
    with fresh_database() as name:
        asyncio.run(upgrade_database(pg_url(name)))
        yield name


# --- the store under test ------------------------------------------------------------------


@dataclass
class Backend:
    kind: str  # "sqlite" | "postgresql"
    url: str
    pg_database: str | None = None


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return Backend("sqlite", f"sqlite+aiosqlite:///{tmp_path / 'data' / 'chatgpt-api.db'}")
    name = request.getfixturevalue("migrated_pg_database")
    return Backend("postgresql", pg_url(name), name)


@pytest.fixture()
async def store(backend: Backend) -> AsyncIterator[SQLStore]:
    opened = await open_store(backend.url)
    if backend.kind == "postgresql":
        async with opened.engine.begin() as connection:
            await connection.execute(text("TRUNCATE messages, conversations CASCADE"))
    try:
        yield opened
    finally:
        await opened.close()


async def new_conversation(store: SQLStore, owner: str | None = "key-1") -> Conversation:
    return await store.create_conversation(backend="openai", model="gpt-test", owner=owner)


def user(content: str = "hello", **fields: Any) -> NewMessage:
    return NewMessage("user", content, **fields)


def assistant(content: str = "hi there", **fields: Any) -> NewMessage:
    return NewMessage("assistant", content, model="gpt-test", **fields)


def ids(messages: list[StoredMessage]) -> list[str]:
    return [m.id for m in messages]


# --- conversations -------------------------------------------------------------------------


async def test_create_and_get(store: SQLStore) -> None:
    before = datetime.now(UTC)
    created = await store.create_conversation(
        backend="chatgpt-web", model="gpt-4o", owner="key-1", title="Hello"
    )
    assert created.backend == "chatgpt-web" and created.model == "gpt-4o"
    assert created.title == "Hello" and created.owner == "key-1"
    assert created.current_node is None and created.upstream_conversation_id is None
    assert uuid.UUID(created.id).version == 7  # time-ordered: neighbours in the indexes
    assert created.created_at.tzinfo is not None and created.created_at >= before
    assert created.updated_at == created.created_at

    loaded = await store.get_conversation(created.id, owner="key-1")
    assert loaded == created
    assert loaded is not None and loaded.created_at.utcoffset() == UTC.utcoffset(None)
    assert await store.get_conversation("missing", owner="key-1") is None


async def test_given_ids_and_duplicates(store: SQLStore) -> None:
    created = await store.create_conversation(
        backend="chatgpt-web",
        model="m",
        owner=None,
        conversation_id="conv-1",
        upstream_conversation_id="upstream-1",
    )
    assert created.id == "conv-1" and created.upstream_conversation_id == "upstream-1"
    with pytest.raises(DuplicateId) as caught:
        await store.create_conversation(backend="b", model="m", conversation_id="conv-1")
    assert caught.value.status == 409
    assert await store.count_conversations(owner=None) == 1


async def test_list_is_paged_newest_updated_first(store: SQLStore) -> None:
    made = [await new_conversation(store) for _ in range(5)]
    await new_conversation(store, owner="key-2")
    # A new turn makes the oldest conversation the most recently updated one.
    await store.add_turn(made[0].id, parent_id=None, messages=[user()])
    expected = [made[0].id, *reversed(ids_of(made[1:]))]

    pages = [await store.list_conversations(owner="key-1", limit=2, offset=o) for o in (0, 2, 4)]
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [c.id for page in pages for c in page] == expected
    assert [c.id for c in await store.list_conversations(owner="key-1")] == expected
    assert await store.list_conversations(owner="key-1", offset=10) == []
    assert await store.count_conversations(owner="key-1") == 5
    assert await store.count_conversations(owner="key-2") == 1
    assert await store.count_conversations(owner="nobody") == 0
    with pytest.raises(ValueError):
        await store.list_conversations(owner="key-1", limit=-1)


def ids_of(conversations: list[Conversation]) -> list[str]:
    return [c.id for c in conversations]


async def test_owner_isolation(store: SQLStore) -> None:
    mine = await new_conversation(store, owner="key-1")
    anonymous = await new_conversation(store, owner=None)

    assert await store.get_conversation(mine.id, owner="key-2") is None
    assert await store.get_conversation(mine.id, owner=None) is None
    assert await store.get_conversation(anonymous.id, owner="key-1") is None
    assert await store.get_conversation(anonymous.id, owner=None) == anonymous
    assert ids_of(await store.list_conversations(owner="key-2")) == []
    assert ids_of(await store.list_conversations(owner=None)) == [anonymous.id]

    assert await store.rename(mine.id, "stolen", owner="key-2") is False
    assert await store.delete_conversation(mine.id, owner="key-2") is False
    assert await store.delete_conversation(mine.id, owner=None) is False
    assert await store.get_conversation(mine.id, owner="key-1") == mine


async def test_rename(store: SQLStore) -> None:
    conversation = await new_conversation(store)
    assert await store.rename(conversation.id, "Trip to Kyoto 京都", owner="key-1") is True
    renamed = await store.get_conversation(conversation.id, owner="key-1")
    assert renamed is not None and renamed.title == "Trip to Kyoto 京都"
    assert renamed.updated_at == conversation.updated_at  # renaming does not reorder
    assert await store.rename(conversation.id, None, owner="key-1") is True
    cleared = await store.get_conversation(conversation.id, owner="key-1")
    assert cleared is not None and cleared.title is None
    assert await store.rename("missing", "x", owner="key-1") is False


async def test_upstream_ids(store: SQLStore) -> None:
    conversation = await new_conversation(store)
    await store.set_upstream_conversation_id(conversation.id, "web-conv-9")
    loaded = await store.get_conversation(conversation.id, owner="key-1")
    assert loaded is not None and loaded.upstream_conversation_id == "web-conv-9"
    await store.set_upstream_conversation_id(conversation.id, None)
    loaded = await store.get_conversation(conversation.id, owner="key-1")
    assert loaded is not None and loaded.upstream_conversation_id is None
    with pytest.raises(ConversationNotFound):
        await store.set_upstream_conversation_id("missing", "x")

    [stored] = await store.add_turn(
        conversation.id, parent_id=None, messages=[assistant(upstream_message_id="web-msg-1")]
    )
    again = await store.get_message(stored.id, conversation_id=conversation.id)
    assert again is not None and again.upstream_message_id == "web-msg-1"


async def test_delete_cascades(store: SQLStore) -> None:
    doomed = await new_conversation(store)
    kept = await new_conversation(store)
    turn = await store.add_turn(doomed.id, parent_id=None, messages=[user(), assistant()])
    await store.add_turn(doomed.id, parent_id=turn[0].id, messages=[assistant("again")])
    await store.add_turn(kept.id, parent_id=None, messages=[user()])

    assert await store.delete_conversation(doomed.id, owner="key-1") is True
    assert await store.get_conversation(doomed.id, owner="key-1") is None
    assert await store.messages_of(doomed.id) == []
    assert await store.get_message(turn[0].id, conversation_id=doomed.id) is None
    assert await store.delete_conversation(doomed.id, owner="key-1") is False
    left = await store.read(
        lambda connection: connection.scalar(text("SELECT count(*) FROM messages"))
    )
    assert left == 1
    assert len(await store.messages_of(kept.id)) == 1


# --- turns, branches, paths ----------------------------------------------------------------


async def test_add_turn_chain(store: SQLStore) -> None:
    conversation = await new_conversation(store)
    system, question, answer = await store.add_turn(
        conversation.id,
        parent_id=None,
        messages=[NewMessage("system", "be brief"), user("2+2?"), assistant("4")],
    )
    assert system.parent_id is None
    assert question.parent_id == system.id and answer.parent_id == question.id
    assert all(m.conversation_id == conversation.id for m in (system, question, answer))

    loaded = await store.get_conversation(conversation.id, owner="key-1")
    assert loaded is not None
    assert loaded.current_node == answer.id
    assert loaded.updated_at > conversation.updated_at

    follow_up = await store.add_turn(
        conversation.id, parent_id=answer.id, messages=[user("and 3+3?"), assistant("6")]
    )
    path = await store.path_to(follow_up[-1].id, conversation_id=conversation.id)
    assert ids(path) == [system.id, question.id, answer.id, *ids(follow_up)]
    assert path[:3] == [system, question, answer]  # what add_turn returned is what is stored
    assert ids(await store.messages_of(conversation.id)) == ids(path)
    assert await store.get_message(answer.id, conversation_id=conversation.id) == answer


async def test_branches(store: SQLStore) -> None:
    conversation = await new_conversation(store)
    q1, a1 = await store.add_turn(conversation.id, parent_id=None, messages=[user(), assistant()])
    q2, a2 = await store.add_turn(
        conversation.id, parent_id=a1.id, messages=[user("tell a joke"), assistant("joke 1")]
    )
    # Regenerate: a new answer under q2; edit: a new question under a1.
    [a2b] = await store.add_turn(conversation.id, parent_id=q2.id, messages=[assistant("joke 2")])
    q2c, a2c = await store.add_turn(
        conversation.id, parent_id=a1.id, messages=[user("tell a poem"), assistant("poem")]
    )

    assert ids(await store.path_to(a2b.id, conversation_id=conversation.id)) == [
        q1.id,
        a1.id,
        q2.id,
        a2b.id,
    ]
    assert ids(await store.path_to(a2c.id, conversation_id=conversation.id)) == [
        q1.id,
        a1.id,
        q2c.id,
        a2c.id,
    ]
    assert ids(await store.children_of(a1.id, conversation_id=conversation.id)) == [q2.id, q2c.id]
    assert ids(await store.children_of(q2.id, conversation_id=conversation.id)) == [a2.id, a2b.id]
    assert ids(await store.messages_of(conversation.id)) == [
        q1.id,
        a1.id,
        q2.id,
        a2.id,
        a2b.id,
        q2c.id,
        a2c.id,
    ]

    current = await store.get_conversation(conversation.id, owner="key-1")
    assert current is not None and current.current_node == a2c.id
    await store.set_current_node(conversation.id, a2.id)
    current = await store.get_conversation(conversation.id, owner="key-1")
    assert current is not None and current.current_node == a2.id

    with pytest.raises(MessageNotFound):
        await store.set_current_node(conversation.id, "missing")
    with pytest.raises(ConversationNotFound):
        await store.set_current_node("missing", a2.id)
    current = await store.get_conversation(conversation.id, owner="key-1")
    assert current is not None and current.current_node == a2.id


async def test_path_and_lookups_stay_inside_the_conversation(store: SQLStore) -> None:
    first = await new_conversation(store)
    second = await new_conversation(store)
    [message] = await store.add_turn(first.id, parent_id=None, messages=[user()])
    assert await store.get_message(message.id, conversation_id=second.id) is None
    assert await store.path_to(message.id, conversation_id=second.id) == []
    assert await store.path_to("missing", conversation_id=first.id) == []
    assert await store.children_of(message.id, conversation_id=second.id) == []
    with pytest.raises(MessageNotFound):
        await store.set_current_node(second.id, message.id)


async def test_invalid_parent_writes_nothing(store: SQLStore) -> None:
    conversation = await new_conversation(store)
    other = await new_conversation(store)
    turn = await store.add_turn(conversation.id, parent_id=None, messages=[user(), assistant()])
    [foreign] = await store.add_turn(other.id, parent_id=None, messages=[user()])
    before = await store.get_conversation(conversation.id, owner="key-1")

    for parent in ("no-such-message", foreign.id):
        with pytest.raises(InvalidParent) as caught:
            await store.add_turn(
                conversation.id, parent_id=parent, messages=[user("x"), assistant("y")]
            )
        assert caught.value.status == 400 and caught.value.code == "invalid_parent"
        assert caught.value.message == "parent message not found in this conversation"

    assert await store.messages_of(conversation.id) == turn
    assert await store.get_conversation(conversation.id, owner="key-1") == before


async def test_failed_turn_writes_nothing(store: SQLStore) -> None:
    conversation = await new_conversation(store)
    [kept] = await store.add_turn(conversation.id, parent_id=None, messages=[user(id="m-1")])
    before = await store.get_conversation(conversation.id, owner="key-1")
    with pytest.raises(DuplicateId):  # the second message's id is taken
        await store.add_turn(
            conversation.id, parent_id=kept.id, messages=[assistant(id="m-2"), user(id="m-1")]
        )
    assert await store.messages_of(conversation.id) == [kept]
    assert await store.get_conversation(conversation.id, owner="key-1") == before
    with pytest.raises(ConversationNotFound):
        await store.add_turn("missing", parent_id=None, messages=[user()])
    with pytest.raises(ValueError):
        await store.add_turn(conversation.id, parent_id=None, messages=[])


async def test_message_fields_round_trip(store: SQLStore) -> None:
    conversation = await new_conversation(store)
    sent = [
        NewMessage("developer", "house rules"),
        NewMessage("tool", '{"temperature": 21}'),
        user("Grüße, 你好, مرحبا, 🙂👍🏽 — \"quotes\" and 'apostrophes'\n\ttabs"),
        assistant(
            "answer",
            usage=Usage(prompt_tokens=12, completion_tokens=34),
            latency_ms=1234,
            upstream_message_id="up-1",
        ),
        assistant("half an ans", status="partial", error="cancelled", usage={"prompt_tokens": 5}),
        assistant("", status="error", error="ChatGPT error 500: boom"),
    ]
    stored = await store.add_turn(conversation.id, parent_id=None, messages=sent)
    loaded = await store.messages_of(conversation.id)
    assert loaded == stored
    assert [m.role for m in loaded] == ["developer", "tool", "user", *["assistant"] * 3]
    assert loaded[2].content == sent[2].content
    assert loaded[3].usage == Usage(prompt_tokens=12, completion_tokens=34)
    assert loaded[3].latency_ms == 1234 and loaded[3].model == "gpt-test"
    assert loaded[4].usage == Usage(prompt_tokens=5, completion_tokens=0)
    assert (loaded[4].status, loaded[4].error) == ("partial", "cancelled")
    assert (loaded[5].status, loaded[5].content) == ("error", "")
    assert loaded[0].usage is None and loaded[0].latency_ms is None and loaded[0].model is None
    assert all(m.created_at.tzinfo is not None for m in loaded)


async def test_text_neither_database_can_store_is_replaced(store: SQLStore) -> None:
    conversation = await new_conversation(store)
    [stored] = await store.add_turn(
        conversation.id, parent_id=None, messages=[user("nul\x00 and lone \ud800 surrogate")]
    )
    assert stored.content == "nul\ufffd and lone \ufffd surrogate"
    assert await store.messages_of(conversation.id) == [stored]


async def test_large_content(store: SQLStore) -> None:
    conversation = await new_conversation(store)
    big = ("0123456789abcdéf" * 65536)[: 1024 * 1024]
    [stored] = await store.add_turn(conversation.id, parent_id=None, messages=[assistant(big)])
    loaded = await store.get_message(stored.id, conversation_id=conversation.id)
    assert loaded is not None and loaded.content == big


async def test_concurrent_turns_are_all_stored(store: SQLStore) -> None:
    conversation = await new_conversation(store)
    [root] = await store.add_turn(conversation.id, parent_id=None, messages=[user("root")])

    async def turn(n: int) -> list[StoredMessage]:
        return await store.add_turn(
            conversation.id,
            parent_id=root.id,
            messages=[user(f"question {n}"), assistant(f"answer {n}")],
        )

    async def read() -> None:
        for _ in range(5):
            await store.messages_of(conversation.id)

    results = await asyncio.gather(*(turn(n) for n in range(50)), *(read() for _ in range(5)))
    turns = [r for r in results if r is not None]
    assert len(turns) == 50
    stored = await store.messages_of(conversation.id)
    assert len(stored) == 101
    assert {m.content for m in stored} == {"root"} | {
        f"{kind} {n}" for n in range(50) for kind in ("question", "answer")
    }
    assert len(await store.children_of(root.id, conversation_id=conversation.id)) == 50
    loaded = await store.get_conversation(conversation.id, owner="key-1")
    assert loaded is not None and loaded.current_node in {t[-1].id for t in turns if t}


async def test_cancelled_turns_are_whole_or_absent(store: SQLStore) -> None:
    conversation = await new_conversation(store)
    big = "x" * 300_000
    for delay in (0, 0.001, 0.005, 0.02):
        tasks = [
            asyncio.create_task(
                store.add_turn(conversation.id, parent_id=None, messages=[user(big), assistant()])
            )
            for _ in range(5)
        ]
        await asyncio.sleep(delay)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    await store.flush()  # the cancelled callers' writes finish in the background
    stored = await store.messages_of(conversation.id)
    assert len(stored) == 40  # every started turn was written, each one whole
    await store.add_turn(conversation.id, parent_id=None, messages=[user("after")])


# --- migrations ----------------------------------------------------------------------------


async def test_open_store_twice(backend: Backend, store: SQLStore) -> None:
    conversation = await new_conversation(store)
    again = await open_store(backend.url)
    try:
        assert await again.get_conversation(conversation.id, owner="key-1") == conversation
    finally:
        await again.close()
    await upgrade_database(backend.url)


async def test_migrated_schema_matches_the_code(store: SQLStore) -> None:
    def differences(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection)
        return list(compare_metadata(context, metadata))

    assert await store.read(differences) == []


async def test_concurrent_start_on_a_fresh_postgres_database(pg_database: str) -> None:
    url = pg_url(pg_database)
    stores = await asyncio.gather(*(open_store(url) for _ in range(4)))
    try:
        conversation = await new_conversation(stores[0])
        assert await stores[3].get_conversation(conversation.id, owner="key-1") == conversation
    finally:
        for opened in stores:
            await opened.close()


async def test_concurrent_start_on_fresh_sqlite_files(tmp_path: Path) -> None:
    same = f"sqlite+aiosqlite:///{tmp_path / 'new' / 'db.sqlite'}"
    # Different databases are not serialised by any database lock, only in-process.
    others = [f"sqlite+aiosqlite:///{tmp_path / f'other{n}.sqlite'}" for n in range(3)]
    stores = await asyncio.gather(*(open_store(url) for url in [same, same, same, *others]))
    for opened in stores:
        await opened.ping()
        await opened.close()


# --- unavailable database, recovery ----------------------------------------------------------


async def test_unreachable_postgres_is_unavailable_without_the_password() -> None:
    url = "postgresql+asyncpg://postgres:hunter2-secret@127.0.0.1:1/test"
    with pytest.raises(StoreUnavailable) as caught:
        await open_store(url, EngineOptions(connect_timeout=2))
    error = caught.value
    assert (error.status, error.error_type, error.code) == (
        503,
        "server_error",
        "store_unavailable",
    )
    assert error.message.startswith("the conversation store is unavailable: ")
    assert "hunter2" not in error.message and "hunter2" not in str(error)


async def test_missing_postgres_database_is_unavailable() -> None:
    require_postgres()
    name = f"chatgpt_api_missing_{uuid.uuid4().hex[:8]}"
    with pytest.raises(StoreUnavailable, match="does not exist"):
        await open_store(pg_url(name))


async def test_sqlite_path_that_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match="is a directory"):
        await open_store(f"sqlite+aiosqlite:///{tmp_path}")


async def test_sqlite_directory_that_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(StoreUnavailable, match="cannot create directory"):
        await open_store(f"sqlite+aiosqlite:///{tmp_path / 'file' / 'sub' / 'db.sqlite'}")


async def test_sqlite_read_only_directory(tmp_path: Path) -> None:
    directory = tmp_path / "ro"
    directory.mkdir()
    directory.chmod(0o500)
    try:
        if os.access(directory, os.W_OK):
            pytest.skip("running as a user who can write to read-only directories (root)")
        with pytest.raises(StoreUnavailable):
            await open_store(f"sqlite+aiosqlite:///{directory / 'db.sqlite'}")
        await asyncio.sleep(0.1)  # aiosqlite stops the failed connection's thread lazily
    finally:
        directory.chmod(0o700)


async def test_sqlite_read_only_database(tmp_path: Path) -> None:
    path = tmp_path / "ro.db"
    await (await open_store(f"sqlite+aiosqlite:///{path}")).close()
    url = f"sqlite+aiosqlite:///file:{path}?mode=ro&uri=true"
    try:
        store = await open_store(url)  # at head already: nothing to write
    except StoreUnavailable:
        return  # refusing to start on a read-only database is fine too
    try:
        await store.ping()
        with pytest.raises(StoreUnavailable, match="readonly"):
            await new_conversation(store)
    finally:
        await store.close()


async def test_sqlite_locked_database(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    store = await open_store(f"sqlite+aiosqlite:///{path}", EngineOptions(busy_timeout=0.2))
    conversation = await new_conversation(store)
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
        with pytest.raises(StoreUnavailable, match="database is locked"):
            await store.add_turn(conversation.id, parent_id=None, messages=[user()])
        # Reads still work (WAL), and writes work again once the lock is gone.
        assert await store.get_conversation(conversation.id, owner="key-1") == conversation
        other.execute("ROLLBACK")
        await store.add_turn(conversation.id, parent_id=None, messages=[user()])
    finally:
        other.close()
        await store.close()


async def test_sqlite_disk_full_leaves_nothing_half_written(tmp_path: Path) -> None:
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'full.db'}")
    conversation = await new_conversation(store)

    try:
        # The writer's connection gets a "disk" of about 160 KiB.
        await store.write(
            lambda connection: connection.exec_driver_sql("PRAGMA max_page_count = 40")
        )
        with pytest.raises(StoreUnavailable, match="full"):
            await store.add_turn(
                conversation.id, parent_id=None, messages=[user(), assistant("x" * 1_000_000)]
            )
        assert await store.messages_of(conversation.id) == []
        loaded = await store.get_conversation(conversation.id, owner="key-1")
        assert loaded == conversation
        await store.add_turn(conversation.id, parent_id=None, messages=[user("small")])
    finally:
        await store.close()


async def test_postgres_recovers_after_connections_are_killed(
    migrated_pg_database: str,
) -> None:
    pg_database = migrated_pg_database
    store = await open_store(pg_url(pg_database))
    try:
        conversation = await new_conversation(store)
        # Fill the pool with a few connections, then have the server kill them all.
        await asyncio.gather(*(store.messages_of(conversation.id) for _ in range(5)))
        assert await terminate_pg_connections(pg_database) >= 1

        assert await store.get_conversation(conversation.id, owner="key-1") == conversation
        await store.add_turn(conversation.id, parent_id=None, messages=[user()])
        await store.ping()

        # Killed while a request holds a connection: that request may fail, as a 503 ...
        async def slow_read() -> None:
            async with store.engine.connect() as connection:
                await connection.execute(text("SELECT pg_sleep(2)"))

        reading = asyncio.create_task(store_call(slow_read))
        await asyncio.sleep(0.3)
        await terminate_pg_connections(pg_database)
        assert isinstance(await reading, StoreUnavailable)
        # ... and the next one succeeds.
        assert len(await store.messages_of(conversation.id)) == 1
    finally:
        await store.close()


async def store_call(call: Any) -> BaseException | None:
    """What ``call`` raised, as the store would report it."""
    try:
        with translate_errors():
            await call()
    except BaseException as error:
        return error
    return None


@pytest.fixture()
def anyio_backend() -> str:
    return "asyncio"


# --- record_turn: the service's one write per turn ------------------------------------------


def web(conversation_id: str | None = None, **fields: Any) -> NewConversation:
    return NewConversation(backend="chatgpt-web", model="gpt-test", id=conversation_id, **fields)


async def test_record_turn_creates_then_appends(store: SQLStore) -> None:
    first = await store.record_turn(
        "conv-r1",
        owner="key-1",
        create=web("conv-r1", title="t\x00itle", upstream_conversation_id="up-1"),
        parent_id=None,
        messages=[user("q1", id="u1"), assistant("a1", id="a1")],
    )
    assert first.conversation_id == "conv-r1" and first.created
    assert ids(first.messages) == ["u1", "a1"]
    assert [m.parent_id for m in first.messages] == [None, "u1"]
    assert {m.conversation_id for m in first.messages} == {"conv-r1"}
    loaded = await store.get_conversation("conv-r1", owner="key-1")
    assert loaded is not None
    assert (loaded.title, loaded.upstream_conversation_id) == ("t\ufffditle", "up-1")
    assert (loaded.current_node, loaded.backend) == ("a1", "chatgpt-web")

    second = await store.record_turn(
        "conv-r1",
        owner="key-1",
        create=web("conv-r1"),
        parent_id="a1",
        messages=[user("q2"), assistant("a2")],
    )
    assert second.conversation_id == "conv-r1" and not second.created
    assert second.messages[0].parent_id == "a1"
    assert second.messages[1].parent_id == second.messages[0].id
    assert await store.messages_of("conv-r1") == [*first.messages, *second.messages]
    assert ids(await store.path_to(second.messages[-1].id, conversation_id="conv-r1")) == [
        "u1",
        "a1",
        *ids(second.messages),
    ]
    again = await store.get_conversation("conv-r1", owner="key-1")
    assert again is not None and again.current_node == second.messages[-1].id
    assert again.updated_at >= loaded.updated_at and again.created_at == loaded.created_at

    fresh = await store.record_turn(
        None, owner=None, create=web(), parent_id=None, messages=[user("anonymous")]
    )
    assert fresh.created and fresh.conversation_id not in ("", "conv-r1")
    assert await store.get_conversation(fresh.conversation_id, owner=None) is not None


async def test_record_turn_respects_owners(store: SQLStore) -> None:
    await store.record_turn(
        "conv-o", owner="key-1", create=web("conv-o"), parent_id=None, messages=[user()]
    )
    # Another owner never appends to it; creating under the same id is a duplicate.
    with pytest.raises(DuplicateId):
        await store.record_turn(
            "conv-o", owner="key-2", create=web("conv-o"), parent_id=None, messages=[user("x")]
        )
    with pytest.raises(ConversationNotFound):
        await store.record_turn(
            "conv-o", owner=None, create=None, parent_id=None, messages=[user("x")]
        )
    # Without an id to keep, the other owner gets a conversation of its own.
    other = await store.record_turn(
        "conv-o", owner="key-2", create=web(), parent_id=None, messages=[user("mine")]
    )
    assert other.created and other.conversation_id != "conv-o"
    assert [m.content for m in await store.messages_of("conv-o")] == ["hello"]
    assert await store.count_conversations(owner="key-2") == 1


async def test_record_turn_parent_checks(store: SQLStore) -> None:
    conversation = await new_conversation(store)
    [root] = await store.add_turn(conversation.id, parent_id=None, messages=[user("root")])
    elsewhere = await new_conversation(store)
    [foreign] = await store.add_turn(elsewhere.id, parent_id=None, messages=[user("foreign")])
    before = await store.get_conversation(conversation.id, owner="key-1")
    for parent in ("no-such-message", foreign.id):
        with pytest.raises(InvalidParent):
            await store.record_turn(
                conversation.id,
                owner="key-1",
                create=web(),
                parent_id=parent,
                messages=[user("q"), assistant("a")],
            )
    assert await store.messages_of(conversation.id) == [root]
    assert await store.get_conversation(conversation.id, owner="key-1") == before
    # Unknown parents may put the turn at the root instead (web conversations started elsewhere).
    turn = await store.record_turn(
        conversation.id,
        owner="key-1",
        create=web(),
        parent_id=foreign.id,
        messages=[user("q")],
        unknown_parent_is_root=True,
    )
    assert turn.messages[0].parent_id is None and not turn.created
    created = await store.record_turn(
        "conv-new",
        owner="key-1",
        create=web("conv-new"),
        parent_id="somewhere-upstream",
        messages=[user("q")],
        unknown_parent_is_root=True,
    )
    assert created.created and created.messages[0].parent_id is None
    with pytest.raises(ValueError):
        await store.record_turn(None, owner=None, create=web(), parent_id=None, messages=[])


async def test_record_turn_from_100_tasks_all_stored(store: SQLStore) -> None:
    conversation = await new_conversation(store)
    [root] = await store.add_turn(conversation.id, parent_id=None, messages=[user("root")])

    async def turn(n: int) -> Any:
        if n % 2:  # half append to one conversation, half start their own
            return await store.record_turn(
                conversation.id,
                owner="key-1",
                create=web(),
                parent_id=root.id,
                messages=[user(f"question {n}"), assistant(f"answer {n}")],
            )
        return await store.record_turn(
            f"conv-{n}",
            owner="key-1",
            create=web(f"conv-{n}"),
            parent_id=None,
            messages=[user(f"question {n}"), assistant(f"answer {n}")],
        )

    turns = await asyncio.gather(*(turn(n) for n in range(100)))
    assert [t.created for t in turns] == [n % 2 == 0 for n in range(100)]
    shared = await store.messages_of(conversation.id)
    assert len(shared) == 1 + 2 * 50
    assert len(await store.children_of(root.id, conversation_id=conversation.id)) == 50
    for n in range(0, 100, 2):
        own = await store.messages_of(f"conv-{n}")
        assert [m.content for m in own] == [f"question {n}", f"answer {n}"]
        assert own == turns[n].messages
    assert await store.count_conversations(owner="key-1") == 51
    loaded = await store.get_conversation(conversation.id, owner="key-1")
    assert loaded is not None and loaded.current_node in {t.messages[-1].id for t in turns}


async def test_record_turn_errors_fail_only_their_own_turn(store: SQLStore) -> None:
    conversation = await new_conversation(store)
    [root] = await store.add_turn(conversation.id, parent_id=None, messages=[user("root")])
    bad_parent, duplicate, missing = {3, 11, 12, 25}, {7, 19}, {15}

    async def turn(n: int) -> Any:
        parent = "no-such-message" if n in bad_parent else root.id
        answer_id = root.id if n in duplicate else None  # an id that is taken: DuplicateId
        target = "no-such-conversation" if n in missing else conversation.id
        return await store.record_turn(
            target,
            owner="key-1",
            create=None,
            parent_id=parent,
            messages=[user(f"question {n}"), assistant(f"answer {n}", id=answer_id)],
        )

    results = await asyncio.gather(*(turn(n) for n in range(30)), return_exceptions=True)
    for n, result in enumerate(results):
        if n in bad_parent:
            assert isinstance(result, InvalidParent), n
        elif n in duplicate:
            assert isinstance(result, DuplicateId), n
        elif n in missing:
            assert isinstance(result, ConversationNotFound), n
        else:
            assert not isinstance(result, BaseException), (n, result)
    good = 30 - len(bad_parent | duplicate | missing)
    stored = await store.messages_of(conversation.id)
    assert len(stored) == 1 + 2 * good
    assert {m.content for m in stored} == {"root"} | {
        f"{kind} {n}"
        for n in range(30)
        if n not in bad_parent | duplicate | missing
        for kind in ("question", "answer")
    }
    assert len({m.id for m in stored}) == len(stored)


async def test_record_turn_cancelled_callers_whole_or_absent(store: SQLStore) -> None:
    conversation = await new_conversation(store)
    big = "x" * 100_000
    started = 0
    for delay in (0, 0.001, 0.005, 0.02):
        tasks = [
            asyncio.create_task(
                store.record_turn(
                    conversation.id,
                    owner="key-1",
                    create=None,
                    parent_id=None,
                    messages=[user(f"{big} {started + n}"), assistant(f"answer {started + n}")],
                )
            )
            for n in range(10)
        ]
        started += len(tasks)
        await asyncio.sleep(delay)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    await store.flush()  # the cancelled callers' writes finish in the background
    # Queued after the cancelled ones (SQLite writes in order): once it is in, they are too.
    await store.record_turn(
        conversation.id, owner="key-1", create=None, parent_id=None, messages=[user("after")]
    )
    stored = await store.messages_of(conversation.id)
    by_turn: dict[str, int] = {}
    for message in stored:
        if message.content != "after":
            by_turn[message.content.rsplit(" ", 1)[-1]] = (
                by_turn.get(message.content.rsplit(" ", 1)[-1], 0) + 1
            )
    assert all(count == 2 for count in by_turn.values())  # whole, never half, never twice
    assert len({m.id for m in stored}) == len(stored)
    if store.dialect == "sqlite":  # a queued turn is written even if its caller went away
        assert len(by_turn) == started


async def test_close_writes_the_queued_turns(backend: Backend, store: SQLStore) -> None:
    tasks = [
        asyncio.create_task(
            store.record_turn(
                None, owner=None, create=web(), parent_id=None, messages=[user(f"q{n}")]
            )
        )
        for n in range(20)
    ]
    await asyncio.sleep(0)  # every task has queued its turn
    await store.close()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(not isinstance(r, BaseException) for r in results), results
    again = await open_store(backend.url)
    try:
        assert await again.count_conversations(owner=None) == 20
    finally:
        await again.close()


async def test_sqlite_turns_share_transactions(tmp_path: Path) -> None:
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'batch.db'}")
    commits: list[int] = []
    assert store._write_engine is not None
    event.listen(store._write_engine, "commit", lambda _connection: commits.append(1))
    try:
        await asyncio.gather(
            *(
                store.record_turn(
                    None, owner=None, create=web(), parent_id=None, messages=[user(f"q{n}")]
                )
                for n in range(100)
            )
        )
        assert await store.count_conversations(owner=None) == 100
        assert len(commits) <= 10  # batches of up to 64 turns, not one commit per turn
    finally:
        await store.close()


async def test_sqlite_full_database_fails_only_the_big_turn(tmp_path: Path) -> None:
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'full.db'}")
    conversation = await new_conversation(store)

    try:
        # The writer's connection gets a "disk" of about 240 KiB.
        await store.write(
            lambda connection: connection.exec_driver_sql("PRAGMA max_page_count = 60")
        )

        async def turn(n: int) -> Any:
            content = "x" * 1_000_000 if n == 4 else f"small {n}"
            return await store.record_turn(
                conversation.id,
                owner="key-1",
                create=None,
                parent_id=None,
                messages=[user(content)],
            )

        results = await asyncio.gather(*(turn(n) for n in range(10)), return_exceptions=True)
        assert isinstance(results[4], StoreUnavailable) and "full" in str(results[4])
        assert all(not isinstance(r, BaseException) for n, r in enumerate(results) if n != 4)
        stored = await store.messages_of(conversation.id)
        assert sorted(m.content for m in stored) == sorted(
            f"small {n}" for n in range(10) if n != 4
        )
    finally:
        await store.close()
