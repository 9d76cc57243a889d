"""Gateway API keys end to end: the CLI (in-process; once as a process), the 401s of every route,
ownership of conversations, keys never reaching an upstream, revocation within the cache TTL
(on the service's fake clock, no sleeping), PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chatgpt_api.keys.format import hash_key
from chatgpt_api.keys.keystore import KeyStore
from chatgpt_api.store import open_store
from chatgpt_api.testing import EmulatorThread
from tests.cli import Done, run_cli
from tests.clock import FakeClock
from tests.pg import pg_url
from tests.servers import ServiceThread

CLI = [sys.executable, "-m", "chatgpt_api.cli"]
KEY = re.compile(r"cak-[A-Za-z0-9_-]{43}")
UNKNOWN_ID = "11111111-2222-4333-8444-555555555555"
SEED_401 = {"message": "invalid or missing API key"}
OPENAI_401 = {
    "error": {
        "message": "invalid or missing API key",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_api_key",
    }
}
MODELS = """
[models."gpt-4o-mini"]
backend = "openai"
base_url = "{emu}/v1"
api_key = "sk-configured"

[models."compat"]
backend = "openai-compatible"
base_url = "{emu}/v1"
upstream_model = "gpt-4o"
"""
TTL = 0.3


def keys_cli(
    *args: str, home: Path | None = None, url: str | None = None, process: bool = False
) -> Done:
    """Run ``chatgpt-api keys ARGS`` on ``home`` or ``url``, without the ``CHATGPT_API_*``
    environment: in-process (click's runner), or as a process of its own if ``process``."""
    where = ["--database-url", url] if url else ["--home", str(home)]
    if process:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHATGPT_API_")}
        done = subprocess.run(
            [*CLI, "keys", *args, *where], capture_output=True, text=True, timeout=60, env=env
        )
        return Done(done.returncode, done.stdout, done.stderr)
    unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith("CHATGPT_API_")}
    return run_cli("keys", *args, *where, env=unset)


def cli_create(name: str, **where: Any) -> str:
    done = keys_cli("create", "--name", name, **where)
    assert done.returncode == 0, done.stderr
    return str(done.stdout.strip())


def make_key(url: str, name: str) -> str:
    """Create a key in-process (faster than the CLI) on the service's database."""

    async def create() -> str:
        store = await open_store(url)
        try:
            _, key = await KeyStore(store).create(name)
            return key
        finally:
            await store.close()

    return asyncio.run(create())


def sqlite_url(home: Path) -> str:
    return f"sqlite+aiosqlite:///{home / 'chatgpt-api.db'}"


@pytest.fixture()
def home(tmp_path: Path, emulator: EmulatorThread) -> Path:
    (tmp_path / "models.toml").write_text(MODELS.format(emu=emulator.url))
    return tmp_path


@pytest.fixture()
def clock() -> FakeClock:
    """The service's clock: a test moves it past the key cache's TTL instead of sleeping."""
    return FakeClock()


def start(home: Path, emulator: EmulatorThread, **extra: Any) -> ServiceThread:
    extra.setdefault("home", home)
    return ServiceThread(
        reverse_proxy=f"{emulator.url}/backend-api/conversation",
        auth_url=f"{emulator.url}/api",
        session_url=f"{emulator.url}/api/auth/session",
        models_file=home / "models.toml",
        api_key_cache_ttl=TTL,
        **extra,
    )


@pytest.fixture()
def svc(home: Path, emulator: EmulatorThread, clock: FakeClock) -> Iterator[ServiceThread]:
    with start(home, emulator, clock=clock) as service:
        yield service


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def seed_ask(svc: ServiceThread, key: str | None, prompt: str, **fields: str) -> httpx.Response:
    data = {"access_token": "tok-upstream", "prompt": prompt, **fields}
    if key:
        data["api_key"] = key
    return httpx.post(f"{svc.url}/send_message", data=data, timeout=30)


def v1_ask(svc: ServiceThread, key: str, prompt: str, **extra: Any) -> httpx.Response:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}], **extra}
    return httpx.post(f"{svc.url}/v1/chat/completions", json=body, headers=bearer(key), timeout=30)


def every_route(svc: ServiceThread, headers: dict[str, str], api_key: str | None) -> list[Any]:
    """(surface, response) for every protected route."""
    seed_fields = {"api_key": api_key} if api_key else {}
    url, cid = svc.url, UNKNOWN_ID
    calls: list[tuple[str, str, str, dict[str, Any]]] = [
        ("seed", "POST", "/send_message", {"data": {"access_token": "t", "prompt": "hi"}}),
        ("seed", "POST", "/get_access_token", {"data": {"session_token": "s"}}),
        ("v1", "POST", "/v1/chat/completions", {"json": {"messages": [], "model": "compat"}}),
        ("v1", "GET", "/v1/models", {}),
        ("v1", "GET", "/v1/models/compat", {}),
        ("v1", "GET", "/v1/conversations", {}),
        ("v1", "GET", f"/v1/conversations/{cid}", {}),
        ("v1", "PATCH", f"/v1/conversations/{cid}", {"json": {"title": "x"}}),
        ("v1", "DELETE", f"/v1/conversations/{cid}", {}),
        ("v1", "GET", f"/v1/conversations/{cid}/export", {}),
    ]
    results = []
    for surface, method, path, kwargs in calls:
        if surface == "seed" and seed_fields:
            kwargs = {"data": {**kwargs["data"], **seed_fields}}
        response = httpx.request(method, url + path, headers=headers, timeout=30, **kwargs)
        results.append((surface, f"{method} {path}", response))
    return results


def assert_all_401(svc: ServiceThread, headers: dict[str, str], api_key: str | None) -> None:
    for surface, route, response in every_route(svc, headers, api_key):
        assert response.status_code == 401, (route, response.text)
        assert response.json() == (SEED_401 if surface == "seed" else OPENAI_401), route


# --- the CLI -----------------------------------------------------------------------------------


def test_cli_create_list_revoke_and_only_the_hash_is_stored(tmp_path: Path) -> None:
    # The real entry point, as a process of its own (the other tests run the CLI in-process).
    created = keys_cli("create", "--name", "alice", home=tmp_path, process=True)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert KEY.fullmatch(key), created.stdout  # the key alone on stdout, once
    assert "shown only once" in created.stderr and key not in created.stderr
    bob = cli_create("bob", home=tmp_path)

    listed = keys_cli("list", home=tmp_path)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split()[:3] == ["NAME", "ID", "PREFIX"]
    assert [line.split()[0] for line in lines[1:]] == ["alice", "bob"]
    assert key[:12] + "…" in listed.stdout
    assert key not in listed.stdout + listed.stderr and bob not in listed.stdout

    duplicate = keys_cli("create", "--name", "alice", home=tmp_path, process=True)
    assert duplicate.returncode == 1
    assert duplicate.stderr.strip() == (
        "Error: a key named 'alice' already exists (revoked keys keep their names)"
    )
    bad_name = keys_cli("create", "--name", "two words", home=tmp_path)
    assert bad_name.returncode == 1 and len(bad_name.stderr.strip().splitlines()) == 1

    assert keys_cli("revoke", "alice", home=tmp_path).stdout.strip() == "revoked key 'alice'"
    again = keys_cli("revoke", "alice", home=tmp_path)
    assert again.returncode == 1
    assert again.stderr.strip() == "Error: no active API key named or with id 'alice'"
    revoked_line = keys_cli("list", home=tmp_path).stdout.splitlines()[1]
    assert revoked_line.startswith("alice") and not revoked_line.endswith("-")

    # The database holds the hash, never the key (the file and its WAL, as raw bytes).
    data = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("chatgpt"))
    assert key.encode() not in data and bob.encode() not in data
    assert hash_key(key).encode() in data

    broken = keys_cli("list", url="mysql://nope", process=True)
    assert broken.returncode == 1 and len(broken.stderr.strip().splitlines()) == 1
    assert "Traceback" not in broken.stderr


def test_serve_refuses_required_keys_without_a_store(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATGPT_API_")}
    done = subprocess.run(
        [*CLI, "serve", "--no-store", "--require-api-key", "--home", str(tmp_path), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "Error: require_api_key needs the store (API keys are kept in its database): turn the "
        "store on or stop requiring keys"
    ]


# --- 401s ------------------------------------------------------------------------------------


def test_keys_become_required_once_one_exists(
    svc: ServiceThread, home: Path, clock: FakeClock
) -> None:
    # No key yet: open, as before.
    assert seed_ask(svc, None, "open").status_code == 200
    assert httpx.get(f"{svc.url}/v1/models").status_code == 200
    key = cli_create("alice", home=home)  # made outside the service: seen within the TTL
    clock.advance(TTL + 0.1)
    assert_all_401(svc, {}, None)  # no key
    assert_all_401(svc, bearer("cak-" + "A" * 43), None)  # a wrong key
    assert_all_401(svc, bearer("sk-an-upstream-token"), None)  # not a gateway key
    assert_all_401(svc, {}, "cak-" + "B" * 43)  # a wrong api_key field
    for path in ("/", "/openapi.json"):
        assert httpx.get(svc.url + path).status_code == 200
    # The key works, as Bearer on every route and as the api_key field on the seed routes.
    for _surface, route, response in every_route(svc, bearer(key), None):
        assert response.status_code != 401, (route, response.text)
    for surface, route, response in every_route(svc, {}, key):
        if surface == "seed":
            assert response.status_code != 401, (route, response.text)
    # A revoked key is refused like a wrong one.
    make_key(sqlite_url(home), "bob")
    assert keys_cli("revoke", "alice", home=home).returncode == 0
    clock.advance(TTL + 0.1)
    assert_all_401(svc, bearer(key), None)
    assert_all_401(svc, {}, key)
    # No active key left: still closed (require_api_key unset), until the operator says so.
    assert keys_cli("revoke", "bob", home=home).returncode == 0
    clock.advance(TTL + 0.1)
    assert_all_401(svc, {}, None)
    assert keys_cli("require", "off", home=home).returncode == 0
    clock.advance(TTL + 0.1)
    assert seed_ask(svc, None, "open again").status_code == 200


def test_required_always_and_never(home: Path, emulator: EmulatorThread) -> None:
    with start(home, emulator, require_api_key=True) as svc:
        assert_all_401(svc, {}, None)  # no keys at all: everything but / is refused
        assert_all_401(svc, bearer("sk-upstream"), None)
        assert httpx.get(f"{svc.url}/").status_code == 200
    key = make_key(sqlite_url(home), "alice")
    with start(home, emulator, require_api_key=False) as svc:
        anonymous = v1_ask(svc, "sk-pass-through", "anonymous", model="compat")
        assert anonymous.status_code == 200, anonymous.text
        assert v1_ask(svc, key, "mine").status_code == 200  # still recognised
        mine = httpx.get(f"{svc.url}/v1/conversations", headers=bearer(key)).json()
        assert [c["title"] for c in mine["data"]] == ["mine"]
        theirs = httpx.get(f"{svc.url}/v1/conversations").json()
        assert [c["title"] for c in theirs["data"]] == ["anonymous"]
        # A key-shaped value that does not verify is refused even here, never passed upstream.
        wrong = v1_ask(svc, "cak-" + "C" * 43, "x", model="compat")
        assert wrong.status_code == 401 and wrong.json() == OPENAI_401


# --- the upstream never sees a gateway key -----------------------------------------------------


def test_gateway_key_never_reaches_the_upstream(
    svc: ServiceThread, home: Path, emulator: EmulatorThread, clock: FakeClock
) -> None:
    key = make_key(sqlite_url(home), "alice")
    clock.advance(TTL + 0.1)
    emulator.clear()
    form = {"access_token": "tok-upstream", "prompt": "form", "api_key": key}
    answers = [
        httpx.post(f"{svc.url}/send_message", data=form),
        httpx.post(f"{svc.url}/send_message", json={**form, "prompt": "json"}),
        httpx.post(
            f"{svc.url}/send_message",
            files={name: (None, value) for name, value in {**form, "prompt": "multi"}.items()},
        ),
        httpx.post(
            f"{svc.url}/send_message",
            data={"access_token": "tok-upstream", "prompt": "bearer"},
            headers=bearer(key),
        ),
        httpx.post(
            f"{svc.url}/send_message",
            data={"access_token": "tok-upstream", "prompt": "stream", "stream": "true"},
            headers=bearer(key),
        ),
        v1_ask(svc, key, "v1"),
        v1_ask(svc, key, "v1 stream", stream=True),
        httpx.post(f"{svc.url}/get_access_token", data={"session_token": "s", "api_key": key}),
    ]
    for answer in answers:
        assert answer.status_code == 200, answer.text
    requests = emulator.requests
    assert len(requests) == len(answers)
    auth = sorted({r.headers.get("authorization", "") for r in requests})
    assert auth == ["", "Bearer sk-configured", "Bearer tok-upstream"]
    for recorded in requests:
        seen = json.dumps(recorded.headers) + recorded.text + recorded.query_string
        assert key not in seen and key[4:] not in seen
    # With keys required, a gateway key on a route without a configured upstream credential is
    # still not forwarded: the service says it has no credential, nothing is sent.
    emulator.clear()
    refused = v1_ask(svc, key, "x", model="compat")
    assert refused.status_code >= 400 and key not in refused.text
    assert emulator.requests == []


# --- ownership -------------------------------------------------------------------------------


def test_conversations_are_isolated_per_key(
    svc: ServiceThread, home: Path, emulator: EmulatorThread, clock: FakeClock
) -> None:
    url = sqlite_url(home)
    alice, bob = make_key(url, "alice"), make_key(url, "bob")
    clock.advance(TTL + 0.1)
    stateless = v1_ask(svc, alice, "alice stateless").json()
    web = seed_ask(svc, alice, "alice web").json()
    bob_own = v1_ask(svc, bob, "bob's").json()
    conversations = [stateless["conversation_id"], web["conversation_id"]]

    def titles(key: str) -> list[str]:
        page = httpx.get(f"{svc.url}/v1/conversations", headers=bearer(key)).json()
        assert page["total"] == len(page["data"])
        return [c["title"] for c in page["data"]]

    assert titles(alice) == ["alice web", "alice stateless"]
    assert titles(bob) == ["bob's"]

    def as_bob(method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, svc.url + path, headers=bearer(bob), timeout=30, **kwargs)

    for cid in conversations:
        for method, suffix, kwargs in (
            ("GET", "", {}),
            ("GET", "/export", {}),
            ("PATCH", "", {"json": {"title": "stolen"}}),
            ("DELETE", "", {}),
        ):
            foreign = as_bob(method, f"/v1/conversations/{cid}{suffix}", **kwargs)
            missing = as_bob(method, f"/v1/conversations/{UNKNOWN_ID}{suffix}", **kwargs)
            assert foreign.status_code == missing.status_code == 404, (method, suffix)
            assert foreign.json() == missing.json()  # reveals nothing
            assert cid not in foreign.text
    # Follow-ups on another key's conversation: the 404 of a missing one, nothing sent upstream.
    emulator.clear()
    follow = {"conversation_id": stateless["conversation_id"]}
    foreign_v1 = v1_ask(svc, bob, "continue", **follow)
    missing_v1 = v1_ask(svc, bob, "continue", conversation_id=UNKNOWN_ID)
    assert foreign_v1.status_code == missing_v1.status_code == 404
    assert foreign_v1.json() == missing_v1.json()
    web_ids = {
        "conversation_id": web["conversation_id"],
        "parent_message_id": web["parent_message_id"],
    }
    foreign_seed = seed_ask(svc, bob, "continue", **web_ids)
    assert foreign_seed.status_code == 500
    assert foreign_seed.json() == {"message": "conversation not found"}
    stateless_ids = {"conversation_id": stateless["conversation_id"], "model": "gpt-4o-mini"}
    stateless_ids["parent_message_id"] = stateless["message_id"]
    foreign_seed = seed_ask(svc, bob, "continue", **stateless_ids)
    assert foreign_seed.json() == {"message": "conversation not found"}
    assert emulator.requests == []
    # Alice still has hers, untouched; and she can continue both.
    tree = httpx.get(
        f"{svc.url}/v1/conversations/{stateless['conversation_id']}", headers=bearer(alice)
    ).json()
    assert tree["title"] == "alice stateless" and len(tree["messages"]) == 2
    assert v1_ask(svc, alice, "more", **follow).status_code == 200
    assert seed_ask(svc, alice, "more", **web_ids).status_code == 200
    assert titles(bob) == ["bob's"] and bob_own["conversation_id"] not in conversations


# --- revocation and PostgreSQL ----------------------------------------------------------------


def test_revoke_takes_effect_within_the_cache_ttl(
    svc: ServiceThread, home: Path, clock: FakeClock
) -> None:
    key = cli_create("alice", home=home)
    clock.advance(TTL + 0.1)
    assert v1_ask(svc, key, "before").status_code == 200
    # Revoked outside the service (not through its KeyStore): refused once the TTL has passed.
    assert keys_cli("revoke", "alice", home=home).returncode == 0
    clock.advance(TTL)
    assert httpx.get(f"{svc.url}/v1/models", headers=bearer(key)).status_code == 401
    assert seed_ask(svc, key, "after").status_code == 401


def test_keys_on_postgresql(
    home: Path, emulator: EmulatorThread, pg_database: str, clock: FakeClock
) -> None:
    pg_fresh = pg_url(pg_database)
    key = cli_create("alice", url=pg_fresh)
    bob = cli_create("bob", url=pg_fresh)
    listed = keys_cli("list", url=pg_fresh)
    assert "alice" in listed.stdout and key not in listed.stdout
    with start(home, emulator, database_url=pg_fresh, clock=clock) as svc:
        assert_all_401(svc, {}, None)
        first = v1_ask(svc, key, "on postgres")
        assert first.status_code == 200, first.text
        cid = first.json()["conversation_id"]
        assert seed_ask(svc, key, "seed on postgres").status_code == 200
        mine = httpx.get(f"{svc.url}/v1/conversations", headers=bearer(key)).json()
        assert {c["title"] for c in mine["data"]} == {"on postgres", "seed on postgres"}
        other = httpx.get(f"{svc.url}/v1/conversations/{cid}", headers=bearer(bob))
        assert other.status_code == 404
        assert keys_cli("revoke", "alice", url=pg_fresh).returncode == 0
        clock.advance(TTL + 0.1)
        assert v1_ask(svc, key, "revoked").status_code == 401
        assert v1_ask(svc, bob, "still fine").status_code == 200
    stored = asyncio.run(_pg_dump(pg_fresh))
    assert key not in stored and bob not in stored and hash_key(key) in stored


async def _pg_dump(url: str) -> str:
    from sqlalchemy import select

    from chatgpt_api.store.schema import api_keys, conversations, messages

    store = await open_store(url)
    try:
        async with store.engine.connect() as connection:
            rows = [
                row
                for table in (api_keys, conversations, messages)
                for row in (await connection.execute(select(table))).all()
            ]
    finally:
        await store.close()
    return " ".join(str(value) for row in rows for value in row)
