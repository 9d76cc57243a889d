"""``SQLStore``: the :class:`ConversationStore` on SQLAlchemy Core, for SQLite and PostgreSQL.

One code path for both databases. Every method is one short transaction on a pooled
connection; driver failures become :class:`StoreUnavailable` (see :mod:`.errors`).

Concurrency: reads run concurrently. Writes on SQLite go through one in-process
:class:`asyncio.Lock` (SQLite has a single writer, so queueing here instead of in the database
avoids "database is locked" under load) and begin with ``BEGIN IMMEDIATE`` (other processes wait
``busy_timeout``). On PostgreSQL writes run in parallel; ``add_turn`` updates the conversation
row first, which locks it, so concurrent turns on one conversation are serialised by the
database and get consecutive ``position`` values.

Cancellation: a write, once started, runs to its end even if the caller is cancelled (a client
that goes away must not leave a turn half-done or a connection in an unknown state); the caller
still sees :class:`asyncio.CancelledError` at once.

Turns (:meth:`SQLStore.record_turn`, the service's one write per turn) are written by
:func:`.turns.write_turns`. On SQLite they go through a :class:`.batcher.WriteBatcher`: one
writer task, holding the same write lock as every other write, commits everything queued so far
in one transaction; on a SQLite file it does so in a dedicated thread on a synchronous
connection (:func:`.engine.sqlite_thread_engine`), one thread hop per batch. On PostgreSQL each
turn is its own transaction, run in parallel. :meth:`SQLStore.close` first writes what is
queued.

Reads on a SQLite file run the same queries on that synchronous engine in a few reader threads:
one thread hop per read, where aiosqlite makes several per statement (cursor, execute, fetch,
close, plus ``BEGIN`` and ``ROLLBACK``). Elsewhere they use the async engine.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
from collections.abc import AsyncIterator, Callable, Collection, Coroutine, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar, cast

from sqlalchemy import ColumnElement, Row, Select, delete, func, insert, literal, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import Executable

from chatgpt_api.messages import Usage
from chatgpt_api.store.attachments import Attachment, extract
from chatgpt_api.store.batcher import WriteBatcher
from chatgpt_api.store.engine import EngineOptions, sqlite_thread_engine, sync_writer, writer
from chatgpt_api.store.errors import (
    ConversationNotFound,
    InvalidParent,
    MessageNotFound,
    translate_errors,
)
from chatgpt_api.store.protocol import ConversationStore
from chatgpt_api.store.schema import attachments as attachment_table
from chatgpt_api.store.schema import conversations as conv_table
from chatgpt_api.store.schema import messages as msg_table
from chatgpt_api.store.turns import Outcome, TurnWrite, write_attachments, write_turns
from chatgpt_api.store.values import (
    Conversation,
    MessageStatus,
    NewConversation,
    NewMessage,
    RecordedTurn,
    StoredMessage,
    StoredRole,
    new_id,
    storable_text,
)

log = logging.getLogger(__name__)

_P = ParamSpec("_P")
_T = TypeVar("_T")
_S = TypeVar("_S")
_UNFINISHED: set[asyncio.Task[Any]] = set()
#: Reader threads on a SQLite file (reads run concurrently in WAL mode).
_READER_THREADS = 2


def utcnow() -> datetime:
    return datetime.now(UTC)


def _finishes_when_cancelled(
    method: Callable[Concatenate[_S, _P], Coroutine[Any, Any, _T]],
) -> Callable[Concatenate[_S, _P], Coroutine[Any, Any, _T]]:
    """Run a write in its own task, shielded from the caller's cancellation."""

    @functools.wraps(method)
    async def shielded(self: _S, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        task = asyncio.ensure_future(method(self, *args, **kwargs))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            _UNFINISHED.add(task)
            task.add_done_callback(_forget)
            raise

    return shielded


def _forget(task: asyncio.Task[Any]) -> None:
    _UNFINISHED.discard(task)
    if not task.cancelled() and (error := task.exception()) is not None:
        log.warning("a store write whose caller was cancelled failed: %s", error)


class SQLStore:
    """A conversation store on an async SQLAlchemy engine (made by :func:`open_store`)."""

    def __init__(self, engine: AsyncEngine, options: EngineOptions | None = None) -> None:
        self._engine = engine
        self._writer = writer(engine)
        sqlite = engine.dialect.name == "sqlite"
        self._write_lock = asyncio.Lock() if sqlite else None
        #: SQLite file only: the synchronous engine of the store's reader threads and of its
        #: writer thread (threads start at first use).
        self._thread_engine: Engine | None = sqlite_thread_engine(
            engine.url, options, connections=_READER_THREADS + 1
        )
        self._reader_threads: ThreadPoolExecutor | None = None
        self._writer_thread: ThreadPoolExecutor | None = None
        if self._thread_engine is not None:
            self._reader_threads = ThreadPoolExecutor(
                _READER_THREADS, thread_name_prefix="chatgpt-api-store-reader"
            )
            self._writer_thread = ThreadPoolExecutor(
                1, thread_name_prefix="chatgpt-api-store-writer"
            )
        self._turns: WriteBatcher[TurnWrite, RecordedTurn] | None = (
            WriteBatcher(self._write_turns) if sqlite else None
        )

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._engine.dialect.name

    # --- connections ---------------------------------------------------------------------

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        with translate_errors():
            async with self._engine.connect() as connection:
                yield connection

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        lock: AbstractAsyncContextManager[Any] = self._write_lock or nullcontext()
        async with lock:
            with translate_errors():
                async with self._writer.begin() as connection:
                    yield connection

    def reading(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """A connection for reads, database errors translated (for other tables' stores)."""
        return self._read()

    def writing(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """A connection inside one write transaction, serialised on SQLite."""
        return self._write()

    # --- conversations -------------------------------------------------------------------

    @_finishes_when_cancelled
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
        now = utcnow()
        conversation = Conversation(
            id=conversation_id or new_id(),
            title=None if title is None else storable_text(title),
            owner=owner,
            backend=backend,
            model=model,
            upstream_conversation_id=upstream_conversation_id,
            current_node=None,
            created_at=now,
            updated_at=now,
        )
        async with self._write() as connection:
            await connection.execute(insert(conv_table).values(**_fields(conversation)))
        return conversation

    async def get_conversation(
        self, conversation_id: str, *, owner: str | None
    ) -> Conversation | None:
        query = select(conv_table).where(conv_table.c.id == conversation_id, _owned_by(owner))
        rows = await self._rows(query)
        return _conversation(rows[0]) if rows else None

    async def conversation_exists(self, conversation_id: str) -> bool:
        query = select(conv_table.c.id).where(conv_table.c.id == conversation_id)
        return len(await self._rows(query)) > 0

    async def list_conversations(
        self, *, owner: str | None, limit: int = 20, offset: int = 0
    ) -> list[Conversation]:
        if limit < 0 or offset < 0:
            raise ValueError("limit and offset must not be negative")
        query = (
            select(conv_table)
            .where(_owned_by(owner))
            .order_by(conv_table.c.updated_at.desc(), conv_table.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return [_conversation(row) for row in await self._rows(query)]

    async def count_conversations(self, *, owner: str | None) -> int:
        query = select(func.count()).select_from(conv_table).where(_owned_by(owner))
        rows = await self._rows(query)
        return int(rows[0][0] or 0) if rows else 0

    @_finishes_when_cancelled
    async def rename(self, conversation_id: str, title: str | None, *, owner: str | None) -> bool:
        title = None if title is None else storable_text(title)
        return await self._update_owned(conversation_id, owner, title=title)

    @_finishes_when_cancelled
    async def delete_conversation(self, conversation_id: str, *, owner: str | None) -> bool:
        query = delete(conv_table).where(conv_table.c.id == conversation_id, _owned_by(owner))
        async with self._write() as connection:
            result = await connection.execute(query)
        return result.rowcount > 0

    @_finishes_when_cancelled
    async def set_upstream_conversation_id(self, conversation_id: str, value: str | None) -> None:
        query = (
            update(conv_table)
            .where(conv_table.c.id == conversation_id)
            .values(upstream_conversation_id=value)
        )
        async with self._write() as connection:
            if (await connection.execute(query)).rowcount == 0:
                raise ConversationNotFound()

    @_finishes_when_cancelled
    async def set_current_node(self, conversation_id: str, message_id: str) -> None:
        query = (
            update(conv_table)
            .where(conv_table.c.id == conversation_id)
            .values(current_node=message_id)
        )
        async with self._write() as connection:
            if (await connection.execute(query)).rowcount == 0:
                raise ConversationNotFound()
            if not await _has_message(connection, conversation_id, message_id):
                raise MessageNotFound()

    async def _update_owned(self, conversation_id: str, owner: str | None, **values: Any) -> bool:
        query = (
            update(conv_table)
            .where(conv_table.c.id == conversation_id, _owned_by(owner))
            .values(**values)
        )
        async with self._write() as connection:
            result = await connection.execute(query)
        return result.rowcount > 0

    # --- messages ------------------------------------------------------------------------

    @_finishes_when_cancelled
    async def add_turn(
        self,
        conversation_id: str,
        *,
        parent_id: str | None,
        messages: Sequence[NewMessage],
    ) -> list[StoredMessage]:
        if not messages:
            raise ValueError("add_turn needs at least one message")
        found: list[Attachment] = []
        stored = _chain(conversation_id, parent_id, messages, utcnow(), found)
        tip = stored[-1]
        touch = (
            update(conv_table)
            .where(conv_table.c.id == conversation_id)
            .values(current_node=tip.id, updated_at=tip.created_at)
        )
        async with self._write() as connection:
            # Updating the conversation first also locks its row on PostgreSQL.
            if (await connection.execute(touch)).rowcount == 0:
                raise ConversationNotFound()
            if parent_id is not None and not await _has_message(
                connection, conversation_id, parent_id
            ):
                raise InvalidParent()
            start = await _next_position(connection, conversation_id)
            rows = [_fields(m) | {"position": start + i} for i, m in enumerate(stored)]
            if found:
                await connection.run_sync(write_attachments, found, tip.created_at)
            await connection.execute(insert(msg_table), rows)
        return stored

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
        if not messages:
            raise ValueError("record_turn needs at least one message")
        if create is not None:
            # The id of a conversation to create is chosen now, so the chain is built in it.
            title = None if create.title is None else storable_text(create.title)
            create = dataclasses.replace(create, title=title, id=create.id or new_id())
        home = conversation_id or (create.id if create is not None else None) or ""
        now = utcnow()
        found: list[Attachment] = []
        chain = tuple(_chain(home, parent_id, messages, now, found))
        # The other choices hang from the chain's last message's parent (placed when written).
        others = tuple(_chain(home, None, alternatives, now, found, siblings=True))
        turn = TurnWrite(
            conversation_id=conversation_id,
            owner=owner,
            create=create,
            parent_id=parent_id,
            unknown_parent_is_root=unknown_parent_is_root,
            chain=chain,
            now=now,
            attachments=tuple(found),
            alternatives=others,
        )
        if self._turns is not None:
            return await self._turns.submit(turn)
        return await self._record_alone(turn)

    @_finishes_when_cancelled
    async def _record_alone(self, turn: TurnWrite) -> RecordedTurn:
        [outcome] = await self._write_turns([turn])
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def _write_turns(self, turns: Sequence[TurnWrite]) -> list[Outcome]:
        """One batch: in the writer thread on a SQLite file, else on a pooled connection."""
        lock: AbstractAsyncContextManager[Any] = self._write_lock or nullcontext()
        async with lock:
            if self._writer_thread is not None:
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(self._writer_thread, self._write_in_thread, turns)
            with translate_errors():
                async with self._writer.connect() as connection:
                    return await connection.run_sync(write_turns, turns)

    def _write_in_thread(self, turns: Sequence[TurnWrite]) -> list[Outcome]:
        assert self._thread_engine is not None
        with translate_errors(), sync_writer(self._thread_engine).connect() as connection:
            return write_turns(connection, turns)

    async def _rows(self, query: Executable) -> Sequence[Row[Any]]:
        """A read query's rows: one thread hop on a SQLite file, a pooled connection else."""
        if self._reader_threads is not None:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._reader_threads, self._rows_in_thread, query)
        async with self._read() as connection:
            return (await connection.execute(query)).all()

    def _rows_in_thread(self, query: Executable) -> Sequence[Row[Any]]:
        assert self._thread_engine is not None
        with translate_errors(), self._thread_engine.connect() as connection:
            return connection.execute(query).all()

    async def get_message(self, message_id: str, *, conversation_id: str) -> StoredMessage | None:
        query = _select_messages(conversation_id).where(msg_table.c.id == message_id)
        rows = await self._rows(query)
        return _message(rows[0]) if rows else None

    async def messages_of(self, conversation_id: str) -> list[StoredMessage]:
        query = _select_messages(conversation_id).order_by(msg_table.c.position)
        return await self._messages(query)

    async def children_of(self, message_id: str, *, conversation_id: str) -> list[StoredMessage]:
        query = (
            _select_messages(conversation_id)
            .where(msg_table.c.parent_id == message_id)
            .order_by(msg_table.c.position)
        )
        return await self._messages(query)

    async def path_to(self, message_id: str, *, conversation_id: str) -> list[StoredMessage]:
        # Walk up from the message with a recursive CTE; depth 0 is the message itself.
        start = select(msg_table.c.id, msg_table.c.parent_id, literal(0).label("depth")).where(
            msg_table.c.conversation_id == conversation_id, msg_table.c.id == message_id
        )
        path = start.cte("path", recursive=True)
        parent = msg_table.alias("parent")
        path = path.union_all(
            select(parent.c.id, parent.c.parent_id, path.c.depth + 1).where(
                parent.c.conversation_id == conversation_id, parent.c.id == path.c.parent_id
            )
        )
        query = (
            select(*_MESSAGE_COLUMNS)
            .join(path, path.c.id == msg_table.c.id)
            .order_by(path.c.depth.desc())
        )
        return await self._messages(query)

    async def attachments(self, hashes: Collection[str]) -> dict[str, Attachment]:
        if not hashes:
            return {}
        table = attachment_table
        query = select(table.c.sha256, table.c.media_type, table.c.data).where(
            table.c.sha256.in_(sorted(hashes))
        )
        rows = await self._rows(query)
        return {row.sha256: Attachment(row.sha256, row.media_type, bytes(row.data)) for row in rows}

    async def _messages(self, query: Select[Any]) -> list[StoredMessage]:
        return [_message(row) for row in await self._rows(query)]

    # --- lifecycle -----------------------------------------------------------------------

    async def ping(self) -> None:
        await self._rows(select(literal(1)))

    async def close(self) -> None:
        """Write the queued turns, then close every connection."""
        if self._turns is not None:
            await self._turns.drain()
        engine, threads = self._thread_engine, (self._reader_threads, self._writer_thread)
        if engine is not None and self._writer_thread is not None:
            await asyncio.get_running_loop().run_in_executor(self._writer_thread, engine.dispose)
        for pool in threads:
            if pool is not None:
                pool.shutdown(wait=False)
        self._thread_engine = self._reader_threads = self._writer_thread = None
        await self._engine.dispose()


# --- helpers -------------------------------------------------------------------------------

_MESSAGE_COLUMNS = tuple(c for c in msg_table.c if c.name != "position")


def _select_messages(conversation_id: str) -> Select[Any]:
    return select(*_MESSAGE_COLUMNS).where(msg_table.c.conversation_id == conversation_id)


def _owned_by(owner: str | None) -> ColumnElement[bool]:
    column = conv_table.c.owner
    return column.is_(None) if owner is None else column == owner


async def _has_message(connection: AsyncConnection, conversation_id: str, message_id: str) -> bool:
    query = select(msg_table.c.id).where(
        msg_table.c.conversation_id == conversation_id, msg_table.c.id == message_id
    )
    return (await connection.execute(query)).first() is not None


async def _next_position(connection: AsyncConnection, conversation_id: str) -> int:
    query = select(func.max(msg_table.c.position)).where(
        msg_table.c.conversation_id == conversation_id
    )
    last = await connection.scalar(query)
    return 1 if last is None else int(last) + 1


def _payload(message: NewMessage, found: list[Attachment]) -> Mapping[str, Any] | None:
    if message.payload is None:
        return None
    payload, attachments = extract(message.payload)
    found.extend(attachments)
    return payload


def _chain(
    conversation_id: str,
    parent_id: str | None,
    new: Sequence[NewMessage],
    now: datetime,
    found: list[Attachment] | None = None,
    *,
    siblings: bool = False,
) -> list[StoredMessage]:
    """The messages as stored; inline data of their payloads is moved to ``found``.

    A chain (each message the parent of the next), or ``siblings`` (all under ``parent_id``).
    """
    found = [] if found is None else found
    chain: list[StoredMessage] = []
    for message in new:
        chain.append(
            StoredMessage(
                id=message.id or new_id(),
                conversation_id=conversation_id,
                parent_id=chain[-1].id if chain and not siblings else parent_id,
                role=message.role,
                content=storable_text(message.content),
                model=message.model,
                status=message.status,
                error=None if message.error is None else storable_text(message.error),
                upstream_message_id=message.upstream_message_id,
                usage=message.usage if isinstance(message.usage, Usage) else None,
                latency_ms=message.latency_ms,
                created_at=now,
                payload=_payload(message, found),
            )
        )
    return chain


def _fields(value: Conversation | StoredMessage) -> dict[str, Any]:
    return {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}


def _conversation(row: Row[Any]) -> Conversation:
    return Conversation(**row._asdict())


def _message(row: Row[Any]) -> StoredMessage:
    fields = row._asdict()
    fields["role"] = cast(StoredRole, fields["role"])
    fields["status"] = cast(MessageStatus, fields["status"])
    return StoredMessage(**fields)


if TYPE_CHECKING:
    _IMPLEMENTS: type[ConversationStore] = SQLStore
