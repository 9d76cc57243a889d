"""An OpenAI Agents SDK agent loop with a function tool on a chatgpt-web model with tool
emulation (issue 12), whole and streamed, against the emulator's web endpoint."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from chatgpt_api.testing import EmulatorThread
from tests.servers import ServiceThread
from tests.web_tools_setup import received_prompts, web_tools_gateway

agents = pytest.importorskip("agents")  # openai-agents, a dev dependency


@pytest.fixture(scope="module")
def gateway(
    emulator: EmulatorThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceThread]:
    with web_tools_gateway(emulator, tmp_path_factory.mktemp("webtools-agents")) as svc:
        yield svc


# --------------------------------------------------------------------------- an agent loop


def _agent(gateway: ServiceThread, calls: list[str]) -> tuple[Any, Any]:
    agents.set_tracing_disabled(True)  # the SDK would export traces to api.openai.com

    @agents.function_tool
    def get_weather(city: str) -> str:
        """Current weather for a city."""
        calls.append(city)
        return f"22C and sunny in {city}"

    client = openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key="tok", max_retries=0)
    model = agents.OpenAIChatCompletionsModel(model="web-tools", openai_client=client)
    agent = agents.Agent(
        name="weather", instructions="You answer weather questions.", tools=[get_weather]
    )
    return agent, agents.RunConfig(model=model, tracing_disabled=True)


def test_an_agent_calls_a_function_tool_through_chatgpt_web(
    gateway: ServiceThread, emulator: EmulatorThread
) -> None:
    calls: list[str] = []
    agent, config = _agent(gateway, calls)
    result = asyncio.run(
        agents.Runner.run(
            agent, "What is the weather in 'Oslo'? Use get_weather.", run_config=config
        )
    )
    assert calls == ["Oslo"]
    assert result.final_output == "The tool get_weather returned: 22C and sunny in Oslo."
    last = received_prompts(emulator)[-1]
    assert "Tool result (call_" in last and ", get_weather): 22C and sunny in Oslo" in last
    assert "System: You answer weather questions." in last


def test_an_agent_streams_through_chatgpt_web(gateway: ServiceThread) -> None:
    calls: list[str] = []
    agent, config = _agent(gateway, calls)

    async def run() -> tuple[Any, list[str]]:
        streamed = agents.Runner.run_streamed(
            agent, "What is the weather in 'Paris'? Use get_weather.", run_config=config
        )
        kinds = [event.type async for event in streamed.stream_events()]
        return streamed.final_output, kinds

    final, kinds = asyncio.run(run())
    assert calls == ["Paris"]
    assert final == "The tool get_weather returned: 22C and sunny in Paris."
    assert "raw_response_event" in kinds and "run_item_stream_event" in kinds
