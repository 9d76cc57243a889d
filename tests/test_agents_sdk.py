"""The OpenAI Agents SDK (``openai-agents``) with its default model — the Responses API —
through the gateway, against the emulator: an agent with a function tool, run whole and
streamed, a follow-up run continuing by ``previous_response_id``, and a run in a conversation
of the Conversations API."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from agents import Agent, RunConfig, Runner, function_tool, set_tracing_disabled
from agents.models.openai_provider import OpenAIProvider
from openai import AsyncOpenAI

from chatgpt_api.testing import EmulatorThread
from tests.servers import ServiceThread

MODELS = """
[models."gpt-4o-mini"]
backend = "openai"
base_url = "{emu}/v1"
api_key = "sk-configured"
"""


@pytest.fixture(scope="module")
def gateway(emulator: EmulatorThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    set_tracing_disabled(True)  # traces would otherwise be exported to api.openai.com
    home: Path = tmp_path_factory.mktemp("agents")
    (home / "models.toml").write_text(MODELS.format(emu=emulator.url))
    with ServiceThread(
        models_file=home / "models.toml", database_url=f"sqlite+aiosqlite:///{home}/store.db"
    ) as svc:
        yield f"{svc.url}/v1"


def test_agent_with_a_function_tool(gateway: str, emulator: EmulatorThread) -> None:
    cities: list[str] = []

    @function_tool
    def get_weather(city: str) -> str:
        """Current weather for a city."""
        cities.append(city)
        return f"22C in {city}"

    async def scenario() -> None:
        client = AsyncOpenAI(base_url=gateway, api_key="anything", max_retries=0)
        # The provider's default model is the Responses model.
        config = RunConfig(model_provider=OpenAIProvider(openai_client=client))
        agent = Agent(
            name="weather", instructions="Use the tools.", tools=[get_weather], model="gpt-4o-mini"
        )
        first = await Runner.run(
            agent, "What is the weather in 'Oslo'? Use get_weather.", run_config=config
        )
        assert cities == ["Oslo"]
        assert "22C in Oslo" in str(first.final_output)
        upstream = [r for r in emulator.requests if r.path == "/v1/chat/completions"][-1]
        assert upstream.json["tools"][0]["function"]["name"] == "get_weather"

        streamed = Runner.run_streamed(
            agent, "What is the weather in 'Paris'? Use get_weather.", run_config=config
        )
        kinds = [event.type async for event in streamed.stream_events()]
        assert "raw_response_event" in kinds and "run_item_stream_event" in kinds
        assert cities == ["Oslo", "Paris"] and "22C in Paris" in str(streamed.final_output)

        follow_up = await Runner.run(
            agent,
            "And tomorrow?",
            run_config=config,
            previous_response_id=first.last_response_id,
        )
        assert "And tomorrow?" in str(follow_up.final_output)
        sent = emulator.requests[-1].json["messages"]
        assert any(m.get("tool_calls") for m in sent)  # the stored tool round trip, replayed
        assert any(m["role"] == "tool" and m["content"] == "22C in Oslo" for m in sent)
        conversation = await client.conversations.create(metadata={"agent": "weather"})
        in_conversation = await Runner.run(
            agent,
            "What is the weather in 'Rome'? Use get_weather.",
            run_config=config,
            conversation_id=conversation.id,
        )
        assert "22C in Rome" in str(in_conversation.final_output)
        items = await client.conversations.items.list(conversation.id, order="asc")
        kinds = [item.type for item in items.data]
        assert kinds == ["message", "function_call", "function_call_output", "message"]
        await client.close()

    asyncio.run(scenario())
