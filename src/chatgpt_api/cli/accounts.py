"""``chatgpt-api accounts add|list|remove|check``: the upstream account pool.

Secrets are given as options or, with ``-``, read from standard input (keeping them out of the
shell history); they are stored encrypted and only ever shown masked (``eyJh…x9Q``).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from chatgpt_api.cli.setting_options import database_option, home_option, store_settings
from chatgpt_api.config import Settings

T = TypeVar("T")


def _run(settings: Settings, action: Callable[[Any, Any], Awaitable[T]]) -> T:
    """Open the store and the pool's pieces, run ``action(repository, box)``, close."""
    from chatgpt_api.accounts.repository import AccountRepository
    from chatgpt_api.accounts.secrets import load_secret_box
    from chatgpt_api.errors import ServiceError
    from chatgpt_api.store import default_database_url, open_store

    async def main() -> T:
        store = await open_store(settings.database_url or default_database_url(settings.home))
        try:
            box = load_secret_box(settings.secret_key, settings.home)
            return await action(AccountRepository(store), box)
        finally:
            await store.close()

    try:
        return asyncio.run(main())
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None


def _secret(value: str | None) -> str | None:
    if value == "-":
        return sys.stdin.readline().strip() or None
    return value


@click.group(short_help="Pooled upstream accounts: add, list, remove, check.")
def accounts() -> None:
    """Upstream accounts used when a request brings no credential of its own."""


@accounts.command("add")
@click.option("--name", required=True, help="A unique name for the account.")
@click.option(
    "--backend",
    type=click.Choice(["chatgpt-web", "openai", "openai-compatible"]),
    default="chatgpt-web",
    help="The backend whose requests this account serves.",
    show_default=True,
)
@click.option("--access-token", help="ChatGPT access token ('-' reads it from stdin).")
@click.option("--session-token", help="Session cookie value, used to refresh ('-': stdin).")
@click.option("--api-key", help="API key for an OpenAI-style backend ('-': stdin).")
@database_option
@home_option
def add(
    name: str,
    backend: str,
    access_token: str | None,
    session_token: str | None,
    api_key: str | None,
    database_url: str | None,
    home: Path | None,
) -> None:
    """Add an account (its secrets are stored encrypted).

    \b
    Examples:
      chatgpt-api accounts add --name alice --session-token -  < session.txt
      chatgpt-api accounts add --name bob --access-token eyJhbGciOi...
      chatgpt-api accounts add --name team --backend openai --api-key sk-...
    """
    from chatgpt_api.jwt_claims import jwt_expiry

    access_token, session_token, api_key = map(_secret, (access_token, session_token, api_key))
    if api_key and (access_token or session_token):
        raise click.UsageError("give either --api-key, or --access-token/--session-token")
    if not (api_key or access_token or session_token):
        raise click.UsageError("give --access-token, --session-token or --api-key")
    kind = "api_key" if api_key else "session_token" if session_token else "access_token"

    async def action(repository: Any, box: Any) -> None:
        access = api_key or access_token
        await repository.add(
            name=name,
            backend=backend,
            kind=kind,
            access_secret=box.encrypt(access) if access else None,
            session_secret=box.encrypt(session_token) if session_token else None,
            expires_at=jwt_expiry(access_token) if access_token else None,
        )

    _run(store_settings(database_url, home), action)
    click.echo(f"account {name!r} added ({backend}, {kind.replace('_', ' ')})")


@accounts.command("list")
@database_option
@home_option
def list_accounts(database_url: str | None, home: Path | None) -> None:
    """List accounts: health, expiry, cooldown (secrets masked)."""
    from chatgpt_api.accounts.secrets import mask

    async def action(repository: Any, box: Any) -> list[tuple[str, ...]]:
        rows: list[tuple[str, ...]] = []
        for account in await repository.list():
            secret = box.decrypt(account.access_secret) if account.access_secret else ""
            rows.append(
                (
                    account.name,
                    account.backend,
                    account.kind,
                    mask(secret) if secret else "-",
                    _when(account.expires_at),
                    account.status,
                    _cooldown(account.cooldown_until),
                    account.reason or "",
                )
            )
        return rows

    rows = _run(store_settings(database_url, home), action)
    header = ("NAME", "BACKEND", "KIND", "SECRET", "EXPIRES", "STATUS", "COOLDOWN", "REASON")
    _table([header, *rows])


@accounts.command("remove")
@click.argument("name_or_id")
@database_option
@home_option
def remove(name_or_id: str, database_url: str | None, home: Path | None) -> None:
    """Remove an account (its conversations can no longer be continued)."""

    async def action(repository: Any, box: Any) -> bool:
        return bool(await repository.remove(name_or_id))

    if not _run(store_settings(database_url, home), action):
        raise click.ClickException(f"no account named {name_or_id!r}")
    click.echo(f"account {name_or_id!r} removed")


@accounts.command("check", short_help="Check every account; refresh expiring tokens.")
@click.option("--session-url", help="/api/auth/session endpoint used to refresh tokens.")
@database_option
@home_option
def check(session_url: str | None, database_url: str | None, home: Path | None) -> None:
    """Check every account: refresh tokens that are about to expire, report health."""
    import aiohttp

    from chatgpt_api.accounts.pool import AccountPool
    from chatgpt_api.errors import ServiceError

    settings = store_settings(database_url, home)
    url = session_url or settings.session_url

    class _NoLocks:
        def hold(self, account_id: str, *, max_wait: float, max_queue: int) -> Any:
            raise NotImplementedError

    async def action(repository: Any, box: Any) -> list[tuple[str, str, str]]:
        results = []
        async with aiohttp.ClientSession() as http:
            pool = AccountPool(repository, box, _NoLocks(), http, session_url=url)
            for account in await repository.list():
                try:
                    await pool.credential(account)
                    fresh = await repository.get(account.id)
                    state = "healthy" if fresh and fresh.status == "healthy" else "unhealthy"
                    reason = (fresh.reason or "") if fresh else ""
                except ServiceError as exc:
                    state, reason = "unhealthy", exc.message
                results.append((account.name, state, reason))
        return results

    rows = _run(settings, action)
    _table([("NAME", "STATUS", "REASON"), *rows])
    if any(state != "healthy" for _, state, _ in rows):
        sys.exit(1)


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _cooldown(until: datetime | None) -> str:
    if until is None or until <= datetime.now(UTC):
        return "-"
    return f"{int((until - datetime.now(UTC)).total_seconds())} s"


def _table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
