"""``chatgpt-api``: ``serve`` runs the service, ``emulator`` runs the upstream emulator.

Every ``serve`` flag has a ``CHATGPT_API_*`` environment variable twin; a flag wins.
Errors are one readable line and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import click

from chatgpt_api import __version__
from chatgpt_api.cli.setting_options import load_settings, with_setting_options
from chatgpt_api.config import Settings
from chatgpt_api.logs import configure_logging


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="chatgpt-api")
def main() -> None:
    """chatgpt-api: a small, dependable HTTP API to chat models.

    \b
    New here? Start with the built-in emulator (no account, no token):
      chatgpt-api serve --demo                  # then open http://localhost:3000/
      chatgpt-api ask --url http://127.0.0.1:3000 "Hello"
    Every command has --help with examples; settings: chatgpt-api settings --markdown
    """


@main.command(short_help="Run the HTTP service (try: serve --demo).")
@with_setting_options
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    envvar="CHATGPT_API_WORKERS",
    help="Worker processes, each with its own upstream connections  "
    "[env var: CHATGPT_API_WORKERS; default: 1]",
)
def serve(workers: int, **options: Any) -> None:
    """Run the HTTP service.

    \b
    Examples:
      chatgpt-api serve --reverse-proxy https://proxy.example/backend-api/conversation
      chatgpt-api serve --demo            # try it offline, no account needed
      CHATGPT_API_PORT=8080 chatgpt-api serve
    """
    from chatgpt_api.server import serve as run_server

    settings = load_settings({k: v for k, v in options.items() if v is not None})
    configure_logging(settings.log_level, settings.log_format)
    _preflight(settings)
    sys.exit(run_server(settings, workers))


def _preflight(settings: Settings) -> None:
    """Fail with one readable line on a port in use, a bad models file or an unusable
    database; then print the start-up summary (see :mod:`chatgpt_api.startup`)."""
    from chatgpt_api.app import load_registry
    from chatgpt_api.errors import ServiceError
    from chatgpt_api.keys.gate import check_key_settings
    from chatgpt_api.logs import announcement
    from chatgpt_api.startup import (
        StoreFacts,
        check_port_available,
        inspect_database,
        summary_lines,
    )
    from chatgpt_api.store import default_database_url

    try:
        check_port_available(settings.host, settings.port)
        check_key_settings(settings.require_api_key, store=settings.store)
        registry = load_registry(settings)
        facts = StoreFacts()
        if settings.store:
            url = settings.database_url or default_database_url(settings.home)
            facts = asyncio.run(inspect_database(url))
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
    for line in summary_lines(settings, registry, facts):
        click.echo(announcement(line), err=True)


@main.command(short_help="Run the upstream emulator (for tests and offline use).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port", default=8088, type=int, show_default=True, help="TCP port to listen on (0: any free)."
)
@click.option("--chunks", default=8, type=int, show_default=True, help="Events per answer.")
@click.option(
    "--chunk-delay-ms", default=0, type=int, show_default=True, help="Delay between events."
)
def emulator(host: str, port: int, chunks: int, chunk_delay_ms: int) -> None:
    """Run the upstream emulator (ChatGPT web backend, auth service, fixtures F1–F12).

    \b
    Examples:
      chatgpt-api emulator --port 8088
      chatgpt-api serve --reverse-proxy http://127.0.0.1:8088/backend-api/conversation
      # a fixed fixture: http://127.0.0.1:8088/fixtures/F3/backend-api/conversation
    """
    from chatgpt_api.testing import Emulator, EmulatorOptions

    async def run() -> None:
        emu = Emulator(EmulatorOptions(chunks=chunks, chunk_delay_ms=chunk_delay_ms))
        url = await emu.start(host, port)
        print(f"Emulator listening on {url}", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await emu.stop()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        raise click.ClickException(str(exc)) from None


@main.group(short_help="The conversation store's database.")
def db() -> None:
    """The conversation store's database."""


@db.command("upgrade", short_help="Apply the schema migrations.")
@click.option(
    "--database-url", envvar="CHATGPT_API_DATABASE_URL", show_envvar=True, help="Database URL."
)
@click.option(
    "--home",
    type=click.Path(path_type=Path),
    envvar="CHATGPT_API_HOME",
    show_envvar=True,
    help="Data directory.",
)
def db_upgrade(database_url: str | None, home: Path | None) -> None:
    """Apply the schema migrations (the service also does this when it starts).

    \b
    Examples:
      chatgpt-api db upgrade
      chatgpt-api db upgrade --database-url postgresql+asyncpg://postgres@127.0.0.1/chat
    """
    from chatgpt_api.errors import ServiceError
    from chatgpt_api.store import default_database_url, upgrade_database

    options = {k: v for k, v in {"database_url": database_url, "home": home}.items() if v}
    settings = load_settings(options)
    url = settings.database_url or default_database_url(settings.home)
    try:
        asyncio.run(upgrade_database(url))
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
    click.echo("database schema is up to date")


def _register_subcommands() -> None:
    from chatgpt_api.cli.accounts import accounts
    from chatgpt_api.cli.chat import ask, chat
    from chatgpt_api.cli.conversations import conversations
    from chatgpt_api.cli.keys import keys

    main.add_command(accounts)
    main.add_command(keys)
    main.add_command(ask)
    main.add_command(chat)
    main.add_command(conversations)


_register_subcommands()


@main.command("settings", short_help="Show the settings and their current values.")
@click.option("--markdown", is_flag=True, help="Print the configuration reference as Markdown.")
@click.option(
    "--write",
    "write_file",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="Rewrite the settings section (between its markers) of this Markdown file.",
)
def settings_command(markdown: bool, write_file: Path | None) -> None:
    """Show the current value of every setting (``name = value``, secrets masked), from the
    CHATGPT_API_* environment and its defaults. --markdown prints the reference instead: each
    setting's environment variable, serve flag, default and meaning.

    \b
    Examples:
      chatgpt-api settings --markdown
      chatgpt-api settings --write docs/configuration.md
    """
    from chatgpt_api.config_docs import rewrite_reference, settings_markdown

    if write_file is not None:
        changed = rewrite_reference(write_file, serve)
        click.echo(f"{write_file}: {'updated' if changed else 'already up to date'}")
        return
    if markdown:
        click.echo(settings_markdown(serve), nl=False)
        return
    from chatgpt_api.redact import redact_text

    current = load_settings({})
    for name in Settings.model_fields:
        value = getattr(current, name)
        shown = "(set)" if name == "secret_key" and value else redact_text(str(value))
        click.echo(f"{name} = {shown}")
