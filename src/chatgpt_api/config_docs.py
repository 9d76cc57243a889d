"""The configuration reference, generated from :class:`~chatgpt_api.config.Settings`.

The table in docs/configuration.md is this module's output between the markers
``<!-- settings:start -->`` and ``<!-- settings:end -->``; a test fails when they differ, and
``chatgpt-api settings --markdown`` prints it (``make docs`` rewrites that section), so the
documentation cannot drift from the code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from chatgpt_api.config import Settings

START = "<!-- settings:start -->"
END = "<!-- settings:end -->"


def _flags(command: click.Command) -> dict[str, str]:
    flags: dict[str, str] = {}
    for param in command.params:
        if isinstance(param, click.Option) and param.name:
            names = [*param.opts, *param.secondary_opts]
            flags[param.name] = " / ".join(f"`{name}`" for name in names)
    return flags


def _default(value: Any, name: str) -> str:
    if name == "home":
        return "`~/.local/share/chatgpt-api` (`$XDG_DATA_HOME/chatgpt-api`)"
    if value is None:
        return "—"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if value == "":
        return '`""`'
    return f"`{value}`"


def settings_markdown(serve: click.Command) -> str:
    flags = _flags(serve)
    rows = [
        "| Setting | Environment variable | Flag (`serve`) | Default | Meaning |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, field in Settings.model_fields.items():
        default = field.default if field.default_factory is None else None
        description = (field.description or "").replace("|", "\\|")
        rows.append(
            f"| `{name}` | `CHATGPT_API_{name.upper()}` | {flags.get(name, '—')} | "
            f"{_default(default, name)} | {description} |"
        )
    return "\n".join(rows) + "\n"


def replace_section(text: str, table: str) -> str:
    """``text`` with the part between the markers replaced by ``table``."""
    head, start, rest = text.partition(START)
    _, end, tail = rest.partition(END)
    if not start or not end:
        raise ValueError(f"the markers {START} … {END} are missing")
    return f"{head}{START}\n{table}{END}{tail}"


def rewrite_reference(path: Path, serve: click.Command) -> bool:
    """Rewrite the settings section of the Markdown file ``path``; True if it changed."""
    text = path.read_text(encoding="utf-8")
    updated = replace_section(text, settings_markdown(serve))
    if updated != text:
        path.write_text(updated, encoding="utf-8")
    return updated != text
