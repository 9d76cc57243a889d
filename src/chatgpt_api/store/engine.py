"""Database URLs and engines: async SQLAlchemy for PostgreSQL and in-memory SQLite.

URLs: ``sqlite+aiosqlite:///file.db`` (``sqlite:///`` too; no path: in memory) and
``postgresql+asyncpg://user:password@host/db`` (``postgresql://``, ``postgres://`` too); anything
else is a :class:`ConfigurationError` that never shows the password. SQLite connections get
``busy_timeout``, WAL, ``synchronous=NORMAL`` and foreign keys, and the engine emits ``BEGIN``
itself (:func:`writer` takes ``BEGIN IMMEDIATE``); PostgreSQL gets a connect timeout and
``pool_pre_ping``. A SQLite file gets only :func:`sqlite_thread_engine`'s synchronous engines
(the store's threads); ``sqlalchemy.ext.asyncio`` is imported only by :func:`create_engine`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import AsyncAdaptedQueuePool, QueuePool

from chatgpt_api.errors import ConfigurationError
from chatgpt_api.store.errors import StoreUnavailable
from chatgpt_api.store.location import DATABASE_FILENAME as DATABASE_FILENAME
from chatgpt_api.store.location import SQLITE_DRIVER as _SQLITE_DRIVER
from chatgpt_api.store.location import default_database_url as default_database_url

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

_WRITE_OPTION: Final = "chatgpt_api_store_write"
_SQLITE_SYNC_DRIVER: Final = "sqlite+pysqlite"
_POSTGRES_DRIVER: Final = "postgresql+asyncpg"


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """Timeouts, in seconds."""

    busy_timeout: float = 5.0
    connect_timeout: float = 10.0


def parse_database_url(url: str) -> URL:
    """``url`` with its async driver filled in, or a :class:`ConfigurationError`."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigurationError(
            "invalid database URL: expected sqlite+aiosqlite:///path or "
            "postgresql+asyncpg://user:password@host/database"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername=_SQLITE_DRIVER)
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername=_POSTGRES_DRIVER)
    raise ConfigurationError(
        f"unsupported database URL scheme {parsed.drivername!r}: use sqlite+aiosqlite:///path "
        "or postgresql+asyncpg://user:password@host/database"
    )


def sqlite_path(url: URL) -> Path | None:
    """The database file of a SQLite URL; None for PostgreSQL or an in-memory database.

    SQLite ``file:`` URIs (``sqlite+aiosqlite:///file:/path/db?mode=ro&uri=true``) are
    understood too.
    """
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return None
    if database.startswith("file:"):
        if url.query.get("mode") == "memory" or ":memory:" in database:
            return None
        database = database.removeprefix("file:")
        if database.startswith("//"):  # file://authority/path
            database = "/" + database[2:].partition("/")[2]
    return Path(database)


def ensure_sqlite_directory(url: URL) -> None:
    """Create the directory of a SQLite database file if it is missing (StoreUnavailable if
    that is impossible, or if the database path is a directory)."""
    path = sqlite_path(url)
    if path is None:
        return
    if path.is_dir():
        raise StoreUnavailable(f"the database path {path} is a directory")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise StoreUnavailable(f"cannot create directory {path.parent}: {reason}") from error


def create_engine(url: URL, options: EngineOptions | None = None) -> AsyncEngine:
    """An async engine for ``url`` (already parsed by :func:`parse_database_url`)."""
    from sqlalchemy.ext.asyncio import create_async_engine

    options = options or EngineOptions()
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, options)
    return create_async_engine(
        url,
        pool_pre_ping=True,
        connect_args={
            "timeout": options.connect_timeout,
            "server_settings": {"application_name": "chatgpt-api"},
        },
    )


def writer(engine: AsyncEngine) -> AsyncEngine:
    """The same engine (and pool) whose transactions take the write lock up front on SQLite."""
    return engine.execution_options(**{_WRITE_OPTION: True})


def sync_writer(engine: Engine) -> Engine:
    """:func:`writer` for a synchronous engine made by :func:`sqlite_thread_engine`."""
    return engine.execution_options(**{_WRITE_OPTION: True})


def _sqlite_engine(url: URL, options: EngineOptions) -> AsyncEngine:
    from sqlalchemy.ext.asyncio import create_async_engine

    pool: dict[str, Any] = {}
    if sqlite_path(url) is None:
        # One connection holds the whole in-memory database; checkouts take turns on it.
        pool = {"poolclass": AsyncAdaptedQueuePool, "pool_size": 1, "max_overflow": 0}
    engine = create_async_engine(url, connect_args={"timeout": options.busy_timeout}, **pool)
    _configure_sqlite(engine.sync_engine, options)
    return engine


def sqlite_thread_engine(
    url: URL, options: EngineOptions | None = None, *, connections: int = 1
) -> Engine | None:
    """A synchronous engine on the same SQLite file for the store's own threads (``connections``
    pooled, usable from any thread); None for PostgreSQL or an in-memory database."""
    if url.get_backend_name() != "sqlite" or sqlite_path(url) is None:
        return None
    options = options or EngineOptions()
    engine = create_sync_engine(
        url.set(drivername=_SQLITE_SYNC_DRIVER),
        poolclass=QueuePool,
        pool_size=connections,
        max_overflow=0,
        connect_args={"timeout": options.busy_timeout, "check_same_thread": False},
    )
    _configure_sqlite(engine, options)
    return engine


def _configure_sqlite(engine: Engine, options: EngineOptions) -> None:
    """The pragmas of every new connection, and ``BEGIN`` / ``BEGIN IMMEDIATE`` emitted by us."""
    busy_ms = max(0, int(options.busy_timeout * 1000))

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    def on_begin(connection: Connection) -> None:
        statement = (
            "BEGIN IMMEDIATE" if connection.get_execution_options().get(_WRITE_OPTION) else "BEGIN"
        )
        if connection.dialect.driver != "pysqlite":
            connection.exec_driver_sql(statement)
            return
        # The store's own threads: straight on sqlite3 (its errors are classified like
        # SQLAlchemy's), as a statement through SQLAlchemy costs as much as a small turn.
        driver = connection.connection.driver_connection
        assert driver is not None
        driver.execute(statement).close()

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "begin", on_begin)
