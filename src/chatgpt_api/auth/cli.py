"""``chatgpt-api keys create|list|revoke``: the gateway API keys clients present.

Each command opens the database the service uses (``--database-url`` / ``--home`` or their
``CHATGPT_API_*`` twins, as ``db upgrade`` does), applying the schema migrations first. A key is
printed once, by ``create``; ``list`` shows only its prefix. Errors are one line and exit 1.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import ValidationError

from chatgpt_api.auth.keystore import ApiKey, KeyStore
from chatgpt_api.config import Settings

T = TypeVar("T")

STORE_WARNING = (
    "Store this key now: it is shown only once (the database keeps only its hash). "
    "Send it as 'Authorization: Bearer <key>' (or the api_key field on the seed routes)."
)

_database = click.option(
    "--database-url", help="Database URL.  [env var: CHATGPT_API_DATABASE_URL]"
)
_home = click.option(
    "--home", type=click.Path(path_type=Path), help="Data directory.  [env var: CHATGPT_API_HOME]"
)


def _with_keys(
    database_url: str | None, home: Path | None, action: Callable[[KeyStore], Awaitable[T]]
) -> T:
    """Open the store (migrated), run ``action`` on its keys, close; errors as one line."""
    from chatgpt_api.errors import ServiceError
    from chatgpt_api.store import default_database_url, open_store

    options: dict[str, Any] = {"database_url": database_url, "home": home}
    try:
        settings = Settings(**{k: v for k, v in options.items() if v})
    except ValidationError as exc:
        raise click.ClickException(f"invalid settings: {exc.errors()[0]['msg']}") from None

    async def run() -> T:
        store = await open_store(settings.database_url or default_database_url(settings.home))
        keys = KeyStore(store.engine)
        try:
            return await action(keys)
        finally:
            await keys.close()
            await store.close()

    try:
        return asyncio.run(run())
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M:%SZ")


def key_table(records: list[ApiKey]) -> list[str]:
    """The lines of ``keys list`` (never a key: only its prefix)."""
    header = ("NAME", "ID", "PREFIX", "CREATED", "LAST USED", "REVOKED")
    rows = [header] + [
        (
            k.name,
            k.id,
            k.prefix + "…",
            _when(k.created_at),
            _when(k.last_used_at),
            _when(k.revoked_at),
        )
        for k in records
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


@click.group(short_help="Gateway API keys: create, list, revoke.")
def keys() -> None:
    """Gateway API keys: what clients send as 'Authorization: Bearer <key>'.

    As soon as one active key exists, the API routes (/send_message, /get_access_token and
    /v1/*) need a key; the pages and probes (/, /docs, /redoc, /openapi.json, /playground,
    /healthz, /readyz, /metrics) stay open. CHATGPT_API_REQUIRE_API_KEY changes when keys are
    required. Conversations belong to the key that made them.
    """


@keys.command("create")
@click.option("--name", required=True, help="A unique name (letters, digits, . _ @ : + -).")
@_database
@_home
def create(name: str, database_url: str | None, home: Path | None) -> None:
    """Create a key and print it, once.

    \b
    Example:
      chatgpt-api keys create --name alice
    """
    record, key = _with_keys(database_url, home, lambda store: store.create(name))
    click.echo(key)
    click.echo(f"created key {record.name!r} (id {record.id}, prefix {record.prefix}…)", err=True)
    click.echo(STORE_WARNING, err=True)


@keys.command("list", short_help="List keys (prefixes only, never a whole key).")
@_database
@_home
def list_keys(database_url: str | None, home: Path | None) -> None:
    """List keys: name, id, prefix, created, last used, revoked (never the key itself)."""
    records = _with_keys(database_url, home, lambda store: store.list())
    if not records:
        click.echo("no API keys (create one with: chatgpt-api keys create --name NAME)")
        return
    for line in key_table(records):
        click.echo(line)


@keys.command("revoke", short_help="Revoke a key by name or id.")
@click.argument("name_or_id")
@_database
@_home
def revoke(name_or_id: str, database_url: str | None, home: Path | None) -> None:
    """Revoke a key by name or id (running services stop accepting it within the cache TTL)."""
    if not _with_keys(database_url, home, lambda store: store.revoke(name_or_id)):
        raise click.ClickException(f"no active API key named or with id {name_or_id!r}")
    click.echo(f"revoked key {name_or_id!r}")
