"""The shared Redis connection and what happens when Redis goes away.

:class:`RedisGuard` owns one ``redis.asyncio`` client (short socket timeouts, one immediate retry
so a pooled connection that died with a restarted server is replaced) and runs every command
through :meth:`RedisGuard.call`. A connection failure becomes, by ``failure_mode``:

- ``closed``: :class:`~chatgpt_api.limits.errors.LimiterUnavailable` (503) for the request;
- ``open``: ``None``, which callers read as "let it through".

Either way one warning is logged per outage and one info line when Redis answers again.
Recovery is automatic: the client reconnects on the next call. Messages never show the URL's
password.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar, cast
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from chatgpt_api.limits.errors import LimiterUnavailable
from chatgpt_api.redact import redact_text

FailureMode = Literal["closed", "open"]
T = TypeVar("T")

log = logging.getLogger("chatgpt_api.limits")

#: Seconds allowed to connect to Redis and for one command.
SOCKET_TIMEOUT = 2.0
#: Connections per process; callers beyond that wait up to POOL_WAIT seconds for one (a burst
#: of requests queues for a connection instead of failing as if Redis were down).
MAX_CONNECTIONS = 32
POOL_WAIT = 5.0

_OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    OSError,
    asyncio.TimeoutError,
)


def url_secrets(url: str) -> list[str]:
    """The password and user name of a Redis URL (to mask them in messages)."""
    parts = urlsplit(url)
    return [s for s in (parts.password, parts.username) if s]


def describe_url(url: str) -> str:
    """``scheme://host:port/db`` of a Redis URL, without credentials."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class RedisGuard:
    """One Redis client plus the outage policy shared by the limiter and the locks."""

    def __init__(self, url: str, *, failure_mode: FailureMode = "closed") -> None:
        self.failure_mode: FailureMode = failure_mode
        self._secrets = url_secrets(url)
        self._where = describe_url(url)
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=MAX_CONNECTIONS,
            timeout=POOL_WAIT,
            decode_responses=True,
            socket_connect_timeout=SOCKET_TIMEOUT,
            socket_timeout=SOCKET_TIMEOUT,
            retry=Retry(NoBackoff(), 1),
        )
        self.client: aioredis.Redis = aioredis.Redis.from_pool(pool)
        self._down = False
        self._closed = False

    def script(self, source: str) -> Callable[[list[str], list[Any]], Awaitable[Any]]:
        """A Lua script callable as ``await run(keys, args)`` (EVALSHA, reloaded if needed)."""
        registered = self.client.register_script(source)

        async def run(keys: list[str], args: list[Any]) -> Any:
            return await registered(keys=keys, args=args)

        return run

    async def call(self, command: Callable[[], Awaitable[T]]) -> T | None:
        """Run ``command``; on an outage raise (closed) or return ``None`` (open)."""
        try:
            result = await command()
        except _OUTAGE_ERRORS as exc:
            self._outage(exc)  # raises in closed mode
            return None
        if self._down:
            self._down = False
            log.info("Redis at %s is reachable again; shared limits are enforced", self._where)
        return result

    def _outage(self, exc: BaseException) -> None:
        reason = redact_text(str(exc) or type(exc).__name__, self._secrets)
        if not self._down:
            self._down = True
            effect = (
                "requests are refused (503)"
                if self.failure_mode == "closed"
                else "requests pass without shared limits"
            )
            log.warning("Redis at %s is unavailable (%s): %s", self._where, effect, reason)
        if self.failure_mode == "closed":
            raise LimiterUnavailable(reason)

    @property
    def down(self) -> bool:
        """Whether the last call found Redis unreachable."""
        return self._down

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await cast(Awaitable[None], self.client.aclose())
