"""The ``redis`` readiness check: one ``PING`` on a Redis client.

Until the limits share their client with the app state, :meth:`RedisPing.from_url` opens a
small client of its own (it connects at the first check only and is closed with the app). Once
a :class:`~chatgpt_api.limits.RedisGuard` is wired, pass its ``client`` instead so ``/readyz``
tests the very connection pool the limits use.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from chatgpt_api.limits.redis_conn import SOCKET_TIMEOUT, describe_url, url_secrets
from chatgpt_api.redact import redact_text


class RedisUnreachable(Exception):
    """Redis did not answer ``PING`` (the message names the server, never its password)."""


class RedisPing:
    def __init__(self, client: aioredis.Redis, where: str, secrets: list[str]) -> None:
        self.client = client
        self._where = where
        self._secrets = secrets

    @classmethod
    def from_url(cls, url: str) -> RedisPing:
        client = aioredis.Redis.from_url(
            url, socket_connect_timeout=SOCKET_TIMEOUT, socket_timeout=SOCKET_TIMEOUT
        )
        return cls(client, describe_url(url), url_secrets(url))

    async def __call__(self) -> None:
        try:
            await self.client.ping()
        except Exception as exc:
            reason = redact_text(str(exc) or type(exc).__name__, self._secrets)
            raise RedisUnreachable(f"Redis at {self._where} is unreachable: {reason}") from None

    async def close(self) -> None:
        await self.client.aclose()
