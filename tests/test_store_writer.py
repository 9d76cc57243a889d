"""The SQLite writer thread (group commit, one outcome per caller, cancelled callers' jobs run
exactly once), the store's single write path, its timing callback and its ids. No timings are
asserted: the writer is held with an event so that jobs queue up deterministically."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine

from chatgpt_api.store import (
    OPERATIONS,
    NewConversation,
    NewMessage,
    SQLStore,
    StoreUnavailable,
    open_store,
)
from chatgpt_api.store.engine import parse_database_url, sqlite_thread_engine, sync_writer
from chatgpt_api.store.values import new_id
from chatgpt_api.store.writer import WriterThread
from tests.writer_gate import Gate, stored

pytestmark = pytest.mark.anyio


@pytest.fixture()
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture()
def engine(tmp_path: Path) -> Iterator[Engine]:
    made = sqlite_thread_engine(parse_database_url(f"sqlite:///{tmp_path / 'w.db'}"))
    assert made is not None
    with made.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (n INTEGER PRIMARY KEY)")
    yield made
    made.dispose()


@pytest.fixture()
async def writer(engine: Engine) -> AsyncIterator[WriterThread]:
    made = WriterThread(sync_writer(engine))
    yield made
    await made.close()


def commits_of(engine: Engine) -> list[int]:
    commits: list[int] = []
    event.listen(engine, "commit", lambda _connection: commits.append(1))
    return commits


def insert(n: int) -> Any:
    def job(connection: Connection) -> int:
        connection.exec_driver_sql(f"INSERT INTO t (n) VALUES ({n})")
        return n

    return job


async def test_jobs_queued_during_a_commit_share_the_next_one(
    engine: Engine, writer: WriterThread
) -> None:
    commits = commits_of(engine)
    gate = Gate()
    first = await gate.held(writer)
    tasks = [asyncio.create_task(writer.submit(insert(n))) for n in range(20)]
    await asyncio.sleep(0)  # every task has queued its job
    gate.release.set()
    assert await asyncio.gather(*tasks) == list(range(20))  # each caller its own result
    await first
    assert len(commits) == 2  # the gate's batch, then all twenty together
    assert stored(engine) == list(range(20))


async def test_a_failing_job_fails_alone(engine: Engine, writer: WriterThread) -> None:
    gate = Gate()
    first = await gate.held(writer)
    jobs = [insert(n) for n in range(10)]
    jobs[3] = insert(1)  # a duplicate key: refused
    jobs[7] = insert(1)
    tasks = [asyncio.create_task(writer.submit(job)) for job in jobs]
    await asyncio.sleep(0)
    gate.release.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    await first
    failed = [n for n, result in enumerate(results) if isinstance(result, BaseException)]
    assert failed == [3, 7]
    assert stored(engine) == [0, 1, 2, 4, 5, 6, 8, 9]  # the others written, each once


async def test_a_cancelled_callers_job_runs_exactly_once(
    engine: Engine, writer: WriterThread
) -> None:
    gate = Gate()
    first = await gate.held(writer)
    runs: list[int] = []

    def counted(connection: Connection) -> None:
        runs.append(1)
        connection.exec_driver_sql("INSERT INTO t (n) VALUES (42)")

    task = asyncio.create_task(writer.submit(counted))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task  # the caller sees its cancellation at once, the job is still queued
    gate.release.set()
    await first
    await writer.submit(insert(43))  # jobs run in order: once this is in, so is the other
    assert runs == [1]
    assert stored(engine) == [42, 43]


async def test_close_writes_what_is_queued_then_refuses(
    engine: Engine, writer: WriterThread
) -> None:
    gate = Gate()
    first = await gate.held(writer)
    tasks = [asyncio.create_task(writer.submit(insert(n))) for n in range(5)]
    await asyncio.sleep(0)
    gate.release.set()
    await writer.close()
    assert await asyncio.gather(first, *tasks) == [None, 0, 1, 2, 3, 4]
    with pytest.raises(StoreUnavailable):
        await writer.submit(insert(9))
    assert stored(engine) == [0, 1, 2, 3, 4]


@pytest.fixture()
async def timed_store(tmp_path: Path) -> AsyncIterator[tuple[SQLStore, list[str]]]:
    seen: list[str] = []
    store = await open_store(
        f"sqlite+aiosqlite:///{tmp_path / 's.db'}",
        observe=lambda operation, seconds: seen.append(operation),
    )
    try:
        yield store, seen
    finally:
        await store.close()


async def test_every_write_of_a_sqlite_file_goes_through_the_writer(
    timed_store: tuple[SQLStore, list[str]],
) -> None:
    store, _ = timed_store
    assert store.engine is None  # no second way to write: no async engine at all
    threads: set[str] = set()
    event.listen(
        store._write_engine,
        "before_cursor_execute",
        lambda *args: threads.add(threading.current_thread().name),
    )
    turn = await store.record_turn(
        None,
        owner=None,
        create=NewConversation(backend="openai", model="m"),
        parent_id=None,
        messages=[NewMessage("user", "hi"), NewMessage("assistant", "hello")],
    )
    await store.rename(turn.conversation_id, "title", owner=None)
    await store.set_current_node(turn.conversation_id, turn.messages[0].id)
    await store.add_turn(turn.conversation_id, parent_id=None, messages=[NewMessage("user", "b")])
    await store.execute(text("DELETE FROM conversations WHERE id = 'none'"))
    assert await store.delete_conversation(turn.conversation_id, owner=None)
    assert threads == {"chatgpt-api-store-writer"}


async def test_the_store_times_its_operations(timed_store: tuple[SQLStore, list[str]]) -> None:
    store, seen = timed_store
    conversation = await store.create_conversation(backend="openai", model="m")
    assert await store.get_conversation(conversation.id, owner="someone else") is None
    await store.ping()  # not an operation
    with pytest.raises(ValueError):
        await store.list_conversations(owner=None, limit=-1)  # errors are timed too
    assert seen == ["create_conversation", "get_conversation", "list_conversations"]
    assert set(seen) <= set(OPERATIONS)


async def test_concurrent_pings_share_one_probe(timed_store: tuple[SQLStore, list[str]]) -> None:
    store, _ = timed_store
    probes: list[int] = []
    assert store._read_engine is not None
    event.listen(store._read_engine, "before_cursor_execute", lambda *args: probes.append(1))
    await asyncio.gather(*(store.ping() for _ in range(20)))
    assert 1 <= len(probes) < 20


def test_ids_are_uuid7_in_time_order() -> None:
    ids = [new_id() for _ in range(1000)]
    assert len(set(ids)) == len(ids)
    assert all(uuid.UUID(i).version == 7 for i in ids)
    assert [i[:13] for i in ids] == sorted(i[:13] for i in ids)  # the millisecond prefix
