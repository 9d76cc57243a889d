"""What ``chatgpt-api serve`` says when it starts: one short summary on stderr, then the seed's
``Listening on`` line on stdout; loopback by default; Alembic quiet unless the schema changes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from chatgpt_api.config import Settings
from chatgpt_api.registry import ModelRegistry
from chatgpt_api.startup import StoreFacts, is_loopback, shown_url, summary_lines

CLI = [sys.executable, "-m", "chatgpt_api.cli"]


def _start(args: list[str], home: Path) -> tuple[str, str, int]:
    """Run ``serve`` until it listens, GET /healthz there, stop it: (stdout, stderr, port)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATGPT_API_")}
    proc = subprocess.Popen(
        [*CLI, "serve", "--port", "0", "--home", str(home), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    try:
        line = proc.stdout.readline()
        match = re.search(r"Listening on http://localhost:(\d+)", line)
        assert match, line
        port = int(match.group(1))
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    return line + out, err, port


def test_first_start_summary_without_upstream(tmp_path: Path) -> None:
    out, err, _ = _start([], tmp_path)
    assert out.startswith("Listening on http://localhost:")
    lines = err.splitlines()
    text = "\n".join(lines[lines.index("chatgpt-api 0.1.0") :])
    assert f"  data:      {tmp_path} (SQLite: {tmp_path / 'chatgpt-api.db'})" in text
    assert "  upstream:  none: use --demo to try it offline, or --reverse-proxy URL" in text
    assert "  API keys:  not required until the first one is created" in text
    assert "  address:   127.0.0.1:a free port, this machine only (--host 0.0.0.0" in text
    # Alembic's own lines are gone; one line says the schema was created.
    assert "alembic" not in err
    assert len(re.findall(r"database schema upgraded: empty -> \d+", err)) == 1
    # uvicorn's start-up chatter is said better by the summary.
    assert "Uvicorn running on" not in err and "Application startup complete" not in err


def test_second_start_is_quiet_about_migrations(tmp_path: Path) -> None:
    _start([], tmp_path)
    _, err, _ = _start([], tmp_path)
    assert "database schema" not in err
    assert "alembic" not in err


def test_summary_names_upstreams_models_and_keys_without_secrets(tmp_path: Path) -> None:
    models = tmp_path / "models.toml"
    models.write_text(
        'default_backend = "none"\n'
        '[models."llama3"]\nbackend = "openai-compatible"\n'
        'base_url = "http://127.0.0.1:11434/v1?key=sk-query-secret"\napi_key = "sk-file-secret"\n',
        encoding="utf-8",
    )
    proxy = "https://user:pw-secret@proxy.example/backend-api/conversation?t=tok-secret"
    args = ["--reverse-proxy", proxy, "--models-file", str(models), "--require-api-key"]
    _, err, _ = _start(args, tmp_path)
    assert "  upstream:  chatgpt-web at https://proxy.example/backend-api/conversation\n" in err
    assert "             model llama3 -> openai-compatible at http://127.0.0.1:11434/v1\n" in err
    assert "  models:    default gpt-3.5-turbo; other names are refused" in err
    assert "  API keys:  required on the API routes (--require-api-key)" in err
    assert "secret" not in err


def test_json_logs_make_the_summary_json_lines(tmp_path: Path) -> None:
    out, err, _ = _start(["--log-format", "json"], tmp_path)
    assert out.startswith('{"ts":')
    summary = [line for line in err.splitlines() if '"message":"chatgpt-api 0.1.0"' in line]
    assert len(summary) == 1 and summary[0].startswith('{"ts":')
    assert '"message":"address:   127.0.0.1:a free port' in err


def test_widening_the_host_is_said_with_its_risk() -> None:
    wide = Settings(host="0.0.0.0", port=3000, store=True)
    lines = summary_lines(wide, ModelRegistry([]), StoreFacts(active_keys=0))
    assert lines[-1] == (
        "  address:   0.0.0.0:3000, reachable from other machines: anyone who can reach it can "
        "use it without a key"
    )
    keyed = summary_lines(wide, ModelRegistry([]), StoreFacts(active_keys=2))
    assert keyed[-1] == "  address:   0.0.0.0:3000, reachable from other machines"
    assert "  API keys:  required on the API routes (2 active)" in keyed


def test_loopback_is_the_default_host() -> None:
    assert Settings.model_fields["host"].default == "127.0.0.1"
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("::")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://u:p@h.example:8443/a/b?x=1#f", "https://h.example:8443/a/b"),
        ("postgresql+asyncpg://postgres:pw@127.0.0.1/db", "postgresql+asyncpg://127.0.0.1/db"),
        ("not a url", "(an unparsable URL)"),
    ],
)
def test_shown_urls_carry_no_credentials(url: str, shown: str) -> None:
    assert shown_url(url) == shown


def test_the_container_files_widen_the_host() -> None:
    import yaml

    root = Path(__file__).resolve().parent.parent
    assert "CHATGPT_API_HOST=0.0.0.0" in (root / "Dockerfile").read_text(encoding="utf-8")
    compose = yaml.safe_load((root / "docker-compose.yml").read_text(encoding="utf-8"))
    for name in ("chatgpt-api-1", "chatgpt-api-2"):
        assert compose["services"][name]["environment"]["CHATGPT_API_HOST"] == "0.0.0.0"


def test_the_serving_process_never_imports_alembic(tmp_path: Path) -> None:
    """The start-up upgrade of a fresh database runs in a short-lived child process; later
    opens find the schema at head with one query."""
    code = (
        "import asyncio, sys\n"
        "from chatgpt_api.startup import inspect_database\n"
        "from chatgpt_api.store import default_database_url, open_store\n"
        f"url = default_database_url(__import__('pathlib').Path({str(tmp_path)!r}))\n"
        "asyncio.run(inspect_database(url))\n"
        "async def reopen():\n"
        "    store = await open_store(url)\n"
        "    await store.close()\n"
        "asyncio.run(reopen())\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]", result.stderr
    assert (tmp_path / "chatgpt-api.db").exists()


def test_a_sqlite_file_service_never_imports_the_async_engine(tmp_path: Path) -> None:
    """On a SQLite file, the store's threads do every read and write (keys included): neither
    ``sqlalchemy.ext.asyncio`` nor ``aiosqlite`` is loaded, as ``chatgpt-api serve`` runs."""
    code = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from chatgpt_api.config import Settings\n"
        "from chatgpt_api.keys.keystore import KeyStore\n"
        "from chatgpt_api.server import build_app\n"
        "from chatgpt_api.startup import inspect_database\n"
        "from chatgpt_api.store import default_database_url, open_store\n"
        f"home = Path({str(tmp_path)!r})\n"
        "url = default_database_url(home)\n"
        "asyncio.run(inspect_database(url))\n"
        "async def use_keys():\n"
        "    store = await open_store(url)\n"
        "    keys = KeyStore(store)\n"
        "    record, key = await keys.create('probe')\n"
        "    assert await keys.verify(key) == record and await keys.policy.required()\n"
        "    await keys.close()\n"
        "    await store.close()\n"
        "asyncio.run(use_keys())\n"
        "app = build_app(Settings(home=home, store=True))\n"
        "async def lifespan():\n"
        "    async with app.router.lifespan_context(app):\n"
        "        pass\n"
        "asyncio.run(lifespan())\n"
        "print(sorted(m for m in sys.modules if m.startswith(('sqlalchemy.ext.asyncio', "
        "'aiosqlite'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]", result.stderr


def test_a_service_without_store_never_imports_sqlalchemy(tmp_path: Path) -> None:
    """``serve --no-store`` follows its whole path (the preflight, the app, its lifespan and a
    few requests) without loading SQLAlchemy, Alembic or a database driver."""
    code = (
        "import asyncio, sys\n"
        "import httpx\n"
        "import chatgpt_api.server as server\n"
        "from chatgpt_api.cli.main import main\n"
        "statuses = []\n"
        "def serve_once(settings, workers=1):\n"
        "    app = server.uvicorn_config(settings).app\n"
        "    async def run():\n"
        "        async with app.router.lifespan_context(app):\n"
        "            transport = httpx.ASGITransport(app=app)\n"
        "            async with httpx.AsyncClient(transport=transport, base_url='http://t') as c:\n"
        "                statuses.append((await c.get('/healthz')).status_code)\n"
        "                statuses.append((await c.get('/v1/models')).status_code)\n"
        "                body = {'model': 'gpt-3.5-turbo', 'messages': [\n"
        "                    {'role': 'user', 'content': 'hi'}]}\n"
        "                reply = await c.post('/v1/chat/completions', json=body)\n"
        "                statuses.append(reply.status_code)\n"
        "    asyncio.run(run())\n"
        "    return 0\n"
        "server.serve = serve_once\n"
        "try:\n"
        f"    main(['serve', '--no-store', '--port', '0', '--home', {str(tmp_path)!r},\n"
        "          '--reverse-proxy', 'http://127.0.0.1:9/x'], standalone_mode=False)\n"
        "except SystemExit as stop:\n"
        "    assert stop.code == 0, stop.code\n"
        "print(statuses)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('sqlalchemy', 'alembic', 'aiosqlite', 'asyncpg')))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATGPT_API_")}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode == 0, result.stderr
    statuses, modules = result.stdout.strip().splitlines()[-2:]
    assert statuses == "[200, 200, 502]", result.stderr
    assert modules == "[]"
    assert not (tmp_path / "chatgpt-api.db").exists()
