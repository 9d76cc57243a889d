"""The first turn of a conversation can be branched through /v1: ``parent_message_id`` set to
the root parent (the nil UUID) stores a sibling of the first message, with no history."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chatgpt_api.testing import EmulatorThread
from chatgpt_api.tree_root import ROOT_PARENT
from tests.servers import ServiceThread

MODELS = """
[models."compat"]
backend = "openai-compatible"
base_url = "{emu}/v1"
api_key = "sk-configured"
upstream_model = "gpt-4o"
"""
AUTH = {"Authorization": "Bearer tok"}


@pytest.fixture()
def svc(emulator: EmulatorThread, tmp_path: Path) -> Iterator[ServiceThread]:
    models = tmp_path / "models.toml"
    models.write_text(MODELS.format(emu=emulator.url), encoding="utf-8")
    proxy = f"{emulator.url}/backend-api/conversation"
    with ServiceThread(reverse_proxy=proxy, models_file=models, home=tmp_path) as service:
        yield service


def _turn(svc: ServiceThread, model: str, text: str, **ids: str) -> httpx.Response:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": text}]}
    return httpx.post(f"{svc.url}/v1/chat/completions", json={**body, **ids}, headers=AUTH)


def _content(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return str(response.json()["choices"][0]["message"]["content"])


@pytest.mark.parametrize("model", ["gpt-3.5-turbo", "compat"])
def test_the_first_turn_branches_at_the_root(
    svc: ServiceThread, emulator: EmulatorThread, model: str
) -> None:
    emulator.clear()
    first = _turn(svc, model, "Hello")
    conversation = first.json()["conversation_id"]
    answer = first.json()["message_id"]
    _turn(svc, model, "More", conversation_id=conversation, parent_message_id=answer)
    branched = _turn(
        svc, model, "Hello again", conversation_id=conversation, parent_message_id=ROOT_PARENT
    )
    assert _content(branched) == 'You said: "Hello again". This is turn 1 of this conversation.'
    assert branched.json()["conversation_id"] == conversation
    listed = httpx.get(f"{svc.url}/v1/conversations", headers=AUTH).json()["data"]
    assert [c["id"] for c in listed] == [conversation], "a branch, not a new conversation"
    tree = httpx.get(f"{svc.url}/v1/conversations/{conversation}", headers=AUTH).json()
    roots = [m["content"] for m in tree["messages"] if m["parent_id"] is None]
    assert roots == ["Hello", "Hello again"]
    sent = [r.json for r in emulator.requests if r.method == "POST"]
    if model == "compat":
        assert [m["content"] for m in sent[-1]["messages"]] == ["Hello again"]  # no history
    else:
        # The upstream hears its own root node as the parent, as on the first turn.
        assert sent[-1]["parent_message_id"] == sent[0]["parent_message_id"]
        assert sent[-1]["conversation_id"] == conversation


def test_a_web_conversation_not_started_here_cannot_branch_its_root(
    emulator: EmulatorThread, tmp_path: Path, svc: ServiceThread
) -> None:
    proxy = f"{emulator.url}/backend-api/conversation"
    with ServiceThread(reverse_proxy=proxy, home=tmp_path / "elsewhere") as elsewhere:
        started = _turn(elsewhere, "gpt-3.5-turbo", "Hello").json()["conversation_id"]
    refused = _turn(
        svc, "gpt-3.5-turbo", "Hi", conversation_id=started, parent_message_id=ROOT_PARENT
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "parent_message_id"
    assert "first message cannot be branched" in refused.json()["error"]["message"]
