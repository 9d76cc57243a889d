"""The one writer of a SQLite file: a thread with its own connection, committing in batches.

Callers submit jobs (functions of a synchronous :class:`~sqlalchemy.engine.Connection`) and
await their own outcome. The thread takes everything queued so far (up to ``max_batch``) and
runs it in one ``BEGIN IMMEDIATE`` transaction (group commit). A job that fails is rolled back
alone and its caller gets the error (the batch is run again without it, the rest each in a
savepoint); the others are committed together. Outcomes are handed back to the event loop
once per batch, after the commit.

A job whose caller was cancelled stays queued and runs exactly once (its error, if any, is
logged). :meth:`WriterThread.close` runs what is queued, then stops the thread.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from typing import Any, Final, Generic, TypeVar

from sqlalchemy.engine import Connection, Engine

from chatgpt_api.store.errors import StoreUnavailable, job_error

log = logging.getLogger(__name__)

T = TypeVar("T")
Job = Callable[[Connection], T]
_Item = tuple[Job[Any], "asyncio.Future[Any]", asyncio.AbstractEventLoop]
_STOP: Final = None


class _Abort(Exception):
    """The transaction is lost (SQLite rolled it back): retry the batch without job ``index``."""

    def __init__(self, index: int, error: BaseException) -> None:
        super().__init__(str(error))
        self.index = index
        self.error = error


class PlainJob(Generic[T]):
    """A job that writes through the plain ``sqlite3`` connection only (never a statement run by
    SQLAlchemy): a batch of such jobs is begun and committed on ``sqlite3`` itself, with none of
    SQLAlchemy's transaction machinery (the hot path: recording turns)."""

    __slots__ = ("run",)

    def __init__(self, run: Job[T]) -> None:
        self.run = run

    def __call__(self, connection: Connection) -> T:
        return self.run(connection)


class _PlainTransaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on an error) on a ``sqlite3`` connection."""

    __slots__ = ("raw",)

    def __init__(self, raw: sqlite3.Connection) -> None:
        self.raw = raw

    def __enter__(self) -> None:
        self.raw.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is None:
            self.raw.commit()
        elif self.raw.in_transaction:
            self.raw.rollback()


class WriterThread:
    """One thread, one connection from ``engine`` (which must begin with ``BEGIN IMMEDIATE``)."""

    def __init__(self, engine: Engine, *, max_batch: int = 64) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.engine = engine
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._start_lock = threading.Lock()

    async def submit(self, job: Job[T]) -> T:
        """Queue ``job`` and wait for its outcome (its result, or its error raised)."""
        if self._closed:
            raise StoreUnavailable("the store is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put((job, future, loop))
        if self._thread is None:
            self._start()
        return await future

    async def close(self) -> None:
        """Run every job queued so far, then stop the thread and close its connection."""
        self._closed = True
        thread = self._thread
        if thread is None:
            return
        self._queue.put(_STOP)
        await asyncio.to_thread(thread.join)

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                thread = threading.Thread(
                    target=self._run, name="chatgpt-api-store-writer", daemon=True
                )
                thread.start()
                self._thread = thread

    def _run(self) -> None:
        _batch_scheduling()
        connection: Connection | None = None
        try:
            while True:
                first = self._queue.get()
                if first is _STOP:
                    return
                batch = [first]
                stop = False
                while len(batch) < self._max_batch:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is _STOP:
                        stop = True
                        break
                    batch.append(item)
                connection, outcomes = self._write(connection, [job for job, _, _ in batch])
                _hand_back(batch, outcomes)
                if stop:
                    return
        finally:
            if connection is not None:
                connection.close()

    def _write(
        self, connection: Connection | None, jobs: Sequence[Job[Any]]
    ) -> tuple[Connection | None, list[Any]]:
        """Run a batch; returns the connection to keep (None after a failure) and outcomes."""
        try:
            if connection is None:
                connection = self.engine.connect()
            return connection, _write_batch(connection, jobs)
        except Exception as error:  # the connection itself: every job fails, reconnect later
            if connection is not None:
                try:
                    connection.close()
                except Exception:
                    log.debug("closing a failed store connection", exc_info=True)
            return None, [job_error(error)] * len(jobs)


def _batch_scheduling() -> None:
    """Let this thread's wake-ups not preempt the event loop (Linux ``SCHED_BATCH``)."""
    setter = getattr(os, "sched_setscheduler", None)
    if setter is None:
        return
    try:
        setter(0, os.SCHED_BATCH, os.sched_param(0))
    except OSError:
        log.debug("SCHED_BATCH refused for the store writer", exc_info=True)


def _write_batch(connection: Connection, jobs: Sequence[Job[Any]]) -> list[Any]:
    """As few transactions as the jobs' errors allow; one outcome (result or error) per job.

    The first transaction runs the jobs one after the other; if one fails, it is rolled back
    and the others run again, from then on each in a savepoint (a failing job is then rolled
    back alone), so the common case costs no savepoint statements.
    """
    outcomes: dict[int, Any] = {}
    todo = list(range(len(jobs)))
    savepoints = False
    while todo:
        try:
            outcomes.update(_attempt(connection, jobs, todo, savepoints and len(todo) > 1))
            break
        except _Abort as abort:
            outcomes[abort.index] = job_error(abort.error)
            todo.remove(abort.index)
            savepoints = True
    return [outcomes[i] for i in range(len(jobs))]


def _attempt(
    connection: Connection, jobs: Sequence[Job[Any]], todo: list[int], savepoints: bool
) -> dict[int, Any]:
    """One transaction over ``todo``; with ``savepoints`` a job's error is rolled back alone."""
    done: dict[int, Any] = {}
    raw = connection.connection.driver_connection
    assert raw is not None
    plain = isinstance(raw, sqlite3.Connection) and all(type(jobs[i]) is PlainJob for i in todo)
    with _PlainTransaction(raw) if plain else connection.begin():
        for i in todo:
            if not savepoints:
                try:
                    done[i] = jobs[i](connection)
                except Exception as error:
                    raise _Abort(i, error) from error
                continue
            raw.execute("SAVEPOINT job")
            try:
                done[i] = jobs[i](connection)
            except Exception as error:
                if not raw.in_transaction:  # SQLite rolled the whole transaction back
                    raise _Abort(i, error) from error
                raw.execute("ROLLBACK TO job")
                done[i] = job_error(error)
            raw.execute("RELEASE job")
    return done


def _hand_back(batch: Sequence[_Item], outcomes: Sequence[Any]) -> None:
    """Give each caller its outcome, on its own event loop (one wake-up per loop)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any]]] = {}
    for (_, future, loop), outcome in zip(batch, outcomes, strict=True):
        by_loop.setdefault(loop, []).append((future, outcome))
    for loop, pairs in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle, pairs)
        except RuntimeError:  # that loop is closed: nobody is waiting any more
            for _, outcome in pairs:
                if isinstance(outcome, BaseException):
                    log.warning("a store write whose caller went away failed: %s", outcome)


def _settle(pairs: Sequence[tuple[asyncio.Future[Any], Any]]) -> None:
    for future, outcome in pairs:
        if future.done():  # its caller was cancelled
            if isinstance(outcome, BaseException):
                log.warning("a store write whose caller was cancelled failed: %s", outcome)
        elif isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
