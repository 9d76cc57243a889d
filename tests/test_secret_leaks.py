"""No secret reaches a log line or a database row: run traffic with known secrets through every
route (success and failure paths), then search the service's whole output and every row of
every table — and the raw database files — for them."""

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

from chatgpt_api.testing import EmulatorThread, make_fake_jwt

CLI = [sys.executable, "-m", "chatgpt_api.cli"]
ACCESS_TOKEN = "tok-LEAKCHECK-access-0001"
POOL_TOKEN = make_fake_jwt(int(time.time()) + 86400)
SESSION_TOKEN = "sess-LEAKCHECK-0002"
PASSWORD = "pw-LEAKCHECK-0003"
URL_PASSWORD = "urlpw-LEAKCHECK-0004"
OPENAI_KEY = "sk-LEAKCHECK0005openai"


def run_cli(home: Path, *args: str) -> str:
    result = subprocess.run(
        [*CLI, *args, "--home", str(home)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


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
    out_path, err_path = tmp_path / "stdout.log", tmp_path / "stderr.log"
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
    url = f"http://127.0.0.1:{match.group(1)}"
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

    database = tmp_path / "chatgpt-api.db"
    raw = b"".join(path.read_bytes() for path in tmp_path.glob("chatgpt-api.db*") if path.is_file())
    rows = []
    with sqlite3.connect(database) as connection:
        tables = [
            r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        for table in tables:
            rows.extend(str(row) for row in connection.execute(f'SELECT * FROM "{table}"'))
    dump = "\n".join(rows)
    assert "conversations" in tables and "upstream_accounts" in tables and "api_keys" in tables
    assert len(rows) > 10
    for secret in secrets:
        assert secret not in dump, f"a secret is stored in clear: {secret[:8]}…"
        assert secret.encode() not in raw
