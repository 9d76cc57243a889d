"""Server-side conversation trees on every backend: follow-ups, branches, restarts, the API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from chatgpt_api.testing import EmulatorThread
from tests.servers import ServiceThread

MODELS = """
[models."gpt-4o-mini"]
backend = "openai"
base_url = "{emu}/v1"
api_key = "sk-configured"
"""


@pytest.fixture()
def home(tmp_path: Path, emulator: EmulatorThread) -> Path:
    (tmp_path / "models.toml").write_text(MODELS.format(emu=emulator.url))
    return tmp_path


def start(home: Path, emulator: EmulatorThread, **extra: Any) -> ServiceThread:
    return ServiceThread(
        reverse_proxy=f"{emulator.url}/backend-api/conversation",
        models_file=home / "models.toml",
        home=home,
        **extra,
    )


@pytest.fixture()
def svc(home: Path, emulator: EmulatorThread) -> Iterator[ServiceThread]:
    with start(home, emulator) as service:
        yield service


def ask(svc: ServiceThread, prompt: str, **fields: str) -> dict[str, Any]:
    data = {"access_token": "tok", "prompt": prompt, **fields}
    response = httpx.post(f"{svc.url}/send_message", data=data, timeout=30)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


@pytest.mark.parametrize("model", ["gpt-4o-mini", "gpt-3.5-turbo"])
def test_seed_follow_ups_and_branches_on_each_backend(
    svc: ServiceThread, emulator: EmulatorThread, model: str
) -> None:
    first = ask(svc, "one", model=model)
    ids = {
        "conversation_id": first["conversation_id"],
        "parent_message_id": first["parent_message_id"],
    }
    second = ask(svc, "two", model=model, **ids)
    assert "turn 2" in second["text"]
    assert second["conversation_id"] == first["conversation_id"]
    branch = ask(svc, "two again", model=model, **ids)  # from the same parent: a sibling branch
    assert "turn 2" in branch["text"]
    tree = httpx.get(f"{svc.url}/v1/conversations/{first['conversation_id']}").json()
    by_id = {m["id"]: m for m in tree["messages"]}
    assert len(tree["messages"]) == 6
    assert len(by_id[first["parent_message_id"]]["children"]) == 2
    assert tree["current_node"] == branch["parent_message_id"]
    path_roles = [by_id[i]["role"] for i in tree["current_path"]]
    assert path_roles == ["user", "assistant", "user", "assistant"]
    assert [by_id[i]["content"] for i in tree["current_path"]][2] == "two again"
    if model == "gpt-4o-mini":  # stateless: the history was rebuilt from the store
        sent = emulator.requests[-1].json["messages"]
        assert [m["content"] for m in sent][:2] == [
            "one",
            by_id[first["parent_message_id"]]["content"],
        ]


def test_sdk_conversation_survives_a_restart(home: Path, emulator: EmulatorThread) -> None:
    with start(home, emulator) as svc:
        client = openai.OpenAI(base_url=f"{svc.url}/v1", api_key="k", max_retries=0)
        first = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "remember me"}]
        )
        extra = first.model_extra or {}
        conversation_id, message_id = extra["conversation_id"], extra["message_id"]
    with start(home, emulator) as svc:
        client = openai.OpenAI(base_url=f"{svc.url}/v1", api_key="k", max_retries=0)
        emulator.clear()
        second = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "and now?"}],
            extra_body={"conversation_id": conversation_id, "parent_message_id": message_id},
        )
        assert "turn 2" in (second.choices[0].message.content or "")
        sent = [m["content"] for m in emulator.requests[0].json["messages"]]
        assert sent[0] == "remember me" and sent[-1] == "and now?"
        stream = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "third"}],
            extra_body={"conversation_id": conversation_id},
            stream=True,
        )
        finals = [c for c in stream if c.choices and c.choices[0].finish_reason]
        assert (finals[0].model_extra or {})["conversation_id"] == conversation_id


def test_conversation_api(svc: ServiceThread) -> None:
    made = [ask(svc, f"topic {i}")["conversation_id"] for i in range(3)]
    page = httpx.get(f"{svc.url}/v1/conversations", params={"limit": 2}).json()
    assert [c["id"] for c in page["data"]] == made[::-1][:2]
    assert page["total"] == 3 and page["has_more"] is True
    rest = httpx.get(f"{svc.url}/v1/conversations", params={"limit": 2, "offset": 2}).json()
    assert [c["id"] for c in rest["data"]] == [made[0]] and rest["has_more"] is False
    renamed = httpx.patch(f"{svc.url}/v1/conversations/{made[0]}", json={"title": "Renamed"})
    assert renamed.status_code == 200 and renamed.json()["title"] == "Renamed"
    export = httpx.get(f"{svc.url}/v1/conversations/{made[0]}/export")
    assert export.headers["content-disposition"].startswith("attachment;")
    assert export.json()["title"] == "Renamed"
    assert len(export.json()["messages"]) == 2
    deleted = httpx.delete(f"{svc.url}/v1/conversations/{made[0]}")
    assert deleted.json() == {"id": made[0], "object": "conversation.deleted", "deleted": True}
    for method in ("GET", "DELETE"):
        gone = httpx.request(method, f"{svc.url}/v1/conversations/{made[0]}")
        assert gone.status_code == 404
        assert gone.json()["error"]["message"] == "conversation not found"
    bad = httpx.patch(f"{svc.url}/v1/conversations/{made[1]}", json={"title": ""})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "title"
    assert httpx.get(f"{svc.url}/v1/conversations", params={"limit": "x"}).status_code == 400


def test_unknown_conversation_and_foreign_parent(svc: ServiceThread) -> None:
    a = ask(svc, "a", model="gpt-4o-mini")
    b = ask(svc, "b", model="gpt-4o-mini")
    unknown = httpx.post(
        f"{svc.url}/send_message",
        data={
            "access_token": "t",
            "prompt": "x",
            "model": "gpt-4o-mini",
            "conversation_id": "11111111-2222-4333-8444-555555555555",
            "parent_message_id": a["parent_message_id"],
        },
    )
    assert unknown.json() == {"message": "conversation not found"}
    foreign = httpx.post(
        f"{svc.url}/v1/chat/completions",
        json={
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": "x"}],
            "conversation_id": a["conversation_id"],
            "parent_message_id": b["parent_message_id"],
        },
    )
    assert foreign.status_code == 404
    assert foreign.json()["error"]["message"] == "parent message not found in this conversation"
    tree = httpx.get(f"{svc.url}/v1/conversations/{a['conversation_id']}").json()
    assert len(tree["messages"]) == 2  # nothing was written by the refused turns


def test_failed_and_cancelled_turns_are_stored(
    svc: ServiceThread, emulator: EmulatorThread
) -> None:
    broken = httpx.post(
        f"{svc.url}/send_message",
        data={
            "access_token": "tok",
            "prompt": "cut",
            "reverse_proxy": f"{emulator.url}/fixtures/F7a/backend-api/conversation",
        },
    )
    assert broken.json()["message"] == "terminated"
    failed = httpx.post(
        f"{svc.url}/send_message",
        data={
            "access_token": "tok",
            "prompt": "fail",
            "reverse_proxy": f"{emulator.url}/fixtures/F9-429a/backend-api/conversation",
        },
    )
    assert failed.status_code == 500
    page = httpx.get(f"{svc.url}/v1/conversations").json()["data"]
    trees = [httpx.get(f"{svc.url}/v1/conversations/{c['id']}").json() for c in page]
    answers = {t["messages"][0]["content"]: t["messages"][-1] for t in trees}
    assert answers["cut"]["status"] == "partial" and answers["cut"]["content"] == "Cut off mid"
    assert answers["fail"]["status"] == "error"
    assert answers["fail"]["error"].startswith("ChatGPT error 429")


def test_store_can_be_turned_off(emulator: EmulatorThread, tmp_path: Path) -> None:
    with ServiceThread(
        reverse_proxy=f"{emulator.url}/backend-api/conversation", store=False, home=tmp_path
    ) as svc:
        answer = ask(svc, "no store")
        assert httpx.get(f"{svc.url}/v1/conversations").json()["data"] == []
        assert (
            httpx.get(f"{svc.url}/v1/conversations/{answer['conversation_id']}").status_code == 404
        )
    assert list(tmp_path.iterdir()) == []
