"""Whether gateway keys are required, as the database says (``require_api_key`` unset).

The answer is the ``require_api_key`` row of ``gateway_settings``: ``on`` is written with the
first key (so revoking every key keeps them required), ``off`` only by ``chatgpt-api keys require
off``; with no row, keys are required when any key exists. The ``require_api_key`` setting
overrides the database on its instance. :meth:`KeyPolicy.required` is cached for ``cache_ttl``
seconds, so a change takes effect everywhere within that time. Every query is a job run by the
store's ``read`` / ``write`` (on a SQLite file: its reader threads and its one writer).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

from sqlalchemy import exists, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.sql.expression import Executable

from chatgpt_api.keys.records import StoredRequirement as StoredRequirement
from chatgpt_api.store.protocol import Jobs
from chatgpt_api.store.schema import api_keys, gateway_settings

SETTING: Final = "require_api_key"


def _write(connection: Connection, value: StoredRequirement, *, overwrite: bool) -> Executable:
    """``INSERT`` the setting; on an existing row, replace it (``overwrite``) or keep it."""
    row = {"name": SETTING, "value": value, "updated_at": datetime.now(UTC)}
    key = [gateway_settings.c.name]
    if connection.dialect.name == "postgresql":
        pg = postgresql.insert(gateway_settings).values(**row)
        if overwrite:
            return pg.on_conflict_do_update(
                index_elements=key, set_={"value": value, "updated_at": row["updated_at"]}
            )
        return pg.on_conflict_do_nothing(index_elements=key)
    lite = sqlite.insert(gateway_settings).values(**row)
    if overwrite:
        return lite.on_conflict_do_update(
            index_elements=key, set_={"value": value, "updated_at": row["updated_at"]}
        )
    return lite.on_conflict_do_nothing(index_elements=key)


class KeyPolicy:
    """The stored key requirement in ``store`` (its reads and writes); see the module docstring."""

    def __init__(
        self, store: Jobs, *, cache_ttl: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._store = store
        self._ttl = cache_ttl
        self._clock = clock
        self._cached: tuple[bool, float] | None = None
        self._refresh: asyncio.Future[bool] | None = None
        self._generation = 0

    async def stored(self) -> StoredRequirement | None:
        """The stored value, or None when nothing was ever stored (not cached)."""
        value = await self._store.read(_stored_value)
        return "on" if value == "on" else "off" if value == "off" else None

    async def required(self) -> bool:
        """Whether a request needs a valid key (cached for ``cache_ttl`` seconds; concurrent
        callers after the cache expired share one look-up)."""
        now = self._clock()
        if self._cached is not None and self._cached[1] > now:
            return self._cached[0]
        refresh = self._refresh
        if refresh is None:
            refresh = self._refresh = asyncio.ensure_future(self._look_up())
            refresh.add_done_callback(self._looked_up)
        return await asyncio.shield(refresh)

    def _looked_up(self, refresh: asyncio.Future[bool]) -> None:
        if self._refresh is refresh:
            self._refresh = None
        if not refresh.cancelled():
            refresh.exception()  # retrieved here too, in case every caller went away

    async def _look_up(self) -> bool:
        generation = self._generation
        value = await self.stored()
        required = await self._store.read(_any_key) if value is None else value == "on"
        if generation == self._generation:  # not forgotten meanwhile
            self._cached = (required, self._clock() + self._ttl)
        return required

    async def set(self, required: bool) -> None:
        """Store the operator's explicit choice (``keys require on|off``)."""
        value: StoredRequirement = "on" if required else "off"

        def store(connection: Connection) -> None:
            connection.execute(_write(connection, value, overwrite=True))

        await self._store.write(store)
        self.forget()

    @staticmethod
    def keys_in_use(connection: Connection) -> None:
        """Inside the transaction that creates a key: ``on``, unless a value is stored already
        (an explicit ``off`` stays until the operator changes it)."""
        connection.execute(_write(connection, "on", overwrite=False))

    def forget(self) -> None:
        self._cached = self._refresh = None
        self._generation += 1


_STORED = select(gateway_settings.c.value).where(gateway_settings.c.name == SETTING)
_ANY_KEY = select(exists().select_from(api_keys))


def _stored_value(connection: Connection) -> object:
    return connection.scalar(_STORED)


def _any_key(connection: Connection) -> bool:
    return bool(connection.scalar(_ANY_KEY))
