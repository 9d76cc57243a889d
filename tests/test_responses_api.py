"""The Responses API through the gateway with the official openai SDK, against the emulator:
whole and streamed answers (the semantic event sequence, ``sequence_number``), the response
object's fields, a function tool round trip, ``previous_response_id`` on an OpenAI-style model
and on the ChatGPT web model, ``store: false``, GET / DELETE / input_items, ownership by gateway
key, and the 400s for what cannot be honoured."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from pydantic import BaseModel

from chatgpt_api.keys.keystore import KeyStore
from chatgpt_api.store import open_store
from chatgpt_api.testing import EmulatorThread
from tests.servers import ServiceThread

MODELS = """
default_backend = "chatgpt-web"

[models."gpt-4o-mini"]
backend = "openai"
base_url = "{emu}/v1"
api_key = "sk-configured"

[models."gpt-drop"]
backend = "openai"
upstream_model = "gpt-4o-mini"
base_url = "{emu}/openai-faults/drop/v1"
api_key = "sk-configured"
"""
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
QUESTION = "What is the weather in 'Oslo'? Use get_weather."
PNG = base64.b64encode(
    bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + bytes(40)
).decode()
#: Every field of the response object (OpenAI API / Open Responses specification).
RESPONSE_FIELDS = {
    "id",
    "object",
    "created_at",
    "completed_at",
    "status",
    "background",
    "error",
    "incomplete_details",
    "instructions",
    "max_output_tokens",
    "max_tool_calls",
    "model",
    "output",
    "parallel_tool_calls",
    "previous_response_id",
    "conversation",
    "prompt",
    "prompt_cache_key",
    "reasoning",
    "safety_identifier",
    "service_tier",
    "store",
    "temperature",
    "text",
    "tool_choice",
    "tools",
    "top_logprobs",
    "top_p",
    "presence_penalty",
    "frequency_penalty",
    "truncation",
    "usage",
    "user",
    "metadata",
}


class City(BaseModel):
    name: str
    population: int


def _models(home: Path, emulator: EmulatorThread) -> Path:
    models = home / "models.toml"
    models.write_text(MODELS.format(emu=emulator.url))
    return models


@pytest.fixture(scope="module")
def gateway(
    emulator: EmulatorThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceThread]:
    home = tmp_path_factory.mktemp("responses")
    with ServiceThread(
        reverse_proxy=f"{emulator.url}/backend-api/conversation",
        models_file=_models(home, emulator),
        database_url=f"sqlite+aiosqlite:///{home}/store.db",
    ) as svc:
        yield svc


@pytest.fixture()
def sdk(gateway: ServiceThread) -> Iterator[openai.OpenAI]:
    # The token goes upstream as the ChatGPT web access token (keys are not required here).
    with openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="web-token", max_retries=0) as c:
        yield c


def test_whole_response_has_every_field_and_is_stored(
    sdk: openai.OpenAI, gateway: ServiceThread
) -> None:
    response = sdk.responses.create(
        model="gpt-4o-mini",
        input="Hello there",
        instructions="Answer briefly.",
        metadata={"ticket": "42"},
        temperature=0.5,
        max_output_tokens=200,
    )
    body = httpx.get(f"{gateway.url}/v1/responses/{response.id}").json()
    assert set(body) == RESPONSE_FIELDS
    assert response.id.startswith("resp_") and body["object"] == "response"
    assert response.status == "completed" and body["completed_at"] >= body["created_at"]
    assert 'You said: "Hello there"' in response.output_text
    [message] = body["output"]
    assert message["type"] == "message" and message["role"] == "assistant"
    assert message["status"] == "completed" and message["id"].startswith("msg_")
    [part] = message["content"]
    assert part == {
        "type": "output_text",
        "text": response.output_text,
        "annotations": [],
        "logprobs": [],
    }
    usage = body["usage"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"] > 0
    assert set(usage["input_tokens_details"]) == {"cached_tokens"}
    assert set(usage["output_tokens_details"]) == {"reasoning_tokens"}
    assert body["instructions"] == "Answer briefly." and body["metadata"] == {"ticket": "42"}
    assert body["temperature"] == 0.5 and body["max_output_tokens"] == 200
    assert body["store"] is True and body["text"]["format"] == {"type": "text"}
    assert body["tool_choice"] == "auto" and body["tools"] == []


def test_stream_sends_the_semantic_event_sequence(
    sdk: openai.OpenAI, gateway: ServiceThread
) -> None:
    events = list(sdk.responses.create(model="gpt-4o-mini", input="Stream this", stream=True))
    kinds = [e.type for e in events]
    deltas = kinds.count("response.output_text.delta")
    assert deltas > 1
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * deltas,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    created, final = events[0], events[-1]
    assert created.response.status == "in_progress" and created.response.output == []
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    done = events[-4]
    assert done.type == "response.output_text.done" and done.text == text
    completed = final.response  # type: ignore[union-attr]
    assert completed.output_text == text and completed.usage is not None
    stored = httpx.get(f"{gateway.url}/v1/responses/{completed.id}").json()
    assert stored["output"] == completed.model_dump(mode="json", exclude_unset=True)["output"]


def test_function_tool_round_trip_whole_and_streamed(
    sdk: openai.OpenAI, emulator: EmulatorThread
) -> None:
    first = sdk.responses.create(model="gpt-4o-mini", input=QUESTION, tools=[WEATHER])  # type: ignore[list-item]
    [call] = first.output
    assert call.type == "function_call" and call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "Oslo"} and call.status == "completed"
    output = {"type": "function_call_output", "call_id": call.call_id, "output": "21C, sunny"}
    second = sdk.responses.create(
        model="gpt-4o-mini",
        input=[output],  # type: ignore[list-item]
        tools=[WEATHER],  # type: ignore[list-item]
        previous_response_id=first.id,
    )
    assert "21C, sunny" in second.output_text
    sent = emulator.requests[-1].json["messages"]
    assert sent[0] == {"role": "user", "content": QUESTION}
    assert sent[1]["tool_calls"][0]["id"] == call.call_id
    assert sent[2] == {"role": "tool", "tool_call_id": call.call_id, "content": "21C, sunny"}

    # Streamed, the history handed back as items (no stored state).
    events = list(
        sdk.responses.create(
            model="gpt-4o-mini",
            input=[{"role": "user", "content": QUESTION}],
            tools=[WEATHER],  # type: ignore[list-item]
            stream=True,
            store=False,
        )
    )
    kinds = [e.type for e in events]
    assert kinds[:3] == ["response.created", "response.in_progress", "response.output_item.added"]
    assert kinds.count("response.function_call_arguments.delta") > 1
    assert kinds[-3:] == [
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    arguments = "".join(
        e.delta for e in events if e.type == "response.function_call_arguments.delta"
    )
    assert json.loads(arguments) == {"city": "Oslo"}
    [streamed_call] = events[-1].response.output  # type: ignore[union-attr]
    again = sdk.responses.create(
        model="gpt-4o-mini",
        input=[
            {"role": "user", "content": QUESTION},
            streamed_call.model_dump(exclude_none=True),  # type: ignore[list-item]
            {"type": "function_call_output", "call_id": streamed_call.call_id, "output": "rain"},
        ],
        tools=[WEATHER],  # type: ignore[list-item]
    )
    assert "rain" in again.output_text


def test_previous_response_id_on_an_openai_model(
    sdk: openai.OpenAI, emulator: EmulatorThread
) -> None:
    first = sdk.responses.create(model="gpt-4o-mini", input="My name is Ada.")
    second = sdk.responses.create(
        model="gpt-4o-mini", input="What is my name?", previous_response_id=first.id
    )
    assert "turn 2" in second.output_text and second.previous_response_id == first.id
    sent = emulator.requests[-1].json["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert sent[1]["content"] == first.output_text
    branch = sdk.responses.create(
        model="gpt-4o-mini", input="Another branch", previous_response_id=first.id
    )
    assert "turn 2" in branch.output_text


def test_instructions_are_not_carried_over(
    sdk: openai.OpenAI, emulator: EmulatorThread, gateway: ServiceThread
) -> None:
    first = sdk.responses.create(model="gpt-4o-mini", input="One", instructions="Rule A")
    assert emulator.requests[-1].json["messages"][0] == {"role": "system", "content": "Rule A"}
    sdk.responses.create(
        model="gpt-4o-mini", input="Two", instructions="Rule B", previous_response_id=first.id
    )
    sent = emulator.requests[-1].json["messages"]
    assert [m["content"] for m in sent] == ["Rule B", "One", first.output_text, "Two"]
    tree = httpx.get(f"{gateway.url}/v1/conversations").json()["data"][0]
    messages = httpx.get(f"{gateway.url}/v1/conversations/{tree['id']}").json()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    web = sdk.responses.create(model="gpt-3.5-turbo", input="Hi", instructions="Be kind")
    prompt = emulator.requests[-1].json["messages"][0]["content"]["parts"][0]
    assert "Be kind" in prompt and "Hi" in prompt and web.instructions == "Be kind"


def test_previous_response_id_on_the_chatgpt_web_model(
    sdk: openai.OpenAI, emulator: EmulatorThread
) -> None:
    first = sdk.responses.create(model="gpt-3.5-turbo", input="Hi from the web")
    assert "turn 1" in first.output_text
    second = sdk.responses.create(
        model="gpt-3.5-turbo", input="Still there?", previous_response_id=first.id
    )
    assert "turn 2" in second.output_text
    body = emulator.requests[-1].json
    assert body["conversation_id"] and body["parent_message_id"]
    assert emulator.requests[-1].headers["authorization"] == "Bearer web-token"
    streamed = list(
        sdk.responses.create(
            model="gpt-3.5-turbo", input="Third", previous_response_id=second.id, stream=True
        )
    )
    assert streamed[-1].type == "response.completed"
    assert "turn 3" in streamed[-1].response.output_text  # type: ignore[union-attr]


def test_store_false_keeps_nothing(sdk: openai.OpenAI, gateway: ServiceThread) -> None:
    before = httpx.get(f"{gateway.url}/v1/conversations").json()["total"]
    response = sdk.responses.create(model="gpt-4o-mini", input="Forget me", store=False)
    assert response.store is False and "Forget me" in response.output_text
    streamed = list(
        sdk.responses.create(model="gpt-4o-mini", input="Me too", store=False, stream=True)
    )
    assert streamed[-1].type == "response.completed"
    assert httpx.get(f"{gateway.url}/v1/conversations").json()["total"] == before
    for rid in (response.id, streamed[-1].response.id):  # type: ignore[union-attr]
        with pytest.raises(openai.NotFoundError):
            sdk.responses.retrieve(rid)
    with pytest.raises(openai.NotFoundError) as caught:
        sdk.responses.create(
            model="gpt-4o-mini", input="Continue", previous_response_id=response.id
        )
    assert caught.value.body["param"] == "previous_response_id"  # type: ignore[index]


def test_get_delete_and_input_items(sdk: openai.OpenAI) -> None:
    response = sdk.responses.create(
        model="gpt-4o-mini",
        input=[
            {"role": "developer", "content": "Be terse."},
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "What is in this image?"},
                    {"type": "input_image", "image_url": f"data:image/png;base64,{PNG}"},
                ],
            },
        ],
    )
    assert "image/png" in response.output_text
    assert sdk.responses.retrieve(response.id).output_text == response.output_text
    items = sdk.responses.input_items.list(response.id)
    assert [i.role for i in items.data] == ["user", "developer"]  # type: ignore[union-attr]
    assert all(i.id for i in items.data)
    ascending = sdk.responses.input_items.list(response.id, order="asc", limit=1)
    assert [i.role for i in ascending.data] == ["developer"]  # type: ignore[union-attr]
    assert ascending.has_more is True
    sdk.responses.delete(response.id)
    with pytest.raises(openai.NotFoundError):
        sdk.responses.retrieve(response.id)
    with pytest.raises(openai.NotFoundError):
        sdk.responses.delete(response.id)


def test_structured_output_through_text_format(sdk: openai.OpenAI) -> None:
    parsed = sdk.responses.parse(model="gpt-4o-mini", input="Name a city.", text_format=City)
    assert isinstance(parsed.output_parsed, City)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (
            {"model": "gpt-4o-mini", "input": "x", "tools": [{"type": "web_search"}]},
            "tools[0].type",
        ),
        ({"model": "gpt-4o-mini", "input": "x", "temperature": 3}, "temperature"),
        ({"model": "gpt-4o-mini", "input": "x", "background": True}, "background"),
        (
            {"model": "gpt-4o-mini", "input": "x", "include": ["file_search_call.results"]},
            "include[0]",
        ),
        (
            {"model": "gpt-4o-mini", "input": "x", "reasoning": {"summary": "auto"}},
            "reasoning.summary",
        ),
        (
            {"model": "gpt-4o-mini", "input": [{"type": "item_reference", "id": "msg_1"}]},
            "input[0].type",
        ),
        (
            {
                "model": "gpt-4o-mini",
                "input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}],
            },
            "input[0].content[0].image_url",
        ),
        ({"model": "gpt-3.5-turbo", "input": "x", "tools": [WEATHER]}, "tools"),
        ({"model": "gpt-3.5-turbo", "input": "x", "max_output_tokens": 5}, "max_output_tokens"),
        ({"model": "gpt-4o-mini", "input": []}, "input"),
    ],
)
def test_what_cannot_be_honoured_is_a_400_naming_it(
    gateway: ServiceThread, body: dict[str, Any], param: str
) -> None:
    reply = httpx.post(f"{gateway.url}/v1/responses", json=body)
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error["param"] == param and error["type"] == "invalid_request_error"


def _key(url: str, name: str) -> str:
    async def create() -> str:
        store = await open_store(url)
        try:
            return (await KeyStore(store).create(name))[1]
        finally:
            await store.close()

    return asyncio.run(create())


def test_another_keys_response_is_not_found(emulator: EmulatorThread, tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/store.db"
    alice, bob = _key(url, "alice"), _key(url, "bob")
    with ServiceThread(models_file=_models(tmp_path, emulator), database_url=url) as svc:
        a = openai.OpenAI(base_url=f"{svc.url}/v1", api_key=alice, max_retries=0)
        b = openai.OpenAI(base_url=f"{svc.url}/v1", api_key=bob, max_retries=0)
        mine = a.responses.create(model="gpt-4o-mini", input="Private")
        assert a.responses.retrieve(mine.id).id == mine.id
        for attempt in (
            lambda: b.responses.retrieve(mine.id),
            lambda: b.responses.input_items.list(mine.id),
            lambda: b.responses.delete(mine.id),
            lambda: b.responses.create(
                model="gpt-4o-mini", input="Steal", previous_response_id=mine.id
            ),
        ):
            with pytest.raises(openai.NotFoundError):
                attempt()
        assert a.responses.retrieve(mine.id).id == mine.id  # bob's delete did nothing
        a.close()
        b.close()


def test_max_output_tokens_makes_an_incomplete_response(sdk: openai.OpenAI) -> None:
    response = sdk.responses.create(
        model="gpt-4o-mini", input="Tell me a long story please", max_output_tokens=2
    )
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.output[0].status == "incomplete"  # type: ignore[union-attr]
    events = list(
        sdk.responses.create(
            model="gpt-4o-mini", input="Another long story", max_output_tokens=2, stream=True
        )
    )
    assert events[-1].type == "response.incomplete"
    [done] = [e for e in events if e.type == "response.output_item.done"]
    assert done.item.status == "incomplete"  # type: ignore[union-attr]
    assert events[-1].response.incomplete_details.reason == "max_output_tokens"  # type: ignore[union-attr]


def test_an_upstream_cut_mid_stream_ends_with_error_then_failed(gateway: ServiceThread) -> None:
    body = {"model": "gpt-drop", "input": "Say something long", "stream": True}
    with httpx.stream("POST", f"{gateway.url}/v1/responses", json=body, timeout=30) as reply:
        assert reply.status_code == 200
        data = [line[6:] for line in reply.iter_lines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    events = [json.loads(line) for line in data[:-1]]
    kinds = [e["type"] for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert "response.output_text.delta" in kinds
    assert kinds[-2:] == ["error", "response.failed"]
    error, failed = events[-2], events[-1]["response"]
    assert error["message"] and error["error"]["message"] == error["message"]
    assert failed["status"] == "failed" and failed["error"]["message"] == error["message"]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    whole = httpx.post(f"{gateway.url}/v1/responses", json={**body, "stream": False})
    assert whole.status_code == 502 and whole.json()["error"]["message"]


OPEN_RESPONSES_INPUTS: list[Any] = [
    [{"type": "message", "role": "user", "content": "Say hello in exactly 3 words."}],
    [
        {"type": "message", "role": "system", "content": "You are a pirate."},
        {"type": "message", "role": "user", "content": "Say hello."},
    ],
    [
        {"type": "message", "role": "user", "content": "My name is Alice."},
        {"type": "message", "role": "assistant", "content": "Hello Alice!"},
        {"type": "message", "role": "user", "content": "What is my name?"},
    ],
]
#: The fields each streamed event carries beside ``type`` and ``sequence_number``.
EVENT_FIELDS = {
    "response.created": {"response"},
    "response.in_progress": {"response"},
    "response.completed": {"response"},
    "response.output_item.added": {"output_index", "item"},
    "response.output_item.done": {"output_index", "item"},
    "response.content_part.added": {"item_id", "output_index", "content_index", "part"},
    "response.content_part.done": {"item_id", "output_index", "content_index", "part"},
    "response.output_text.delta": {"item_id", "output_index", "content_index", "delta"},
    "response.output_text.done": {"item_id", "output_index", "content_index", "text"},
    "response.function_call_arguments.delta": {"item_id", "output_index", "delta"},
    "response.function_call_arguments.done": {"item_id", "output_index", "arguments"},
}


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("items", OPEN_RESPONSES_INPUTS)
def test_open_responses_shapes_over_plain_http(
    gateway: ServiceThread, items: list[Any], stream: bool
) -> None:
    """The compliance suite's kind of request, checked field by field without an SDK."""
    body = {"model": "gpt-4o-mini", "input": items, "stream": stream}
    if not stream:
        response = httpx.post(f"{gateway.url}/v1/responses", json=body).json()
    else:
        with httpx.stream("POST", f"{gateway.url}/v1/responses", json=body) as reply:
            assert reply.headers["content-type"].startswith("text/event-stream")
            lines = list(reply.iter_lines())
        named = [line[7:] for line in lines if line.startswith("event: ")]
        data = [line[6:] for line in lines if line.startswith("data: ")]
        assert data[-1] == "[DONE]"  # the terminal event the specification requires
        events = [json.loads(line) for line in data[:-1]]
        assert named == [e["type"] for e in events]
        for index, event in enumerate(events):
            assert event["sequence_number"] == index
            assert EVENT_FIELDS[event["type"]] <= set(event), event
            assert set(event["response"]) == RESPONSE_FIELDS if "response" in event else True
        response = events[-1]["response"]
    assert set(response) == RESPONSE_FIELDS and response["status"] == "completed"
    assert response["output"][0]["content"][0]["type"] == "output_text"


def test_compact_then_continue_from_the_compaction(
    sdk: openai.OpenAI, emulator: EmulatorThread, gateway: ServiceThread
) -> None:
    first = sdk.responses.create(model="gpt-4o-mini", input="My name is Ada.")
    second = sdk.responses.create(
        model="gpt-4o-mini", input="I live in Oslo.", previous_response_id=first.id
    )
    compacted = sdk.responses.compact(
        model="gpt-4o-mini", previous_response_id=second.id, input="And I like tea."
    )
    assert compacted.object == "response.compaction" and compacted.usage.total_tokens > 0
    *users, compaction = compacted.output
    assert [u.content[0].text for u in users] == [  # type: ignore[union-attr]
        "My name is Ada.",
        "I live in Oslo.",
        "And I like tea.",
    ]
    assert compaction.type == "compaction" and compaction.encrypted_content  # type: ignore[union-attr]
    asked = emulator.requests[-1].json["messages"]
    assert [m["role"] for m in asked] == ["user", "assistant", "user", "assistant", "user", "user"]
    assert "Summarize the conversation" in asked[-1]["content"]

    follow = sdk.responses.create(
        model="gpt-4o-mini",
        input=[compaction.model_dump(exclude_none=True), {"role": "user", "content": "Hi"}],  # type: ignore[list-item]
    )
    sent = emulator.requests[-1].json["messages"]
    assert sent[0]["role"] == "system" and sent[0]["content"].startswith("Summary of the")
    assert "Hi" in follow.output_text
    forged = {"type": "compaction", "id": "cmp_x", "encrypted_content": "forged"}
    bad = httpx.post(
        f"{gateway.url}/v1/responses", json={"model": "gpt-4o-mini", "input": [forged]}
    )
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "input[0].encrypted_content"
    missing = httpx.post(f"{gateway.url}/v1/responses/compact", json={"input": "x"})
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "model"
    unknown = httpx.post(
        f"{gateway.url}/v1/responses/compact",
        json={"model": "gpt-4o-mini", "input": "x", "tools": []},
    )
    assert unknown.status_code == 400 and unknown.json()["error"]["param"] == "tools"


def test_truncation_disabled_refuses_a_history_over_the_budget(
    emulator: EmulatorThread, tmp_path: Path
) -> None:
    with ServiceThread(
        models_file=_models(tmp_path, emulator),
        database_url=f"sqlite+aiosqlite:///{tmp_path}/store.db",
        history_max_messages=4,
    ) as svc:
        client = openai.OpenAI(base_url=f"{svc.url}/v1", api_key="k", max_retries=0)
        previous = client.responses.create(model="gpt-4o-mini", input="One")
        previous = client.responses.create(
            model="gpt-4o-mini", input="Two", previous_response_id=previous.id
        )
        with pytest.raises(openai.BadRequestError) as refused:
            client.responses.create(
                model="gpt-4o-mini", input="Three", previous_response_id=previous.id
            )
        assert refused.value.body["param"] == "truncation"  # type: ignore[index]
        trimmed = client.responses.create(
            model="gpt-4o-mini", input="Three", previous_response_id=previous.id, truncation="auto"
        )
        assert trimmed.truncation == "auto"
        assert len(emulator.requests[-1].json["messages"]) == 4
        client.close()


def test_rate_limits_apply_as_on_chat(emulator: EmulatorThread, tmp_path: Path) -> None:
    with ServiceThread(
        models_file=_models(tmp_path, emulator),
        database_url=f"sqlite+aiosqlite:///{tmp_path}/store.db",
        rate_limit_rpm=1,
    ) as svc:
        body = {"model": "gpt-4o-mini", "input": "Once"}
        assert httpx.post(f"{svc.url}/v1/responses", json=body).status_code == 200
        limited = httpx.post(f"{svc.url}/v1/responses", json=body)
        assert limited.status_code == 429 and "Retry-After" in limited.headers
        assert limited.json()["error"]["type"] == "requests"
