"""``KeyStore``: gateway API keys in the ``api_keys`` table, with a short-lived verify cache.

Rows hold a key's id, name, visible prefix and SHA-256 — never the key, which
:meth:`KeyStore.create` returns once; creating the first key also records that keys are required
(:mod:`chatgpt_api.keys.key_policy`). :meth:`KeyStore.verify` answers from an in-process cache
(``api_key_cache_ttl``; misses cached too, concurrent misses share one query), so a revoke made
elsewhere takes effect within that time. Lookup is by the indexed prefix, the hash compared in
constant time; ``last_used_at`` is written at most once per ``touch_interval`` per key. Every
query is a job run by the store's ``read`` / ``write`` (:class:`~chatgpt_api.store.protocol.Jobs`).
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import RowMapping, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from chatgpt_api.keys.format import (
    KEY_LENGTH,
    generate_key,
    hash_key,
    hashes_equal,
    key_prefix,
    looks_like_key,
)
from chatgpt_api.keys.key_policy import KeyPolicy
from chatgpt_api.keys.records import MAX_NAME_LENGTH as MAX_NAME_LENGTH
from chatgpt_api.keys.records import ApiKey as ApiKey
from chatgpt_api.keys.records import InvalidKeyName as InvalidKeyName
from chatgpt_api.keys.records import KeyNameTaken as KeyNameTaken
from chatgpt_api.keys.records import check_name
from chatgpt_api.store.errors import DuplicateId
from chatgpt_api.store.protocol import Jobs
from chatgpt_api.store.schema import api_keys
from chatgpt_api.store.values import new_id

log = logging.getLogger("chatgpt_api.keys")

DEFAULT_CACHE_TTL: Final = 5.0
TOUCH_INTERVAL: Final = 60.0
_MAX_CACHE_ENTRIES: Final = 10_000


@dataclass(slots=True)
class _Cached:
    record: ApiKey | None
    expires: float


def utcnow() -> datetime:
    return datetime.now(UTC)


class KeyStore:
    """Gateway keys in ``store``; see the module docstring for the cache and its TTL."""

    def __init__(
        self,
        store: Jobs,
        *,
        cache_ttl: float = DEFAULT_CACHE_TTL,
        touch_interval: float = TOUCH_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._ttl = cache_ttl
        self._touch_interval = touch_interval
        self._clock = clock
        self._cache: dict[str, _Cached] = {}
        self._pending: dict[str, asyncio.Task[ApiKey | None]] = {}
        self._count: tuple[int, float] | None = None
        self._touched: dict[str, float] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        #: Whether keys are required (stored in the database; see :mod:`.key_policy`).
        self.policy = KeyPolicy(store, cache_ttl=cache_ttl, clock=clock)

    @property
    def cache_ttl(self) -> float:
        return self._ttl

    # --- administration ------------------------------------------------------------------

    async def create(self, name: str) -> tuple[ApiKey, str]:
        """A new key: its record and the plaintext key, which is never available again."""
        name = check_name(name)
        key = generate_key()
        record = ApiKey(id=new_id(), name=name, prefix=key_prefix(key), created_at=utcnow())
        row = {
            "id": record.id,
            "name": record.name,
            "prefix": record.prefix,
            "hash": hash_key(key),
            "created_at": record.created_at,
        }
        statement = insert(api_keys).values(**row)

        def add(connection: Connection) -> None:
            connection.execute(statement)
            KeyPolicy.keys_in_use(connection)

        try:
            await self._store.write(add)
        except DuplicateId:
            raise KeyNameTaken(
                f"a key named {name!r} already exists (revoked keys keep their names)"
            ) from None
        self._forget()
        return record, key

    async def list(self) -> builtins.list[ApiKey]:
        """Every key, revoked ones included, oldest first."""
        query = select(*_PUBLIC).order_by(api_keys.c.created_at, api_keys.c.name)
        rows = await self._store.rows(query)
        return [_record(row._mapping) for row in rows]

    async def revoke(self, name_or_id: str) -> bool:
        """Revoke the active key with this name or id; False if there is none."""
        query = (
            update(api_keys)
            .where(
                or_(api_keys.c.name == name_or_id, api_keys.c.id == name_or_id),
                api_keys.c.revoked_at.is_(None),
            )
            .values(revoked_at=utcnow())
        )
        revoked = await self._store.execute(query) > 0
        self._forget()
        return revoked

    async def count_active(self) -> int:
        """How many keys are not revoked (cached for ``cache_ttl`` seconds)."""
        now = self._clock()
        if self._count is not None and self._count[1] > now:
            return self._count[0]
        query = select(func.count()).select_from(api_keys).where(api_keys.c.revoked_at.is_(None))
        count = await self._store.read(lambda connection: int(connection.scalar(query) or 0))
        self._count = (count, self._clock() + self._ttl)
        return count

    # --- the hot path ----------------------------------------------------------------------

    async def verify(self, key: str) -> ApiKey | None:
        """The active key ``key`` is, or None (unknown, revoked or malformed)."""
        if not looks_like_key(key) or len(key) != KEY_LENGTH:
            return None
        digest = hash_key(key)
        cached = self._cache.get(digest)
        if cached is not None and cached.expires > self._clock():
            record = cached.record
        else:
            task = self._pending.get(digest)
            if task is None:
                task = asyncio.ensure_future(self._lookup(digest, key_prefix(key)))
                self._pending[digest] = task
                task.add_done_callback(lambda done: self._lookup_done(digest, done))
            record = await asyncio.shield(task)
        if record is not None:
            self._touch_soon(record.id)
        return record

    async def _lookup(self, digest: str, prefix: str) -> ApiKey | None:
        query = select(*_PUBLIC, api_keys.c.hash).where(api_keys.c.prefix == prefix)
        rows = await self._store.rows(query)
        found: ApiKey | None = None
        for row in rows:
            if hashes_equal(row.hash, digest) and row.revoked_at is None:
                found = _record(row._mapping)
        if len(self._cache) >= _MAX_CACHE_ENTRIES:
            self._prune()
        self._cache[digest] = _Cached(found, self._clock() + self._ttl)
        return found

    def _lookup_done(self, digest: str, task: asyncio.Task[ApiKey | None]) -> None:
        self._pending.pop(digest, None)
        if not task.cancelled():
            task.exception()  # retrieved here; every waiter still sees it

    def _prune(self) -> None:
        now = self._clock()
        self._cache = {d: c for d, c in self._cache.items() if c.expires > now}
        if len(self._cache) >= _MAX_CACHE_ENTRIES:
            self._cache.clear()

    def _forget(self) -> None:
        """Drop everything cached (after a change made through this object)."""
        self._cache.clear()
        self._count = None
        self.policy.forget()

    def _touch_soon(self, key_id: str) -> None:
        now = self._clock()
        last = self._touched.get(key_id)
        if last is not None and now - last < self._touch_interval:
            return
        self._touched[key_id] = now
        task = asyncio.ensure_future(self._touch(key_id))
        self._tasks.add(task)
        task.add_done_callback(self._touch_done)

    async def _touch(self, key_id: str) -> None:
        now = utcnow()
        cutoff = now - timedelta(seconds=self._touch_interval)
        query = (
            update(api_keys)
            .where(
                api_keys.c.id == key_id,
                or_(api_keys.c.last_used_at.is_(None), api_keys.c.last_used_at < cutoff),
            )
            .values(last_used_at=now)
        )
        await self._store.execute(query)

    def _touch_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.warning("could not record a key's last use: %s", type(error).__name__)

    async def close(self) -> None:
        """Wait for the background ``last_used_at`` writes (call before the store closes)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


_PUBLIC = (
    api_keys.c.id,
    api_keys.c.name,
    api_keys.c.prefix,
    api_keys.c.created_at,
    api_keys.c.revoked_at,
    api_keys.c.last_used_at,
)


def _record(row: RowMapping) -> ApiKey:
    return ApiKey(
        id=row["id"],
        name=row["name"],
        prefix=row["prefix"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
        last_used_at=row["last_used_at"],
    )
