"""Real client libraries against the emulator's OpenAI API: LangChain's ChatOpenAI (tools,
streamed tools, structured output) and a pydantic-ai agent (a tool and an output type), so the
emulator's rules are known to drive the flows these libraries use."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import AIMessageChunk, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from pydantic import BaseModel
from pydantic_ai import Agent
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

from chatgpt_api.testing import EmulatorThread

MODEL = "gpt-4o-mini"


class Weather(BaseModel):
    city: str
    temperature: int


@tool
def get_weather(city: str) -> str:
    """Get the current weather for a city."""
    return f"sunny in {city}"


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorThread]:
    with EmulatorThread() as running:
        yield running


@pytest.fixture
def llm(emu: EmulatorThread) -> ChatOpenAI:
    return ChatOpenAI(model=MODEL, base_url=f"{emu.url}/v1", api_key="sk-test", max_retries=0)  # type: ignore[arg-type]


def test_langchain_tool_round_trip(llm: ChatOpenAI) -> None:
    bound = llm.bind_tools([get_weather])
    messages: list[BaseMessage] = [HumanMessage('What is the weather in "Paris"?')]
    answer = bound.invoke(messages)
    (call,) = answer.tool_calls  # type: ignore[attr-defined]
    assert (call["name"], call["args"]) == ("get_weather", {"city": "Paris"})
    result = get_weather.invoke(call["args"])
    messages += [answer, ToolMessage(result, tool_call_id=call["id"])]
    final = bound.invoke(messages)
    assert final.content == (
        'You said: "What is the weather in "Paris"?". This is turn 1 of this conversation. '
        "The tool get_weather returned: sunny in Paris."
    )


def test_langchain_streamed_tool_calls(llm: ChatOpenAI) -> None:
    chunks = list(llm.bind_tools([get_weather]).stream('What is the weather in "Rome"?'))
    assert len(chunks) > 3
    total: Any = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    assert isinstance(total, AIMessageChunk)
    assert [(c["name"], c["args"]) for c in total.tool_calls] == [("get_weather", {"city": "Rome"})]


def test_langchain_structured_output(llm: ChatOpenAI) -> None:
    result = llm.with_structured_output(Weather).invoke('Weather in "Oslo" is 12 degrees')
    assert result == Weather(city="Oslo", temperature=12)


def test_pydantic_ai_agent_with_a_tool_and_an_output_type(emu: EmulatorThread) -> None:
    provider = OpenAIProvider(base_url=f"{emu.url}/v1", api_key="sk-test")
    agent = Agent(OpenAIChatModel(MODEL, provider=provider), output_type=Weather)
    called: list[str] = []

    @agent.tool_plain
    def weather_lookup(city: str) -> str:
        """Get the current weather for a city."""
        called.append(city)
        return f"sunny in {city}"

    emu.clear()
    result = agent.run_sync('What is the weather in "Lima" at 21 degrees?')
    assert called == ["Lima"]
    assert result.output == Weather(city="Lima", temperature=21)
    # The tool first, then the output tool (pydantic-ai asks with tool_choice "required").
    last = emu.requests[-1].json
    assert last["tool_choice"] == "required"
    assert [m["role"] for m in last["messages"]] == ["user", "assistant", "tool"]
