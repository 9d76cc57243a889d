"""Tool calling and structured output on ChatGPT web by emulation (issue 12 items 2-4), end to
end against the emulator's web endpoint: streamed tool-call chunks, tool choice,
``chat.completions.parse``, the repair turn and the final 502, the 400 that names the registry
option, tool history never folded as the user's words, follow-ups, ``/v1/models``, the Messages
API and a pydantic-ai agent (the Agents SDK loop: tests/test_web_tools_agents.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
from pydantic import BaseModel

from chatgpt_api.testing import EmulatorThread
from tests.servers import ServiceThread
from tests.web_tools_setup import (
    QUESTION,
    WEATHER_TOOL,
    received_prompts,
    web_tools_gateway,
)


class City(BaseModel):
    name: str
    population: int


@pytest.fixture(scope="module")
def gateway(
    emulator: EmulatorThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceThread]:
    with web_tools_gateway(emulator, tmp_path_factory.mktemp("webtools")) as svc:
        yield svc


@pytest.fixture()
def sdk(gateway: ServiceThread) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="tok", max_retries=0) as client:
        yield client


# --------------------------------------------------------------------------- the wire


def test_a_tool_call_streams_as_openai_chunks(sdk: openai.OpenAI) -> None:
    stream = sdk.chat.completions.create(
        model="web-tools",
        messages=QUESTION,  # type: ignore[arg-type]
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    assert deltas[0].role == "assistant" and not any(d.content for d in deltas)
    opening = deltas[1].tool_calls[0]  # type: ignore[index]
    assert opening.id.startswith("call_") and opening.function.name == "get_weather"  # type: ignore[union-attr]
    arguments = "".join(
        tc.function.arguments or ""
        for d in deltas
        for tc in d.tool_calls or ()
        if tc.function is not None
    )
    assert json.loads(arguments) == {"city": "Oslo"}
    assert chunks[-2].choices[0].finish_reason == "tool_calls"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


def test_plain_text_still_streams_while_tools_are_offered(sdk: openai.OpenAI) -> None:
    stream = sdk.chat.completions.create(
        model="web-tools",
        messages=[{"role": "user", "content": "Tell me a short story about a cat."}],
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
        stream=True,
    )
    pieces = [
        c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content
    ]
    assert len(pieces) > 2  # not held back to the end
    assert "".join(pieces) == 'You said: "Tell me a short story about a cat.".'


def test_forced_tool_choice_and_parallel_tool_calls_are_honoured(sdk: openai.OpenAI) -> None:
    time_tool = {
        "type": "function",
        "function": {
            "name": "get_time",
            "description": "Current local time for a timezone",
            "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}},
        },
    }
    both = [{"role": "user", "content": "Use get_weather and get_time for 'Oslo'."}]
    answer = sdk.chat.completions.create(
        model="web-tools",
        messages=both,
        tools=[WEATHER_TOOL, time_tool],  # type: ignore[arg-type, list-item]
    )
    assert [c.function.name for c in answer.choices[0].message.tool_calls or ()] == [  # type: ignore[union-attr]
        "get_weather",
        "get_time",
    ]
    one = sdk.chat.completions.create(
        model="web-tools",
        messages=both,  # type: ignore[arg-type]
        tools=[WEATHER_TOOL, time_tool],  # type: ignore[list-item]
        parallel_tool_calls=False,
    )
    assert len(one.choices[0].message.tool_calls or ()) == 1
    forced = sdk.chat.completions.create(
        model="web-tools",
        messages=[{"role": "user", "content": "Hello there."}],
        tools=[WEATHER_TOOL, time_tool],  # type: ignore[list-item]
        tool_choice={"type": "function", "function": {"name": "get_time"}},
    )
    assert forced.choices[0].finish_reason == "tool_calls"
    assert [c.function.name for c in forced.choices[0].message.tool_calls or ()] == ["get_time"]  # type: ignore[union-attr]
    none = sdk.chat.completions.create(
        model="web-tools",
        messages=QUESTION,  # type: ignore[arg-type]
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
        tool_choice="none",
    )
    assert none.choices[0].message.tool_calls is None
    assert none.choices[0].finish_reason == "stop"


def test_structured_output_parses(sdk: openai.OpenAI, emulator: EmulatorThread) -> None:
    completion = sdk.chat.completions.parse(
        model="web-tools",
        messages=[{"role": "user", "content": "Describe the city 'Oslo' with 700000 people."}],
        response_format=City,
    )
    parsed = completion.choices[0].message.parsed
    assert parsed == City(name="Oslo", population=700000)
    assert "<schema>" in received_prompts(emulator)[-1]


# --------------------------------------------------------------------------- repair and errors


def test_malformed_tool_output_is_repaired_once(
    sdk: openai.OpenAI, emulator: EmulatorThread
) -> None:
    answer = sdk.chat.completions.create(
        model="web-repaired",
        messages=QUESTION,
        tools=[WEATHER_TOOL],  # type: ignore[arg-type, list-item]
    )
    call = (answer.choices[0].message.tool_calls or [])[0]
    assert json.loads(call.function.arguments) == {"city": "Oslo"}  # type: ignore[union-attr]
    requests = [r for r in emulator.requests if r.path.endswith("/conversation")][-2:]
    first, repair = (r.json for r in requests)
    repair_prompt = repair["messages"][0]["content"]["parts"][0]
    assert repair_prompt.startswith("Your previous reply could not be used:")
    assert '"city" is a required property' in repair_prompt
    assert repair["conversation_id"]  # the same upstream conversation, a follow-up turn
    assert "conversation_id" not in first


def test_malformed_structured_output_is_repaired_once(sdk: openai.OpenAI) -> None:
    completion = sdk.chat.completions.parse(
        model="web-repaired",
        messages=[{"role": "user", "content": "Describe the city 'Oslo' with 700000 people."}],
        response_format=City,
    )
    assert completion.choices[0].message.parsed == City(name="Oslo", population=700000)


def test_output_still_malformed_after_the_repair_is_a_clear_502(
    gateway: ServiceThread,
) -> None:
    body = {"model": "web-broken", "messages": QUESTION, "tools": [WEATHER_TOOL]}
    reply = httpx.post(f"{gateway.url}/v1/chat/completions", json=body, headers=_auth())
    assert reply.status_code == 502
    error = reply.json()["error"]
    assert error["code"] == "tool_emulation_failed"
    assert 'tool "get_weather"' in error["message"]
    assert '"city" is a required property' in error["message"]
    streamed = httpx.post(
        f"{gateway.url}/v1/chat/completions", json={**body, "stream": True}, headers=_auth()
    )
    assert streamed.status_code == 502  # nothing was sent yet: the error is the response
    assert streamed.json()["error"]["code"] == "tool_emulation_failed"


def _auth() -> dict[str, str]:
    return {"Authorization": "Bearer tok"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tools", [WEATHER_TOOL]),
        ("tool_choice", "required"),
        ("response_format", {"type": "json_object"}),
    ],
)
def test_without_emulation_tools_are_a_400_naming_the_option(
    gateway: ServiceThread, field: str, value: Any
) -> None:
    body = {"model": "web-plain", "messages": QUESTION, field: value}
    reply = httpx.post(f"{gateway.url}/v1/chat/completions", json=body, headers=_auth())
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["param"] == field
    assert "emulate_tools = true" in error["message"]


def test_without_emulation_a_tool_history_is_a_400(gateway: ServiceThread) -> None:
    history = [
        *QUESTION,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "22C and sunny"},
    ]
    body = {"model": "web-plain", "messages": history}
    reply = httpx.post(f"{gateway.url}/v1/chat/completions", json=body, headers=_auth())
    assert reply.status_code == 400
    assert reply.json()["error"]["param"] == "messages[1].tool_calls"
    assert "emulate_tools = true" in reply.json()["error"]["message"]


def test_an_emulated_tool_that_is_not_a_function_is_a_400(gateway: ServiceThread) -> None:
    body = {
        "model": "web-tools",
        "messages": QUESTION,
        "tools": [{"type": "custom", "custom": {"name": "grep"}}],
    }
    reply = httpx.post(f"{gateway.url}/v1/chat/completions", json=body, headers=_auth())
    assert reply.status_code == 400
    assert reply.json()["error"]["param"] == "tools[0].type"


def test_a_tool_history_is_never_folded_as_user_text(
    sdk: openai.OpenAI, emulator: EmulatorThread
) -> None:
    history = [
        *QUESTION,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_abc",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_abc", "content": "22C and sunny"},
    ]
    answer = sdk.chat.completions.create(
        model="web-tools",
        messages=history,
        tools=[WEATHER_TOOL],  # type: ignore[arg-type, list-item]
    )
    assert answer.choices[0].message.content == "The tool get_weather returned: 22C and sunny."
    prompt = received_prompts(emulator)[-1]
    assert "Tool result (call_abc, get_weather): 22C and sunny" in prompt
    assert 'Assistant (tool calls): {"tool_calls": [{"id": "call_abc"' in prompt
    assert "Now answer my latest message" not in prompt
    assert "User: 22C" not in prompt and "\n\n22C and sunny" not in prompt


def test_models_show_emulated_capabilities(gateway: ServiceThread) -> None:
    models = httpx.get(f"{gateway.url}/v1/models", headers=_auth()).json()["data"]
    by_name = {m["id"]: m["capabilities"] for m in models}
    assert by_name["web-tools"]["tools"] == "emulated"
    assert by_name["web-tools"]["structured_output"] == "emulated"
    assert by_name["web-plain"]["tools"] == "not available"


def test_a_follow_up_sends_every_tool_result(sdk: openai.OpenAI, emulator: EmulatorThread) -> None:
    time_tool = {"type": "function", "function": {"name": "get_time", "description": "Clock"}}
    question = [{"role": "user", "content": "Use get_weather and get_time for 'Oslo'."}]
    first = sdk.chat.completions.create(
        model="web-tools",
        messages=question,  # type: ignore[arg-type]
        tools=[WEATHER_TOOL, time_tool],  # type: ignore[list-item]
    )
    ids = first.model_extra or {}
    calls = first.choices[0].message.tool_calls or []
    results = [
        {"role": "tool", "tool_call_id": call.id, "content": f"result {n}"}
        for n, call in enumerate(calls)
    ]
    answer = sdk.chat.completions.create(
        model="web-tools",
        messages=results,  # type: ignore[arg-type]
        tools=[WEATHER_TOOL, time_tool],  # type: ignore[list-item]
        extra_body={
            "conversation_id": ids["conversation_id"],
            "parent_message_id": ids["message_id"],
        },
    )
    assert answer.choices[0].finish_reason == "stop"
    prompt = received_prompts(emulator)[-1]
    for n, call in enumerate(calls):
        assert f"Tool result ({call.id}): result {n}" in prompt
    assert emulator.requests[-1].json["conversation_id"] == ids["conversation_id"]


def test_the_messages_api_uses_the_emulation_too(
    gateway: ServiceThread, emulator: EmulatorThread
) -> None:
    weather = {
        "name": "get_weather",
        "description": "Current weather for a city",
        "input_schema": WEATHER_TOOL["function"]["parameters"],
    }
    with anthropic.Anthropic(base_url=gateway.url, api_key="tok", max_retries=0) as client:
        first = client.messages.create(
            model="web-tools",
            max_tokens=200,
            messages=QUESTION,  # type: ignore[arg-type]
            tools=[weather],  # type: ignore[list-item]
        )
        assert first.stop_reason == "tool_use"
        use = next(block for block in first.content if block.type == "tool_use")
        assert use.name == "get_weather" and use.input == {"city": "Oslo"}
        with client.messages.stream(
            model="web-tools",
            max_tokens=200,
            messages=QUESTION,  # type: ignore[arg-type]
            tools=[weather],  # type: ignore[list-item]
        ) as streamed_call:
            kinds = [event.type for event in streamed_call]
            streamed_first = streamed_call.get_final_message()
        assert streamed_first.stop_reason == "tool_use"
        assert "input_json" in kinds
        streamed_use = next(b for b in streamed_first.content if b.type == "tool_use")
        assert streamed_use.input == {"city": "Oslo"}
        result = {"type": "tool_result", "tool_use_id": use.id, "content": "22C and sunny"}
        with client.messages.stream(
            model="web-tools",
            max_tokens=200,
            messages=[
                *QUESTION,  # type: ignore[list-item]
                {"role": "assistant", "content": first.content},  # type: ignore[typeddict-item]
                {"role": "user", "content": [result]},  # type: ignore[list-item]
            ],
            tools=[weather],  # type: ignore[list-item]
        ) as stream:
            final = stream.get_final_message()
    assert final.stop_reason == "end_turn"
    assert final.content[0].text == "The tool get_weather returned: 22C and sunny."  # type: ignore[union-attr]
    assert ", get_weather): 22C and sunny" in received_prompts(emulator)[-1]
    plain = httpx.post(
        f"{gateway.url}/v1/messages",
        json={"model": "web-plain", "max_tokens": 10, "messages": QUESTION, "tools": [weather]},
        headers={"x-api-key": "tok"},
    )
    assert plain.status_code == 400
    assert "emulate_tools = true" in plain.json()["error"]["message"]


def test_a_pydantic_ai_agent_with_a_tool_and_an_output_type(gateway: ServiceThread) -> None:
    from pydantic_ai import Agent as PydanticAgent
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    model = OpenAIChatModel(
        "web-tools", provider=OpenAIProvider(base_url=f"{gateway.url}/v1", api_key="tok")
    )
    calls: list[str] = []
    agent = PydanticAgent(model, output_type=City)

    @agent.tool_plain
    def get_population(city: str) -> int:
        """Population of a city (call get_population first)."""
        calls.append(city)
        return 700_000

    result = agent.run_sync("Use get_population for 'Oslo', then answer.")
    assert isinstance(result.output, City)
    assert calls == ["Oslo"]


def test_streamed_structured_output_is_the_validated_json(sdk: openai.OpenAI) -> None:
    schema = City.model_json_schema()
    stream = sdk.chat.completions.create(
        model="web-repaired",  # the first answer is not JSON: the repaired one streams
        messages=[{"role": "user", "content": "Describe the city 'Oslo' with 700000 people."}],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "City", "schema": schema},
        },
        stream=True,
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert City.model_validate_json(text) == City(name="Oslo", population=700000)
    assert chunks[-1].choices[0].finish_reason == "stop"
