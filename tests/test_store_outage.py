"""The service with its store on PostgreSQL: an outage is a clear 503/500, then it recovers."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx

from chatgpt_api.testing import EmulatorThread
from tests.pg import allow_connections, pg_dsn, pg_url
from tests.servers import ServiceThread

UNAVAILABLE = "the conversation store is unavailable: "


def count_messages(name: str) -> int:
    async def count() -> int:
        connection = await asyncpg.connect(pg_dsn(name))
        try:
            return int(await connection.fetchval("SELECT count(*) FROM messages"))
        finally:
            await connection.close()

    return asyncio.run(count())


def test_outage_then_recovery(pg_database: str, emulator: EmulatorThread) -> None:
    with ServiceThread(
        reverse_proxy=f"{emulator.url}/backend-api/conversation",
        database_url=pg_url(pg_database),
    ) as svc:
        seed = {"access_token": "tok", "prompt": "before"}
        first = httpx.post(f"{svc.url}/send_message", data=seed, timeout=30)
        assert first.status_code == 200
        assert count_messages(pg_database) == 2

        asyncio.run(allow_connections(pg_database, False))
        down = httpx.post(f"{svc.url}/send_message", data={**seed, "prompt": "during"}, timeout=30)
        assert down.status_code == 500
        assert down.json()["message"].startswith(UNAVAILABLE)
        listing = httpx.get(f"{svc.url}/v1/conversations", timeout=30)
        assert listing.status_code == 503
        assert listing.json()["error"]["code"] == "store_unavailable"
        assert "postgres@" not in listing.text

        asyncio.run(allow_connections(pg_database, True))
        again = httpx.post(f"{svc.url}/send_message", data={**seed, "prompt": "after"}, timeout=30)
        assert again.status_code == 200
        assert httpx.get(f"{svc.url}/v1/conversations", timeout=30).json()["total"] == 2
    assert count_messages(pg_database) == 4  # the turn during the outage left nothing behind
