"""``chatgpt-api keys create|list|revoke|require``: the gateway API keys clients present.

Each command opens the database the service uses (``--database-url`` / ``--home`` or their
``CHATGPT_API_*`` twins, as ``db upgrade`` does), applying the schema migrations first. A key is
printed once, by ``create``; ``list`` shows only its prefix. ``require on|off`` is the one way
to change whether keys are required once the first key exists (revoking keys never does).
Errors are one line and exit 1.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from chatgpt_api.cli.setting_options import database_option, home_option, store_settings
from chatgpt_api.keys.records import ApiKey, StoredRequirement

if TYPE_CHECKING:
    from chatgpt_api.keys.keystore import KeyStore

T = TypeVar("T")

STORE_WARNING = (
    "Store this key now: it is shown only once (the database keeps only its hash). "
    "Send it as 'Authorization: Bearer <key>' (or the api_key field on the seed routes)."
)


def _with_keys(
    database_url: str | None, home: Path | None, action: Callable[[KeyStore], Awaitable[T]]
) -> T:
    """Open the store (migrated), run ``action`` on its keys, close; errors as one line."""
    from chatgpt_api.errors import ServiceError
    from chatgpt_api.keys.keystore import KeyStore
    from chatgpt_api.store import default_database_url, open_store

    settings = store_settings(database_url, home)

    async def run() -> T:
        store = await open_store(settings.database_url or default_database_url(settings.home))
        keys = KeyStore(store)
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

    \b
    From the moment the first key is created, every API route (/send_message,
    /get_access_token, /v1/*) needs a valid key, and keeps needing one even after
    every key is revoked (then only the pages and probes answer: /, /docs, /redoc,
    /openapi.json, /playground, /healthz, /readyz, /metrics) until you run
    'chatgpt-api keys require off'.
    CHATGPT_API_REQUIRE_API_KEY=true|false on a service overrides this.
    Conversations belong to the key that made them.
    """


@keys.command("create")
@click.option("--name", required=True, help="A unique name (letters, digits, . _ @ : + -).")
@database_option
@home_option
def create(name: str, database_url: str | None, home: Path | None) -> None:
    """Create a key and print it, once.

    \b
    Example:
      chatgpt-api keys create --name alice
    """

    async def create_key(store: KeyStore) -> tuple[ApiKey, str, StoredRequirement | None]:
        record, key = await store.create(name)
        return record, key, await store.policy.stored()

    record, key, requirement = _with_keys(database_url, home, create_key)
    click.echo(key)
    click.echo(f"created key {record.name!r} (id {record.id}, prefix {record.prefix}…)", err=True)
    click.echo(STORE_WARNING, err=True)
    if requirement == "off":
        click.echo(
            "note: keys are not required (turned off earlier); require them with: "
            "chatgpt-api keys require on",
            err=True,
        )


@keys.command("list", short_help="List keys (prefixes only, never a whole key).")
@database_option
@home_option
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
@database_option
@home_option
def revoke(name_or_id: str, database_url: str | None, home: Path | None) -> None:
    """Revoke a key by name or id (running services stop accepting it within the cache TTL).

    Revoking keys, even the last one, never stops keys from being required: see
    'chatgpt-api keys require'.
    """
    if not _with_keys(database_url, home, lambda store: store.revoke(name_or_id)):
        raise click.ClickException(f"no active API key named or with id {name_or_id!r}")
    click.echo(f"revoked key {name_or_id!r}")


_STATES = {
    "on": "keys are required (revoking every key does not change that; "
    "to admit anonymous callers again: chatgpt-api keys require off)",
    "off": "keys are not required: anonymous callers are admitted, a valid key still "
    "identifies its owner (to require them: chatgpt-api keys require on)",
    None: "keys are not required yet: they will be from the moment the first key is created",
}


@keys.command("require")
@click.argument("state", required=False, type=click.Choice(["on", "off"]))
@database_option
@home_option
def require(state: str | None, database_url: str | None, home: Path | None) -> None:
    """Show, or set (on|off), whether every API route needs a key.

    \b
    'on' is set by itself when the first key is created and stays on when keys are
    revoked: with no active key left, the API routes refuse everybody. 'off' admits
    anonymous callers again. Running services follow within the key cache TTL
    (CHATGPT_API_API_KEY_CACHE_TTL). CHATGPT_API_REQUIRE_API_KEY=true|false, where set
    on a service, overrides what is stored here.

    \b
    Examples:
      chatgpt-api keys require
      chatgpt-api keys require off
    """

    async def apply(store: KeyStore) -> StoredRequirement | None:
        if state is not None:
            await store.policy.set(state == "on")
        return await store.policy.stored()

    stored = _with_keys(database_url, home, apply)
    click.echo(_STATES[stored])
    override = store_settings(database_url, home).require_api_key
    if override is not None:
        click.echo(
            f"note: CHATGPT_API_REQUIRE_API_KEY={str(override).lower()} is set here: a service "
            "started with it ignores this stored value",
            err=True,
        )
