"""Writing whole turns, several per transaction: the body of :meth:`SQLStore.record_turn`.

:func:`write_turns` is synchronous SQLAlchemy Core on a :class:`~sqlalchemy.engine.Connection`,
so one code path serves both databases: on a SQLite file it runs in the store's writer thread on
a plain ``sqlite3`` connection (one thread hop per batch instead of several per statement); on
PostgreSQL and in-memory SQLite it runs through :meth:`AsyncConnection.run_sync`.

One turn costs two to four statements, all prepared once (:data:`_TOUCH_*`, :data:`_LOOKUP`,
the inserts): ``UPDATE`` the conversation (owner-scoped; it is the get-or-create probe, and on
PostgreSQL it locks the row, so concurrent turns on one conversation get consecutive
positions); if no row was touched, ``INSERT`` the conversation already pointing at the turn's
tip; else one ``SELECT`` for the last position and whether the parent exists; then one
``executemany`` for the messages.

Errors reach only their own turn. A refusal (:class:`InvalidParent`,
:class:`ConversationNotFound`, :class:`DuplicateId`) rolls the transaction back and the other
turns are written again, each in a savepoint from then on, so a later refusal costs no further
re-run. A database failure while writing a turn fails that turn, and the others are retried
without it; a failure of ``BEGIN`` or ``COMMIT`` itself fails every turn of the transaction.
Nothing of a failed turn is ever written; every turn reported written was committed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, TypeAlias

from sqlalchemy import bindparam, exists, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from chatgpt_api.errors import ServiceError
from chatgpt_api.store.attachments import Attachment
from chatgpt_api.store.errors import (
    ConversationNotFound,
    DuplicateId,
    InvalidParent,
    StoreUnavailable,
    is_unique_violation,
    unavailable_reason,
)
from chatgpt_api.store.schema import attachments as attachment_table
from chatgpt_api.store.schema import conversations as conv_table
from chatgpt_api.store.schema import messages as msg_table
from chatgpt_api.store.values import NewConversation, RecordedTurn, StoredMessage, new_id

#: A turn's result: what was written, or the error for its caller.
Outcome: TypeAlias = RecordedTurn | BaseException


@dataclass(frozen=True, slots=True)
class TurnWrite:
    """One turn, prepared by the caller (ids, text and timestamp fixed) and ready to write.

    ``chain`` holds the messages with their final ids; the first one's parent is decided when
    writing (``parent_id``, or None when it is unknown and ``unknown_parent_is_root``).
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


_REFUSALS = (InvalidParent, ConversationNotFound, DuplicateId)

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


def write_turns(connection: Connection, turns: Sequence[TurnWrite]) -> list[Outcome]:
    """Write ``turns`` in as few transactions as their errors allow; one outcome per turn.

    ``connection`` must not be in a transaction; on SQLite it must begin with ``BEGIN
    IMMEDIATE`` (see :func:`chatgpt_api.store.engine.writer`).
    """
    outcomes: dict[int, Outcome] = {}
    todo = list(range(len(turns)))
    savepoints = False
    while todo:
        done, failed, error = _attempt(connection, turns, todo, savepoints and len(todo) > 1)
        if error is None:
            outcomes.update(done)
            break
        if failed is None:  # BEGIN or COMMIT itself: no turn of this transaction was written
            for i in todo:
                outcomes[i] = _store_error(error)
            break
        refused = _refusal(error)
        outcomes[failed] = refused if refused is not None else _store_error(error)
        todo.remove(failed)
        savepoints = savepoints or refused is not None
    return [outcomes[i] for i in range(len(turns))]


def _attempt(
    connection: Connection, turns: Sequence[TurnWrite], todo: list[int], savepoints: bool
) -> tuple[dict[int, Outcome], int | None, Exception | None]:
    """One transaction over ``todo``: (outcomes, the failing turn or None, the error or None)."""
    done: dict[int, Outcome] = {}
    current: int | None = None
    try:
        with connection.begin():
            for i in todo:
                current = i
                if not savepoints:
                    done[i] = _record(connection, turns[i])
                    continue
                try:
                    with connection.begin_nested():
                        done[i] = _record(connection, turns[i])
                except Exception as error:
                    refused = _refusal(error)
                    if refused is None:
                        raise
                    done[i] = refused
            current = None
    except Exception as error:
        return {}, current, error
    return done, None, None


def _record(connection: Connection, turn: TurnWrite) -> RecordedTurn:
    """The statements of one turn (inside the caller's transaction or savepoint)."""
    tip = turn.chain[-1]
    conversation_id = turn.conversation_id
    touched = False
    if conversation_id is not None:
        touch = _TOUCH_ANONYMOUS if turn.owner is None else _TOUCH_OWNED
        params: dict[str, Any] = {"t_id": conversation_id, "t_owner": turn.owner}
        params |= {"t_node": tip.id, "t_updated": turn.now}
        touched = connection.execute(touch, params).rowcount > 0
    parent_id = turn.parent_id
    if touched:
        assert conversation_id is not None
        lookup = {"l_conversation": conversation_id, "l_parent": parent_id}
        last, parent_found = connection.execute(_LOOKUP, lookup).one()
        start = 1 if last is None else int(last) + 1
    else:
        create = turn.create
        if create is None:
            raise ConversationNotFound()
        conversation_id = create.id or new_id()
        connection.execute(_INSERT_CONVERSATION, _conversation_row(turn, create, conversation_id))
        start, parent_found = 1, False
    if parent_id is not None and not parent_found:
        if not turn.unknown_parent_is_root:
            raise InvalidParent()
        parent_id = None
    chain = _placed(turn.chain, conversation_id, parent_id)
    others = _siblings(turn.alternatives, chain, conversation_id)
    rows = [_message_row(m, start + n) for n, m in enumerate((*chain, *others))]
    if turn.attachments:
        write_attachments(connection, turn.attachments, turn.now)
    connection.execute(_INSERT_MESSAGES, rows)
    return RecordedTurn(
        conversation_id=conversation_id, created=not touched, messages=chain, alternatives=others
    )


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


def _message_row(message: StoredMessage, position: int) -> dict[str, Any]:
    row = {name: getattr(message, name) for name in _MESSAGE_FIELDS}
    row["position"] = position
    return row


def _refusal(error: BaseException) -> ServiceError | None:
    """The caller's error if ``error`` refuses only this turn, else None."""
    if isinstance(error, _REFUSALS):
        return error
    if is_unique_violation(error):
        duplicate = DuplicateId()
        duplicate.__cause__ = error
        return duplicate
    return None


def _store_error(error: BaseException) -> BaseException:
    """What a turn's caller sees for a failure of the database (a fresh error per caller)."""
    if isinstance(error, StoreUnavailable):
        return StoreUnavailable(error.reason)
    if isinstance(error, ServiceError):
        return error
    reason = unavailable_reason(error)
    if reason is None:
        return error  # a bug: passed on unchanged
    unavailable = StoreUnavailable(reason)
    unavailable.__cause__ = error
    return unavailable
