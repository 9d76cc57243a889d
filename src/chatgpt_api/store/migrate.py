"""Schema migrations: Alembic, built in code, imported only when a database is behind.

:func:`ensure_schema` reads ``alembic_version`` with one query and returns at
:func:`head_revision`; else it upgrades here or (``isolated``) in a short-lived child
(``python -m chatgpt_api.store``), so a serving process never holds Alembic. An upgrade is one
transaction, serialised between processes (``pg_advisory_xact_lock`` / ``BEGIN IMMEDIATE``)
and within one by a lock. One line is logged only when the schema changes.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import re
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Final

from sqlalchemy import text
from sqlalchemy.engine import Connection

from chatgpt_api.errors import ConfigurationError
from chatgpt_api.store.engine import EngineOptions, ensure_sqlite_directory, parse_database_url
from chatgpt_api.store.errors import StoreUnavailable
from chatgpt_api.store.protocol import Jobs
from chatgpt_api.store.sql import SQLStore

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR: Final = Path(__file__).resolve().parent / "migrations"
#: The directory holding the ``chatgpt_api`` package, put first on the child process's path.
_PACKAGE_ROOT: Final = str(Path(__file__).resolve().parents[2])
# An arbitrary 64-bit key naming "the chatgpt-api schema upgrade" among advisory locks.
_ADVISORY_LOCK_KEY: Final = 0x63_68_61_74_67_70_74_31
_ALEMBIC_IN_USE = threading.Lock()
_LOCK_POLL_SECONDS: Final = 0.01
_REVISION_LINE = re.compile(r"^(down_revision|revision)\b[^=]*=\s*['\"]?(\w+)", re.MULTILINE)

log = logging.getLogger(__name__)


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for this package's migrations (no ini file)."""
    from alembic.config import Config

    config = Config()
    # Config values go through ConfigParser interpolation: escape '%' in the path.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


async def upgrade_database(
    url: str, options: EngineOptions | None = None
) -> tuple[str | None, str | None]:
    """Bring the database at ``url`` to the newest schema with Alembic (creating a SQLite file
    if needed); the revisions before and after."""
    parsed = parse_database_url(url)
    ensure_sqlite_directory(parsed)
    store = SQLStore(parsed, options)
    try:
        before, after = await upgrade_store(store)
    finally:
        await store.close()
    if after != before:
        log.info("database schema upgraded: %s -> %s", before or "empty", after)
    return before, after


async def upgrade_store(store: Jobs) -> tuple[str | None, str | None]:
    """Bring the database of ``store`` to the newest schema with Alembic, in this process (one
    write job); the revisions before and after. See the module docstring."""
    async with _alembic_turn():
        return await store.write(_locked_upgrade)


def _locked_upgrade(connection: Connection) -> tuple[str | None, str | None]:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})
    return _upgrade_to_head(connection)


@functools.cache
def head_revision() -> str:
    """The newest migration's revision, read from the migration files (no Alembic import)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        for name, value in _REVISION_LINE.findall(path.read_text(encoding="utf-8")):
            (revisions if name == "revision" else parents).add(value)
    heads = revisions - parents
    if len(heads) != 1:
        raise RuntimeError(f"the migrations have {len(heads)} heads, not one: {sorted(heads)}")
    return heads.pop()


async def schema_revision(store: Jobs) -> str | None:
    """The revision the database of ``store`` is at (``None``: no schema yet); one read job."""
    return await store.read(_revision)


def _revision(connection: Connection) -> str | None:
    if connection.dialect.name == "postgresql":
        exists = "SELECT to_regclass('alembic_version') IS NOT NULL"
    else:
        exists = (
            "SELECT count(*) > 0 FROM sqlite_master "
            "WHERE type = 'table' AND name = 'alembic_version'"
        )
    if not connection.execute(text(exists)).scalar():
        return None
    revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return None if revision is None else str(revision)


async def ensure_schema(store: Jobs, url: str, *, isolated: bool = False) -> None:
    """Bring the database of ``store`` (at ``url``) to the newest schema, if it is not there
    yet: with Alembic in this process, or with ``isolated`` in a short-lived child process
    (not for a private in-memory SQLite database, which only this process can see)."""
    if await schema_revision(store) == head_revision():
        return
    if isolated and not _in_memory(url):
        before, after = await upgrade_in_child(url)
    else:
        before, after = await upgrade_store(store)
    if after != before:
        log.info("database schema upgraded: %s -> %s", before or "empty", after)


def _in_memory(url: str) -> bool:
    parsed = parse_database_url(url)
    return parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")


async def upgrade_in_child(url: str) -> tuple[str | None, str | None]:
    """Run the upgrade in ``python -m chatgpt_api.store`` (the URL goes through its standard
    input, never its command line); the revisions before and after, or the child's error."""
    path = os.pathsep.join(p for p in (_PACKAGE_ROOT, os.environ.get("PYTHONPATH")) if p)
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "chatgpt_api.store",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": path},
    )
    out, _ = await child.communicate(url.encode() + b"\n")
    try:
        result = json.loads(out.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        result = {}
    if "unavailable" in result:
        raise StoreUnavailable(str(result["unavailable"]))
    if "error" in result:
        raise ConfigurationError(str(result["error"]))
    if child.returncode != 0 or "after" not in result:
        raise ConfigurationError(
            f"the database schema upgrade failed (exit status {child.returncode}); "
            "`chatgpt-api db upgrade` runs it alone and shows why"
        )
    return result.get("before"), result["after"]


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


def _upgrade_to_head(connection: Connection) -> tuple[str | None, str | None]:
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    alembic_log = logging.getLogger("alembic")
    level = alembic_log.level
    alembic_log.setLevel(logging.WARNING)
    try:
        before = MigrationContext.configure(connection).get_current_revision()
        command.upgrade(alembic_config(connection), "head")
        after = MigrationContext.configure(connection).get_current_revision()
    finally:
        alembic_log.setLevel(level)
    return before, after
