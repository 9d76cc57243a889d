"""Options and plumbing shared by ``ask``, ``chat`` and ``conversations``.

``--url`` / ``CHATGPT_API_URL`` picks a running service (else the service runs in-process from
the ``CHATGPT_API_*`` settings), ``--api-key`` / ``CHATGPT_API_KEY`` is sent as the Bearer key.
``--home`` / ``--database-url`` are their ``CHATGPT_API_*`` twins for this command (the data
directory holds the CLI's state file; in-process, they pick the store).
:func:`connected` opens the client and turns every :class:`CliError` into one ``Error:`` line.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from chatgpt_api.cli.client import ChatClient, CliError
from chatgpt_api.cli.setting_options import load_settings

F = TypeVar("F", bound=Callable[..., Any])


def _setting_twin(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """Give a flag's value to the settings as its ``CHATGPT_API_*`` variable would."""
    if value is not None and param.name is not None:
        os.environ[f"CHATGPT_API_{param.name.upper()}"] = str(value)


def target_options(command: F) -> F:
    """``--url``, ``--api-key``, ``--home`` and ``--database-url``."""
    command = click.option(
        "--database-url",
        expose_value=False,
        callback=_setting_twin,
        help="In-process: the store's database URL.  [env var: CHATGPT_API_DATABASE_URL]",
    )(command)
    command = click.option(
        "--home",
        type=click.Path(path_type=Path),
        expose_value=False,
        callback=_setting_twin,
        help="Data directory (the CLI's state file; in-process: the default store).  "
        "[env var: CHATGPT_API_HOME]",
    )(command)
    command = click.option(
        "--api-key",
        envvar="CHATGPT_API_KEY",
        show_envvar=True,
        help="Gateway API key, sent as 'Authorization: Bearer' (in-process: a gateway key names "
        "the owner, any other value is the upstream credential).",
    )(command)
    command = click.option(
        "--url",
        envvar="CHATGPT_API_URL",
        show_envvar=True,
        help="A running service, e.g. http://127.0.0.1:3000 (default: run the service "
        "in-process with the CHATGPT_API_* settings and its store).",
    )(command)
    return command


def turn_options(command: F) -> F:
    """``--model``, ``--system``, ``-c/--continue`` and ``--cid``."""
    for decorator in reversed(
        [
            click.option("--model", "-m", help="Model to use (default: the service's default)."),
            click.option(
                "--system",
                "-s",
                help="System prompt, sent when the turn starts a new conversation.",
            ),
            click.option(
                "--continue",
                "-c",
                "continue_",
                is_flag=True,
                help="Continue the last conversation used from this machine on this target.",
            ),
            click.option(
                "--cid",
                metavar="ID",
                help="Continue conversation ID from its current message.",
            ),
        ]
    ):
        command = decorator(command)
    return command


def data_home() -> Path:
    """The data directory (``CHATGPT_API_HOME``), where the CLI keeps its state file."""
    return load_settings({}).home


@contextmanager
def cli_errors() -> Iterator[None]:
    """Show a :class:`CliError` as ``Error: <message>`` and exit with code 1."""
    try:
        yield
    except CliError as exc:
        raise click.ClickException(exc.message) from None


def open_client(url: str | None, api_key: str | None) -> ChatClient:
    """A client for the service at ``url``, or for the in-process service when ``url`` is None."""
    if url:
        from chatgpt_api.cli.http_client import HttpClient

        return HttpClient(url, api_key)
    from chatgpt_api.cli.local_client import LocalClient

    return LocalClient.open(api_key)


@contextmanager
def connected(url: str | None, api_key: str | None) -> Iterator[ChatClient]:
    """An open client for ``url`` (or in-process), closed on the way out."""
    with cli_errors():
        client = open_client(url, api_key)
        try:
            yield client
        finally:
            client.close()
