"""The SQLite writer's fast path stores exactly what SQLAlchemy Core would: timestamps, usage
JSON and the ``BEGIN`` it emits on plain ``sqlite3``; a lock held elsewhere still fails as a
clear :class:`StoreUnavailable`. Batches of plain jobs commit on ``sqlite3`` alone, keeping
each job's error to itself and a cancelled caller's write; the writer thread's wake-ups do not
preempt the event loop."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event, insert, select
from sqlalchemy.engine import Connection, Engine

from chatgpt_api.messages import Usage
from chatgpt_api.store import (
    DuplicateId,
    NewConversation,
    NewMessage,
    StoreUnavailable,
    open_store,
)
from chatgpt_api.store.engine import (
    EngineOptions,
    parse_database_url,
    sqlite_thread_engine,
    sync_writer,
)
from chatgpt_api.store.schema import messages as msg_table
from chatgpt_api.store.schema import metadata
from chatgpt_api.store.turns import _sqlite_usage, sqlite_time
from chatgpt_api.store.writer import PlainJob, WriterThread
from tests.writer_gate import Gate, queued_behind_a_gate, stored

pytestmark = pytest.mark.anyio


@pytest.fixture()
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 12, 5, 7, 30, 0, 123456, tzinfo=UTC),
        datetime(2026, 12, 5, 7, 30, 0, tzinfo=UTC),  # no microseconds: still six digits
        datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC),  # a short year is padded
        datetime(2026, 12, 5, 9, 30, 0, 5, tzinfo=timezone(timedelta(hours=2))),
        datetime(2026, 12, 5, 7, 30, 0, 5, tzinfo=timezone.utc),  # noqa: UP017 (same object)
    ],
)
def test_sqlite_time_is_what_sqlalchemy_stores(value: datetime) -> None:
    engine = create_engine("sqlite://")
    table = metadata.tables["conversations"]
    try:
        with engine.begin() as connection:
            table.create(connection)
            row = {"id": "c", "backend": "b", "model": "m", "created_at": value}
            connection.execute(insert(table).values(**row, updated_at=value))
            stored = connection.exec_driver_sql("SELECT created_at FROM conversations").scalar()
    finally:
        engine.dispose()
    assert sqlite_time(value) == stored


def test_sqlite_time_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="naive"):
        sqlite_time(datetime(2026, 12, 5, 7, 30))


@pytest.mark.parametrize("usage", [None, Usage(0, 0), Usage(5, 9), Usage(123456, 7)])
def test_sqlite_usage_is_what_json_makes(usage: Usage | None) -> None:
    expected = None
    if usage is not None:
        expected = json.dumps(
            {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens}
        )
    assert _sqlite_usage(usage) == expected


async def test_a_turn_reads_back_as_written(tmp_path: Path) -> None:
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 's.db'}")
    try:
        turn = await store.record_turn(
            None,
            owner="me",
            create=NewConversation(backend="openai", model="m", title="t"),
            parent_id=None,
            messages=[
                NewMessage("user", "hi"),
                NewMessage("assistant", "hello", usage=Usage(5, 9), latency_ms=3),
            ],
        )
        stored = await store.messages_of(turn.conversation_id)
        conversation = await store.get_conversation(turn.conversation_id, owner="me")
    finally:
        await store.close()
    assert stored == turn.messages
    assert stored[1].usage == Usage(5, 9)
    assert conversation is not None
    assert conversation.created_at == stored[0].created_at
    assert conversation.created_at.tzinfo is UTC


async def test_a_write_lock_held_elsewhere_is_store_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = await open_store(
        f"sqlite+aiosqlite:///{path}", options=EngineOptions(busy_timeout=0.05)
    )
    other = sqlite3.connect(str(path), isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        with pytest.raises(StoreUnavailable, match="locked"):
            await store.record_turn(
                None,
                owner=None,
                create=NewConversation(backend="openai", model="m"),
                parent_id=None,
                messages=[NewMessage("user", "hi")],
            )
        other.execute("ROLLBACK")
        turn = await store.record_turn(
            None,
            owner=None,
            create=NewConversation(backend="openai", model="m"),
            parent_id=None,
            messages=[NewMessage("user", "hi")],
        )
        assert [m.content for m in await store.messages_of(turn.conversation_id)] == ["hi"]
    finally:
        other.close()
        await store.close()


def test_the_thread_engine_begins_on_plain_sqlite3(tmp_path: Path) -> None:
    engine = sqlite_thread_engine(parse_database_url(f"sqlite:///{tmp_path / 'e.db'}"))
    assert engine is not None
    try:
        with engine.begin() as connection:
            metadata.create_all(connection)
            raw = connection.connection.driver_connection
            assert isinstance(raw, sqlite3.Connection)
            assert raw.in_transaction
        with engine.connect() as connection:
            assert connection.execute(select(msg_table.c.id)).all() == []
    finally:
        engine.dispose()


@pytest.mark.skipif(not hasattr(os, "sched_getscheduler"), reason="Linux scheduling policies")
async def test_the_writer_thread_does_not_preempt_the_event_loop(tmp_path: Path) -> None:
    engine = sqlite_thread_engine(parse_database_url(f"sqlite:///{tmp_path / 'p.db'}"))
    assert engine is not None
    writer = WriterThread(sync_writer(engine))
    try:
        policy = await writer.submit(lambda _connection: os.sched_getscheduler(0))
    finally:
        await writer.close()
        engine.dispose()
    assert policy == os.SCHED_BATCH


@pytest.fixture()
def table_engine(tmp_path: Path) -> Iterator[Engine]:
    made = sqlite_thread_engine(parse_database_url(f"sqlite:///{tmp_path / 't.db'}"))
    assert made is not None
    with made.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (n INTEGER PRIMARY KEY)")
    yield made
    made.dispose()


def plain_insert(*numbers: int) -> PlainJob[int]:
    """Inserts each number on the plain sqlite3 connection (a duplicate fails mid-job)."""

    def job(connection: Connection) -> int:
        raw = connection.connection.driver_connection
        assert isinstance(raw, sqlite3.Connection)
        for n in numbers:
            raw.execute("INSERT INTO t (n) VALUES (?)", (n,))
        return numbers[0]

    return PlainJob(job)


async def test_a_batch_of_plain_jobs_commits_on_sqlite3_alone(table_engine: Engine) -> None:
    events: list[str] = []
    for name in ("begin", "commit", "rollback"):
        event.listen(table_engine, name, lambda _c, name=name: events.append(name))
    writer = WriterThread(sync_writer(table_engine))
    try:
        outcomes = await queued_behind_a_gate(writer, [plain_insert(n) for n in range(10)])
        assert events == ["begin", "commit"]  # the gate's batch only (SQLAlchemy's)
        assert outcomes == list(range(10))  # every caller its own result
        assert stored(table_engine) == list(range(10))
        events.clear()
        mixed = [plain_insert(10), insert_through_sqlalchemy(11), plain_insert(12)]
        assert await queued_behind_a_gate(writer, mixed) == [10, 11, 12]
        assert events == ["begin", "commit"] * 2  # with any other job: SQLAlchemy's
    finally:
        await writer.close()
    assert stored(table_engine) == list(range(13))


def insert_through_sqlalchemy(n: int) -> Any:
    def job(connection: Connection) -> int:
        connection.exec_driver_sql(f"INSERT INTO t (n) VALUES ({n})")
        return n

    return job


async def test_a_failing_plain_job_fails_alone_and_leaves_nothing(table_engine: Engine) -> None:
    writer = WriterThread(sync_writer(table_engine))
    try:
        jobs = [plain_insert(n) for n in range(8)]
        jobs[2] = plain_insert(20, 1)  # writes 20, then a duplicate key: refused, all undone
        jobs[5] = plain_insert(21, 3)
        outcomes = await queued_behind_a_gate(writer, jobs)
    finally:
        await writer.close()
    failed = [n for n, outcome in enumerate(outcomes) if isinstance(outcome, BaseException)]
    assert failed == [2, 5]
    assert all(isinstance(outcomes[n], DuplicateId) for n in failed)
    assert stored(table_engine) == [0, 1, 3, 4, 6, 7]  # the others, each once; no 20 or 21


async def test_a_cancelled_callers_plain_job_runs_exactly_once(table_engine: Engine) -> None:
    writer = WriterThread(sync_writer(table_engine))
    runs: list[int] = []

    def counted(connection: Connection) -> int:
        runs.append(1)
        return plain_insert(42)(connection)

    try:
        gate = Gate()
        held = await gate.held(writer)
        task = asyncio.create_task(writer.submit(PlainJob(counted)))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        gate.release.set()
        await held
        assert await writer.submit(plain_insert(43)) == 43  # in order: the other is in too
    finally:
        await writer.close()
    assert runs == [1]
    assert stored(table_engine) == [42, 43]
