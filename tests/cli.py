"""Running ``chatgpt-api`` in-process (click's runner), for tests where a process of its own is
not the point; the tests of the real entry point, signals and exit codes across processes run
``python -m chatgpt_api.cli`` instead."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from click.testing import CliRunner

from chatgpt_api.cli.main import main


@dataclass(frozen=True)
class Done:
    """How a command ended, as ``subprocess.run`` reports it."""

    returncode: int
    stdout: str
    stderr: str


def run_cli(
    *args: str, input: str | None = None, env: Mapping[str, str | None] | None = None
) -> Done:
    """``chatgpt-api ARGS`` in-process; ``env`` over this process's environment (None unsets).
    An exception the command did not turn into an exit code fails the test."""
    result = CliRunner().invoke(main, list(args), input=input, env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Done(result.exit_code, result.stdout, result.stderr)
