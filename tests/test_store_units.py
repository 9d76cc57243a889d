"""Unit tests of the store's pieces that need no database server: URLs, value types, error
classification, the in-memory SQLite store, and migrations started from several threads."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import exc as sa_exc

from chatgpt_api.errors import ConfigurationError, RequestError, ServiceError
from chatgpt_api.messages import Usage
from chatgpt_api.store import (
    InvalidParent,
    NewMessage,
    StoreUnavailable,
    default_database_url,
    open_store,
)
from chatgpt_api.store.engine import parse_database_url, sqlite_path
from chatgpt_api.store.errors import translate_errors, unavailable_reason
from chatgpt_api.store.values import storable_text


def test_default_database_url() -> None:
    url = default_database_url(Path("/var/lib/chatgpt-api"))
    assert url == "sqlite+aiosqlite:////var/lib/chatgpt-api/chatgpt-api.db"
    assert parse_database_url(url).database == "/var/lib/chatgpt-api/chatgpt-api.db"


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("sqlite:///x.db", "sqlite+aiosqlite"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite"),
        ("postgresql://u:p@h/db", "postgresql+asyncpg"),
        ("postgres://u:p@h/db", "postgresql+asyncpg"),
        ("postgresql+asyncpg://u:p@h:5433/db", "postgresql+asyncpg"),
    ],
)
def test_urls_get_the_async_driver(given: str, driver: str) -> None:
    assert parse_database_url(given).drivername == driver


@pytest.mark.parametrize("url", ["mysql://root:s3cr3t-pw@db/app", "not a url", ""])
def test_unsupported_urls_do_not_show_the_password(url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_database_url(url)
    assert "s3cr3t" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite+aiosqlite:////data/x.db", "/data/x.db"),
        ("sqlite+aiosqlite:///rel/x.db", "rel/x.db"),
        ("sqlite+aiosqlite:///file:/data/x.db?mode=ro&uri=true", "/data/x.db"),
        ("sqlite+aiosqlite:///file:///data/x.db?uri=true", "/data/x.db"),
        ("sqlite+aiosqlite://", None),
        ("sqlite+aiosqlite:///:memory:", None),
        ("sqlite+aiosqlite:///file:mem1?mode=memory&cache=shared&uri=true", None),
        ("postgresql+asyncpg://h/db", None),
    ],
)
def test_sqlite_path(url: str, path: str | None) -> None:
    found = sqlite_path(parse_database_url(url))
    assert (None if found is None else str(found)) == path


def test_error_classes() -> None:
    unavailable = StoreUnavailable("database is locked")
    assert isinstance(unavailable, ServiceError)
    assert (unavailable.status, unavailable.error_type, unavailable.code) == (
        503,
        "server_error",
        "store_unavailable",
    )
    assert unavailable.message == "the conversation store is unavailable: database is locked"
    invalid = InvalidParent()
    assert isinstance(invalid, RequestError)
    assert (invalid.status, invalid.error_type, invalid.code) == (
        400,
        "invalid_request_error",
        "invalid_parent",
    )


def test_driver_errors_are_classified() -> None:
    def wrapped(error: Exception, cls: type[sa_exc.DBAPIError] = sa_exc.OperationalError) -> str:
        return unavailable_reason(cls("SELECT 1", {}, error)) or "<not unavailable>"

    locked = sqlite3.OperationalError("database is locked")
    locked.sqlite_errorcode = 5
    assert wrapped(locked) == "database is locked"
    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorcode = 13
    assert wrapped(full) == "database or disk is full"
    syntax = sqlite3.OperationalError('near "SELEC": syntax error')
    syntax.sqlite_errorcode = 1
    assert wrapped(syntax) == "<not unavailable>"  # a bug, not an outage
    assert unavailable_reason(ConnectionRefusedError(111, "refused")) == "connection refused"
    assert unavailable_reason(ValueError("x")) is None

    secret = sqlite3.OperationalError("could not connect to postgresql://u:hunter2@db/x\nmore")
    secret.sqlite_errorcode = 14
    reason = wrapped(secret)
    assert "hunter2" not in reason and "more" not in reason


def test_translate_errors_keeps_bugs_and_our_errors() -> None:
    with pytest.raises(InvalidParent), translate_errors():
        raise InvalidParent()
    with pytest.raises(KeyError), translate_errors():
        raise KeyError("bug")
    with pytest.raises(StoreUnavailable, match="timed out"), translate_errors():
        raise TimeoutError()


def test_new_message_validation_and_usage_json() -> None:
    message = NewMessage("assistant", "x", usage={"prompt_tokens": 3, "completion_tokens": 4})
    assert message.usage == Usage(prompt_tokens=3, completion_tokens=4)
    with pytest.raises(ValueError):
        NewMessage("robot", "x")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        NewMessage("user", "x", status="done")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        NewMessage("user", "x", latency_ms=-1)


def test_storable_text() -> None:
    assert storable_text("plain 🙂") == "plain 🙂"
    assert storable_text("a\x00b") == "a\ufffdb"
    assert storable_text("pair \ud83d\ude42 lone \udc00") == "pair 🙂 lone \ufffd"


@pytest.mark.anyio
async def test_in_memory_store() -> None:
    store = await open_store("sqlite+aiosqlite://")
    try:
        conversation = await store.create_conversation(backend="b", model="m")
        turns = await asyncio.gather(
            *(
                store.add_turn(conversation.id, parent_id=None, messages=[NewMessage("user", "q")])
                for _ in range(10)
            )
        )
        assert len(await store.messages_of(conversation.id)) == len(turns) == 10
    finally:
        await store.close()


def test_migrations_from_several_threads_at_once(tmp_path: Path) -> None:
    errors: list[BaseException] = []

    def start(n: int) -> None:
        async def main() -> None:
            store = await open_store(f"sqlite+aiosqlite:///{tmp_path / f'db{n}.sqlite'}")
            await store.ping()
            await store.close()

        try:
            asyncio.run(main())
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=start, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []


@pytest.fixture()
def anyio_backend() -> str:
    return "asyncio"


def test_head_revision_is_alembics_head() -> None:
    from alembic.script import ScriptDirectory

    from chatgpt_api.store.migrate import alembic_config, head_revision

    assert head_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head()


@pytest.mark.anyio
async def test_an_upgrade_in_a_child_process_reports_its_error_without_secrets() -> None:
    from chatgpt_api.store.migrate import upgrade_in_child

    with pytest.raises(StoreUnavailable) as caught:
        await upgrade_in_child("postgresql+asyncpg://u:hunter2@127.0.0.1:1/x")
    assert "hunter2" not in caught.value.message


@pytest.mark.anyio
async def test_a_store_at_head_is_opened_without_alembic(tmp_path: Path) -> None:
    from chatgpt_api.store.migrate import head_revision, schema_revision

    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    store = await open_store(url, isolated_upgrade=True)
    try:
        assert await schema_revision(store) == head_revision()
    finally:
        await store.close()
