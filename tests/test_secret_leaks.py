"""No secret reaches a log line or a database row: run traffic with known secrets through every
route (success and failure paths), then search the service's whole output and every row of
every table — and the raw database files — for them.

The second test points every backend at an upstream that quotes the credential it received
(and an unrelated JWT) in its errors — in-stream error events, 2xx JSON error bodies and
status error bodies — with the pooled web account, a pooled OpenAI-style key, a model's
configured ``api_key`` and a client's own token: the responses, the stored rows, the exports
and the logs must hold none of them (issue 13, item 3).
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx

from chatgpt_api.redact import MASK
from chatgpt_api.testing import EmulatorThread, make_fake_jwt
from tests import cli
from tests.echo_upstream import OPENAI_MODES, QUOTED_JWT, WEB_MODES, EchoUpstream
from tests.reliability import record

CLI = [sys.executable, "-m", "chatgpt_api.cli"]
ACCESS_TOKEN = "tok-LEAKCHECK-access-0001"
POOL_TOKEN = make_fake_jwt(int(time.time()) + 86400)
SESSION_TOKEN = "sess-LEAKCHECK-0002"
PASSWORD = "pw-LEAKCHECK-0003"
URL_PASSWORD = "urlpw-LEAKCHECK-0004"
OPENAI_KEY = "sk-LEAKCHECK0005openai"
#: Shaped like no generic pattern: only redaction by the exact secret can mask these.
POOL_OPENAI_KEY = "poolkey-LEAKCHECK-0006"
MODEL_API_KEY = "modelkey-LEAKCHECK-0007"


def run_cli(home: Path, *args: str) -> str:
    result = cli.run_cli(*args, "--home", str(home))
    assert result.returncode == 0, result.stderr
    return result.stdout


def start_service(home: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], str, Path, Path]:
    """``chatgpt-api serve`` on a free loopback port: the process, its URL and its log files."""
    out_path, err_path = home / "stdout.log", home / "stderr.log"
    with out_path.open("w") as out_file, err_path.open("w") as err_file:
        # Files, not pipes: debug logging would fill a pipe nobody reads and block the server.
        proc = subprocess.Popen(
            [*CLI, "serve", "--port", "0", "--host", "127.0.0.1"],
            stdout=out_file,
            stderr=err_file,
            text=True,
            env=env,
        )
    match = None
    deadline = time.monotonic() + 30
    while match is None and time.monotonic() < deadline and proc.poll() is None:
        match = re.search(r"Listening on http://localhost:(\d+)\n", out_path.read_text())
        time.sleep(0.05)
    assert match, err_path.read_text()[-2000:]
    return proc, f"http://127.0.0.1:{match.group(1)}", out_path, err_path


def database_dump(home: Path) -> tuple[list[str], str, bytes]:
    """The table names, every row of every table as text, and the raw database files."""
    database = home / "chatgpt-api.db"
    raw = b"".join(path.read_bytes() for path in home.glob("chatgpt-api.db*") if path.is_file())
    rows = []
    with sqlite3.connect(database) as connection:
        tables = [
            r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        for table in tables:
            rows.extend(str(row) for row in connection.execute(f'SELECT * FROM "{table}"'))
    return tables, "\n".join(rows), raw


def test_no_secret_in_logs_or_rows(emulator: EmulatorThread, tmp_path: Path) -> None:
    models = tmp_path / "models.toml"
    models.write_text(
        f'[models.compat]\nbackend = "openai-compatible"\nbase_url = "{emulator.url}/v1"\n'
        f'api_key = "{OPENAI_KEY}"\nupstream_model = "gpt-4o"\n'
    )
    gateway_key = run_cli(tmp_path, "keys", "create", "--name", "team").strip()
    run_cli(tmp_path, "accounts", "add", "--name", "pool", "--access-token", POOL_TOKEN)
    run_cli(tmp_path, "accounts", "add", "--name", "refresh", "--session-token", SESSION_TOKEN)
    secrets = [
        ACCESS_TOKEN,
        POOL_TOKEN,
        SESSION_TOKEN,
        PASSWORD,
        URL_PASSWORD,
        OPENAI_KEY,
        gateway_key,
    ]
    env = {
        **os.environ,
        "CHATGPT_API_HOME": str(tmp_path),
        "CHATGPT_API_LOG_LEVEL": "debug",
        "CHATGPT_API_REVERSE_PROXY": f"{emulator.url}/backend-api/conversation",
        "CHATGPT_API_AUTH_URL": f"{emulator.url}/api",
        "CHATGPT_API_SESSION_URL": f"{emulator.url}/api/auth/session",
        "CHATGPT_API_MODELS_FILE": str(models),
        "CHATGPT_API_UPSTREAM_ALLOWLIST": "127.0.0.1",
    }
    proc, url, out_path, err_path = start_service(tmp_path, env)
    auth = {"authorization": f"Bearer {gateway_key}"}
    with httpx.Client(base_url=url, timeout=30) as client:
        seed = {"api_key": gateway_key, "prompt": "hello"}
        assert client.post("/send_message", data={**seed, "access_token": ACCESS_TOKEN}).is_success
        assert client.post("/send_message", data=seed).is_success  # through the pool
        client.post("/send_message", data={**seed, "access_token": "expired"})
        client.post(
            "/send_message",
            data={
                **seed,
                "access_token": ACCESS_TOKEN,
                "reverse_proxy": f"http://user:{URL_PASSWORD}@127.0.0.1:9/x",
            },
        )
        client.post(f"/send_message?access_token={ACCESS_TOKEN}", data=seed)
        client.post(
            "/send_message",
            data={"prompt": "x", "access_token": ACCESS_TOKEN, "api_key": "cak-wrong"},
        )
        client.post(
            "/get_access_token",
            data={"api_key": gateway_key, "email": "a@b.c", "password": PASSWORD},
        )
        client.post(
            "/get_access_token",
            data={"api_key": gateway_key, "email": "a@b.c", "password": "wrong"},
        )
        client.post(
            "/get_access_token", data={"api_key": gateway_key, "session_token": SESSION_TOKEN}
        )
        for model in ("compat", "gpt-3.5-turbo"):
            body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
            assert client.post("/v1/chat/completions", json=body, headers=auth).is_success
            streamed = client.post(
                "/v1/chat/completions", json={**body, "stream": True}, headers=auth
            )
            assert streamed.is_success
        client.post(
            "/v1/chat/completions",
            json={"model": "compat"},
            headers={"authorization": f"Bearer {ACCESS_TOKEN}"},
        )
        client.get("/v1/conversations", headers=auth)
        client.get("/metrics")
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=20)
    logs = out_path.read_text() + err_path.read_text()
    assert "POST /send_message" in logs  # the access log was written
    for secret in secrets:
        assert secret not in logs, f"a secret leaked into the logs: {secret[:8]}…"

    tables, dump, raw = database_dump(tmp_path)
    assert "conversations" in tables and "upstream_accounts" in tables and "api_keys" in tables
    assert dump.count("\n") > 10
    for secret in secrets:
        assert secret not in dump, f"a secret is stored in clear: {secret[:8]}…"
        assert secret.encode() not in raw


def _echo_models(echo_url: str) -> str:
    lines = []
    for mode in WEB_MODES:  # the pooled web account (POOL_TOKEN, a JWT)
        lines += [
            f'[models."{mode}"]',
            'backend = "chatgpt-web"',
            f'base_url = "{echo_url}/{mode}/backend-api/conversation"',
        ]
    for mode in OPENAI_MODES:
        lines += [  # a model's configured api_key
            f'[models."cfg-{mode}"]',
            'backend = "openai-compatible"',
            f'base_url = "{echo_url}/{mode}/v1"',
            f'api_key = "{MODEL_API_KEY}"',
        ]
        lines += [  # no key configured: the pooled OpenAI-style key
            f'[models."pool-{mode}"]',
            'backend = "openai-compatible"',
            f'base_url = "{echo_url}/{mode}/v1"',
        ]
    return "\n".join(lines) + "\n"


def test_no_secret_quoted_by_an_upstream_error_reaches_anyone(tmp_path: Path) -> None:
    gateway_key = run_cli(tmp_path, "keys", "create", "--name", "team").strip()
    run_cli(tmp_path, "accounts", "add", "--name", "web", "--access-token", POOL_TOKEN)
    run_cli(
        tmp_path,
        "accounts",
        "add",
        "--name",
        "openai",
        "--backend",
        "openai-compatible",
        "--api-key",
        POOL_OPENAI_KEY,
    )
    secrets = [ACCESS_TOKEN, POOL_TOKEN, POOL_OPENAI_KEY, MODEL_API_KEY, QUOTED_JWT, gateway_key]
    with EchoUpstream() as echo:
        models = tmp_path / "models.toml"
        models.write_text(_echo_models(echo.url))
        env = {
            **os.environ,
            "CHATGPT_API_HOME": str(tmp_path),
            "CHATGPT_API_LOG_LEVEL": "debug",
            "CHATGPT_API_MODELS_FILE": str(models),
            "CHATGPT_API_UPSTREAM_ALLOWLIST": "127.0.0.1",
        }
        proc, url, out_path, err_path = start_service(tmp_path, env)
        auth = {"authorization": f"Bearer {gateway_key}"}
        responses: list[str] = []
        try:
            with httpx.Client(base_url=url, timeout=30) as client:
                # Status errors last: a pooled account that gets a 401 is set aside.
                for web, openai in zip(WEB_MODES, OPENAI_MODES, strict=True):
                    seed = {"api_key": gateway_key, "prompt": f"leak {web}"}
                    for stream in ("false", "true"):
                        own = f"{echo.url}/{web}/backend-api/conversation"
                        for fields in (
                            {**seed, "access_token": ACCESS_TOKEN, "reverse_proxy": own},
                            {**seed, "model": f"cfg-{openai}"},
                            {**seed, "model": web},  # the pooled web account
                        ):
                            reply = client.post("/send_message", data={**fields, "stream": stream})
                            responses.append(reply.text)
                    for model in (f"cfg-{openai}", f"pool-{openai}", web):
                        body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
                        for stream in (False, True):
                            reply = client.post(
                                "/v1/chat/completions",
                                json={**body, "stream": stream},
                                headers=auth,
                            )
                            responses.append(reply.text)
                page = client.get("/v1/conversations", params={"limit": 100}, headers=auth).json()
                exports = [
                    client.get(f"/v1/conversations/{c['id']}/export", headers=auth).text
                    for c in page["data"]
                ]
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=20)
    logs = out_path.read_text() + err_path.read_text()
    tables, dump, raw = database_dump(tmp_path)
    quoted = [r for r in responses if "was refused" in r]
    # Every path was exercised: the quotes came back, masked.
    assert len(quoted) >= 24, [r for r in responses if r not in quoted]
    assert all(f"the credential {MASK} was refused" in r for r in quoted), quoted
    assert len(exports) >= 12 and sum("was refused" in e for e in exports) >= 12
    assert "was refused" in dump and "was refused" in logs
    places = {
        "responses": "\n".join(responses),
        "exports": "\n".join(exports),
        "rows": dump,
        "logs": logs,
    }
    hits = {
        where: [s[:8] for s in secrets if s in text or s.encode() in text.encode()]
        for where, text in places.items()
    }
    hits["database files"] = [s[:8] for s in secrets if s.encode() in raw]
    found = sum(len(h) for h in hits.values())
    record(
        "secret-leaks-upstream-error-quotes",
        "upstreams quoting the credential (and a JWT) in in-stream error events, 2xx JSON error "
        "bodies and status error bodies: pooled web account, pooled OpenAI-style key, a model's "
        "api_key, a client's own token; seed and /v1, streamed and whole",
        "0 hits in responses, rows, exports, logs and database files",
        f"{found} hits in {len(responses)} responses, {len(exports)} exports, "
        f"{dump.count(chr(10)) + 1} rows, {len(logs)} bytes of logs",
        requests=len(responses),
        quoted_errors=len(quoted),
        exports=len(exports),
        secrets_searched=len(secrets),
        hits=found,
        leaks=found,
    )
    assert found == 0, hits
    assert "messages" in tables
