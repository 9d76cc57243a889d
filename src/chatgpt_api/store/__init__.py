"""The conversation store: every conversation kept server-side as a tree of messages.

Usage::

    store = await open_store(default_database_url(home))   # or a postgresql+asyncpg:// URL
    conv = await store.create_conversation(backend="openai", model="gpt-4o", owner=key_id)
    user, answer = await store.add_turn(
        conv.id, parent_id=None,
        messages=[NewMessage("user", "Hi"), NewMessage("assistant", "Hello!", model="gpt-4o")],
    )
    history = await store.path_to(answer.id, conversation_id=conv.id)   # root → answer
    # The service's one write per turn: get-or-create the conversation, check the parent,
    # insert the messages, move the tip, all in one transaction (batched on SQLite).
    turn = await store.record_turn(
        conv.id, owner=key_id, create=NewConversation(backend="openai", model="gpt-4o"),
        parent_id=answer.id, messages=[NewMessage("user", "More"), NewMessage("assistant", "…")],
    )
    await store.close()

:func:`open_store` creates the directory of a SQLite file if needed and applies the schema
migrations if behind (see :mod:`.migrate`); :func:`upgrade_database` does only the latter
(``chatgpt-api db upgrade``). The seam is :class:`ConversationStore` (contract in
:mod:`.protocol`); :class:`SQLStore` implements it for SQLite (default) and PostgreSQL. Errors
are drawn in :mod:`.errors`.
"""

from __future__ import annotations

from chatgpt_api.store.engine import (
    EngineOptions,
    create_engine,
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
    engine = create_engine(parsed, options)
    try:
        await ensure_schema(engine, url, isolated=isolated_upgrade)
    except BaseException:
        await engine.dispose()
        raise
    return SQLStore(engine, options, observe=observe)
