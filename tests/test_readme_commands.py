"""Every ``chatgpt-api`` command and flag the README and docs/*.md show exists, with the meaning
of a flag checked by click itself (an unknown command or option fails the test), and the help
texts keep one shape."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from chatgpt_api.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
#: `chatgpt-api ...` up to the end of an inline code span or of a line.
INVOCATION = re.compile(r"(?:(?<![\w/.-])|(?<=bin/))chatgpt-api((?: +[^`\n#|]*)?)")
#: `make run ARGS="..."` / `make demo ARGS="..."`: flags for `serve`.
MAKE_ARGS = re.compile(r"make (?:run|demo) ARGS=\"([^\"]*)\"")


def _commands(cmd: click.Command, path: tuple[str, ...]) -> dict[tuple[str, ...], click.Command]:
    found = {path: cmd}
    if isinstance(cmd, click.Group):
        for name, sub in cmd.commands.items():
            found.update(_commands(sub, (*path, name)))
    return found


COMMANDS = _commands(main, ())


def _options(cmd: click.Command) -> set[str]:
    names = {"--help", "-h"}
    for param in cmd.params:
        if isinstance(param, click.Option):
            names.update(param.opts)
            names.update(param.secondary_opts)
    return names


def _tokens(text: str) -> list[str]:
    text = text.replace("[", " ").replace("]", " ").replace("\\", " ")
    try:
        return shlex.split(text, comments=True)
    except ValueError:
        return text.split()


def _invocations(page: Path) -> list[tuple[tuple[str, ...], list[str]]]:
    text = page.read_text(encoding="utf-8")
    found: list[tuple[tuple[str, ...], list[str]]] = []
    for match in INVOCATION.finditer(text):
        tokens = _tokens(match.group(1))
        if tokens[:1] == ["chatgpt-api"]:  # `docker run ... chatgpt-api chatgpt-api serve`
            tokens.pop(0)
        path: tuple[str, ...] = ()
        while tokens and (*path, tokens[0]) in COMMANDS:
            path = (*path, tokens.pop(0))
        found.append((path, [t for t in tokens if t.startswith("-") and t != "-"]))
    for match in MAKE_ARGS.finditer(text):
        flags = [t for t in _tokens(match.group(1)) if t.startswith("-")]
        found.append((("serve",), flags))
    return found


#: (page, command path, flags) for every invocation of every page.
INVOCATIONS = [
    (page.relative_to(ROOT).as_posix(), path, flags)
    for page in PAGES
    for path, flags in _invocations(page)
]


def test_the_docs_show_commands() -> None:
    shown = {(page, path) for page, path, _ in INVOCATIONS}
    for page, path in [
        ("README.md", ("serve",)),
        ("README.md", ("ask",)),
        ("docs/cli.md", ("ask",)),
        ("docs/cli.md", ("conversations", "list")),
        ("docs/operations.md", ("keys", "create")),
        ("docs/operations.md", ("accounts", "add")),
        ("docs/emulator.md", ("emulator",)),
    ]:
        assert (page, path) in shown, f"{page} no longer shows chatgpt-api {' '.join(path)}"


@pytest.mark.parametrize(
    ("page", "path", "flags"),
    INVOCATIONS,
    ids=[f"{page}: {' '.join(p) or '-'}" for page, p, _ in INVOCATIONS],
)
def test_every_documented_flag_exists(page: str, path: tuple[str, ...], flags: list[str]) -> None:
    command = COMMANDS[path]
    known = _options(command) | ({"--version"} if not path else set())
    for flag in flags:
        name = flag.split("=", 1)[0]
        assert name in known, f"{page}: chatgpt-api {' '.join(path)} has no {name}"


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=lambda p: " ".join(p) or "-")
def test_help_texts_have_one_shape(path: tuple[str, ...]) -> None:
    command = COMMANDS[path]
    ctx = click.Context(command, info_name="chatgpt-api", terminal_width=80)
    text = command.get_help(ctx)
    assert not re.search(r"\[env (?!var:)", text), "env variables are shown as [env var: X]"
    assert "default ]" not in text and "default: ]" not in text
    if isinstance(command, click.Group):
        listing = text.split("Commands:", 1)[1]
        assert "..." not in listing, f"a short help is cut:\n{listing}"
    for param in command.params:
        if isinstance(param, click.Option) and param.name not in ("help", "version"):
            assert param.help, f"chatgpt-api {' '.join(path)} {param.opts[0]} has no help"


def test_conversations_take_the_store_flags() -> None:
    for path in [("conversations", "list"), ("ask",), ("chat",)]:
        assert {"--home", "--database-url"} <= _options(COMMANDS[path])
