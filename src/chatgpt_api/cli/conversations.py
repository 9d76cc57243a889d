"""``chatgpt-api conversations list|show|export|rm``: the stored conversations.

Against a running service (``--url``) through ``/v1/conversations``, or in-process on the
configured store; either way only the conversations the API key (or anonymous use) owns.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click
import orjson

from chatgpt_api.cli.options import connected, data_home, target_options
from chatgpt_api.cli.state import StateFile


@click.group()
def conversations() -> None:
    """List, show, export and delete stored conversations.

    \b
    Examples:
      chatgpt-api conversations list
      chatgpt-api conversations show 6f1c...
      chatgpt-api conversations export 6f1c... -o chat.json
      chatgpt-api conversations rm 6f1c...
      chatgpt-api conversations list --url http://127.0.0.1:3000 --api-key cak-...
    """


def _when(timestamp: Any) -> str:
    if not isinstance(timestamp, int | float):
        return "-"
    return dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


def _json(data: Any) -> str:
    return orjson.dumps(data, option=orjson.OPT_INDENT_2).decode()


@conversations.command("list")
@target_options
@click.option(
    "--limit", type=click.IntRange(1, 100), default=20, show_default=True, help="At most this many."
)
@click.option(
    "--offset", type=click.IntRange(0), default=0, show_default=True, help="Skip this many first."
)
@click.option("--json", "as_json", is_flag=True, help="Print the API's list object.")
def list_(url: str | None, api_key: str | None, limit: int, offset: int, as_json: bool) -> None:
    """List conversations, most recently updated first.

    \b
    Examples:
      chatgpt-api conversations list
      chatgpt-api conversations list --limit 50 --offset 50
      chatgpt-api conversations list --json
    """
    with connected(url, api_key) as client:
        page = client.list_conversations(limit, offset)
    if as_json:
        click.echo(_json(page))
        return
    items = page.get("data") or []
    if not items:
        click.echo("no conversations")
        return
    click.echo(f"{'ID':<36}  {'UPDATED':<16}  {'MODEL':<16}  TITLE")
    for item in items:
        click.echo(
            f"{item.get('id', ''):<36}  {_when(item.get('updated_at')):<16}  "
            f"{item.get('model') or '-':<16}  {item.get('title') or ''}"
        )
    total = page.get("total")
    if page.get("has_more"):
        click.echo(f"({len(items)} of {total}; more with --offset {offset + len(items)})")


@conversations.command(short_help="Show a conversation up to its current message.")
@target_options
@click.argument("conversation_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the API's conversation object.")
def show(url: str | None, api_key: str | None, conversation_id: str, as_json: bool) -> None:
    """Show a conversation: the messages from its start to its current message.

    \b
    Examples:
      chatgpt-api conversations show 6f1c...
      chatgpt-api conversations show 6f1c... --json
    """
    with connected(url, api_key) as client:
        conversation = client.get_conversation(conversation_id)
    if as_json:
        click.echo(_json(conversation))
        return
    click.echo(
        f"{conversation.get('title') or '(untitled)'}\n"
        f"id {conversation.get('id')} · model {conversation.get('model')} · "
        f"updated {_when(conversation.get('updated_at'))}"
    )
    by_id = {m.get("id"): m for m in conversation.get("messages") or []}
    for message_id in conversation.get("current_path") or []:
        message = by_id.get(message_id) or {}
        label = str(message.get("role", "?"))
        if message.get("status") not in (None, "complete"):
            label += f" ({message.get('status')}: {message.get('error') or 'incomplete'})"
        click.echo(f"\n{label}:\n{message.get('content', '')}")


@conversations.command()
@target_options
@click.argument("conversation_id", metavar="ID")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write to FILE instead of standard output.",
)
def export(url: str | None, api_key: str | None, conversation_id: str, output: Path | None) -> None:
    """Export a whole conversation (every branch) as JSON.

    \b
    Examples:
      chatgpt-api conversations export 6f1c... > chat.json
      chatgpt-api conversations export 6f1c... -o chat.json
    """
    with connected(url, api_key) as client:
        document = _json(client.export_conversation(conversation_id))
    if output is None:
        click.echo(document)
        return
    try:
        output.write_text(document + "\n", encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"cannot write {output}: {exc.strerror or exc}") from None
    click.echo(f"exported conversation {conversation_id} to {output}", err=True)


@conversations.command()
@target_options
@click.argument("conversation_id", metavar="ID")
def rm(url: str | None, api_key: str | None, conversation_id: str) -> None:
    """Delete a conversation and all its messages.

    \b
    Examples:
      chatgpt-api conversations rm 6f1c...
    """
    with connected(url, api_key) as client:
        client.delete_conversation(conversation_id)
        StateFile(data_home()).forget(client.target, conversation_id)
    click.echo(f"deleted conversation {conversation_id}")
