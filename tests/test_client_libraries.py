"""Real client libraries through the gateway, against the emulator's OpenAI endpoint: the
official openai SDK, LangChain's ChatOpenAI and a pydantic-ai agent — tool round trips (whole
and streamed), structured outputs, an image question, ``n=2`` stored as branches, and a
follow-up by ``conversation_id`` that replays the tool history."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from pydantic import BaseModel

from chatgpt_api.testing import EmulatorThread
from tests.servers import ServiceThread, registry_service

MODELS = """
default_backend = "chatgpt-web"

[models."gpt-4o-mini"]
backend = "openai"
base_url = "{emu}/v1"
api_key = "sk-configured"

[models."text-embedding-3-small"]
backend = "openai"
base_url = "{emu}/v1"
api_key = "sk-configured"
kind = "embedding"
"""

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
PNG = base64.b64encode(
    bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + bytes(40)
).decode()


class City(BaseModel):
    name: str
    population: int


@pytest.fixture(scope="module")
def gateway(
    emulator: EmulatorThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceThread]:
    home = tmp_path_factory.mktemp("clients")
    with registry_service(home, MODELS.format(emu=emulator.url), emulator.url) as svc:
        yield svc


@pytest.fixture()
def sdk(gateway: ServiceThread) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="anything") as client:
        yield client


def _weather_question() -> list[dict[str, Any]]:
    return [{"role": "user", "content": "What is the weather in 'Oslo'? Use get_weather."}]


def test_openai_sdk_tool_round_trip(sdk: openai.OpenAI) -> None:
    messages: list[Any] = _weather_question()
    first = sdk.chat.completions.create(
        model="gpt-4o-mini", messages=messages, tools=[WEATHER_TOOL]
    )
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls or []
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Oslo"}
    messages += [
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": '{"temp": 21}'},
    ]
    second = sdk.chat.completions.create(
        model="gpt-4o-mini", messages=messages, tools=[WEATHER_TOOL]
    )
    assert second.choices[0].finish_reason == "stop"
    assert '{"temp": 21}' in (second.choices[0].message.content or "")


def test_openai_sdk_streamed_tool_call(sdk: openai.OpenAI) -> None:
    stream = sdk.chat.completions.create(
        model="gpt-4o-mini", messages=_weather_question(), tools=[WEATHER_TOOL], stream=True
    )
    names: list[str] = []
    arguments: list[str] = []
    finish = None
    for chunk in stream:
        for choice in chunk.choices:
            for fragment in choice.delta.tool_calls or []:
                if fragment.function and fragment.function.name:
                    names.append(fragment.function.name)
                if fragment.function and fragment.function.arguments:
                    arguments.append(fragment.function.arguments)
            finish = choice.finish_reason or finish
    assert names == ["get_weather"]
    assert len(arguments) > 1  # fragments, relayed as they came
    assert json.loads("".join(arguments)) == {"city": "Oslo"}
    assert finish == "tool_calls"


def test_openai_sdk_structured_output(sdk: openai.OpenAI) -> None:
    parsed = sdk.chat.completions.parse(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Name a city."}],
        response_format=City,
    )
    city = parsed.choices[0].message.parsed
    assert isinstance(city, City)


def test_openai_sdk_image_question(sdk: openai.OpenAI) -> None:
    answer = sdk.chat.completions.create(
        model="gpt-4o-mini",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in this image?"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                ],
            }
        ],
    )
    assert "image/png" in (answer.choices[0].message.content or "")


def test_n_choices_are_stored_as_branches(sdk: openai.OpenAI, gateway: ServiceThread) -> None:
    answer = sdk.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Two ideas"}], n=2
    )
    assert [c.index for c in answer.choices] == [0, 1]
    extra = answer.model_extra or {}
    ids = extra["message_ids"]
    tree = httpx.get(f"{gateway.url}/v1/conversations/{extra['conversation_id']}").json()
    user = next(m for m in tree["messages"] if m["role"] == "user")
    assert user["children"] == ids
    texts = {m["id"]: m["content"] for m in tree["messages"]}
    assert [texts[i] for i in ids] == [c.message.content for c in answer.choices]


def test_follow_up_replays_the_tool_history(sdk: openai.OpenAI, emulator: EmulatorThread) -> None:
    first = sdk.chat.completions.create(
        model="gpt-4o-mini", messages=_weather_question(), tools=[WEATHER_TOOL]
    )
    extra = first.model_extra or {}
    [call] = first.choices[0].message.tool_calls or []
    result = {"role": "tool", "tool_call_id": call.id, "content": "sunny"}
    second = sdk.chat.completions.create(
        model="gpt-4o-mini",
        messages=[result],  # type: ignore[list-item]
        tools=[WEATHER_TOOL],
        extra_body={"conversation_id": extra["conversation_id"]},
    )
    assert "sunny" in (second.choices[0].message.content or "")
    sent = emulator.requests[-1].json["messages"]
    assert sent[0] == _weather_question()[0]
    assert sent[1]["tool_calls"][0]["id"] == call.id
    assert sent[1]["tool_calls"][0]["function"]["arguments"] == call.function.arguments
    assert sent[2] == result


def test_langchain_tools_and_structured_output(gateway: ServiceThread) -> None:
    from langchain_core.messages import HumanMessage, ToolMessage
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI

    @tool
    def get_weather(city: str) -> str:
        """Current weather for a city."""
        return f"22C in {city}"

    llm = ChatOpenAI(model="gpt-4o-mini", base_url=f"{gateway.url}/v1", api_key="x")  # type: ignore[arg-type]
    with_tools = llm.bind_tools([get_weather])
    question = HumanMessage("What is the weather in 'Oslo'? Use get_weather.")
    reply = with_tools.invoke([question])
    [call] = reply.tool_calls  # type: ignore[attr-defined]
    assert call["name"] == "get_weather" and call["args"] == {"city": "Oslo"}
    result = ToolMessage(get_weather.invoke(call["args"]), tool_call_id=call["id"])
    final = with_tools.invoke([question, reply, result])
    assert "22C in Oslo" in str(final.content)

    chunks = list(with_tools.stream([question]))
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged = merged + chunk
    assert merged.tool_calls[0]["args"] == {"city": "Oslo"}  # type: ignore[attr-defined]

    city = llm.with_structured_output(City).invoke("Name a city.")
    assert isinstance(city, City)


def test_pydantic_ai_agent_with_a_tool_and_an_output_type(gateway: ServiceThread) -> None:
    from pydantic_ai import Agent
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    model = OpenAIChatModel(
        "gpt-4o-mini",
        provider=OpenAIProvider(base_url=f"{gateway.url}/v1", api_key="x"),
    )
    calls: list[str] = []
    agent = Agent(model, output_type=City)

    @agent.tool_plain
    def get_population(city: str) -> int:
        """Population of a city (call get_population first)."""
        calls.append(city)
        return 700_000

    result = agent.run_sync("Use get_population for 'Oslo', then answer.")
    assert isinstance(result.output, City)
    assert calls == ["Oslo"]


def test_embedding_models_are_not_chat_models(sdk: openai.OpenAI, emulator: EmulatorThread) -> None:
    models = {m.id: m.model_extra or {} for m in sdk.models.list()}
    assert models["gpt-4o-mini"]["kind"] == "chat"
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.chat.completions.create(
            model="text-embedding-3-small", messages=[{"role": "user", "content": "x"}]
        )
    assert refused.value.body["param"] == "model"  # type: ignore[index]
    assert "/v1/embeddings" in refused.value.message
