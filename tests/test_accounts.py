"""The upstream account pool: encrypted secrets, the CLI, token refresh, failover, cooldown,
conversation pinning and one message in flight per ChatGPT web account."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from chatgpt_api.accounts.repository import AccountRepository
from chatgpt_api.accounts.secrets import SecretBox, load_secret_box, mask, new_key
from chatgpt_api.errors import ConfigurationError
from chatgpt_api.jwt_claims import jwt_expiry
from chatgpt_api.store import default_database_url, open_store
from chatgpt_api.testing import EmulatorOptions, EmulatorThread, make_fake_jwt
from tests.cli import Done, run_cli
from tests.servers import ServiceThread


def test_jwt_expiry() -> None:
    exp = int(time.time()) + 3600
    assert jwt_expiry(make_fake_jwt(exp)) == datetime.fromtimestamp(exp, UTC)
    for bad in ["", "a.b", "a.b.c", "eyJ.!!!.x", "x." + "e30" + ".y"]:
        assert jwt_expiry(bad) is None


def test_secret_box(tmp_path: Path) -> None:
    box = load_secret_box(None, tmp_path)
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600
    token = box.encrypt("eyJ-secret-token")
    assert "secret" not in token
    assert load_secret_box(None, tmp_path).decrypt(token) == "eyJ-secret-token"
    other = SecretBox(Fernet.generate_key())
    with pytest.raises(ConfigurationError, match="not the key it was stored with"):
        other.decrypt(token)
    for bad in (b"short", b"!" * 44, Fernet.generate_key()[:-4], "é".encode() * 44):
        with pytest.raises(ConfigurationError, match="not a valid key"):
            SecretBox(bad)
    # A key this module generates is one Fernet accepts (checked without importing it).
    fernet = Fernet(new_key())
    assert fernet.decrypt(fernet.encrypt(b"x")) == b"x"
    assert mask("eyJhbGciOiJSUzI1NiJ9.payload.signature-xyz") == "eyJh…xyz"
    assert mask("short") == "…"


def add_account(home: Path, name: str, **secrets: str) -> None:
    async def add() -> None:
        store = await open_store(default_database_url(home))
        box = load_secret_box(None, home)
        access = secrets.get("access_token") or secrets.get("api_key")
        session = secrets.get("session_token")
        try:
            await AccountRepository(store).add(
                name=name,
                backend=secrets.get("backend", "chatgpt-web"),
                kind="api_key"
                if "api_key" in secrets
                else "session_token"
                if session
                else "access_token",
                access_secret=box.encrypt(access) if access else None,
                session_secret=box.encrypt(session) if session else None,
                expires_at=jwt_expiry(access) if access else None,
            )
        finally:
            await store.close()

    asyncio.run(add())


def cli(home: Path, *args: str, stdin: str | None = None) -> Done:
    return run_cli("accounts", *args, "--home", str(home), input=stdin)


def test_cli_add_list_check_remove(tmp_path: Path, emulator: EmulatorThread) -> None:
    token = make_fake_jwt(int(time.time()) + 86400)
    assert (
        cli(tmp_path, "add", "--name", "alice", "--access-token", "-", stdin=token).returncode == 0
    )
    assert cli(tmp_path, "add", "--name", "bob", "--session-token", "sess-bob").returncode == 0
    assert cli(tmp_path, "add", "--name", "carol", "--session-token", "expired").returncode == 0
    duplicate = cli(tmp_path, "add", "--name", "alice", "--access-token", token)
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr
    listing = cli(tmp_path, "list")
    assert listing.returncode == 0
    assert "alice" in listing.stdout and mask(token) in listing.stdout
    assert token not in listing.stdout
    database = (tmp_path / "chatgpt-api.db").read_bytes()
    assert token.encode() not in database and b"sess-bob" not in database
    check = run_cli(
        "accounts",
        "check",
        "--home",
        str(tmp_path),
        "--session-url",
        f"{emulator.url}/api/auth/session",
    )
    assert check.returncode == 1  # carol's session is expired
    rows = {line.split()[0]: line for line in check.stdout.splitlines()[1:]}
    assert "healthy" in rows["alice"] and "healthy" in rows["bob"]
    assert "unhealthy" in rows["carol"] and "RefreshAccessTokenError" in rows["carol"]
    assert "unhealthy" in cli(tmp_path, "list").stdout
    assert cli(tmp_path, "remove", "carol").returncode == 0
    assert cli(tmp_path, "remove", "carol").returncode == 1
    assert "carol" not in cli(tmp_path, "list").stdout


def pooled_service(home: Path, emulator: EmulatorThread, **extra: object) -> ServiceThread:
    return ServiceThread(
        reverse_proxy=f"{emulator.url}/backend-api/conversation",
        session_url=f"{emulator.url}/api/auth/session",
        home=home,
        **extra,
    )


def ask(svc: ServiceThread, **fields: str) -> httpx.Response:
    return httpx.post(f"{svc.url}/send_message", data={"prompt": "hi", **fields}, timeout=30)


def test_seed_request_without_token_uses_the_pool(tmp_path: Path, emulator: EmulatorThread) -> None:
    token = make_fake_jwt(int(time.time()) + 86400)
    add_account(tmp_path, "alice", access_token=token)
    with pooled_service(tmp_path, emulator) as svc:
        emulator.clear()
        first = ask(svc)
        assert first.status_code == 200, first.text
        assert emulator.requests[0].headers["authorization"] == f"Bearer {token}"
        own = ask(svc, access_token="my-own-token")
        assert own.status_code == 200
        assert emulator.requests[-1].headers["authorization"] == "Bearer my-own-token"


def test_follow_ups_stay_on_their_account(tmp_path: Path, emulator: EmulatorThread) -> None:
    tokens = {name: make_fake_jwt(int(time.time()) + 86400) for name in ("a", "b")}
    for name, token in tokens.items():
        add_account(tmp_path, name, access_token=token)
    with pooled_service(tmp_path, emulator) as svc:
        started = [ask(svc).json() for _ in range(4)]
        for answer in started:
            emulator.clear()
            follow = ask(
                svc,
                conversation_id=answer["conversation_id"],
                parent_message_id=answer["parent_message_id"],
            )
            assert follow.status_code == 200, follow.text
            used = emulator.requests[0].headers["authorization"].removeprefix("Bearer ")
            first_token = {
                r.headers["authorization"].removeprefix("Bearer ") for r in emulator.requests
            }
            assert used in tokens.values() and len(first_token) == 1
        assert cli(tmp_path, "remove", "a").returncode == 0
        assert cli(tmp_path, "remove", "b").returncode == 0
        add_account(tmp_path, "c", access_token=make_fake_jwt(int(time.time()) + 86400))
        gone = ask(
            svc,
            conversation_id=started[0]["conversation_id"],
            parent_message_id=started[0]["parent_message_id"],
        )
        assert gone.status_code == 500
        assert gone.json()["message"] == (
            "the upstream account that holds this conversation was removed: "
            "start a new conversation"
        )


def test_expired_token_is_refreshed_through_the_session(
    tmp_path: Path, emulator: EmulatorThread
) -> None:
    add_account(
        tmp_path, "s", access_token=make_fake_jwt(int(time.time()) - 60), session_token="s1"
    )
    add_account(tmp_path, "t", access_token="x.y.expired", session_token="s2")
    with pooled_service(tmp_path, emulator) as svc:
        for _ in range(2):
            emulator.clear()
            response = ask(svc)
            assert response.status_code == 200, response.text
            sent = [r for r in emulator.requests if r.path.endswith("/conversation")]
            assert sent[-1].headers["authorization"].startswith("Bearer eyJ")
    listing = cli(tmp_path, "list").stdout
    assert "unhealthy" not in listing


def test_rate_limited_account_cools_down_and_fails_over(
    tmp_path: Path, emulator: EmulatorThread
) -> None:
    add_account(tmp_path, "busy", access_token="x.y.rate-limited")
    add_account(tmp_path, "fine", access_token=make_fake_jwt(int(time.time()) + 86400))
    with pooled_service(tmp_path, emulator) as svc:
        for _ in range(3):
            assert ask(svc).status_code == 200
    listing = cli(tmp_path, "list").stdout
    busy_row = next(line for line in listing.splitlines() if line.startswith("busy"))
    assert " s " in busy_row or busy_row.rstrip().endswith("(429)")


def test_every_account_cooling_down_is_a_clear_503(
    tmp_path: Path, emulator: EmulatorThread
) -> None:
    add_account(tmp_path, "busy", access_token="x.y.rate-limited")
    with pooled_service(tmp_path, emulator) as svc:
        first = ask(svc)
        assert first.status_code == 503
        assert "cooling down" in first.json()["message"]
        again = httpx.post(
            f"{svc.url}/v1/chat/completions",
            json={"model": "gpt-3.5-turbo", "messages": [{"role": "user", "content": "x"}]},
            timeout=30,
        )
        assert again.status_code == 503
        assert int(again.headers["retry-after"]) > 0
        assert "cooling down" in again.json()["error"]["message"]


def test_one_message_in_flight_per_web_account(tmp_path: Path) -> None:
    add_account(tmp_path, "only", access_token=make_fake_jwt(int(time.time()) + 86400))
    with EmulatorThread(EmulatorOptions(chunks=10, chunk_delay_ms=60)) as slow:
        with pooled_service(tmp_path, slow, pool_max_queue=0, pool_max_wait=5) as svc:
            results: list[httpx.Response] = []
            threads = [threading.Thread(target=lambda: results.append(ask(svc))) for _ in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
            statuses = sorted(r.status_code for r in results)
            assert statuses == [200, 503]
            refused = next(r for r in results if r.status_code == 503)
            assert int(refused.headers["retry-after"]) >= 1
            assert "busy" in refused.json()["message"] or "queue" in refused.json()["message"]
        windows = [(r.received_at, r.ended_at) for r in slow.requests]
        assert len(windows) == 1  # the refused request never reached the upstream


def test_a_client_chosen_upstream_never_gets_pooled_secrets(
    tmp_path: Path, emulator: EmulatorThread
) -> None:
    pooled = make_fake_jwt(int(time.time()) + 86400)
    add_account(tmp_path, "alice", access_token=pooled)
    with pooled_service(tmp_path, emulator) as svc:
        emulator.clear()
        own_upstream = f"{emulator.url}/fixtures/F1/backend-api/conversation"
        refused = ask(svc, reverse_proxy=own_upstream)
        assert refused.status_code == 500  # the seed's contract for a missing access_token
        assert "must bring its own access_token" in refused.json()["message"]
        assert emulator.requests == []
        allowed = ask(svc, reverse_proxy=own_upstream, access_token="mine")
        assert allowed.status_code == 200
        assert emulator.requests[0].headers["authorization"] == "Bearer mine"
        assert all(pooled not in str(r.headers) for r in emulator.requests)
        assert httpx.get(f"{svc.url}/v1/conversations").json()["total"] == 1  # refusal not stored


def test_an_unhealthy_session_account_is_retried_later(
    tmp_path: Path, emulator: EmulatorThread
) -> None:
    add_account(tmp_path, "later", session_token="sess-ok")
    with sqlite3.connect(tmp_path / "chatgpt-api.db") as db:
        db.execute(
            "UPDATE upstream_accounts SET status = 'unhealthy', reason = 'refresh failed', "
            "updated_at = ?",
            ((datetime.now(UTC) - timedelta(minutes=11)).isoformat(),),
        )
    with pooled_service(tmp_path, emulator) as svc:
        assert ask(svc).status_code == 200  # refreshed through the session, healthy again
    assert "unhealthy" not in cli(tmp_path, "list").stdout


def test_a_recently_failed_account_is_not_retried_yet(
    tmp_path: Path, emulator: EmulatorThread
) -> None:
    add_account(tmp_path, "recent", session_token="sess-ok")
    with sqlite3.connect(tmp_path / "chatgpt-api.db") as db:
        db.execute("UPDATE upstream_accounts SET status = 'unhealthy', reason = 'refresh failed'")
    with pooled_service(tmp_path, emulator) as svc:
        response = ask(svc)
        assert response.status_code == 503
        assert "no healthy upstream account" in response.json()["message"]
