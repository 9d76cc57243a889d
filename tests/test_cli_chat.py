"""``chatgpt-api ask`` / ``chat`` / ``conversations`` with click's runner, on real servers.

URL mode runs against a :class:`ServiceThread` whose upstreams are the emulator; in-process mode
builds the service from ``CHATGPT_API_*`` variables pointing at the same emulator.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from chatgpt_api.cli.main import main
from chatgpt_api.testing import EmulatorThread
from tests.servers import ServiceThread

MODELS = """
[models."gpt-4o-mini"]
backend = "openai"
base_url = "{emu}/v1"
api_key = "sk-configured"

[models.broken]
backend = "openai"
base_url = "{emu}/openai-faults/500/v1"
api_key = "sk-configured"
upstream_model = "gpt-4o"

[models.dropped]
backend = "openai"
base_url = "{emu}/openai-faults/drop/v1"
api_key = "sk-configured"
upstream_model = "gpt-4o"
"""


@pytest.fixture(scope="module")
def models_file(emulator: EmulatorThread, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("models") / "models.toml"
    path.write_text(MODELS.format(emu=emulator.url))
    return path


@pytest.fixture(scope="module")
def svc(
    emulator: EmulatorThread, models_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceThread]:
    with ServiceThread(
        reverse_proxy=f"{emulator.url}/backend-api/conversation",
        models_file=models_file,
        home=tmp_path_factory.mktemp("svc-home"),
    ) as service:
        yield service


class Cli:
    """Runs the command with a private data directory (the state file lives there)."""

    def __init__(self, home: Path, env: dict[str, str | None]) -> None:
        self.home = home
        self.env: dict[str, str | None] = {
            "CHATGPT_API_HOME": str(home),
            "CHATGPT_API_URL": None,
            "CHATGPT_API_KEY": None,
            **env,
        }

    def __call__(self, *args: str, input: str | None = None, code: int = 0) -> Result:
        result = CliRunner().invoke(main, list(args), input=input, env=self.env)
        assert result.exit_code == code, (result.output, result.exception)
        assert "Traceback" not in result.output
        return result

    def completion(self, *args: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self("ask", "--json", *args).stdout)
        return data


@pytest.fixture()
def remote(svc: ServiceThread, tmp_path: Path) -> Cli:
    return Cli(tmp_path, {"CHATGPT_API_URL": svc.url, "CHATGPT_API_KEY": "tok"})


@pytest.fixture()
def local(emulator: EmulatorThread, models_file: Path, tmp_path: Path) -> Cli:
    return Cli(
        tmp_path,
        {
            "CHATGPT_API_REVERSE_PROXY": f"{emulator.url}/backend-api/conversation",
            "CHATGPT_API_MODELS_FILE": str(models_file),
            "CHATGPT_API_KEY": "tok",
        },
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- ask -------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["remote", "local"])
@pytest.mark.parametrize("model", ["gpt-3.5-turbo", "gpt-4o-mini"])
def test_ask_then_continue(mode: str, model: str, request: pytest.FixtureRequest) -> None:
    cli: Cli = request.getfixturevalue(mode)
    first = cli("ask", "--model", model, "hello there")
    assert first.stdout == 'You said: "hello there". This is turn 1 of this conversation.\n'
    second = cli("ask", "-c", "--model", model, "and again")
    assert "This is turn 2 of this conversation." in second.stdout
    third = cli("ask", "--continue", "--model", model, "once more")
    assert "This is turn 3 of this conversation." in third.stdout
    state = json.loads((cli.home / "cli-state.json").read_text())
    assert len(state["last"]) == 1


def test_ask_streams_pieces_as_they_arrive(remote: Cli, emulator: EmulatorThread) -> None:
    from chatgpt_api.cli.client import TurnRequest
    from chatgpt_api.cli.http_client import HttpClient

    pieces: list[str] = []
    client = HttpClient(str(remote.env["CHATGPT_API_URL"]) + "/v1/", "tok")
    try:
        reply = client.ask(TurnRequest("stream me"), pieces.append)
    finally:
        client.close()
    assert len(pieces) > 1
    assert "".join(pieces) == reply.text
    assert reply.conversation_id and reply.message_id


@pytest.mark.parametrize("mode", ["remote", "local"])
def test_ask_json_cid_and_system(mode: str, request: pytest.FixtureRequest) -> None:
    cli: Cli = request.getfixturevalue(mode)
    emulator: EmulatorThread = request.getfixturevalue("emulator")
    first = cli.completion("--model", "gpt-4o-mini", "--system", "Be brief.", "first")
    assert first["object"] == "chat.completion"
    assert first["choices"][0]["message"]["content"].startswith('You said: "first"')
    assert first["usage"]["total_tokens"] > 0
    sent = emulator.requests[-1].json["messages"]
    assert sent[0] == {"role": "system", "content": "Be brief."}
    cid = first["conversation_id"]
    cli("ask", "--model", "gpt-4o-mini", "in between")  # a new conversation becomes the last one
    again = cli.completion("--cid", cid, "--model", "gpt-4o-mini", "second")
    assert again["conversation_id"] == cid
    assert "This is turn 2" in again["choices"][0]["message"]["content"]
    assert "This is turn 3" in cli("ask", "-c", "-m", "gpt-4o-mini", "third").stdout


@pytest.mark.parametrize("mode", ["remote", "local"])
def test_prompt_from_stdin(mode: str, request: pytest.FixtureRequest) -> None:
    cli: Cli = request.getfixturevalue(mode)
    assert 'You said: "piped in"' in cli("ask", input="piped in\n").stdout
    assert 'You said: "dash"' in cli("ask", "-", input="dash").stdout
    assert "the prompt is empty" in cli("ask", input="  \n", code=2).output


# --- conversations ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["remote", "local"])
def test_conversations_list_show_export_rm(
    mode: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    cli: Cli = request.getfixturevalue(mode)
    made = cli.completion("--model", "gpt-4o-mini", "keep me")
    cid = made["conversation_id"]
    cli("ask", "-c", "--model", "gpt-4o-mini", "follow up")

    listing = cli("conversations", "list").stdout
    assert listing.startswith("ID")
    assert cid in listing and "keep me" in listing
    page = json.loads(cli("conversations", "list", "--json", "--limit", "1").stdout)
    assert page["object"] == "list" and len(page["data"]) == 1

    shown = cli("conversations", "show", cid).stdout
    assert shown.startswith("keep me\n")
    assert "user:\nkeep me" in shown and "user:\nfollow up" in shown
    assert "This is turn 2 of this conversation." in shown

    out = tmp_path / "export.json"
    exported = cli("conversations", "export", cid, "-o", str(out))
    assert f"to {out}" in exported.stderr
    document = json.loads(out.read_text())
    assert document["id"] == cid and len(document["messages"]) == 4
    assert json.loads(cli("conversations", "export", cid).stdout)["id"] == cid

    assert cli("conversations", "rm", cid).stdout == f"deleted conversation {cid}\n"
    assert cid not in cli("conversations", "list").stdout
    gone = cli("conversations", "show", cid, code=1)
    assert gone.stderr == "Error: conversation not found\n"
    assert "no conversation to continue" in cli("ask", "-c", "hi", code=1).stderr


# --- bad input -------------------------------------------------------------------------------


def test_no_server_reachable(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    cli = Cli(tmp_path, {"CHATGPT_API_URL": url})
    for args in (["ask", "hi"], ["conversations", "list"], ["chat"]):
        result = cli(*args, code=1)
        assert result.stderr == f"Error: cannot reach {url}: connection refused\n", args


def test_bad_api_key(remote: Cli) -> None:
    for args in (["ask", "hi"], ["conversations", "list"], ["chat"]):
        result = remote(*args, "--api-key", "cak-not-a-real-key", code=1)
        assert result.stderr == "Error: invalid or missing API key\n"


@pytest.mark.parametrize("mode", ["remote", "local"])
def test_unknown_conversation(mode: str, request: pytest.FixtureRequest) -> None:
    cli: Cli = request.getfixturevalue(mode)
    for args in (
        ["ask", "--cid", "no-such-conversation", "hi"],
        ["chat", "--cid", "no-such-conversation"],
        ["conversations", "show", "no-such-conversation"],
        ["conversations", "export", "no-such-conversation"],
        ["conversations", "rm", "no-such-conversation"],
    ):
        assert cli(*args, code=1).stderr == "Error: conversation not found\n", args


def test_usage_errors(remote: Cli) -> None:
    both = remote("ask", "-c", "--cid", "x", "hi", code=1)
    assert both.stderr == "Error: give either -c/--continue or --cid, not both\n"
    assert "no conversation to continue" in remote("ask", "-c", "hi", code=1).stderr
    bad_url = remote("ask", "--url", "localhost:3000", "hi", code=1)
    assert bad_url.stderr.startswith("Error: invalid service URL")


@pytest.mark.parametrize("mode", ["remote", "local"])
@pytest.mark.parametrize("model", ["broken", "dropped"])
def test_upstream_error_is_one_line(mode: str, model: str, request: pytest.FixtureRequest) -> None:
    cli: Cli = request.getfixturevalue(mode)
    result = cli("ask", "--model", model, "hi", code=1)
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr


# --- chat (piped; the pseudo-terminal test is in test_cli_chat_pty.py) ---------------------


@pytest.mark.parametrize("mode", ["remote", "local"])
def test_chat_session_keeps_the_conversation(mode: str, request: pytest.FixtureRequest) -> None:
    cli: Cli = request.getfixturevalue(mode)
    result = cli("chat", input="one\n\ntwo\n/new\nthree\n/help\n/exit\nnot sent\n")
    out = result.stdout
    assert 'You said: "one". This is turn 1' in out
    assert 'You said: "two". This is turn 2' in out
    assert 'You said: "three". This is turn 1' in out
    assert "not sent" not in out
    # End of input (Ctrl-D) leaves cleanly too; the session is then continued with -c.
    cli("chat", "-c", input="four\n")
    assert "This is turn 3" in cli("ask", "-c", "five").stdout


def test_help_has_examples() -> None:
    runner = CliRunner()
    for args in (
        ["ask"],
        ["chat"],
        ["conversations"],
        ["conversations", "list"],
        ["conversations", "show"],
        ["conversations", "export"],
        ["conversations", "rm"],
    ):
        result = runner.invoke(main, [*args, "--help"])
        assert result.exit_code == 0
        assert "Examples:" in result.output, args
