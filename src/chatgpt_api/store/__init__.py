"""The conversation store: every conversation kept server-side as a tree of messages.

``store = await open_store(url)`` creates a SQLite file's directory, applies the schema
migrations if behind (:mod:`.migrate`) and opens the store; :func:`upgrade_database` only
migrates (``chatgpt-api db upgrade``). The service's one write per turn is
``store.record_turn(conv_id, owner=..., create=NewConversation(...), parent_id=...,
messages=[NewMessage(...), ...])``: get-or-create, check the parent, insert, move the tip, in
one transaction. The seam is :class:`ConversationStore` (:mod:`.protocol`); :class:`SQLStore`
implements it for SQLite (default) and PostgreSQL. Errors are in :mod:`.errors`.
"""

from __future__ import annotations

from chatgpt_api.store.engine import (
    EngineOptions,
    default_database_url,
    ensure_sqlite_directory,
    parse_database_url,
)
from chatgpt_api.store.errors import (
    ConversationNotFound,
    DuplicateId,
    InvalidParent,
    MessageNotFound,
    StoreUnavailable,
)
from chatgpt_api.store.migrate import ensure_schema, upgrade_database
from chatgpt_api.store.protocol import OPERATIONS, ConversationStore
from chatgpt_api.store.sql import Observe, SQLStore
from chatgpt_api.store.values import (
    Conversation,
    MessageStatus,
    NewConversation,
    NewMessage,
    RecordedTurn,
    StoredMessage,
    StoredRole,
)

__all__ = [
    "OPERATIONS",
    "Conversation",
    "ConversationNotFound",
    "ConversationStore",
    "DuplicateId",
    "EngineOptions",
    "InvalidParent",
    "MessageNotFound",
    "MessageStatus",
    "NewConversation",
    "NewMessage",
    "Observe",
    "RecordedTurn",
    "SQLStore",
    "StoreUnavailable",
    "StoredMessage",
    "StoredRole",
    "default_database_url",
    "open_store",
    "upgrade_database",
]


async def open_store(
    url: str,
    options: EngineOptions | None = None,
    *,
    observe: Observe | None = None,
    isolated_upgrade: bool = False,
) -> SQLStore:
    """A ready store on ``url``: directory created (SQLite), schema upgraded, pool open;
    ``observe(operation, seconds)`` times each operation when given.

    ``isolated_upgrade``: a schema behind the newest is upgraded in a short-lived child process
    (Alembic is then never imported here); without it, in this process.

    Raises :class:`StoreUnavailable` if the database cannot be reached or written, and
    :class:`chatgpt_api.errors.ConfigurationError` for an unsupported URL.
    """
    parsed = parse_database_url(url)
    ensure_sqlite_directory(parsed)
    store = SQLStore(parsed, options, observe=observe)
    try:
        await ensure_schema(store, url, isolated=isolated_upgrade)
    except BaseException:
        await store.close()
        raise
    return store
