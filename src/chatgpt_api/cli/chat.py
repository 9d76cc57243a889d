"""``chatgpt-api ask`` (one question, answer streamed) and ``chatgpt-api chat`` (a session).

Both stream the answer to the terminal as it arrives, from a running service (``--url``) or
the in-process service. Ctrl-C stops an answer: ``ask`` then exits with code 130, ``chat``
keeps the session. Ctrl-C or Ctrl-D at the ``chat`` prompt, or ``/exit``, ends the session.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import orjson

from chatgpt_api.cli.client import CliError
from chatgpt_api.cli.options import connected, data_home, target_options, turn_options
from chatgpt_api.cli.session import Session
from chatgpt_api.cli.state import StateFile

PROMPT = ">>> "
HISTORY_FILE = "cli-history"
HISTORY_LENGTH = 1000
CHAT_HELP = (
    "Type a message and press Enter. Ctrl-C stops an answer; /new starts a new conversation; "
    "/exit, Ctrl-D or Ctrl-C at the prompt leaves."
)


class _Printer:
    """Writes answer pieces as they arrive; knows whether a line is left open."""

    def __init__(self) -> None:
        self.open = False

    def __call__(self, piece: str) -> None:
        click.echo(piece, nl=False)
        self.open = True

    def end_line(self) -> None:
        """Finish a partly written answer's line (before an error or a notice)."""
        if self.open:
            click.echo()
            self.open = False


def _read_prompt(prompt: str | None) -> str:
    if prompt is None or prompt == "-":
        stdin = sys.stdin
        if prompt is None and stdin.isatty():
            raise click.UsageError("no prompt: give it as an argument, or pipe it on stdin")
        prompt = stdin.read()
    prompt = prompt.strip()
    if not prompt:
        raise click.UsageError("the prompt is empty")
    return prompt


@click.command(short_help="Ask one question; the answer streams to the terminal.")
@click.argument("prompt", required=False)
@target_options
@turn_options
@click.option("--json", "as_json", is_flag=True, help="Print the final completion object (JSON).")
def ask(
    prompt: str | None,
    url: str | None,
    api_key: str | None,
    model: str | None,
    system: str | None,
    continue_: bool,
    cid: str | None,
    as_json: bool,
) -> None:
    """Ask one question; the answer streams to the terminal as it arrives.

    PROMPT is read from stdin when it is missing or '-'.

    \b
    Examples:
      chatgpt-api ask "What is the capital of France?"
      chatgpt-api ask -c "And of Italy?"            # continue the last conversation
      chatgpt-api ask --cid 6f1c... "One more thing"
      echo "Summarize this" | chatgpt-api ask --model gpt-4o-mini
      chatgpt-api ask --url http://127.0.0.1:3000 --api-key cak-... "hi"
      chatgpt-api ask --json --system "Answer in French" "hello"
      CHATGPT_API_DEMO=1 chatgpt-api ask "hi"     # in-process, built-in emulator
    """
    text = _read_prompt(prompt)
    with connected(url, api_key) as client:
        session = Session.start(
            client,
            StateFile(data_home()),
            model=model,
            system=system,
            continue_last=continue_,
            conversation_id=cid,
        )
        printer = _Printer()
        try:
            reply = session.turn(text, None if as_json else printer)
        except KeyboardInterrupt:
            click.echo()
            raise click.exceptions.Exit(130) from None
        except CliError:
            printer.end_line()
            raise
    if as_json:
        click.echo(orjson.dumps(reply.completion, option=orjson.OPT_INDENT_2).decode())
    else:
        click.echo()


@click.command()
@target_options
@turn_options
def chat(
    url: str | None,
    api_key: str | None,
    model: str | None,
    system: str | None,
    continue_: bool,
    cid: str | None,
) -> None:
    """Chat interactively; each answer streams as it arrives.

    Ctrl-C stops the answer being written (the session goes on); /new starts a new
    conversation; /exit, Ctrl-D or Ctrl-C at the prompt ends the session. Line editing and
    history (kept in the data directory) use readline where available.

    \b
    Examples:
      chatgpt-api chat
      chatgpt-api chat -c                          # pick up the last conversation
      chatgpt-api chat --url http://127.0.0.1:3000 --model gpt-4o-mini
      chatgpt-api chat --system "You are terse."
    """
    home = data_home()
    with connected(url, api_key) as client:
        client.check()
        session = Session.start(
            client,
            StateFile(home),
            model=model,
            system=system,
            continue_last=continue_,
            conversation_id=cid,
        )
        local = client.target.startswith("local:")
        where = "the in-process service" if local else f"the service at {client.target}"
        click.echo(f"Chatting with {where}. {CHAT_HELP}")
        with _history(home):
            _loop(session)


def _loop(session: Session) -> None:
    while True:
        try:
            line = input(PROMPT).strip()
        except (EOFError, KeyboardInterrupt):
            click.echo()
            return
        if not line:
            continue
        if line in ("/exit", "/quit"):
            return
        if line == "/new":
            session.restart()
            click.echo("(a new conversation starts with the next message)")
            continue
        if line == "/help":
            click.echo(CHAT_HELP)
            continue
        printer = _Printer()
        try:
            session.turn(line, printer)
            click.echo()
        except KeyboardInterrupt:
            click.echo("\n[answer stopped]")
        except CliError as exc:
            printer.end_line()
            click.echo(f"Error: {exc.message}", err=True)


@contextlib.contextmanager
def _history(home: Path) -> Iterator[None]:
    """Readline line editing and a persistent history, on a terminal where readline exists."""
    try:
        import readline
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    if not sys.stdin.isatty():
        yield
        return
    path = home / HISTORY_FILE
    with contextlib.suppress(OSError):
        readline.read_history_file(path)
    readline.set_history_length(HISTORY_LENGTH)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            home.mkdir(parents=True, exist_ok=True)
            readline.write_history_file(path)
