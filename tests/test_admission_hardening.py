"""Issue 13, items 5, 6 and 7 through the running service: logins pass the rate limits, one
request cannot carry thousands of messages, and revoking the last key does not open the door.

Each scenario is recorded for docs/reliability.md (``make reliability``)."""

from __future__ import annotations

import asyncio
import json
import socket
import sqlite3
import threading
import time
from pathlib import Path

import httpx
from click.testing import CliRunner

from chatgpt_api.cli.main import main
from chatgpt_api.keys.keystore import KeyStore
from chatgpt_api.store import open_store
from chatgpt_api.testing import EmulatorThread
from tests.clock import FakeClock
from tests.reliability import record
from tests.servers import ServiceThread
from tests.test_keys import OPENAI_401, SEED_401, assert_all_401, bearer, keys_cli, seed_ask

MODELS = """
[models."gpt-4o-mini"]
backend = "openai"
base_url = "{emu}/v1"
api_key = "sk-configured"
"""
TTL = 0.3


def sqlite_url(home: Path) -> str:
    return f"sqlite+aiosqlite:///{home / 'chatgpt-api.db'}"


def stored_messages(home: Path) -> int:
    with sqlite3.connect(home / "chatgpt-api.db") as db:
        return int(db.execute("SELECT count(*) FROM messages").fetchone()[0])


# --- item 5: /get_access_token passes admission -------------------------------------------------


def test_logins_are_rate_limited_like_every_upstream_route(
    tmp_path: Path, emulator: EmulatorThread
) -> None:
    with ServiceThread(
        home=tmp_path,
        auth_url=f"{emulator.url}/api",
        session_url=f"{emulator.url}/api/auth/session",
        reverse_proxy=f"{emulator.url}/backend-api/conversation",
        rate_limit_rpm=3,
    ) as svc:
        emulator.clear()
        answers = [
            httpx.post(
                f"{svc.url}/get_access_token",
                data={"email": f"user{i}@example.com", "password": f"guess-{i}"},
                timeout=30,
            )
            for i in range(8)
        ]
        statuses = [a.status_code for a in answers]
        logins_sent = len(emulator.requests)
        assert statuses == [200] * 3 + [429] * 5, [a.text for a in answers]
        assert logins_sent == 3  # the refused five never reached the login service
        refused = answers[-1]
        assert int(refused.headers["retry-after"]) >= 1
        assert list(refused.json()) == ["message"]
        assert "rate limit" in refused.json()["message"].lower()
        # The same caller's budget is shared with the other routes: session tokens and
        # /send_message are refused too, and nothing more is sent upstream.
        session = httpx.post(f"{svc.url}/get_access_token", data={"session_token": "s"})
        chat = seed_ask(svc, None, "hello")
        assert session.status_code == chat.status_code == 429
        assert len(emulator.requests) == logins_sent
    record(
        "admission-get-access-token-rate-limited",
        "8 logins with different credentials, rate_limit_rpm 3 (a password-guessing relay)",
        "3 reach the login service, 5 answered 429 {message} with Retry-After",
        f"statuses {statuses}; {logins_sent} logins reached the login service",
        requests=len(answers) + 2,
        logins_forwarded=logins_sent,
        refused_429=statuses.count(429),
        leaks=0,
    )


def test_logins_hold_a_stream_slot_and_need_the_key(
    tmp_path: Path, emulator: EmulatorThread
) -> None:
    with ServiceThread(
        home=tmp_path,
        auth_url=f"{emulator.url}/api",
        rate_limit_streams=1,
        require_api_key=True,
    ) as svc:
        emulator.clear()
        refused = httpx.post(
            f"{svc.url}/get_access_token", data={"email": "a@example.com", "password": "pw"}
        )
        assert refused.status_code == 401 and refused.json() == SEED_401
        assert emulator.requests == []
        # The slot is released after each login: sequential logins all pass.
        key = _make_key(tmp_path, "alice")
        for i in range(3):
            ok = httpx.post(
                f"{svc.url}/get_access_token",
                data={"email": f"u{i}@example.com", "password": "pw", "api_key": key},
            )
            assert ok.status_code == 200, ok.text


# --- item 6: request limits, at the socket ----------------------------------------------------


def _raw_post(port: int, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """One HTTP/1.1 request on a fresh socket; (status, body) of the answer."""
    head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    head.append(f"Content-Length: {len(body)}")
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    raw = b"".join(chunks)
    status_line, _, rest = raw.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def _completion(messages: int, content: str = "x") -> bytes:
    items = [{"role": "user", "content": content}] * messages
    return json.dumps({"model": "gpt-4o-mini", "messages": items}).encode()


def _small_requests_while(busy: threading.Event, url: str) -> list[float]:
    """Latencies of small completions sent one after another while ``busy`` is set."""
    latencies: list[float] = []
    with httpx.Client(timeout=30) as client:
        while busy.is_set() or not latencies:
            started = time.perf_counter()
            answer = client.post(
                f"{url}/v1/chat/completions",
                json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
            )
            assert answer.status_code == 200, answer.text
            latencies.append(time.perf_counter() - started)
    return latencies


def test_thirty_thousand_messages_are_refused_at_once(
    tmp_path: Path, emulator: EmulatorThread
) -> None:
    (tmp_path / "models.toml").write_text(MODELS.format(emu=emulator.url))
    with ServiceThread(home=tmp_path, models_file=tmp_path / "models.toml") as svc:
        port = int(svc.url.rsplit(":", 1)[1])
        body = _completion(30_000)
        assert 800_000 < len(body) <= svc.settings.max_body_size
        idle = threading.Event()  # not set: a few small requests, for the baseline
        baseline = max(max(_small_requests_while(idle, svc.url)) for _ in range(10))
        before = stored_messages(tmp_path)
        emulator.clear()
        busy = threading.Event()
        busy.set()
        latencies: list[float] = []
        small = threading.Thread(
            target=lambda: latencies.extend(_small_requests_while(busy, svc.url))
        )
        small.start()
        time.sleep(0.2)  # the small requests are flowing
        started = time.perf_counter()
        statuses = []
        for _ in range(5):
            status, answer = _raw_post(
                port, "/v1/chat/completions", body, {"Content-Type": "application/json"}
            )
            statuses.append(status)
        refusal_seconds = (time.perf_counter() - started) / 5
        time.sleep(0.2)
        busy.clear()
        small.join(30)
        error = json.loads(answer)["error"]
        assert statuses == [400] * 5
        assert error["param"] == "messages" and error["code"] == "request_limit_exceeded"
        assert "30,000" in error["message"] and "2,048" in error["message"]
        assert error["type"] == "invalid_request_error"
        big_upstream = [r for r in emulator.requests if len(r.text) > 10_000]
        assert big_upstream == []  # nothing of it went upstream
        # Only the small requests' turns were stored (two rows each), none of the big ones.
        assert stored_messages(tmp_path) - before == 2 * len(latencies)
        assert refusal_seconds < 1.0
        worst = max(latencies)
        assert worst < 2.0, latencies
        # At the limit: accepted, every message stored, in well under a second.
        before = stored_messages(tmp_path)
        started = time.perf_counter()
        status, _ = _raw_post(
            port, "/v1/chat/completions", _completion(2048), {"Content-Type": "application/json"}
        )
        at_limit_seconds = time.perf_counter() - started
        assert status == 200 and stored_messages(tmp_path) - before == 2049
        assert at_limit_seconds < 5.0
    record(
        "request-limits-30000-messages",
        "POST /v1/chat/completions with 30,000 messages in one 1 MB body (x5, raw socket), "
        "small completions sent meanwhile",
        "400 invalid_request_error param messages, quickly; nothing stored or sent upstream; "
        "the concurrent small requests are not stalled",
        f"statuses {statuses}; {refusal_seconds * 1000:.0f} ms per refusal; "
        f"0 rows stored for them; slowest concurrent small request {worst * 1000:.0f} ms "
        f"(alone: {baseline * 1000:.0f} ms); 2,048 messages accepted and stored in "
        f"{at_limit_seconds * 1000:.0f} ms",
        requests=5 + len(latencies),
        body_bytes=len(body),
        refusal_ms=round(refusal_seconds * 1000, 1),
        concurrent_requests=len(latencies),
        concurrent_worst_ms=round(worst * 1000, 1),
        alone_worst_ms=round(baseline * 1000, 1),
        rows_stored_for_refused=0,
        at_limit_2048_ms=round(at_limit_seconds * 1000, 1),
    )


def test_request_limits_are_settings_and_cover_both_surfaces(
    tmp_path: Path, emulator: EmulatorThread
) -> None:
    (tmp_path / "models.toml").write_text(MODELS.format(emu=emulator.url))
    with ServiceThread(
        home=tmp_path,
        models_file=tmp_path / "models.toml",
        reverse_proxy=f"{emulator.url}/backend-api/conversation",
        max_request_messages=3,
        max_request_chars=100,
    ) as svc:
        port = int(svc.url.rsplit(":", 1)[1])
        json_type = {"Content-Type": "application/json"}
        assert _raw_post(port, "/v1/chat/completions", _completion(3), json_type)[0] == 200
        status, answer = _raw_post(port, "/v1/chat/completions", _completion(4), json_type)
        assert status == 400
        assert json.loads(answer)["error"]["message"] == (
            "Too many messages: 4 given, at most 3 are accepted in one request."
        )
        status, answer = _raw_post(
            port, "/v1/chat/completions", _completion(2, "y" * 51), json_type
        )
        assert status == 400
        assert json.loads(answer)["error"] == {
            "message": "The messages are too long: more than 100 characters in one request.",
            "type": "invalid_request_error",
            "param": "messages",
            "code": "request_limit_exceeded",
        }
        emulator.clear()
        seed = seed_ask(svc, None, "z" * 101)
        assert seed.status_code == 500
        assert seed.json() == {
            "message": "The messages are too long: more than 100 characters in one request."
        }
        assert seed_ask(svc, None, "z" * 100).status_code == 200
        assert len(emulator.requests) == 1


# --- item 7: the last revoked key --------------------------------------------------------------


def _make_key(home: Path, name: str) -> str:
    async def create() -> str:
        store = await open_store(sqlite_url(home))
        try:
            return (await KeyStore(store).create(name))[1]
        finally:
            await store.close()

    return asyncio.run(create())


def test_revoking_the_last_key_keeps_the_service_closed(
    tmp_path: Path, emulator: EmulatorThread
) -> None:
    (tmp_path / "models.toml").write_text(MODELS.format(emu=emulator.url))
    clock = FakeClock()  # moved past the key cache's TTL instead of sleeping
    with ServiceThread(
        home=tmp_path,
        models_file=tmp_path / "models.toml",
        reverse_proxy=f"{emulator.url}/backend-api/conversation",
        auth_url=f"{emulator.url}/api",
        session_url=f"{emulator.url}/api/auth/session",
        api_key_cache_ttl=TTL,
        clock=clock,
    ) as svc:
        assert seed_ask(svc, None, "open before any key").status_code == 200
        shown = keys_cli("require", home=tmp_path)
        assert shown.returncode == 0 and shown.stdout.startswith("keys are not required yet")
        key = _make_key(tmp_path, "alice")
        assert keys_cli("revoke", "alice", home=tmp_path).returncode == 0
        clock.advance(TTL + 0.1)
        # No active key left: everything that reaches an upstream is still refused.
        emulator.clear()
        assert_all_401(svc, {}, None)
        assert_all_401(svc, bearer("sk-anonymous-upstream-token"), None)
        assert_all_401(svc, bearer(key), None)
        assert emulator.requests == []
        for path in ("/", "/openapi.json", "/healthz", "/readyz", "/metrics"):
            assert httpx.get(svc.url + path).status_code == 200, path
        shown = keys_cli("require", home=tmp_path)
        assert shown.stdout.startswith("keys are required")
        # Only the operator's explicit word opens it again...
        off = keys_cli("require", "off", home=tmp_path)
        assert off.returncode == 0 and off.stdout.startswith("keys are not required:")
        clock.advance(TTL + 0.1)
        reopened = seed_ask(svc, None, "open again")
        assert reopened.status_code == 200, reopened.text
        # ... and creating a key later does not silently undo that choice (it says so).
        created = keys_cli("create", "--name", "bob", home=tmp_path)
        assert "keys are not required" in created.stderr
        clock.advance(TTL + 0.1)
        assert seed_ask(svc, None, "still open").status_code == 200
        assert keys_cli("require", "on", home=tmp_path).returncode == 0
        clock.advance(TTL + 0.1)
        closed = httpx.post(
            f"{svc.url}/v1/chat/completions",
            json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]},
        )
        assert closed.status_code == 401 and closed.json() == OPENAI_401
    record(
        "keys-stay-required-after-the-last-revoke",
        "the only gateway key is revoked; anonymous and pass-through-token callers on every "
        "API route",
        "401 on every route that reaches an upstream until 'chatgpt-api keys require off'",
        "401 on all 10 API routes, open routes still 200, nothing sent upstream; open again "
        "only after 'keys require off'",
        requests=30,
        routes_refused=10,
        forwarded_upstream=0,
    )


def test_keys_require_help_and_bad_values(tmp_path: Path) -> None:
    group = CliRunner().invoke(main, ["keys", "--help"])
    assert group.exit_code == 0
    assert "even after" in group.stdout and "keys require off" in group.stdout
    bad = keys_cli("require", "maybe", home=tmp_path)
    assert bad.returncode == 2 and "'maybe' is not one of 'on', 'off'" in bad.stderr


def test_key_requirement_on_postgresql(pg_database: str) -> None:
    from tests.pg import pg_url

    async def scenario() -> list[bool]:
        store = await open_store(pg_url(pg_database))
        try:
            keys = KeyStore(store, cache_ttl=0)
            seen = [await keys.policy.required()]
            await keys.create("alice")
            await keys.create("bob")  # the second create keeps the stored "on"
            await keys.revoke("alice")
            await keys.revoke("bob")
            seen.append(await keys.policy.required())
            await keys.policy.set(False)
            seen.append(await keys.policy.required())
            await keys.policy.set(True)
            seen.append(await keys.policy.required())
            return seen
        finally:
            await store.close()

    assert asyncio.run(scenario()) == [False, True, False, True]
