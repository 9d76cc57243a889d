"""Durability: ``kill -9`` of the service during 100 concurrent streams, then a restart.

The service runs as a real process (``python -m chatgpt_api.cli serve``) against the upstream
emulator. 100 client "lanes" each hold one answer in flight at all times — a new conversation,
then follow-ups on it — most streamed, some as plain JSON, so answers complete all the time.
Once enough answers have completed, the process gets SIGKILL. Then, on the same database:

* SQLite: ``PRAGMA integrity_check`` is ``ok`` and ``PRAGMA foreign_key_check`` finds nothing;
* every answer a client received as complete (the final frame, or the 200 JSON) is stored with
  status ``complete``, its exact text, in its conversation;
* no conversation is corrupt: every parent exists in the same conversation, every
  ``current_node`` exists, the current path resolves to a root, every user message has its
  answer (a turn is written whole or not at all), no conversation is left empty;
* the restarted service serves the old conversations and continues one of them.

The same runs on PostgreSQL (a throw-away database; skipped when PostgreSQL is unreachable,
failed in CI). The helpers here (the service process, the lanes, the checks, the report) are
shared with ``tests/test_durability_outage.py`` and ``tests/test_shutdown.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import selectors
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from chatgpt_api.testing import EmulatorOptions, EmulatorThread
from tests.pg import pg_dsn, pg_url

ROOT = Path(__file__).resolve().parent.parent
REPORT_DIR = ROOT / "test-output" / "reliability"
LANES = 100
#: Answers completed before the kill (spread over every lane).
COMPLETED_BEFORE_KILL = 150
START_SECONDS = 30.0


# --- the service as a process --------------------------------------------------------------------


class ServeProcess:
    """``python -m chatgpt_api.cli serve --port 0 --host 127.0.0.1`` with a clean environment."""

    def __init__(
        self,
        home: Path,
        upstream: str,
        *,
        database_url: str | None = None,
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
    ) -> None:
        self.home = home
        self.environment = {k: v for k, v in os.environ.items() if not k.startswith("CHATGPT_API")}
        self.environment.update(
            {
                "CHATGPT_API_HOME": str(home),
                "CHATGPT_API_REVERSE_PROXY": f"{upstream}/backend-api/conversation",
                "CHATGPT_API_UPSTREAM_ALLOWLIST": "127.0.0.1",
                "CHATGPT_API_ACCESS_LOG": "false",
                "CHATGPT_API_LOG_LEVEL": "info",
            }
        )
        if database_url is not None:
            self.environment["CHATGPT_API_DATABASE_URL"] = database_url
        self.environment.update(env or {})
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.stderr_path = home / "serve.stderr"
        self.starts = 0

    def start(self) -> ServeProcess:
        self.home.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        with self.stderr_path.open("ab") as stderr:
            self.proc = subprocess.Popen(
                [
                    *(sys.executable, "-m", "chatgpt_api.cli", "serve"),
                    *("--port", "0", "--host", "127.0.0.1", *self.args),
                ],
                env=self.environment,
                stdout=subprocess.PIPE,
                stderr=stderr,
                cwd=ROOT,
            )
        line = self._first_line()
        prefix = b"Listening on http://localhost:"
        if not line.startswith(prefix):
            self.kill()
            raise AssertionError(f"the service did not start: {line!r}\n{self.stderr()}")
        self.url = f"http://127.0.0.1:{int(line[len(prefix) :])}"
        return self

    def _first_line(self) -> bytes:
        assert self.proc is not None and self.proc.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(self.proc.stdout, selectors.EVENT_READ)
        try:
            if not selector.select(START_SECONDS):
                return b""
        finally:
            selector.close()
        return self.proc.stdout.readline().strip()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int:
        assert self.proc is not None
        code = self.proc.wait(timeout)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return code

    def kill(self) -> None:
        """SIGKILL (``kill -9``) and reap."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.wait(10)

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def __enter__(self) -> ServeProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.kill()


# --- clients -------------------------------------------------------------------------------------


@dataclass
class Received:
    """An answer a client received as complete."""

    conversation_id: str
    message_id: str
    text: str
    streamed: bool


@dataclass
class LaneReport:
    completed: list[Received] = field(default_factory=list)
    cut: int = 0  # answers in flight when the connection broke
    errors: list[str] = field(default_factory=list)


def sse_events(body: str) -> list[tuple[str, str]]:
    """``(event, data)`` pairs of a complete event-stream body."""
    events = []
    for block in body.split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
        if data:
            events.append((name, "\n".join(data)))
    return events


async def ask(
    http: httpx.AsyncClient,
    url: str,
    prompt: str,
    *,
    stream: bool,
    previous: Received | None = None,
    on_frame: Any = None,
) -> tuple[Received | None, list[tuple[str, str]]]:
    """One seed turn; the answer if the client received it complete, and the frames seen."""
    fields = {"access_token": "tok", "prompt": prompt, "stream": "true" if stream else "false"}
    if previous is not None:
        fields["conversation_id"] = previous.conversation_id
        fields["parent_message_id"] = previous.message_id
    if not stream:
        response = await http.post(f"{url}/send_message", data=fields)
        if response.status_code != 200:
            return None, [("status", f"{response.status_code} {response.text}")]
        body = response.json()
        answer = Received(body["conversation_id"], body["parent_message_id"], body["text"], False)
        return answer, [("json", response.text)]
    frames: list[tuple[str, str]] = []
    buffer = ""
    async with http.stream("POST", f"{url}/send_message", data=fields) as response:
        if response.status_code != 200:
            await response.aread()
            return None, [("status", f"{response.status_code} {response.text}")]
        async for chunk in response.aiter_text():
            buffer += chunk
            while "\n\n" in buffer:
                block, buffer = buffer.split("\n\n", 1)
                for frame in sse_events(block + "\n\n"):
                    frames.append(frame)
                    if on_frame is not None:
                        on_frame(frame)
    final = [json.loads(d) for name, d in frames if name == "message" and d.startswith("{")]
    if frames[-1:] != [("message", "[DONE]")] or not final or "text" not in final[-1]:
        return None, frames
    body = final[-1]
    return Received(body["conversation_id"], body["parent_message_id"], body["text"], True), frames


async def lane(
    http: httpx.AsyncClient, url: str, index: int, stop: asyncio.Event, report: LaneReport
) -> None:
    """Turn after turn on one conversation until the service goes away (bounded)."""
    previous: Received | None = None
    for turn in range(1000):
        if stop.is_set():
            return
        try:
            answer, frames = await ask(
                http, url, f"lane {index} turn {turn}", stream=index % 5 != 0, previous=previous
            )
        except httpx.HTTPError:
            report.cut += 1
            return
        if answer is None:
            report.errors.append(repr(frames[-1:]))
            return
        report.completed.append(answer)
        previous = answer


def client(connections: int = LANES + 20) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(timeout=httpx.Timeout(60, connect=10), limits=limits)


async def run_lanes_then_kill(service: ServeProcess) -> tuple[list[LaneReport], float]:
    """100 lanes; SIGKILL once COMPLETED_BEFORE_KILL answers are in. Returns the seconds."""
    reports = [LaneReport() for _ in range(LANES)]
    stop = asyncio.Event()
    started = time.monotonic()
    async with client() as http:
        tasks = [
            asyncio.create_task(lane(http, service.url, i, stop, reports[i])) for i in range(LANES)
        ]
        for _ in range(600):  # at most 60 s
            done = sum(len(r.completed) for r in reports)
            if done >= COMPLETED_BEFORE_KILL or all(t.done() for t in tasks):
                break
            await asyncio.sleep(0.1)
        elapsed = time.monotonic() - started
        os.kill(service.pid, signal.SIGKILL)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
    service.wait(10)
    return reports, elapsed


# --- the store, checked directly -----------------------------------------------------------------

CHECKS = {
    "orphan_parents": "SELECT count(*) FROM messages m WHERE m.parent_id IS NOT NULL AND NOT "
    "EXISTS (SELECT 1 FROM messages p WHERE p.id = m.parent_id "
    "AND p.conversation_id = m.conversation_id)",
    "dangling_current_node": "SELECT count(*) FROM conversations c WHERE c.current_node IS NOT "
    "NULL AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = c.current_node "
    "AND m.conversation_id = c.id)",
    "empty_conversations": "SELECT count(*) FROM conversations c WHERE NOT EXISTS "
    "(SELECT 1 FROM messages m WHERE m.conversation_id = c.id)",
    "unanswered_user_messages": "SELECT count(*) FROM messages u WHERE u.role = 'user' AND NOT "
    "EXISTS (SELECT 1 FROM messages a WHERE a.parent_id = u.id "
    "AND a.conversation_id = u.conversation_id AND a.role = 'assistant')",
    "answers_without_question": "SELECT count(*) FROM messages a WHERE a.role = 'assistant' AND "
    "NOT EXISTS (SELECT 1 FROM messages u WHERE u.id = a.parent_id "
    "AND u.conversation_id = a.conversation_id AND u.role = 'user')",
}
ROWS = {
    "conversations": "SELECT id, current_node FROM conversations",
    "messages": "SELECT id, conversation_id, parent_id, role, status, content FROM messages",
}


@dataclass
class StoreSnapshot:
    integrity: list[str]
    foreign_key_violations: int
    problems: dict[str, int]
    conversations: dict[str, str | None]
    messages: dict[str, tuple[str, str | None, str, str, str]]

    def status_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for _, _, role, status, _ in self.messages.values():
            if role == "assistant":
                counts[status] = counts.get(status, 0) + 1
        return counts

    def unresolved_paths(self) -> list[str]:
        """Conversations whose current path does not lead from current_node to a root."""
        bad = []
        for conversation_id, node in self.conversations.items():
            steps = 0
            while node is not None and steps <= len(self.messages):
                row = self.messages.get(node)
                if row is None or row[0] != conversation_id:
                    break
                node, steps = row[1], steps + 1
            if node is not None or steps == 0:
                bad.append(conversation_id)
        return bad


def sqlite_snapshot(path: Path) -> StoreSnapshot:
    connection = sqlite3.connect(path)
    try:
        integrity = [row[0] for row in connection.execute("PRAGMA integrity_check")]
        fk = len(connection.execute("PRAGMA foreign_key_check").fetchall())
        problems = {name: connection.execute(sql).fetchone()[0] for name, sql in CHECKS.items()}
        conversations = dict(connection.execute(ROWS["conversations"]).fetchall())
        messages = {r[0]: tuple(r[1:]) for r in connection.execute(ROWS["messages"])}
    finally:
        connection.close()
    return StoreSnapshot(integrity, fk, problems, conversations, messages)  # type: ignore[arg-type]


async def pg_snapshot(database: str) -> StoreSnapshot:
    connection = await asyncpg.connect(pg_dsn(database), timeout=10)
    try:
        # PostgreSQL enforces the keys itself; its crash safety is the server's (WAL). Check
        # the catalog agrees the constraints are there and validated, then the rows.
        invalid = await connection.fetchval(
            "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND NOT convalidated "
            "AND conrelid = 'messages'::regclass"
        )
        problems = {name: int(await connection.fetchval(sql)) for name, sql in CHECKS.items()}
        conversations = {r[0]: r[1] for r in await connection.fetch(ROWS["conversations"])}
        messages = {r[0]: tuple(r[1:]) for r in await connection.fetch(ROWS["messages"])}
    finally:
        await connection.close()
    return StoreSnapshot(["ok"], int(invalid), problems, conversations, messages)  # type: ignore[arg-type]


def missing_answers(snapshot: StoreSnapshot, received: list[Received]) -> list[str]:
    """Answers received complete that are not stored, complete and exact, where expected."""
    missing = []
    for answer in received:
        row = snapshot.messages.get(answer.message_id)
        if row is None:
            missing.append(f"{answer.message_id}: not stored")
        elif row[0] != answer.conversation_id or row[2] != "assistant":
            missing.append(f"{answer.message_id}: in the wrong place {row[:3]}")
        elif row[3] != "complete":
            missing.append(f"{answer.message_id}: status {row[3]}")
        elif row[4] != answer.text:
            missing.append(f"{answer.message_id}: text differs")
    return missing


def assert_consistent(snapshot: StoreSnapshot) -> None:
    assert snapshot.integrity == ["ok"]
    assert snapshot.foreign_key_violations == 0
    assert snapshot.problems == dict.fromkeys(CHECKS, 0)
    assert snapshot.unresolved_paths() == []


# --- the report for docs/reliability.md ----------------------------------------------------------


def write_report(name: str, expected: str, observed: str, **figures: Any) -> None:
    """One JSON object per scenario in test-output/reliability/<name>.json."""
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    record = {"name": name, "expected": expected, "observed": observed, "figures": figures}
    (REPORT_DIR / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def slow_upstream() -> Iterator[EmulatorThread]:
    """Answers of 12 chunks, 80 ms apart: about a second each, so 100 are always in flight."""
    with EmulatorThread(EmulatorOptions(chunks=10, chunk_delay_ms=60)) as emu:
        yield emu


# --- the tests -----------------------------------------------------------------------------------


def kill_and_restart(service: ServeProcess, snapshot: Any, scenario: str, backend: str) -> None:
    reports, before_kill = asyncio.run(run_lanes_then_kill(service))
    received = [a for r in reports for a in r.completed]
    cut = sum(r.cut for r in reports)
    errors = [e for r in reports for e in r.errors]
    assert errors == [], errors[:3]
    assert len(received) >= COMPLETED_BEFORE_KILL
    assert cut >= LANES // 2, "most lanes should have had an answer in flight at the kill"

    started = time.monotonic()
    after = snapshot()
    missing = missing_answers(after, received)
    assert missing == [], missing[:5]
    assert_consistent(after)

    # The restarted service serves what was stored, and goes on where a lane stopped.
    with service:
        restart_seconds = time.monotonic() - started
        last = received[-1]
        with httpx.Client(timeout=30) as http:
            stored = http.get(f"{service.url}/v1/conversations/{last.conversation_id}")
            assert stored.status_code == 200, stored.text
            listing = http.get(f"{service.url}/v1/conversations", params={"limit": 1}).json()
        answer, frames = asyncio.run(_follow_up(service.url, last))
        assert answer is not None, frames[-1:]
    assert_consistent(snapshot())
    statuses = after.status_counts()
    write_report(
        scenario,
        expected=f"kill -9 during {LANES} concurrent streams on {backend}: the database is "
        "intact, every answer a client received complete is stored complete with its exact "
        "text, no conversation is corrupt, the restarted service continues",
        observed="as expected",
        backend=backend,
        streams_in_flight_at_kill=cut,
        answers_completed_before_kill=len(received),
        answers_stored_complete=statuses.get("complete", 0),
        conversations_checked=len(after.conversations),
        conversations_listed_after_restart=listing["total"],
        rows_checked=len(after.conversations) + len(after.messages),
        data_lost=len(missing),
        corrupt_conversations=sum(after.problems.values()) + len(after.unresolved_paths()),
        integrity_check=after.integrity[0],
        seconds_before_kill=round(before_kill, 2),
        seconds_to_check_and_restart=round(restart_seconds, 2),
    )


async def _follow_up(url: str, previous: Received) -> tuple[Received | None, list[Any]]:
    async with client(2) as http:
        return await ask(http, url, "after the restart", stream=True, previous=previous)


def test_kill_9_during_100_streams_sqlite(tmp_path: Path, slow_upstream: EmulatorThread) -> None:
    service = ServeProcess(tmp_path / "home", slow_upstream.url).start()
    try:
        database = tmp_path / "home" / "chatgpt-api.db"
        kill_and_restart(
            service, lambda: sqlite_snapshot(database), "durability-kill9-sqlite", "sqlite"
        )
    finally:
        service.kill()


def test_kill_9_during_100_streams_postgres(
    tmp_path: Path, slow_upstream: EmulatorThread, pg_database: str
) -> None:
    service = ServeProcess(
        tmp_path / "home", slow_upstream.url, database_url=pg_url(pg_database)
    ).start()
    try:
        kill_and_restart(
            service,
            lambda: asyncio.run(pg_snapshot(pg_database)),
            "durability-kill9-postgres",
            "postgresql",
        )
    finally:
        service.kill()
