"""Durability under dependency outages: PostgreSQL restarted or closed, Redis killed.

Each outage must give a clear, fast refusal — a 503 (the seed route's documented 500 with
``{"message": "the conversation store is unavailable: ..."}``) before anything is sent upstream
— leave nothing half-written in the store, and end by itself once the dependency is back.
"Fast" is checked without a clock: the upstream emulator saw no request for a refused turn.
The seconds each refusal took are recorded as figures.

PostgreSQL is the machine's shared server: "restarted" is every connection of the test's own
database terminated (what a restart does to the service's pool), "unreachable" is the database
closed to connections (``ALLOW_CONNECTIONS false``); the server itself is never restarted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chatgpt_api.config import Settings
from chatgpt_api.service import ChatService
from chatgpt_api.store import SQLStore, StoreUnavailable, open_store
from chatgpt_api.testing import EmulatorOptions, EmulatorThread
from tests.pg import allow_connections, pg_url, terminate_pg_connections
from tests.servers import ServiceThread
from tests.services import RedisServer, own_redis_server
from tests.test_durability import (
    CHECKS,
    assert_consistent,
    pg_snapshot,
    sqlite_snapshot,
    sse_events,
    write_report,
)

UNAVAILABLE = "the conversation store is unavailable: "


@pytest.fixture(scope="module")
def upstream() -> Iterator[EmulatorThread]:
    """Answers of 6 chunks 50 ms apart: a turn the store cannot keep is visibly not "fast"."""
    with EmulatorThread(EmulatorOptions(chunks=6, chunk_delay_ms=50)) as emu:
        yield emu


def seed(url: str, **fields: str) -> httpx.Response:
    return httpx.post(
        f"{url}/send_message", data={"access_token": "tok", "prompt": "hi", **fields}, timeout=30
    )


def completion(url: str, stream: bool = False, **extra: Any) -> httpx.Response:
    body = {"model": "gpt-3.5-turbo", "messages": [{"role": "user", "content": "hi"}]}
    return httpx.post(
        f"{url}/v1/chat/completions",
        json={**body, "stream": stream, **extra},
        headers={"Authorization": "Bearer tok"},
        timeout=30,
    )


def timed(call: Any) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def count_rows(database: str) -> int:
    snapshot = asyncio.run(pg_snapshot(database))
    return len(snapshot.conversations) + len(snapshot.messages)


# --- PostgreSQL ------------------------------------------------------------------------------


def test_postgres_restarted_then_closed_then_back(
    pg_database: str, upstream: EmulatorThread
) -> None:
    with ServiceThread(
        reverse_proxy=f"{upstream.url}/backend-api/conversation",
        database_url=pg_url(pg_database),
    ) as svc:
        first = seed(svc.url)
        assert first.status_code == 200, first.text
        ids = first.json()

        # "Restarted": every pooled connection dies. The next checkout's ping replaces them.
        terminated = asyncio.run(terminate_pg_connections(pg_database))
        after_restart, restart_seconds = timed(
            lambda: seed(
                svc.url,
                conversation_id=ids["conversation_id"],
                parent_message_id=ids["parent_message_id"],
            )
        )
        assert after_restart.status_code == 200, after_restart.text
        ids = after_restart.json()
        rows_before = count_rows(pg_database)

        # Unreachable: closed to connections. Every turn is refused before going upstream.
        asyncio.run(allow_connections(pg_database, False))
        upstream_before = len(upstream.requests)
        refusals: dict[str, tuple[int, float]] = {}
        checks = {
            "v1 new conversation": lambda: completion(svc.url),
            "v1 new conversation, stream": lambda: completion(svc.url, stream=True),
            "v1 follow-up": lambda: completion(svc.url, conversation_id=ids["conversation_id"]),
            "seed new conversation": lambda: seed(svc.url),
            "seed follow-up": lambda: seed(
                svc.url,
                conversation_id=ids["conversation_id"],
                parent_message_id=ids["parent_message_id"],
            ),
            "conversation list": lambda: httpx.get(f"{svc.url}/v1/conversations", timeout=30),
            "readiness": lambda: httpx.get(f"{svc.url}/readyz", timeout=30),
        }
        for name, call in checks.items():
            response, seconds = timed(call)
            refusals[name] = (response.status_code, round(seconds, 3))
            if name.startswith("seed"):
                assert response.status_code == 500, response.text  # the seed's contract
                assert response.json()["message"].startswith(UNAVAILABLE)
            elif name == "readiness":
                assert response.status_code == 503
                assert response.json()["checks"]["store"] == "error"
            else:
                assert response.status_code == 503, (name, response.text)
                assert response.json()["error"]["code"] == "store_unavailable"
            assert "postgres@" not in response.text
        assert len(upstream.requests) == upstream_before, "a refused turn went upstream"

        # Back: the same service recovers by itself, nothing of the outage was written.
        asyncio.run(allow_connections(pg_database, True))
        assert count_rows(pg_database) == rows_before
        again, recovery_seconds = timed(
            lambda: seed(
                svc.url,
                conversation_id=ids["conversation_id"],
                parent_message_id=ids["parent_message_id"],
            )
        )
        assert again.status_code == 200, again.text
        assert httpx.get(f"{svc.url}/readyz", timeout=30).status_code == 200
    after = asyncio.run(pg_snapshot(pg_database))
    assert_consistent(after)
    assert len(after.conversations) + len(after.messages) == rows_before + 2
    slowest = max(seconds for _, seconds in refusals.values())
    write_report(
        "outage-postgres-restarted-closed",
        expected="PostgreSQL restarted (connections terminated): the next turn succeeds; "
        "closed to connections: every turn refused (503; seed route 500 with the store "
        "message) before going upstream, nothing half-written; reopened: recovers by itself",
        observed=f"restart invisible to clients ({terminated} connection(s) terminated); "
        f"{len(refusals)} requests refused during the outage, slowest in {slowest:.3f} s, "
        "none went upstream; recovered on the first request",
        requests_under_fault=len(refusals),
        refusals=refusals,
        upstream_requests_during_outage=0,
        seconds_first_request_after_restart=round(restart_seconds, 3),
        seconds_first_request_after_recovery=round(recovery_seconds, 3),
        rows_checked=len(after.conversations) + len(after.messages),
        data_lost=0,
        half_written_rows=sum(after.problems.values()),
    )


def test_postgres_lost_during_a_stream(pg_database: str, upstream: EmulatorThread) -> None:
    """The database goes away while an answer streams: the client gets an error frame, not a
    final frame, and nothing of the turn is written (the answer could not be kept)."""
    with ServiceThread(
        reverse_proxy=f"{upstream.url}/backend-api/conversation",
        database_url=pg_url(pg_database),
    ) as svc:
        assert seed(svc.url).status_code == 200
        rows_before = count_rows(pg_database)
        fields = {"access_token": "tok", "prompt": "during", "stream": "true"}
        body = ""
        with httpx.stream("POST", f"{svc.url}/send_message", data=fields, timeout=30) as response:
            assert response.status_code == 200
            chunks = response.iter_text()
            body += next(chunks)  # the first delta: the turn is under way
            asyncio.run(allow_connections(pg_database, False))
            for chunk in chunks:
                body += chunk
        events = sse_events(body)
        assert events[-1][0] == "error", events[-2:]
        assert UNAVAILABLE in events[-1][1]
        asyncio.run(allow_connections(pg_database, True))
        assert count_rows(pg_database) == rows_before
        assert seed(svc.url).status_code == 200
    after = asyncio.run(pg_snapshot(pg_database))
    assert_consistent(after)
    write_report(
        "outage-postgres-lost-mid-stream",
        expected="the store goes away while an answer streams: the client gets an event: "
        "error frame (not a final frame), nothing half-written, recovery by itself",
        observed="error frame with the store message; no row of the turn; next turn stored",
        requests_under_fault=1,
        rows_checked=len(after.conversations) + len(after.messages),
        data_lost=0,
        half_written_rows=sum(after.problems.values()),
    )


# --- a turn is written whole: the conversation and its first turn are one transaction ---------


class FailingSecondWrite:
    """A store whose database "dies" after the first write of a turn (a crash between two
    transactions would leave the same state): every later write raises StoreUnavailable."""

    def __init__(self, inner: SQLStore) -> None:
        self.inner = inner
        self.writes = 0

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)
        if name not in ("create_conversation", "add_turn", "record_turn"):
            return attribute

        async def write(*args: Any, **kwargs: Any) -> Any:
            self.writes += 1
            if self.writes > 1:
                raise StoreUnavailable("connection lost")
            return await attribute(*args, **kwargs)

        return write


def test_a_new_conversation_is_written_with_its_first_turn(
    tmp_path: Path, upstream: EmulatorThread
) -> None:
    async def scenario() -> tuple[int, Any]:
        from chatgpt_api.app import backend_options
        from chatgpt_api.backends.pool import BackendPool
        from chatgpt_api.http_session import create_session
        from chatgpt_api.messages import Message
        from chatgpt_api.registry import ModelRegistry
        from chatgpt_api.service import TurnInput, collect_answer

        settings = Settings(home=tmp_path, reverse_proxy=f"{upstream.url}/backend-api/conversation")
        store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
        http = create_session(5)
        backends = BackendPool(http, backend_options(settings))
        failing = FailingSecondWrite(store)
        service = ChatService(ModelRegistry([]), backends, failing)  # type: ignore[arg-type]
        try:
            turn = await service.open_turn(
                TurnInput(model="gpt-3.5-turbo", messages=(Message("user", "hi"),), credential="t")
            )
            answer = await collect_answer(turn.events, None)
        finally:
            await backends.close()
            await http.close()
            await store.close()
        return failing.writes, answer

    writes, answer = asyncio.run(scenario())
    assert writes == 1  # one write (one transaction) for the conversation and its first turn
    snapshot = sqlite_snapshot(tmp_path / "db.sqlite")
    assert_consistent(snapshot)
    assert snapshot.messages[answer.message_id][3:] == ("complete", answer.text)
    assert snapshot.problems["empty_conversations"] == 0


# --- Redis -------------------------------------------------------------------------------------


@pytest.fixture()
def redis_process() -> Iterator[RedisServer]:
    """A redis-server of this test's own on a free loopback port (killed and restarted)."""
    yield from own_redis_server()


def test_redis_killed_fails_closed_then_recovers(
    redis_process: RedisServer, upstream: EmulatorThread, tmp_path: Path
) -> None:
    with ServiceThread(
        reverse_proxy=f"{upstream.url}/backend-api/conversation",
        home=tmp_path,
        redis_url=redis_process.url,
        redis_failure_mode="closed",
        rate_limit_rpm=10_000,
        rate_limit_streams=100,
    ) as svc:
        assert seed(svc.url).status_code == 200
        redis_process.kill()
        upstream_before = len(upstream.requests)
        refusals: dict[str, tuple[int, float]] = {}
        for name, call in {
            "seed": lambda: seed(svc.url),
            "seed stream": lambda: seed(svc.url, stream="true"),
            "v1": lambda: completion(svc.url),
            "v1 stream": lambda: completion(svc.url, stream=True),
        }.items():
            response, seconds = timed(call)
            refusals[name] = (response.status_code, round(seconds, 3))
            assert response.status_code == 503, (name, response.text)
            assert "limiter" in response.text.lower() or "redis" in response.text.lower()
        assert len(upstream.requests) == upstream_before, "a refused turn went upstream"

        redis_process.start()  # same port: the service reconnects on its next call
        again, recovery_seconds = timed(lambda: seed(svc.url))
        assert again.status_code == 200, again.text
    snapshot = sqlite_snapshot(tmp_path / "chatgpt-api.db")
    assert_consistent(snapshot)
    assert snapshot.status_counts() == {"complete": 2}  # nothing of the refused turns
    slowest = max(seconds for _, seconds in refusals.values())
    write_report(
        "outage-redis-killed",
        expected="Redis-backed limits, Redis killed (failure mode closed): every turn refused "
        "with 503 limiter_unavailable before going upstream; Redis back: recovers by itself",
        observed=f"{len(refusals)} requests refused, slowest in {slowest:.3f} s, none went "
        "upstream; the first request after the restart succeeded",
        requests_under_fault=len(refusals),
        refusals=refusals,
        seconds_first_request_after_recovery=round(recovery_seconds, 3),
        rows_checked=len(snapshot.conversations) + len(snapshot.messages),
        data_lost=0,
        half_written_rows=sum(snapshot.problems.values()),
        checks=list(CHECKS),
    )
