"""The one rule for a real service a test needs (PostgreSQL, Redis, Chromium) and is missing:
skipped on a developer machine, a failure under ``CI=true`` (CI never skips them silently).
Also Redis: the shared server (probed once per session) and redis-servers of a test's own.
PostgreSQL is in :mod:`tests.pg`, Chromium in :mod:`tests.browser`."""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import NoReturn

import pytest
import redis

REDIS_URL = os.environ.get("CHATGPT_API_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
#: Every key this run writes to the shared Redis starts with this (deleted at the end).
RUN_PREFIX = f"chatgpt-api-test:{os.getpid()}-{uuid.uuid4().hex[:8]}"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def unavailable(service: str, reason: str, *, allow_module_level: bool = False) -> NoReturn:
    """Skip the test on a developer machine; fail it in CI, where ``service`` must be there."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: the {service} tests must run)", pytrace=False)
    pytest.skip(reason, allow_module_level=allow_module_level)


@functools.cache
def _redis_problem(url: str) -> str | None:
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except (redis.exceptions.RedisError, OSError) as error:
        return f"Redis at {url} is unreachable ({error!r})"
    finally:
        client.close()
    return None


def require_redis() -> str:
    """The shared Redis's URL (``CHATGPT_API_TEST_REDIS_URL``), or skip/fail."""
    problem = _redis_problem(REDIS_URL)
    if problem is not None:
        unavailable("Redis", problem)
    return REDIS_URL


def delete_keys(url: str, pattern: str) -> None:
    """Delete the keys matching ``pattern`` (bounded: at most 10,000 SCAN pages)."""
    client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    try:
        cursor = 0
        for _ in range(10_000):
            cursor, keys = client.scan(cursor=cursor, match=pattern, count=1000)
            if keys:
                client.delete(*keys)
            if cursor == 0:
                return
    finally:
        client.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer:
    """A redis-server of a test's own on a free loopback port, to kill and restart."""

    def __init__(self, password: str | None = None) -> None:
        self.port = free_port()
        self.password = password
        auth = f":{password}@" if password else ""
        self.url = f"redis://{auth}127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no"]
        if self.password:
            command += ["--requirepass", self.password]
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url, socket_timeout=1, socket_connect_timeout=1)
        try:
            for _ in range(500):  # at most ~10 s
                try:
                    client.ping()
                    return
                except (redis.exceptions.ConnectionError, OSError):
                    time.sleep(0.02)
            raise AssertionError("redis-server did not start")
        finally:
            client.close()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def own_redis_server(password: str | None = None) -> Iterator[RedisServer]:
    """Body of a fixture: a started :class:`RedisServer`, killed afterwards."""
    if shutil.which("redis-server") is None:
        unavailable("Redis", "redis-server is not installed (`apt-get install redis-server`)")
    server = RedisServer(password)
    server.start()
    try:
        yield server
    finally:
        server.kill()
