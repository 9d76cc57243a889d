"""Installing it elsewhere: a distribution name of its own, the `chatgpt-api` command, and the
settings read from a `.env` file (which git ignores)."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"


def test_distribution_name_is_not_the_unrelated_chatgpt_api() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["name"] == "chatgpt-api-gateway"
    assert project["scripts"] == {"chatgpt-api": "chatgpt_api.cli.main:main"}


def test_dot_env_is_ignored_by_git() -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", ".env"], cwd=ROOT, capture_output=True, check=False
    )
    assert ignored.returncode == 0, ".env must be in .gitignore"


def _settings_in(directory: Path, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CHATGPT_API_")}
    clean.update(env, PYTHONPATH=str(SRC))
    done = subprocess.run(
        [sys.executable, "-m", "chatgpt_api.cli", "settings"],
        cwd=directory,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def test_settings_come_from_a_dot_env_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "# written as the README's quick start and docs/operations.md say\n"
        "CHATGPT_API_PORT=4321\n"
        "CHATGPT_API_REVERSE_PROXY=https://proxy.example/backend-api/conversation\n"
        "POSTGRES_PASSWORD=not-ours\n",
        encoding="utf-8",
    )
    shown = _settings_in(tmp_path)
    assert "port = 4321" in shown
    assert "reverse_proxy = https://proxy.example/backend-api/conversation" in shown
    # The real environment wins over the file.
    assert "port = 5000" in _settings_in(tmp_path, CHATGPT_API_PORT="5000")
    assert "port = 3000" in _settings_in(tmp_path / "..")
