"""Shared fixtures: the upstream emulator and the service, both real servers on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from chatgpt_api.testing import EmulatorThread
from tests.pg import fresh_database
from tests.servers import ServiceThread
from tests.services import RUN_PREFIX, delete_keys, require_redis


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorThread]:
    with EmulatorThread() as emu:
        yield emu


@pytest.fixture(scope="session")
def service(emulator: EmulatorThread) -> Iterator[ServiceThread]:
    with ServiceThread(
        reverse_proxy=f"{emulator.url}/backend-api/conversation",
        auth_url=f"{emulator.url}/api",
        session_url=f"{emulator.url}/api/auth/session",
        max_body_size=64 * 1024,
        max_event_size=1024 * 1024,
    ) as svc:
        yield svc


@pytest.fixture()
def client(service: ServiceThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service.url, timeout=30) as http:
        yield http


@pytest.fixture()
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database's name (``tests.pg.pg_url`` makes its URL), dropped afterwards;
    skipped when the server is unreachable, failed in CI."""
    with fresh_database() as name:
        yield name


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """The shared Redis server's URL; skipped when it is unreachable, failed in CI. Keys go
    under ``tests.services.RUN_PREFIX``, deleted at the end of the session."""
    url = require_redis()
    yield url
    delete_keys(url, f"{RUN_PREFIX}:*")


def fixture_url(emulator: EmulatorThread, name: str) -> str:
    return f"{emulator.url}/fixtures/{name}/backend-api/conversation"
