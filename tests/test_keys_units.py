"""Gateway API keys without a server: the key format, ``KeyStore`` (cache, TTL, last use) and
the rules of ``identify`` (who a request is, what may go upstream)."""

from __future__ import annotations

import re
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import event, select

from chatgpt_api.errors import InvalidAPIKey
from chatgpt_api.keys.format import KEY_LENGTH, generate_key, hash_key, key_prefix
from chatgpt_api.keys.gate import Caller, identify
from chatgpt_api.keys.keystore import InvalidKeyName, KeyNameTaken, KeyStore
from chatgpt_api.redact import redact_text
from chatgpt_api.store import SQLStore, open_store
from chatgpt_api.store.schema import api_keys

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
async def store() -> AsyncIterator[SQLStore]:
    opened = await open_store("sqlite+aiosqlite://")
    try:
        yield opened
    finally:
        await opened.close()


class Queries:
    """Counts the SELECTs on api_keys that reach the database."""

    def __init__(self, store: SQLStore) -> None:
        self.count = 0

        def before(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
            if statement.lstrip().upper().startswith("SELECT") and "api_keys" in statement:
                self.count += 1

        event.listen(store.engine.sync_engine, "before_cursor_execute", before)


def test_key_format_hash_and_prefix() -> None:
    key = generate_key()
    assert re.fullmatch(r"cak-[A-Za-z0-9_-]{43}", key) and len(key) == KEY_LENGTH
    assert generate_key() != key
    assert re.fullmatch(r"[0-9a-f]{64}", hash_key(key))
    assert key_prefix(key) == key[:12] and key not in key_prefix(key) + "…"
    assert key not in redact_text(f"Authorization: {key} and api_key={key}")


async def test_create_list_revoke_verify(store: SQLStore) -> None:
    keys = KeyStore(store)
    assert await keys.count_active() == 0
    alice, alice_key = await keys.create("alice")
    bob, bob_key = await keys.create(" bob ")
    assert bob.name == "bob" and alice.prefix == alice_key[:12]
    with pytest.raises(KeyNameTaken):
        await keys.create("alice")
    for bad in ("", " ", "has space", "x" * 101, "-dash-first"):
        with pytest.raises(InvalidKeyName):
            await keys.create(bad)
    assert [k.name for k in await keys.list()] == ["alice", "bob"]
    assert await keys.verify(alice_key) == alice
    assert await keys.verify(bob_key) == bob
    assert await keys.count_active() == 2
    assert await keys.revoke("alice") is True
    assert await keys.revoke("alice") is False  # already revoked
    assert await keys.revoke(bob.id) is True  # by id
    assert await keys.revoke("nobody") is False
    assert await keys.verify(alice_key) is None and await keys.verify(bob_key) is None
    assert await keys.count_active() == 0
    assert all(k.revoked_at is not None for k in await keys.list())
    # Only the hash is stored.
    async with store.engine.connect() as connection:
        rows = (await connection.execute(select(api_keys))).all()
    stored = " ".join(str(value) for row in rows for value in row)
    assert alice_key not in stored and bob_key not in stored
    assert hash_key(alice_key) in stored
    await keys.close()


async def test_wrong_and_malformed_keys(store: SQLStore) -> None:
    keys = KeyStore(store)
    _, key = await keys.create("alice")
    queries = Queries(store)
    for value in ("", "sk-abc", "cak-short", key[:-1], key + "x", "x" + key[1:]):
        assert await keys.verify(value) is None
    assert queries.count == 0  # none of these is shaped like a key: no lookup at all
    # Same prefix, different secret: looked up, refused by the hash comparison.
    forged = key[:12] + ("A" if key[12] != "A" else "B") + key[13:]
    assert await keys.verify(forged) is None
    assert queries.count == 1


async def test_cache_ttl_bounds_a_revoke_made_elsewhere(store: SQLStore) -> None:
    clock = Clock()
    here = KeyStore(store, cache_ttl=5.0, clock=clock)
    elsewhere = KeyStore(store)  # another instance, or the CLI
    record, key = await elsewhere.create("alice")
    queries = Queries(store)
    assert await here.verify(key) == record
    assert await here.count_active() == 1
    for _ in range(50):
        assert await here.verify(key) == record
        assert await here.count_active() == 1
    assert queries.count == 2  # one lookup + one count, then the cache
    assert await elsewhere.revoke("alice")
    clock.now += 4.9
    assert await here.verify(key) == record  # still cached: within the TTL
    clock.now += 0.2
    assert await here.verify(key) is None  # past the TTL: the revoke is seen
    assert await here.count_active() == 0
    # A miss is cached too: a flood of one wrong key does not reach the database.
    before = queries.count
    wrong = generate_key()
    for _ in range(20):
        assert await here.verify(wrong) is None
    assert queries.count == before + 1
    await here.close()


async def test_revoke_through_the_same_store_is_immediate(store: SQLStore) -> None:
    keys = KeyStore(store, cache_ttl=3600)
    _, key = await keys.create("alice")
    assert await keys.verify(key) is not None
    assert await keys.revoke("alice")
    assert await keys.verify(key) is None


async def test_last_used_written_at_most_once_per_interval(store: SQLStore) -> None:
    clock = Clock()
    keys = KeyStore(store, cache_ttl=0.0, touch_interval=60.0, clock=clock)
    record, key = await keys.create("alice")
    assert record.last_used_at is None
    updates: list[str] = []

    def before(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("UPDATE") and "last_used_at" in statement:
            updates.append(statement)

    event.listen(store.engine.sync_engine, "before_cursor_execute", before)
    for _ in range(10):
        await keys.verify(key)
    await keys.close()
    assert len(updates) == 1
    (listed,) = await keys.list()
    assert listed.last_used_at is not None
    clock.now += 61
    await keys.verify(key)
    await keys.close()
    assert len(updates) == 2


async def test_keys_of_a_sqlite_file_go_through_the_store_threads(tmp_path: Path) -> None:
    """No second writer beside the store's writer thread: every key write runs there, every
    read in a reader thread (on a SQLite file the store has no async engine at all)."""
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'keys.db'}")
    assert store.engine is None
    threads: dict[str, set[str]] = {"read": set(), "write": set()}

    def on(kind: str) -> Callable[..., None]:
        return lambda *_args: threads[kind].add(threading.current_thread().name)

    event.listen(store._read_engine, "before_cursor_execute", on("read"))
    event.listen(store._write_engine, "before_cursor_execute", on("write"))
    clock = Clock()
    keys = KeyStore(store, cache_ttl=0.0, touch_interval=60.0, clock=clock)
    try:
        record, key = await keys.create("alice")
        assert await keys.verify(key) == record  # and last_used_at, in the background
        assert await keys.policy.required()
        await keys.policy.set(False)
        assert await keys.policy.stored() == "off"
        assert await keys.count_active() == 1
        assert await keys.revoke("alice")
        await keys.close()
        (listed,) = await keys.list()
        assert listed.last_used_at is not None and listed.revoked_at is not None
    finally:
        await keys.close()
        await store.close()
    assert threads["write"] == {"chatgpt-api-store-writer"}
    assert threads["read"] and all(
        name.startswith("chatgpt-api-store-reader") for name in threads["read"]
    )


async def test_identify_rules(store: SQLStore) -> None:
    keys = KeyStore(store)
    record, key = await keys.create("alice")
    revoked, revoked_key = await keys.create("old")
    await keys.revoke("old")
    wrong = generate_key()

    async def who(
        require: bool | None, bearer: str | None = None, field: str | None = None
    ) -> Caller:
        return await identify(keys, require, bearer=bearer, field_value=field)

    for require in (None, True, False):
        # A valid key, as Bearer or as the field: the caller, and nothing goes upstream.
        assert await who(require, bearer=key) == Caller(record)
        assert await who(require, field=key, bearer="sk-upstream") == Caller(record)
        assert (await who(require, bearer=key)).owner == record.id
        # Anything key-shaped that does not verify, and any bad api_key field: 401.
        for bad in (wrong, revoked_key, "cak-nope"):
            with pytest.raises(InvalidAPIKey):
                await who(require, bearer=bad)
            with pytest.raises(InvalidAPIKey):
                await who(require, field=bad)
        with pytest.raises(InvalidAPIKey):
            await who(require, field="sk-upstream")
    # Keys required (explicitly, or because one is active): no key or an upstream token → 401.
    for require in (None, True):
        for bearer in (None, "sk-upstream"):
            with pytest.raises(InvalidAPIKey):
                await who(require, bearer=bearer)
    # Not required: anonymous, and a non-key Bearer is the upstream credential.
    assert await who(False) == Caller(None)
    assert await who(False, bearer="sk-upstream") == Caller(None, "sk-upstream")
    # Unset and no active key left: still required (revoking keys never reopens the service)...
    await keys.revoke("alice")
    for bearer in (None, "sk-upstream"):
        with pytest.raises(InvalidAPIKey):
            await who(None, bearer=bearer)
    # ... until the operator turns the requirement off explicitly.
    await keys.policy.set(False)
    assert await who(None, bearer="sk-upstream") == Caller(None, "sk-upstream")
    with pytest.raises(InvalidAPIKey):
        await who(True)
    # No key store at all (store off): keys unavailable, key-shaped values refused.
    assert await identify(None, None, bearer="sk-up", field_value=None) == Caller(None, "sk-up")
    with pytest.raises(InvalidAPIKey):
        await identify(None, None, bearer=key, field_value=None)
    assert revoked.name == "old"


async def test_key_requirement_is_stored_and_survives_revocation(store: SQLStore) -> None:
    clock = Clock()
    keys = KeyStore(store, cache_ttl=5.0, clock=clock)
    elsewhere = KeyStore(store, cache_ttl=5.0, clock=clock)  # another instance
    assert await keys.policy.stored() is None and not await keys.policy.required()
    assert not await elsewhere.policy.required()  # cached now
    await keys.create("alice")
    assert await keys.policy.stored() == "on" and await keys.policy.required()
    assert not await elsewhere.policy.required()  # within the TTL
    clock.now += 5.1
    assert await elsewhere.policy.required()  # every instance, within the TTL
    await keys.revoke("alice")
    clock.now += 5.1
    assert await keys.count_active() == 0
    assert await keys.policy.required() and await elsewhere.policy.required()
    # Only an explicit "off" admits anonymous callers; creating a key does not undo it.
    await keys.policy.set(False)
    assert await keys.policy.stored() == "off" and not await keys.policy.required()
    await keys.create("bob")
    assert await keys.policy.stored() == "off" and not await keys.policy.required()
    await keys.policy.set(True)
    assert await keys.policy.required()


async def test_keys_made_before_the_stored_requirement_still_require_keys(
    store: SQLStore,
) -> None:
    from chatgpt_api.store.schema import gateway_settings

    keys = KeyStore(store, cache_ttl=0)
    await keys.create("old")
    await keys.revoke("old")
    async with store.engine.begin() as connection:  # as a database upgraded from 0003 holds it
        await connection.execute(gateway_settings.delete())
    assert await keys.policy.stored() is None
    assert await keys.policy.required()
