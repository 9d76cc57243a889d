"""`make run` installs the runtime only; `make test`/`make lint` add the development extras.

Checked with ``make -n`` (print the commands, run none) in a copy of the build files without a
virtualenv, so it shows exactly what a fresh clone would install.
"""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEV_ONLY = ("pytest", "mypy", "ruff", "playwright", "schemathesis", "hypothesis")


def _planned_commands(tmp_path: Path, target: str) -> list[str]:
    for name in ("Makefile", "pyproject.toml", "constraints.txt"):
        shutil.copy(ROOT / name, tmp_path / name)
    done = subprocess.run(
        ["make", "-n", target], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    return done.stdout.splitlines()


def _installs(commands: list[str]) -> list[str]:
    return [line for line in commands if "pip install" in line]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize("target", ["run", "demo"])
def test_run_installs_the_runtime_only(tmp_path: Path, target: str) -> None:
    installs = _installs(_planned_commands(tmp_path, target))
    assert installs, "a fresh clone's `make run` must install the package"
    for line in installs:
        assert "[dev]" not in line, line
        assert line.rstrip().endswith("-e ."), line


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize("target", ["test", "lint", "bench-quick"])
def test_ci_targets_install_the_development_extras(tmp_path: Path, target: str) -> None:
    installs = _installs(_planned_commands(tmp_path, target))
    assert any("'.[dev]'" in line for line in installs), installs


def test_development_tools_are_not_runtime_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = " ".join(project["dependencies"]).lower()
    for tool in DEV_ONLY:
        assert tool not in runtime, f"{tool} is a runtime dependency"
        assert any(dep.startswith(tool) for dep in project["optional-dependencies"]["dev"])
