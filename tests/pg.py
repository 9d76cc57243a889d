"""Throw-away PostgreSQL databases for tests (the real server on 127.0.0.1:5432).

:func:`fresh_database` is the one way a test gets a database (the ``pg_database`` fixture in
``conftest.py`` and the contract suite's shared one): it skips, or fails in CI, when the server
is unreachable (:func:`tests.services.unavailable`)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import os
import time
import uuid
from collections.abc import Iterator

import asyncpg

from tests.services import unavailable

PG_HOST = os.environ.get("CHATGPT_API_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("CHATGPT_API_TEST_PG_PORT", "5432"))
PG_ADMIN_DSN = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/test"
PG_PREFIX = "chatgpt_api_test_"
STALE_AFTER_SECONDS = 3600


def pg_url(database: str) -> str:
    """The service's (SQLAlchemy) URL of ``database``."""
    return f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/{database}"


def pg_dsn(database: str) -> str:
    """asyncpg's DSN of ``database``."""
    return f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{database}"


async def _admin(sql: str) -> None:
    connection = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def create_pg_database() -> str:
    name = f"{PG_PREFIX}{int(time.time())}_{uuid.uuid4().hex[:8]}"
    await _admin(f'CREATE DATABASE "{name}"')
    return name


async def drop_stale_pg_databases() -> None:
    """Drop test databases left behind by runs that were killed (older than an hour)."""
    connection = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        names = await connection.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE $1", PG_PREFIX + "%"
        )
    finally:
        await connection.close()
    for (name,) in names:
        created = name.removeprefix(PG_PREFIX).partition("_")[0]
        if created.isdigit() and int(created) < time.time() - STALE_AFTER_SECONDS:
            await drop_pg_database(name)


async def drop_pg_database(name: str) -> None:
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def terminate_pg_connections(name: str) -> int:
    connection = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        rows = await connection.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
    finally:
        await connection.close()
    return sum(1 for row in rows if row[0])


async def allow_connections(name: str, allowed: bool) -> None:
    """Open or close a database to new connections (closing also ends the current ones)."""
    await _admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allowed).lower()}')
    if not allowed:
        await terminate_pg_connections(name)


@functools.cache
def _postgres_problem() -> str | None:
    """Probed once per session; also drops what killed runs left behind. The probe runs in a
    thread of its own: the first caller may be an async test, inside a running event loop."""
    try:
        with concurrent.futures.ThreadPoolExecutor(1) as probe:
            probe.submit(asyncio.run, drop_stale_pg_databases()).result()
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        return f"PostgreSQL at {PG_HOST}:{PG_PORT} is unreachable ({error!r})"
    return None


def require_postgres() -> None:
    """Return if the server answers; else skip the test (fail it in CI)."""
    problem = _postgres_problem()
    if problem is not None:
        unavailable("PostgreSQL", problem)


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    """A fresh database's name; dropped afterwards, even if a test closed it to connections."""
    require_postgres()
    name = asyncio.run(create_pg_database())
    try:
        yield name
    finally:
        asyncio.run(allow_connections(name, True))
        asyncio.run(drop_pg_database(name))
