"""Installing it elsewhere: a distribution name of its own, the `chatgpt-api` command, and the
settings read from a `.env` file (which git ignores)."""

from __future__ import annotations

import os
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.cli import run_cli

ROOT = Path(__file__).resolve().parent.parent


def test_distribution_name_is_not_the_unrelated_chatgpt_api() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["name"] == "chatgpt-api-gateway"
    assert project["scripts"] == {"chatgpt-api": "chatgpt_api.cli.main:main"}


def test_dot_env_is_ignored_by_git() -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", ".env"], cwd=ROOT, capture_output=True, check=False
    )
    assert ignored.returncode == 0, ".env must be in .gitignore"


def _settings_in(directory: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> str:
    """``chatgpt-api settings`` (in-process) run in ``directory``, without the ``CHATGPT_API_*``
    environment but ``env``."""
    unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith("CHATGPT_API_")}
    with monkeypatch.context() as patch:
        patch.chdir(directory)
        done = run_cli("settings", env={**unset, **env})
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_settings_come_from_a_dot_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text(
        "# written as the README's quick start and docs/operations.md say\n"
        "CHATGPT_API_PORT=4321\n"
        "CHATGPT_API_REVERSE_PROXY=https://proxy.example/backend-api/conversation\n"
        "POSTGRES_PASSWORD=not-ours\n",
        encoding="utf-8",
    )
    shown = _settings_in(tmp_path, monkeypatch)
    assert "port = 4321" in shown
    assert "reverse_proxy = https://proxy.example/backend-api/conversation" in shown
    # The real environment wins over the file.
    assert "port = 5000" in _settings_in(tmp_path, monkeypatch, CHATGPT_API_PORT="5000")
    assert "port = 3000" in _settings_in(tmp_path / "..", monkeypatch)
