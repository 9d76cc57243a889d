"""Writing one whole turn: the body of :meth:`SQLStore.record_turn` (and ``add_turn``).

:func:`write_turn` runs inside the caller's transaction on a synchronous connection (the SQLite
writer thread, or ``run_sync`` elsewhere): an owner-scoped ``UPDATE`` of the conversation (the
get-or-create probe; a row lock on PostgreSQL), an ``INSERT`` of a new conversation or one
``SELECT`` of the last position and the parent, then one ``executemany`` for the messages.
Plain ``sqlite3`` with fixed SQL on a SQLite file (the hot path), SQLAlchemy Core elsewhere.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from sqlalchemy import bindparam, exists, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from chatgpt_api.messages import Usage
from chatgpt_api.store.attachments import Attachment
from chatgpt_api.store.errors import ConversationNotFound, InvalidParent
from chatgpt_api.store.schema import attachments as attachment_table
from chatgpt_api.store.schema import conversations as conv_table
from chatgpt_api.store.schema import messages as msg_table
from chatgpt_api.store.values import NewConversation, RecordedTurn, StoredMessage, new_id

_ANY_OWNER: Final = object()


@dataclass(frozen=True, slots=True)
class TurnWrite:
    """One turn, prepared by the caller (ids, text and timestamp fixed) and ready to write.

    ``chain`` holds the messages with their final ids; the first one's parent is decided when
    writing (``parent_id``, or None when it is unknown and ``unknown_parent_is_root``).
    ``any_owner`` appends whoever owns the conversation (``add_turn``, for the service).
    """

    conversation_id: str | None
    owner: str | None
    create: NewConversation | None
    parent_id: str | None
    unknown_parent_is_root: bool
    chain: tuple[StoredMessage, ...]
    now: datetime
    #: Inline data taken out of the chain's payloads, written once by hash.
    attachments: tuple[Attachment, ...] = ()
    #: Siblings of the chain's last message (other choices of an answer), written after it.
    alternatives: tuple[StoredMessage, ...] = ()
    any_owner: bool = False


def write_turn(connection: Connection, turn: TurnWrite) -> RecordedTurn:
    """The statements of one turn, inside the caller's transaction; refusals raise."""
    driver = connection.connection.driver_connection
    db: _Statements
    if connection.dialect.driver == "pysqlite" and driver is not None:
        db = _SQLite(driver)
    else:
        db = _Core(connection)
    tip = turn.chain[-1]
    conversation_id = turn.conversation_id
    touched = False
    if conversation_id is not None:
        owner = _ANY_OWNER if turn.any_owner else turn.owner
        touched = db.touch(conversation_id, owner, tip.id, turn.now)
    parent_id = turn.parent_id
    if touched:
        assert conversation_id is not None
        last, parent_found = db.lookup(conversation_id, parent_id)
        start = 1 if last is None else int(last) + 1
    else:
        create = turn.create
        if create is None:
            raise ConversationNotFound()
        conversation_id = create.id or new_id()
        db.insert_conversation(_conversation_row(turn, create, conversation_id))
        start, parent_found = 1, False
    if parent_id is not None and not parent_found:
        if not turn.unknown_parent_is_root:
            raise InvalidParent()
        parent_id = None
    chain = _placed(turn.chain, conversation_id, parent_id)
    others = _siblings(turn.alternatives, chain, conversation_id)
    if turn.attachments:
        db.insert_attachments(turn.attachments, turn.now)
    db.insert_messages([*chain, *others], start)
    return RecordedTurn(
        conversation_id=conversation_id, created=not touched, messages=chain, alternatives=others
    )


class _Statements(Protocol):
    def touch(self, conversation_id: str, owner: object, tip: str, now: datetime) -> bool: ...
    def lookup(self, conversation_id: str, parent_id: str | None) -> tuple[Any, bool]: ...
    def insert_conversation(self, row: dict[str, Any]) -> None: ...
    def insert_messages(self, messages: Sequence[StoredMessage], start: int) -> None: ...
    def insert_attachments(self, attachments: Sequence[Attachment], now: datetime) -> None: ...


# --- SQLAlchemy Core (PostgreSQL, in-memory SQLite) -------------------------------------------

_TOUCH_VALUES: Final[dict[str, Any]] = {
    "current_node": bindparam("t_node"),
    "updated_at": bindparam("t_updated"),
}
_TOUCH_OWNED: Final = (
    update(conv_table)
    .where(conv_table.c.id == bindparam("t_id"), conv_table.c.owner == bindparam("t_owner"))
    .values(**_TOUCH_VALUES)
)
_TOUCH_ANONYMOUS: Final = (
    update(conv_table)
    .where(conv_table.c.id == bindparam("t_id"), conv_table.c.owner.is_(None))
    .values(**_TOUCH_VALUES)
)
_TOUCH_ANY: Final = (
    update(conv_table).where(conv_table.c.id == bindparam("t_id")).values(**_TOUCH_VALUES)
)
_LOOKUP: Final = select(
    select(func.max(msg_table.c.position))
    .where(msg_table.c.conversation_id == bindparam("l_conversation"))
    .scalar_subquery(),
    exists().where(
        msg_table.c.conversation_id == bindparam("l_conversation"),
        msg_table.c.id == bindparam("l_parent"),
    ),
)
_INSERT_CONVERSATION: Final = insert(conv_table)
_INSERT_MESSAGES: Final = insert(msg_table)
_MESSAGE_FIELDS: Final = tuple(f.name for f in dataclasses.fields(StoredMessage))


class _Core:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def touch(self, conversation_id: str, owner: object, tip: str, now: datetime) -> bool:
        if owner is _ANY_OWNER:
            statement = _TOUCH_ANY
        else:
            statement = _TOUCH_ANONYMOUS if owner is None else _TOUCH_OWNED
        params = {"t_id": conversation_id, "t_owner": owner, "t_node": tip, "t_updated": now}
        if owner is _ANY_OWNER or owner is None:
            del params["t_owner"]
        return self._connection.execute(statement, params).rowcount > 0

    def lookup(self, conversation_id: str, parent_id: str | None) -> tuple[Any, bool]:
        params = {"l_conversation": conversation_id, "l_parent": parent_id}
        last, found = self._connection.execute(_LOOKUP, params).one()
        return last, bool(found)

    def insert_conversation(self, row: dict[str, Any]) -> None:
        self._connection.execute(_INSERT_CONVERSATION, row)

    def insert_messages(self, messages: Sequence[StoredMessage], start: int) -> None:
        rows = []
        for n, message in enumerate(messages):
            row = {name: getattr(message, name) for name in _MESSAGE_FIELDS}
            row["position"] = start + n
            rows.append(row)
        self._connection.execute(_INSERT_MESSAGES, rows)

    def insert_attachments(self, attachments: Sequence[Attachment], now: datetime) -> None:
        write_attachments(self._connection, attachments, now)


def write_attachments(
    connection: Connection, attachments: Sequence[Attachment], now: datetime
) -> None:
    """Insert the attachments the database does not have yet (by hash; concurrent writers of
    the same content do not conflict)."""
    unique = {a.sha256: a for a in attachments}
    rows = [
        {"sha256": a.sha256, "media_type": a.media_type, "size": a.size, "data": a.data}
        | {"created_at": now}
        for a in unique.values()
    ]
    dialect_insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    statement = dialect_insert(attachment_table).on_conflict_do_nothing(index_elements=["sha256"])
    connection.execute(statement, rows)


# --- plain sqlite3 (a SQLite file, in the writer thread) ---------------------------------------

_SQLITE_TOUCH: Final = (
    "UPDATE conversations SET current_node = ?, updated_at = ? WHERE id = ? AND owner IS ?"
)
_SQLITE_TOUCH_ANY: Final = "UPDATE conversations SET current_node = ?, updated_at = ? WHERE id = ?"
_SQLITE_LOOKUP: Final = (
    "SELECT (SELECT max(position) FROM messages WHERE conversation_id = ?), "
    "EXISTS (SELECT 1 FROM messages WHERE conversation_id = ? AND id = ?)"
)
_CONVERSATION_COLUMNS: Final = (
    "id",
    "title",
    "owner",
    "backend",
    "model",
    "upstream_conversation_id",
    "current_node",
    "created_at",
    "updated_at",
)
_SQLITE_INSERT_CONVERSATION: Final = (
    "INSERT INTO conversations (id, title, owner, backend, model, upstream_conversation_id, "
    "current_node, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SQLITE_INSERT_MESSAGE: Final = (
    "INSERT INTO messages (id, conversation_id, parent_id, role, content, model, status, error, "
    "upstream_message_id, usage, latency_ms, created_at, payload, position) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SQLITE_INSERT_ATTACHMENT: Final = (
    "INSERT INTO attachments (sha256, media_type, size, data, created_at) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING"
)


def sqlite_time(value: datetime) -> str:
    """A datetime as :class:`.schema.UTCDateTime` stores it on SQLite (naive UTC text)."""
    if value.tzinfo is UTC:  # the common case: "YYYY-MM-DD HH:MM:SS.ffffff+00:00", cut
        return value.isoformat(" ", "microseconds")[:26]
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the store: use timezone-aware UTC")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _sqlite_usage(usage: Usage | None) -> str | None:
    """What ``json.dumps`` makes of the usage object (token counts are integers)."""
    if usage is None:
        return None
    prompt, completion = int(usage.prompt_tokens), int(usage.completion_tokens)
    return f'{{"prompt_tokens": {prompt}, "completion_tokens": {completion}}}'


class _SQLite:
    def __init__(self, connection: Any) -> None:
        self._connection = connection
        self._last_time: tuple[datetime | None, str] = (None, "")

    def _time(self, value: datetime) -> str:
        """:func:`sqlite_time`, once for the timestamp a turn's rows share."""
        last, text = self._last_time
        if value is not last:
            text = sqlite_time(value)
            self._last_time = (value, text)
        return text

    def touch(self, conversation_id: str, owner: object, tip: str, now: datetime) -> bool:
        when = self._time(now)
        if owner is _ANY_OWNER:
            cursor = self._connection.execute(_SQLITE_TOUCH_ANY, (tip, when, conversation_id))
        else:
            cursor = self._connection.execute(_SQLITE_TOUCH, (tip, when, conversation_id, owner))
        return int(cursor.rowcount) > 0

    def lookup(self, conversation_id: str, parent_id: str | None) -> tuple[Any, bool]:
        params = (conversation_id, conversation_id, parent_id)
        last, found = self._connection.execute(_SQLITE_LOOKUP, params).fetchone()
        return last, bool(found)

    def insert_conversation(self, row: dict[str, Any]) -> None:
        values = [row[name] for name in _CONVERSATION_COLUMNS]
        values[-2:] = [self._time(row["created_at"]), self._time(row["updated_at"])]
        self._connection.execute(_SQLITE_INSERT_CONVERSATION, values)

    def insert_messages(self, messages: Sequence[StoredMessage], start: int) -> None:
        rows = [
            (
                m.id,
                m.conversation_id,
                m.parent_id,
                m.role,
                m.content,
                m.model,
                m.status,
                m.error,
                m.upstream_message_id,
                _sqlite_usage(m.usage),
                m.latency_ms,
                self._time(m.created_at),
                None if m.payload is None else json.dumps(m.payload),
                start + n,
            )
            for n, m in enumerate(messages)
        ]
        self._connection.executemany(_SQLITE_INSERT_MESSAGE, rows)

    def insert_attachments(self, attachments: Sequence[Attachment], now: datetime) -> None:
        when = self._time(now)
        unique = {a.sha256: a for a in attachments}
        rows = [(a.sha256, a.media_type, a.size, a.data, when) for a in unique.values()]
        self._connection.executemany(_SQLITE_INSERT_ATTACHMENT, rows)


# --- placing the chain -----------------------------------------------------------------------


def _placed(
    chain: tuple[StoredMessage, ...], conversation_id: str, parent_id: str | None
) -> list[StoredMessage]:
    """The chain in its conversation, the first message under ``parent_id``."""
    placed = list(chain)
    first = placed[0]
    if first.conversation_id != conversation_id or first.parent_id != parent_id:
        placed[0] = dataclasses.replace(first, conversation_id=conversation_id, parent_id=parent_id)
    for n in range(1, len(placed)):
        if placed[n].conversation_id != conversation_id:
            placed[n] = dataclasses.replace(placed[n], conversation_id=conversation_id)
    return placed


def _siblings(
    alternatives: tuple[StoredMessage, ...], chain: list[StoredMessage], conversation_id: str
) -> list[StoredMessage]:
    """``alternatives`` placed beside the chain's last message (under the same parent)."""
    parent = chain[-1].parent_id
    return [
        dataclasses.replace(m, conversation_id=conversation_id, parent_id=parent)
        for m in alternatives
    ]


def _conversation_row(turn: TurnWrite, create: NewConversation, conversation_id: str) -> Any:
    return {
        "id": conversation_id,
        "title": create.title,
        "owner": turn.owner,
        "backend": create.backend,
        "model": create.model,
        "upstream_conversation_id": create.upstream_conversation_id,
        "current_node": turn.chain[-1].id,
        "created_at": turn.now,
        "updated_at": turn.now,
    }
