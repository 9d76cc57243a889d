"""Give every setting a ``serve`` flag, generated from the Settings model (name, type, help
from the field's description, environment variable and default), so a new setting can never
lack its flag and the help can never disagree with the model. A command may still declare an
option by hand; the generator then leaves that field alone. The store commands (``keys``,
``accounts``) share :data:`database_option`, :data:`home_option` and :func:`store_settings`.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

import click
from pydantic import ValidationError

from chatgpt_api.config import Settings

F = TypeVar("F", bound=Callable[..., Any])


def load_settings(options: dict[str, Any]) -> Settings:
    """The settings from ``options`` over the environment, or a one-line click error."""
    try:
        return Settings(**options)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise click.ClickException(f"invalid settings: {problems}") from None


#: ``--database-url`` and ``--home``: which database a store command (keys, accounts) opens.
database_option = click.option(
    "--database-url", help="Database URL.  [env var: CHATGPT_API_DATABASE_URL]"
)
home_option = click.option(
    "--home", type=click.Path(path_type=Path), help="Data directory.  [env var: CHATGPT_API_HOME]"
)


def store_settings(database_url: str | None, home: Path | None) -> Settings:
    """The settings of a store command: its ``--database-url`` / ``--home`` over the environment."""
    given = {"database_url": database_url, "home": home}
    return load_settings({name: value for name, value in given.items() if value})


def _click_type(annotation: Any) -> tuple[Any, bool]:
    """The click type for a field annotation, and whether it is a boolean flag."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        return _click_type(args[0])
    if annotation is bool:
        return None, True
    if origin is Literal:
        return click.Choice([str(a) for a in typing.get_args(annotation)]), False
    if annotation in (int, float, str):
        return annotation, False
    if annotation is Path:
        return click.Path(path_type=Path), False
    return str, False


def with_setting_options(command: F) -> F:
    """Add an option for each Settings field the command does not declare yet."""
    declared = {p.name for p in getattr(command, "__click_params__", [])}
    for name, field in reversed(list(Settings.model_fields.items())):
        if name in declared:
            continue
        kind, is_flag = _click_type(field.annotation)
        flag = "--" + name.replace("_", "-")
        env = f"CHATGPT_API_{name.upper()}"
        default = field.default if field.default_factory is None else None
        shown = (
            ""
            if default is None or default == ""
            else f"; default: {str(default).lower() if isinstance(default, bool) else default}"
        )
        # The same "[env var: X; default: Y]" shape click prints for the other commands.
        help_text = f"{field.description or name}  [env var: {env}{shown}]"
        if is_flag:
            option = click.option(f"{flag}/--no-{flag[2:]}", name, default=None, help=help_text)
        else:
            option = click.option(flag, name, type=kind, default=None, help=help_text)
        command = option(command)
    return command
