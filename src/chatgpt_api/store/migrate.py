"""Applying the Alembic migrations programmatically.

The Alembic configuration is built in code (``script_location`` = the ``migrations`` directory
inside this package), so nothing but the package is needed at run time. The whole upgrade runs
in ONE transaction on one connection:

* PostgreSQL: ``pg_advisory_xact_lock`` first, so when several processes start at once on the
  same database they upgrade one after the other (the later ones find the schema at head and do
  nothing); the lock is released by the commit. DDL is transactional: a failed upgrade leaves
  nothing behind.
* SQLite: the transaction starts with ``BEGIN IMMEDIATE``, which serialises concurrent upgraders
  the same way (they wait up to ``busy_timeout``).

Alembic's ``context`` and ``op`` are process-wide proxies, so two upgrades must never run at
the same time in one process, even on different databases: an in-process lock (usable from any
event loop or thread) is taken first, then the database lock above, always in that order.

Upgrading a database already at head is a no-op, so calling this at every start-up is safe.
Alembic's own INFO lines are silenced; one line is logged only when the schema actually
changes (``database schema upgraded: <old> -> <new>``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from chatgpt_api.store.engine import (
    EngineOptions,
    create_engine,
    ensure_sqlite_directory,
    parse_database_url,
    writer,
)
from chatgpt_api.store.errors import translate_errors

MIGRATIONS_DIR: Final = Path(__file__).resolve().parent / "migrations"
# An arbitrary 64-bit key naming "the chatgpt-api schema upgrade" among advisory locks.
_ADVISORY_LOCK_KEY: Final = 0x63_68_61_74_67_70_74_31
_ALEMBIC_IN_USE = threading.Lock()
_LOCK_POLL_SECONDS: Final = 0.01

log = logging.getLogger(__name__)


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for this package's migrations (no ini file)."""
    config = Config()
    # Config values go through ConfigParser interpolation: escape '%' in the path.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


async def upgrade_database(url: str, options: EngineOptions | None = None) -> None:
    """Bring the database at ``url`` to the newest schema (creating a SQLite file if needed)."""
    parsed = parse_database_url(url)
    ensure_sqlite_directory(parsed)
    engine = create_engine(parsed, options)
    try:
        await upgrade_engine(engine)
    finally:
        await engine.dispose()


async def upgrade_engine(engine: AsyncEngine) -> None:
    """Bring the database of ``engine`` to the newest schema; see the module docstring."""
    async with _alembic_turn():
        with translate_errors():
            async with writer(engine).begin() as connection:
                if connection.dialect.name == "postgresql":
                    await connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY}
                    )
                await connection.run_sync(_upgrade_to_head)


@asynccontextmanager
async def _alembic_turn() -> AsyncIterator[None]:
    """Hold the process-wide migration lock (polled, so waiting never blocks the loop)."""
    # A threading lock, not an asyncio one: upgrades may run on several loops (threads).
    while not _ALEMBIC_IN_USE.acquire(blocking=False):  # noqa: ASYNC110
        await asyncio.sleep(_LOCK_POLL_SECONDS)
    try:
        yield
    finally:
        _ALEMBIC_IN_USE.release()


def _upgrade_to_head(connection: Connection) -> None:
    alembic_log = logging.getLogger("alembic")
    level = alembic_log.level
    alembic_log.setLevel(logging.WARNING)
    try:
        before = MigrationContext.configure(connection).get_current_revision()
        command.upgrade(alembic_config(connection), "head")
        after = MigrationContext.configure(connection).get_current_revision()
    finally:
        alembic_log.setLevel(level)
    if after != before:
        log.info("database schema upgraded: %s -> %s", before or "empty", after)
