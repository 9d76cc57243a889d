"""Alembic environment: runs the migrations on the connection handed over in
``config.attributes["connection"]`` by :mod:`chatgpt_api.store.migrate`.

Only online mode on that connection is supported. The caller has already begun the transaction
(and, on PostgreSQL, taken the advisory lock), so Alembic runs inside it.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from chatgpt_api.store.schema import metadata


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection) or context.is_offline_mode():
        raise RuntimeError(
            "run the store's migrations with chatgpt_api.store.upgrade_database() "
            "or `chatgpt-api db upgrade`"
        )
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
