"""The served demo works for a new user: every model answers without a credential, the
command line's first ``ask`` works against ``make demo``, and a restart keeps conversations."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.servers import ServiceThread

CLI = [sys.executable, "-m", "chatgpt_api.cli"]


def _ask(url: str, content: str, **extra: str) -> httpx.Response:
    body = {"messages": [{"role": "user", "content": content}], **extra}
    return httpx.post(f"{url}/v1/chat/completions", json=body, timeout=30)


@pytest.mark.parametrize("model", ["gpt-3.5-turbo", "gpt-4o-mini", "gpt-4o"])
def test_every_demo_model_answers_without_a_credential(tmp_path: Path, model: str) -> None:
    with ServiceThread(demo=True, home=tmp_path) as svc:
        response = _ask(svc.url, "Hello", model=model)
    assert response.status_code == 200, response.text
    answer = response.json()["choices"][0]["message"]["content"]
    assert answer == 'You said: "Hello". This is turn 1 of this conversation.'


def test_first_cli_ask_against_the_served_demo(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATGPT_API_")}
    with ServiceThread(demo=True, home=tmp_path) as svc:
        result = subprocess.run(
            [*CLI, "ask", "--url", svc.url, "--home", str(tmp_path / "cli"), "Hello"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
    assert result.returncode == 0, result.stderr
    assert 'You said: "Hello". This is turn 1 of this conversation.' in result.stdout
    assert (tmp_path / "cli" / "cli-state.json").exists(), "--home holds the CLI's state"


def test_a_restarted_demo_continues_its_chatgpt_web_conversations(tmp_path: Path) -> None:
    with ServiceThread(demo=True, home=tmp_path) as svc:
        first = _ask(svc.url, "Hello").json()
    assert (tmp_path / "demo-upstream.json").exists()
    with ServiceThread(demo=True, home=tmp_path) as svc:
        again = _ask(
            svc.url,
            "And again",
            conversation_id=first["conversation_id"],
            parent_message_id=first["message_id"],
        )
    assert again.status_code == 200, again.text
    text = again.json()["choices"][0]["message"]["content"]
    assert text == 'You said: "And again". This is turn 2 of this conversation.'


def test_the_demo_without_a_store_keeps_no_upstream_file(tmp_path: Path) -> None:
    with ServiceThread(demo=True, home=tmp_path, store=False) as svc:
        assert _ask(svc.url, "Hello").status_code == 200
    assert not (tmp_path / "demo-upstream.json").exists()


def test_chat_banner_names_the_service(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATGPT_API_")}
    with ServiceThread(demo=True, home=tmp_path) as svc:
        result = subprocess.run(
            [*CLI, "chat", "--url", svc.url, "--home", str(tmp_path / "cli")],
            input="/exit\n",
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Chatting with the service at {svc.url}."), result.stdout
