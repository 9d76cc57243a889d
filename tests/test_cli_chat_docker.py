"""The Dockerfile and docker-compose.yml, checked without a Docker daemon.

What the image needs exists and is not excluded by .dockerignore; the health check hits a route
the app serves; the compose file parses (PyYAML, and ``docker compose config`` when a Compose
client is installed) and describes two instances sharing PostgreSQL, Redis and a secret key.
Building the image is left to machines with a daemon (``docker compose build``).
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import Route

from chatgpt_api.app import create_app
from chatgpt_api.config import Settings

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text()
COMPOSE = ROOT / "docker-compose.yml"
API_SERVICES = ("chatgpt-api-1", "chatgpt-api-2")


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", DOCKERFILE)
    lines = [line.strip() for line in joined.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]


def _ignored(path: str) -> bool:
    patterns = [
        p.strip()
        for p in (ROOT / ".dockerignore").read_text().splitlines()
        if p.strip() and not p.startswith("#")
    ]
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(
        fnmatch.fnmatch(prefix, pattern.removeprefix("**/")) or fnmatch.fnmatch(prefix, pattern)
        for pattern in patterns
        for prefix in prefixes
    )


def test_dockerfile_copies_files_that_exist_and_are_sent() -> None:
    copied = [
        args.split()[:-1]
        for name, args in _instructions()
        if name == "COPY" and not args.startswith("--from")
    ]
    sources = [s for group in copied for s in group]
    assert {"pyproject.toml", "constraints.txt", "README.md", "src"} <= set(sources)
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not _ignored(source), f"{source} is excluded by .dockerignore"
    assert (ROOT / "src/chatgpt_api/cli/main.py").exists()
    assert not _ignored("src/chatgpt_api/cli/main.py")
    assert _ignored("tests/test_cli_chat.py") and _ignored(".venv/bin/python")


def test_dockerfile_shape() -> None:
    instructions = _instructions()
    froms = [args for name, args in instructions if name == "FROM"]
    assert froms and all(f.startswith("python:3.11-slim") for f in froms)
    users = [args for name, args in instructions if name == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert ("EXPOSE", "3000") in instructions
    assert ("CMD", '["chatgpt-api", "serve"]') in instructions
    assert any(name == "VOLUME" and "/data" in args for name, args in instructions)
    assert any(name == "ENV" and "CHATGPT_API_HOME=/data" in args for name, args in instructions)
    healthcheck = [args for name, args in instructions if name == "HEALTHCHECK"]
    assert len(healthcheck) == 1 and "/healthz" in healthcheck[0]
    assert "-c constraints.txt" in DOCKERFILE or "PIP_CONSTRAINT=" in DOCKERFILE


def test_the_health_check_route_exists(tmp_path: Path) -> None:
    app = create_app(Settings(home=tmp_path))
    paths = {route.path for route in app.routes if isinstance(route, Route)}
    assert "/healthz" in paths


def _compose() -> dict[str, Any]:
    yaml = pytest.importorskip("yaml")
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return document


def test_compose_text() -> None:
    text = COMPOSE.read_text()
    for needle in (
        *API_SERVICES,
        "postgres:",
        "redis:",
        "CHATGPT_API_DATABASE_URL: postgresql+asyncpg://",
        "CHATGPT_API_REDIS_URL: redis://redis:6379/0",
        "CHATGPT_API_SECRET_KEY:",
        "pg_isready",
        "redis-cli",
        "/healthz",
    ):
        assert needle in text, needle


def test_compose_structure() -> None:
    services = _compose()["services"]
    assert set(services) == {*API_SERVICES, "postgres", "redis"}
    environments = [services[name]["environment"] for name in API_SERVICES]
    for key in ("CHATGPT_API_DATABASE_URL", "CHATGPT_API_REDIS_URL", "CHATGPT_API_SECRET_KEY"):
        assert environments[0][key] == environments[1][key], key
    assert environments[0]["CHATGPT_API_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert environments[0]["CHATGPT_API_DATABASE_URL"].split("@")[1].startswith("postgres:")
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), name
    for name in API_SERVICES:
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
    ports = {services[name]["ports"][0] for name in API_SERVICES}
    assert len(ports) == 2


def _compose_client() -> list[str] | None:
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run(
            [docker, "compose", "version"], capture_output=True, timeout=30, check=False
        )
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_compose_config_validates() -> None:
    client = _compose_client()
    if client is None:
        pytest.skip("no Docker Compose client installed")
    env = {**os.environ, "CHATGPT_API_SECRET_KEY": "test-key"}
    result = subprocess.run(
        [*client, "-f", str(COMPOSE), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    missing = subprocess.run(
        [*client, "-f", str(COMPOSE), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in env.items() if k != "CHATGPT_API_SECRET_KEY"},
        cwd=ROOT,
        check=False,
    )
    assert missing.returncode != 0
    assert "CHATGPT_API_SECRET_KEY" in missing.stderr
