"""``SQLStore``: the :class:`ConversationStore` on SQLAlchemy, for SQLite and PostgreSQL.

Every operation is a function of a synchronous connection run by :meth:`SQLStore.read` or
:meth:`SQLStore.write`; driver failures become :class:`StoreUnavailable`. On a SQLite file,
every write goes to one writer thread (:mod:`.writer`: batches committed together), reads run
in reader threads (WAL), and there is no async engine at all. On PostgreSQL and in-memory
SQLite both run on the async engine's pool. A submitted write runs to its end even if its
caller is cancelled. Each operation is timed through ``observe(operation, seconds)`` if given.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import time
from collections.abc import Callable, Collection, Coroutine, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar, cast

from sqlalchemy import ColumnElement, Row, Select, delete, func, insert, literal, select, update
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.sql import Executable

from chatgpt_api.messages import Usage
from chatgpt_api.store.attachments import Attachment, extract
from chatgpt_api.store.engine import (
    EngineOptions,
    create_engine,
    sqlite_thread_engine,
    sync_writer,
    writer,
)
from chatgpt_api.store.errors import ConversationNotFound, MessageNotFound, translate_errors
from chatgpt_api.store.protocol import ConversationStore, Observe
from chatgpt_api.store.schema import attachments as attachment_table
from chatgpt_api.store.schema import conversations as conv_table
from chatgpt_api.store.schema import messages as msg_table
from chatgpt_api.store.turns import TurnWrite, write_turn
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
from chatgpt_api.store.writer import PlainJob, WriterThread

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

_P = ParamSpec("_P")
_T = TypeVar("_T")
#: Writes still running whose callers were cancelled (async path).
_UNFINISHED: set[asyncio.Task[Any]] = set()
#: Reader threads on a SQLite file (reads run concurrently in WAL mode).
_READER_THREADS = 2

_Method = Callable[Concatenate["SQLStore", _P], Coroutine[Any, Any, _T]]


def utcnow() -> datetime:
    return datetime.now(UTC)


def _timed(method: _Method[_P, _T]) -> _Method[_P, _T]:
    """Observe the duration of every call of ``method`` (success or error) under its name."""
    name = method.__name__

    @functools.wraps(method)
    async def timed(self: SQLStore, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        observe = self._observe
        if observe is None:
            return await method(self, *args, **kwargs)
        started = time.perf_counter()
        try:
            return await method(self, *args, **kwargs)
        finally:
            observe(name, time.perf_counter() - started)

    return timed


def _forget(task: asyncio.Task[Any]) -> None:
    _UNFINISHED.discard(task)
    if not task.cancelled() and (error := task.exception()) is not None:
        log.warning("a store write whose caller was cancelled failed: %s", error)


class SQLStore:
    """A conversation store on ``url`` (parsed; made by :func:`open_store`)."""

    def __init__(
        self,
        url: URL,
        options: EngineOptions | None = None,
        *,
        observe: Observe | None = None,
    ) -> None:
        self._url = url
        self._observe = observe
        self._pinging: asyncio.Future[Any] | None = None
        #: SQLite file only: the readers' engine and threads, and the one writer.
        self._read_engine: Engine | None = sqlite_thread_engine(
            url, options, connections=_READER_THREADS
        )
        self._write_engine: Engine | None = sqlite_thread_engine(url, options)
        self._readers: ThreadPoolExecutor | None = None
        self._writer: WriterThread | None = None
        #: PostgreSQL and in-memory SQLite only: the async engine, and its view for writes.
        self._engine: AsyncEngine | None = None
        self._async_writer: AsyncEngine | None = None
        if self._read_engine is not None and self._write_engine is not None:
            self._readers = ThreadPoolExecutor(
                _READER_THREADS, thread_name_prefix="chatgpt-api-store-reader"
            )
            self._writer = WriterThread(sync_writer(self._write_engine))
        else:
            self._engine = create_engine(url, options)
            self._async_writer = writer(self._engine)

    @property
    def engine(self) -> AsyncEngine | None:
        """The async engine; None on a SQLite file (:meth:`read` / :meth:`write` run jobs
        everywhere)."""
        return self._engine

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._url.get_backend_name()

    # --- running jobs --------------------------------------------------------------------

    async def read(self, job: Callable[[Connection], _T]) -> _T:
        """``job`` on a connection for reads (a reader thread on a SQLite file)."""
        if self._readers is not None:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._readers, self._read_in_thread, job)
        assert self._engine is not None
        with translate_errors():
            async with self._engine.connect() as connection:
                return await connection.run_sync(job)

    def _read_in_thread(self, job: Callable[[Connection], _T]) -> _T:
        assert self._read_engine is not None
        with translate_errors(), self._read_engine.connect() as connection:
            return job(connection)

    async def write(self, job: Callable[[Connection], _T]) -> _T:
        """``job`` inside one write transaction (the writer thread's on a SQLite file); it is
        finished even if the caller is cancelled."""
        if self._writer is not None:
            return await self._writer.submit(job)
        task = asyncio.ensure_future(self._write_async(job))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            _UNFINISHED.add(task)
            task.add_done_callback(_forget)
            raise

    async def _write_async(self, job: Callable[[Connection], _T]) -> _T:
        assert self._async_writer is not None
        with translate_errors():
            async with self._async_writer.begin() as connection:
                return await connection.run_sync(job)

    async def flush(self) -> None:
        """Return once every write submitted so far is finished (its caller gone or not)."""
        if self._writer is not None:
            await self._writer.submit(_nothing)  # the writer runs jobs in order
        while _UNFINISHED:
            await asyncio.wait(list(_UNFINISHED))

    async def rows(self, query: Executable) -> Sequence[Row[Any]]:
        """The rows of a read query."""
        return await self.read(lambda connection: connection.execute(query).all())

    async def execute(self, statement: Executable) -> int:
        """Run one write statement in its own transaction; the number of rows it touched."""
        return await self.write(lambda connection: _rowcount(connection, statement))

    # --- conversations -------------------------------------------------------------------

    @_timed
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
        await self.execute(insert(conv_table).values(**_fields(conversation)))
        return conversation

    @_timed
    async def get_conversation(
        self, conversation_id: str, *, owner: str | None
    ) -> Conversation | None:
        query = select(conv_table).where(conv_table.c.id == conversation_id, _owned_by(owner))
        rows = await self.rows(query)
        return _conversation(rows[0]) if rows else None

    @_timed
    async def conversation_exists(self, conversation_id: str) -> bool:
        query = select(conv_table.c.id).where(conv_table.c.id == conversation_id)
        return len(await self.rows(query)) > 0

    @_timed
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
        return [_conversation(row) for row in await self.rows(query)]

    @_timed
    async def count_conversations(self, *, owner: str | None) -> int:
        query = select(func.count()).select_from(conv_table).where(_owned_by(owner))
        rows = await self.rows(query)
        return int(rows[0][0] or 0) if rows else 0

    @_timed
    async def rename(self, conversation_id: str, title: str | None, *, owner: str | None) -> bool:
        title = None if title is None else storable_text(title)
        query = (
            update(conv_table)
            .where(conv_table.c.id == conversation_id, _owned_by(owner))
            .values(title=title)
        )
        return await self.execute(query) > 0

    @_timed
    async def delete_conversation(self, conversation_id: str, *, owner: str | None) -> bool:
        query = delete(conv_table).where(conv_table.c.id == conversation_id, _owned_by(owner))
        return await self.execute(query) > 0

    @_timed
    async def set_upstream_conversation_id(self, conversation_id: str, value: str | None) -> None:
        query = (
            update(conv_table)
            .where(conv_table.c.id == conversation_id)
            .values(upstream_conversation_id=value)
        )
        if await self.execute(query) == 0:
            raise ConversationNotFound()

    @_timed
    async def set_current_node(self, conversation_id: str, message_id: str) -> None:
        query = (
            update(conv_table)
            .where(conv_table.c.id == conversation_id)
            .values(current_node=message_id)
        )
        has_message = select(msg_table.c.id).where(
            msg_table.c.conversation_id == conversation_id, msg_table.c.id == message_id
        )

        def move(connection: Connection) -> None:
            if _rowcount(connection, query) == 0:
                raise ConversationNotFound()
            if connection.execute(has_message).first() is None:
                raise MessageNotFound()

        await self.write(move)

    # --- messages ------------------------------------------------------------------------

    @_timed
    async def add_turn(
        self,
        conversation_id: str,
        *,
        parent_id: str | None,
        messages: Sequence[NewMessage],
    ) -> list[StoredMessage]:
        if not messages:
            raise ValueError("add_turn needs at least one message")
        recorded = await self._write_turn(
            conversation_id, None, None, parent_id, messages, any_owner=True
        )
        return recorded.messages

    @_timed
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
        return await self._write_turn(
            conversation_id,
            owner,
            create,
            parent_id,
            messages,
            unknown_parent_is_root=unknown_parent_is_root,
            alternatives=alternatives,
        )

    async def _write_turn(
        self,
        conversation_id: str | None,
        owner: str | None,
        create: NewConversation | None,
        parent_id: str | None,
        messages: Sequence[NewMessage],
        *,
        unknown_parent_is_root: bool = False,
        alternatives: Sequence[NewMessage] = (),
        any_owner: bool = False,
    ) -> RecordedTurn:
        """The chain of ``messages`` (and other choices) under ``parent_id``, in one write."""
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
            any_owner=any_owner,
        )
        return await self.write(PlainJob(functools.partial(write_turn, turn=turn)))

    @_timed
    async def get_message(self, message_id: str, *, conversation_id: str) -> StoredMessage | None:
        query = _select_messages(conversation_id).where(msg_table.c.id == message_id)
        rows = await self.rows(query)
        return _message(rows[0]) if rows else None

    @_timed
    async def messages_of(self, conversation_id: str) -> list[StoredMessage]:
        query = _select_messages(conversation_id).order_by(msg_table.c.position)
        return await self._messages(query)

    @_timed
    async def children_of(self, message_id: str, *, conversation_id: str) -> list[StoredMessage]:
        query = (
            _select_messages(conversation_id)
            .where(msg_table.c.parent_id == message_id)
            .order_by(msg_table.c.position)
        )
        return await self._messages(query)

    @_timed
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

    @_timed
    async def attachments(self, hashes: Collection[str]) -> dict[str, Attachment]:
        if not hashes:
            return {}
        table = attachment_table
        query = select(table.c.sha256, table.c.media_type, table.c.data).where(
            table.c.sha256.in_(sorted(hashes))
        )
        rows = await self.rows(query)
        return {row.sha256: Attachment(row.sha256, row.media_type, bytes(row.data)) for row in rows}

    async def _messages(self, query: Select[Any]) -> list[StoredMessage]:
        return [_message(row) for row in await self.rows(query)]

    # --- lifecycle -----------------------------------------------------------------------

    async def ping(self) -> None:
        """One probe at a time: concurrent callers share the one in flight."""
        probe = self._pinging
        if probe is None:
            probe = self._pinging = asyncio.ensure_future(self.rows(_PING))
            probe.add_done_callback(self._pinged)
        await asyncio.shield(probe)

    def _pinged(self, probe: asyncio.Future[Any]) -> None:
        self._pinging = None
        if not probe.cancelled():
            probe.exception()  # retrieved here too, in case every caller went away

    async def close(self) -> None:
        """Write the queued writes, then close every connection."""
        if self._writer is not None:
            await self._writer.close()
        if self._readers is not None:
            self._readers.shutdown(wait=False)
        for engine in (self._read_engine, self._write_engine):
            if engine is not None:
                engine.dispose()
        self._readers = None
        if self._engine is not None:
            await self._engine.dispose()


_PING = select(literal(1))


def _nothing(_connection: Connection) -> None:
    return None


def _rowcount(connection: Connection, statement: Executable) -> int:
    return int(connection.execute(statement).rowcount)


# --- helpers -------------------------------------------------------------------------------

_MESSAGE_COLUMNS = tuple(c for c in msg_table.c if c.name != "position")


def _select_messages(conversation_id: str) -> Select[Any]:
    return select(*_MESSAGE_COLUMNS).where(msg_table.c.conversation_id == conversation_id)


def _owned_by(owner: str | None) -> ColumnElement[bool]:
    column = conv_table.c.owner
    return column.is_(None) if owner is None else column == owner


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
