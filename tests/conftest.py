"""Shared fixtures: the upstream emulator and the service, both real servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import asyncpg
import httpx
import pytest

from chatgpt_api.testing import EmulatorThread
from tests.pg import allow_connections, create_pg_database, drop_pg_database
from tests.servers import ServiceThread


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
    """A fresh PostgreSQL database, dropped afterwards (mandatory in CI, skipped elsewhere)."""
    try:
        name = asyncio.run(create_pg_database())
    except (OSError, asyncpg.PostgresError) as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is unreachable in CI: {error!r}")
        pytest.skip(f"PostgreSQL is unreachable: {error!r}")
    try:
        yield name
    finally:
        asyncio.run(allow_connections(name, True))
        asyncio.run(drop_pg_database(name))


def fixture_url(emulator: EmulatorThread, name: str) -> str:
    return f"{emulator.url}/fixtures/{name}/backend-api/conversation"
