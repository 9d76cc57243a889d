"""Whether gateway keys are required, as the database says (``require_api_key`` unset).

The answer is the ``require_api_key`` row of ``gateway_settings``: ``on`` is written with the
first key (so revoking every key keeps them required), ``off`` only by ``chatgpt-api keys require
off``; with no row, keys are required when any key exists. The ``require_api_key`` setting
overrides the database on its instance. :meth:`KeyPolicy.required` is cached for ``cache_ttl``
seconds, so a change takes effect everywhere within that time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final, Literal

from sqlalchemy import exists, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.expression import Executable

from chatgpt_api.store.engine import writer
from chatgpt_api.store.errors import translate_errors
from chatgpt_api.store.schema import api_keys, gateway_settings

SETTING: Final = "require_api_key"
StoredRequirement = Literal["on", "off"]


def _write(connection: AsyncConnection, value: StoredRequirement, *, overwrite: bool) -> Executable:
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
    """The stored key requirement on ``engine``; see the module docstring."""

    def __init__(
        self, engine: AsyncEngine, *, cache_ttl: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._engine = engine
        self._writer = writer(engine)
        self._ttl = cache_ttl
        self._clock = clock
        self._cached: tuple[bool, float] | None = None
        self._refresh: asyncio.Future[bool] | None = None
        self._generation = 0

    async def stored(self) -> StoredRequirement | None:
        """The stored value, or None when nothing was ever stored (not cached)."""
        query = select(gateway_settings.c.value).where(gateway_settings.c.name == SETTING)
        with translate_errors():
            async with self._engine.connect() as connection:
                value = await connection.scalar(query)
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
        if value is None:
            with translate_errors():
                async with self._engine.connect() as connection:
                    any_key = bool(await connection.scalar(select(exists().select_from(api_keys))))
            required = any_key
        else:
            required = value == "on"
        if generation == self._generation:  # not forgotten meanwhile
            self._cached = (required, self._clock() + self._ttl)
        return required

    async def set(self, required: bool) -> None:
        """Store the operator's explicit choice (``keys require on|off``)."""
        with translate_errors():
            async with self._writer.begin() as connection:
                await connection.execute(
                    _write(connection, "on" if required else "off", overwrite=True)
                )
        self.forget()

    @staticmethod
    async def keys_in_use(connection: AsyncConnection) -> None:
        """Inside the transaction that creates a key: ``on``, unless a value is stored already
        (an explicit ``off`` stays until the operator changes it)."""
        await connection.execute(_write(connection, "on", overwrite=False))

    def forget(self) -> None:
        self._cached = self._refresh = None
        self._generation += 1
