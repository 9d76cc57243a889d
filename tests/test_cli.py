"""The ``chatgpt-api`` command: serve (as a real process), settings errors (in-process where a
process is not the point), no secret in logs."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chatgpt_api.testing import EmulatorThread
from tests.cli import run_cli

CLI = [sys.executable, "-m", "chatgpt_api.cli"]
SECRETS = ["tok-SECRET-1234", "pw-SECRET-5678", "sess-SECRET-9012"]


class Process:
    def __init__(self, proc: subprocess.Popen[str], url: str) -> None:
        self.proc, self.url = proc, url

    def stop(self) -> tuple[str, str]:
        self.proc.send_signal(signal.SIGINT)
        out, err = self.proc.communicate(timeout=15)
        return out, err


@pytest.fixture()
def demo_process(tmp_path: Path) -> Iterator[Process]:
    env = {
        **os.environ,
        "CHATGPT_API_PORT": "0",
        "CHATGPT_API_HOST": "127.0.0.1",
        "CHATGPT_API_HOME": str(tmp_path),
    }
    proc = subprocess.Popen(
        [*CLI, "serve", "--demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.fullmatch(r"Listening on http://localhost:(\d+)\n", line)
    assert match, line
    process = Process(proc, f"http://127.0.0.1:{match.group(1)}")
    try:
        yield process
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_serve_demo_answers_and_logs_no_secret(demo_process: Process) -> None:
    url = demo_process.url
    ok = httpx.post(f"{url}/send_message", data={"access_token": SECRETS[0], "prompt": "hi"})
    assert ok.status_code == 200
    httpx.post(f"{url}/send_message?access_token={SECRETS[0]}", data={"prompt": "hi"})
    httpx.post(
        f"{url}/send_message",
        data={
            "access_token": SECRETS[0],
            "prompt": "hi",
            "reverse_proxy": f"http://user:{SECRETS[1]}@127.0.0.1:9/x",
        },
    )
    httpx.post(f"{url}/get_access_token", data={"email": "a@b.c", "password": SECRETS[1]})
    httpx.post(f"{url}/get_access_token", data={"session_token": SECRETS[2]})
    broken = httpx.post(
        f"{url}/send_message", data={"access_token": SECRETS[0], "prompt": "hi", "timeout": "-1"}
    )
    assert SECRETS[0] not in broken.text
    out, err = demo_process.stop()
    access_lines = [line for line in out.splitlines() if '"POST /' in line]
    assert len(access_lines) == 6
    assert re.fullmatch(
        r'127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000\] "POST /send_message '
        r'HTTP/1\.1" 200 \d+ "-" "python-httpx/[\d.]+"',
        access_lines[0],
    )
    for secret in SECRETS:
        assert secret not in out
        assert secret not in err


def test_port_from_the_environment_and_flag_wins(tmp_path: Path) -> None:
    env = {**os.environ, "CHATGPT_API_PORT": "1", "CHATGPT_API_HOME": str(tmp_path)}
    proc = subprocess.Popen(
        [*CLI, "serve", "--port", "0", "--host", "127.0.0.1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("Listening on http://localhost:")
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=15)
    assert proc.returncode == 0


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        (["serve", "--port", "70000"], {}, "invalid settings: port"),
        (["serve"], {"CHATGPT_API_PORT": "abc"}, "invalid settings: port"),
        (["serve", "--max-body-size", "1"], {}, "invalid settings: max_body_size"),
    ],
)
def test_bad_settings_are_one_line(args: list[str], env: dict[str, str], needle: str) -> None:
    result = run_cli(*args, env=env)
    assert result.returncode != 0
    assert needle in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_port_in_use_is_reported(emulator: EmulatorThread, tmp_path: Path) -> None:
    port = emulator.url.rsplit(":", 1)[1]
    start = time.monotonic()
    result = subprocess.run(
        [*CLI, "serve", "--host", "127.0.0.1", "--port", port, "--home", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "Listening on" not in result.stdout
    assert time.monotonic() - start < 30
    # One clear line, before any migration ran or anything else was logged.
    assert result.stderr.strip().splitlines() == [
        f"Error: cannot listen on 127.0.0.1:{port}: the port is already in use (another "
        "chatgpt-api?); stop that process or choose another port with --port"
    ]
    assert not (tmp_path / "chatgpt-api.db").exists()


def test_db_upgrade(tmp_path: Path) -> None:
    result = run_cli("db", "upgrade", "--home", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "chatgpt-api.db").exists()
    again = run_cli("db", "upgrade", "--home", str(tmp_path))
    assert again.returncode == 0
    refused = run_cli(
        "db", "upgrade", "--database-url", "postgresql+asyncpg://u:hunter2@127.0.0.1:1/x"
    )
    assert refused.returncode == 1
    assert "unavailable" in refused.stderr
    assert "hunter2" not in refused.stderr
    assert "Traceback" not in refused.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--models-file", "/nonexistent/models.toml"], "cannot read the models file"),
        (["--database-url", "postgresql+asyncpg://u:hunter2@127.0.0.1:1/x"], "unavailable"),
    ],
)
def test_serve_refuses_bad_configuration_in_one_line(
    tmp_path: Path, args: list[str], needle: str
) -> None:
    result = subprocess.run(
        [*CLI, "serve", "--port", "0", "--home", str(tmp_path), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert needle in result.stderr
    assert "Traceback" not in result.stderr and "hunter2" not in result.stderr
    assert "Listening on" not in result.stdout
