"""Per-caller rate limits through the running service, and across two instances that share
PostgreSQL and Redis (a limit of N per minute lets N requests through in total, not N each)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import httpx

from chatgpt_api.testing import EmulatorOptions, EmulatorThread
from tests.pg import pg_url
from tests.servers import ServiceThread
from tests.services import RUN_PREFIX


def ask(url: str, **fields: str) -> httpx.Response:
    return httpx.post(
        f"{url}/send_message", data={"access_token": "tok", "prompt": "hi", **fields}, timeout=30
    )


def test_requests_per_minute(emulator: EmulatorThread) -> None:
    with ServiceThread(
        reverse_proxy=f"{emulator.url}/backend-api/conversation", rate_limit_rpm=3
    ) as svc:
        statuses = [ask(svc.url).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        refused = ask(svc.url)
        assert int(refused.headers["retry-after"]) >= 1
        assert "rate limit" in refused.json()["message"].lower()
        v1 = httpx.post(
            f"{svc.url}/v1/chat/completions",
            headers={"authorization": "Bearer tok"},
            json={"model": "gpt-3.5-turbo", "messages": [{"role": "user", "content": "x"}]},
        )
        assert v1.status_code == 429
        assert v1.json()["error"]["code"] == "rate_limit_exceeded"


def test_characters_per_minute(emulator: EmulatorThread) -> None:
    with ServiceThread(
        reverse_proxy=f"{emulator.url}/backend-api/conversation", rate_limit_cpm=200
    ) as svc:
        assert ask(svc.url, prompt="a" * 50).status_code == 200  # + the answer's length
        assert ask(svc.url, prompt="b" * 250).status_code == 429  # larger than the limit


def test_concurrent_streams_and_fair_share(tmp_path: Path) -> None:
    with (
        EmulatorThread(EmulatorOptions(chunks=20, chunk_delay_ms=50)) as slow,
        ServiceThread(
            reverse_proxy=f"{slow.url}/backend-api/conversation", rate_limit_streams=1
        ) as svc,
    ):
        results: list[int] = []
        threads = [
            threading.Thread(target=lambda: results.append(ask(svc.url).status_code))
            for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sorted(results) == [200, 429]
        assert ask(svc.url).status_code == 200  # the slot was given back


def _instance(port_file: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "chatgpt_api.cli", "serve", "--port", "0", "--host", "127.0.0.1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )


def test_two_instances_share_one_limit(
    emulator: EmulatorThread, redis_url: str, pg_database: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "CHATGPT_API_DATABASE_URL": pg_url(pg_database),
        "CHATGPT_API_REDIS_URL": redis_url,
        "CHATGPT_API_REDIS_KEY_PREFIX": f"{RUN_PREFIX}:{uuid.uuid4().hex[:10]}",
        "CHATGPT_API_RATE_LIMIT_RPM": "10",
        "CHATGPT_API_REVERSE_PROXY": f"{emulator.url}/backend-api/conversation",
        "CHATGPT_API_HOME": str(tmp_path),
        "CHATGPT_API_ACCESS_LOG": "false",
    }
    processes = [_instance(tmp_path, env) for _ in range(2)]
    try:
        urls = []
        for proc in processes:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            match = re.fullmatch(r"Listening on http://localhost:(\d+)\n", line)
            assert match, line
            urls.append(f"http://127.0.0.1:{match.group(1)}")
        statuses: list[int] = []
        lock = threading.Lock()

        def fire(url: str) -> None:
            for _ in range(8):
                status = ask(url).status_code
                with lock:
                    statuses.append(status)

        threads = [threading.Thread(target=fire, args=(url,)) for url in urls for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert len(statuses) == 32
        assert statuses.count(200) == 10
        assert statuses.count(429) == 22
        # The turns both instances stored are in the one shared database.
        listing = httpx.get(f"{urls[0]}/v1/conversations", timeout=30).json()
        assert listing["total"] == 10
    finally:
        for proc in processes:
            proc.send_signal(signal.SIGINT)
        for proc in processes:
            try:
                proc.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
