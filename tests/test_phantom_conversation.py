"""A turn that fails on a conversation the service does not know stores nothing: copying the
documented example ids gets the upstream's 404 and leaves no phantom conversation behind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chatgpt_api.testing import EmulatorThread
from tests.servers import ServiceThread

ROOT = Path(__file__).resolve().parent.parent
#: Ids shown in docs/demo.md (its seed error example and its first answer, which the README's seed
#: example shows too).
DOCUMENTED_IDS = [
    ("00000000-0000-0000-0000-000000000000", "00000000-0000-0000-0000-000000000001"),
    ("6b084ee6-c2ca-807a-92d8-23e80925f08b", "37796e22-b4c5-496e-9e1c-60bc2ae71061"),
]


@pytest.fixture()
def web(emulator: EmulatorThread, tmp_path: Path) -> Iterator[ServiceThread]:
    with ServiceThread(
        reverse_proxy=f"{emulator.url}/backend-api/conversation", home=tmp_path
    ) as svc:
        yield svc


def _listed(svc: ServiceThread) -> list[str]:
    page = httpx.get(f"{svc.url}/v1/conversations", params={"limit": 100}).json()
    return [c["id"] for c in page["data"]]


def test_the_ids_are_the_documented_ones() -> None:
    demo = (ROOT / "docs" / "demo.md").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for conversation_id, parent_id in DOCUMENTED_IDS:
        assert f"conversation_id={conversation_id}" in demo
        assert f"parent_message_id={parent_id}" in demo
    assert all(part in readme for part in DOCUMENTED_IDS[1])


@pytest.mark.parametrize(("conversation_id", "parent_id"), DOCUMENTED_IDS)
def test_unknown_conversation_leaves_no_phantom(
    web: ServiceThread, conversation_id: str, parent_id: str
) -> None:
    seed = httpx.post(
        f"{web.url}/send_message",
        data={
            "access_token": "tok",
            "prompt": "x",
            "conversation_id": conversation_id,
            "parent_message_id": parent_id,
        },
    )
    assert seed.status_code == 500
    assert seed.json()["message"].startswith("ChatGPT error 404: ")
    v1 = httpx.post(
        f"{web.url}/v1/chat/completions",
        headers={"Authorization": "Bearer tok"},
        json={"conversation_id": conversation_id, "messages": [{"role": "user", "content": "x"}]},
    )
    assert v1.status_code == 404, v1.text
    assert _listed(web) == []
    assert httpx.get(f"{web.url}/v1/conversations/{conversation_id}").status_code == 404


def test_a_conversation_started_elsewhere_is_still_continued_and_stored(
    emulator: EmulatorThread, tmp_path: Path, web: ServiceThread
) -> None:
    proxy = f"{emulator.url}/backend-api/conversation"
    with ServiceThread(reverse_proxy=proxy, home=tmp_path / "elsewhere") as elsewhere:
        first = httpx.post(
            f"{elsewhere.url}/send_message", data={"access_token": "tok", "prompt": "Hello"}
        ).json()
    follow_up = httpx.post(
        f"{web.url}/send_message",
        data={
            "access_token": "tok",
            "prompt": "Again",
            "conversation_id": first["conversation_id"],
            "parent_message_id": first["parent_message_id"],
        },
    )
    assert follow_up.status_code == 200, follow_up.text
    assert follow_up.json()["text"] == 'You said: "Again". This is turn 2 of this conversation.'
    assert _listed(web) == [first["conversation_id"]]


def test_a_failed_follow_up_on_a_stored_conversation_is_still_stored(web: ServiceThread) -> None:
    first = httpx.post(
        f"{web.url}/send_message", data={"access_token": "tok", "prompt": "Hello"}
    ).json()
    failed = httpx.post(
        f"{web.url}/send_message",
        data={
            "access_token": "expired",  # the emulator's upstream 401
            "prompt": "Again",
            "conversation_id": first["conversation_id"],
            "parent_message_id": first["parent_message_id"],
        },
    )
    assert failed.status_code == 500
    tree = httpx.get(f"{web.url}/v1/conversations/{first['conversation_id']}").json()
    statuses = [m.get("status") for m in tree["messages"] if m["role"] == "assistant"]
    assert "error" in statuses, tree
