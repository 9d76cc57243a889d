"""The conversation store: every conversation kept server-side as a tree of messages.

``store = await open_store(url)`` opens it (directory created, schema migrated if behind:
:mod:`.migrate`); :func:`upgrade_database` only migrates (``chatgpt-api db upgrade``). The seam
is :class:`ConversationStore` (:mod:`.protocol`); :class:`SQLStore` implements it for SQLite
(default) and PostgreSQL; values are in :mod:`.values`, errors in :mod:`.errors`. The names
bound to SQLAlchemy (:class:`SQLStore`, :class:`EngineOptions`, :func:`upgrade_database`) load
on first use, so a service with the store off never imports SQLAlchemy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from chatgpt_api.store.errors import (
    ConversationNotFound,
    DuplicateId,
    InvalidParent,
    MessageNotFound,
    StoreUnavailable,
)
from chatgpt_api.store.location import default_database_url
from chatgpt_api.store.protocol import OPERATIONS, ConversationStore, Observe
from chatgpt_api.store.values import (
    Conversation,
    MessageStatus,
    NewConversation,
    NewMessage,
    RecordedTurn,
    StoredMessage,
    StoredRole,
)

if TYPE_CHECKING:
    from chatgpt_api.store.engine import EngineOptions
    from chatgpt_api.store.migrate import upgrade_database
    from chatgpt_api.store.sql import SQLStore

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

#: The SQLAlchemy-bound names, by the module that defines them (imported on first access).
_LAZY = {
    "EngineOptions": "chatgpt_api.store.engine",
    "SQLStore": "chatgpt_api.store.sql",
    "upgrade_database": "chatgpt_api.store.migrate",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


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
    from chatgpt_api.store.engine import ensure_sqlite_directory, parse_database_url
    from chatgpt_api.store.migrate import ensure_schema
    from chatgpt_api.store.sql import SQLStore

    parsed = parse_database_url(url)
    ensure_sqlite_directory(parsed)
    store = SQLStore(parsed, options, observe=observe)
    try:
        await ensure_schema(store, url, isolated=isolated_upgrade)
    except BaseException:
        await store.close()
        raise
    return store
