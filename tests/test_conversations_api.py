"""The Conversations API in OpenAI's shapes through the official openai SDK, against the
emulator: create with items and metadata, retrieve / update / delete, items listed, added, read
and deleted, ``responses.create(conversation=...)`` continuing it — and the same conversation
seen through the gateway's own ``/v1/conversations`` routes."""

from __future__ import annotations

from collections.abc import Iterator

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


@pytest.fixture(scope="module")
def gateway(
    emulator: EmulatorThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceThread]:
    home = tmp_path_factory.mktemp("conversations-api")
    (home / "models.toml").write_text(MODELS.format(emu=emulator.url))
    with ServiceThread(
        reverse_proxy=f"{emulator.url}/backend-api/conversation",
        models_file=home / "models.toml",
        database_url=f"sqlite+aiosqlite:///{home}/store.db",
    ) as svc:
        yield svc


@pytest.fixture()
def sdk(gateway: ServiceThread) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="tok", max_retries=0) as client:
        yield client


def test_conversation_lifecycle_and_responses_in_it(
    sdk: openai.OpenAI, gateway: ServiceThread, emulator: EmulatorThread
) -> None:
    conversation = sdk.conversations.create(
        items=[
            {"type": "message", "role": "system", "content": "Be brief."},
            {"type": "message", "role": "user", "content": "My name is Ada."},
        ],
        metadata={"topic": "names"},
    )
    assert conversation.object == "conversation" and conversation.metadata == {"topic": "names"}
    assert sdk.conversations.retrieve(conversation.id).metadata == {"topic": "names"}
    items = sdk.conversations.items.list(conversation.id, order="asc")
    assert [i.role for i in items.data] == ["system", "user"]  # type: ignore[union-attr]

    first = sdk.responses.create(
        model="gpt-4o-mini", input="What is my name?", conversation=conversation.id
    )
    assert first.conversation is not None and first.conversation.id == conversation.id
    sent = emulator.requests[-1].json["messages"]
    assert [m["content"] for m in sent] == ["Be brief.", "My name is Ada.", "What is my name?"]
    second = sdk.responses.create(
        model="gpt-4o-mini", input="Again?", conversation={"id": conversation.id}
    )
    assert "turn 3" in second.output_text
    assert len(emulator.requests[-1].json["messages"]) == 5

    listed = sdk.conversations.items.list(conversation.id, limit=2)
    assert [i.type for i in listed.data] == ["message", "message"] and listed.has_more
    assert listed.data[0].content[0].text == second.output_text  # type: ignore[union-attr]
    added = sdk.conversations.items.create(
        conversation.id,
        items=[{"type": "message", "role": "user", "content": "Added by hand"}],
    )
    [item] = added.data
    assert sdk.conversations.items.retrieve(item.id, conversation_id=conversation.id).id == item.id  # type: ignore[union-attr]

    # The same conversation through the gateway's own routes: tree, metadata, current path.
    tree = httpx.get(f"{gateway.url}/v1/conversations/{conversation.id}").json()
    assert tree["metadata"] == {"topic": "names"}
    assert tree["current_path"][-1] == item.id  # type: ignore[union-attr]

    sdk.conversations.items.delete(item.id, conversation_id=conversation.id)  # type: ignore[union-attr]
    with pytest.raises(openai.NotFoundError):
        sdk.conversations.items.retrieve(item.id, conversation_id=conversation.id)  # type: ignore[union-attr]
    first_user = sdk.conversations.items.list(conversation.id, order="asc").data[1]
    sdk.conversations.items.delete(first_user.id, conversation_id=conversation.id)  # type: ignore[union-attr]
    remaining = sdk.conversations.items.list(conversation.id, order="asc").data
    assert [getattr(i, "role", None) for i in remaining] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
    ]
    assert "My name is Ada." not in [i.content[0].text for i in remaining]  # type: ignore[union-attr]

    updated = sdk.conversations.update(conversation.id, metadata={"topic": "other"})
    assert updated.metadata == {"topic": "other"}
    assert sdk.conversations.delete(conversation.id).deleted is True
    with pytest.raises(openai.NotFoundError):
        sdk.conversations.retrieve(conversation.id)


def test_conversation_errors(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        sdk.responses.create(model="gpt-4o-mini", input="x", conversation="missing")
    conversation = sdk.conversations.create()
    with pytest.raises(openai.BadRequestError) as web:
        sdk.responses.create(model="gpt-3.5-turbo", input="x", conversation=conversation.id)
    assert web.value.body["param"] == "conversation"  # type: ignore[index]
    first = sdk.responses.create(model="gpt-4o-mini", input="Hi")
    with pytest.raises(openai.BadRequestError):
        sdk.responses.create(
            model="gpt-4o-mini",
            input="x",
            conversation=conversation.id,
            previous_response_id=first.id,
        )
    with pytest.raises(openai.BadRequestError) as bad:
        sdk.conversations.items.create(conversation.id, items=[])
    assert bad.value.body["param"] == "items"  # type: ignore[index]
    with pytest.raises(openai.NotFoundError):
        sdk.conversations.items.delete("nope", conversation_id=conversation.id)
