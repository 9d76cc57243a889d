"""The Anthropic Messages API through the gateway, driven by the official ``anthropic`` SDK
against the emulator: whole and streamed answers (the exact event sequence), a tool-use round
trip on an OpenAI-style model, the same text turn on the ChatGPT web model (max_tokens and
stop_sequences enforced by the gateway), errors in Anthropic's shape, count_tokens, gateway
keys as ``x-api-key``, and the turns stored in the conversation tree."""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import orjson
import pytest

from chatgpt_api.keys.keystore import KeyStore
from chatgpt_api.store import open_store
from chatgpt_api.testing import EmulatorThread
from tests.servers import ServiceThread

MODELS = """
default_backend = "none"

[models."gpt-3.5-turbo"]
backend = "chatgpt-web"

[models."gpt-4o-mini"]
backend = "openai"
base_url = "{emu}/v1"
api_key = "sk-configured"

[models."compat"]
backend = "openai-compatible"
base_url = "{emu}/v1"
upstream_model = "gpt-4o"
api_key = "sk-configured"

[models."limited"]
backend = "openai"
base_url = "{emu}/openai-faults/429/v1"
upstream_model = "gpt-4o-mini"
api_key = "sk-configured"

[models."dropping"]
backend = "openai"
base_url = "{emu}/openai-faults/drop/v1"
upstream_model = "gpt-4o-mini"
api_key = "sk-configured"
"""
WEATHER: dict[str, Any] = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
QUESTION = "What is the weather in 'Oslo'? Use get_weather."
PNG = base64.b64encode(
    bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + bytes(40)
).decode()


def _write_models(home: Path, emulator: EmulatorThread) -> Path:
    models = home / "models.toml"
    models.write_text(MODELS.format(emu=emulator.url))
    return models


@pytest.fixture(scope="module")
def gateway(
    emulator: EmulatorThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceThread]:
    home = tmp_path_factory.mktemp("anthropic")
    with ServiceThread(
        reverse_proxy=f"{emulator.url}/backend-api/conversation",
        models_file=_write_models(home, emulator),
        database_url=f"sqlite+aiosqlite:///{home}/store.db",
    ) as svc:
        yield svc


@pytest.fixture()
def claude(gateway: ServiceThread) -> Iterator[anthropic.Anthropic]:
    # Keys are not required here: the x-api-key value is the upstream credential (the web
    # emulator takes any bearer token; the OpenAI-style models have configured keys).
    with anthropic.Anthropic(base_url=gateway.url, api_key="tok-upstream", max_retries=0) as c:
        yield c


@pytest.fixture()
def http(gateway: ServiceThread) -> Iterator[httpx.Client]:
    headers = {"x-api-key": "tok-upstream", "anthropic-version": "2023-06-01"}
    with httpx.Client(base_url=gateway.url, timeout=30, headers=headers) as client:
        yield client


def _sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) of each event of an SSE body."""
    out = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        name, data = "", ""
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                data = line[len("data: ") :]
        out.append((name, orjson.loads(data)))
    return out


def _check_grammar(events: list[tuple[str, dict[str, Any]]]) -> None:
    """Anthropic's sequence: start, ping, blocks (start, deltas, stop) in order, delta, stop."""
    names = [name for name, _ in events]
    assert names[:2] == ["message_start", "ping"]
    assert names[-2:] == ["message_delta", "message_stop"]
    expected_index = 0
    open_index: int | None = None
    for name, data in events[2:-2]:
        assert data["type"] == name
        if name == "content_block_start":
            assert open_index is None and data["index"] == expected_index
            open_index = expected_index
        elif name == "content_block_delta":
            assert data["index"] == open_index
        else:
            assert name == "content_block_stop" and data["index"] == open_index
            open_index, expected_index = None, expected_index + 1
    assert open_index is None


def _conversation(gateway: ServiceThread, conversation_id: str) -> dict[str, Any]:
    response = httpx.get(f"{gateway.url}/v1/conversations/{conversation_id}", timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _extra(message: Any, name: str) -> Any:
    return (message.model_extra or {})[name]


def test_create_whole_on_openai_model(claude: anthropic.Anthropic, gateway: ServiceThread) -> None:
    message = claude.messages.create(
        model="gpt-4o-mini",
        max_tokens=200,
        system="Be brief.",
        messages=[{"role": "user", "content": "Hello there"}],
    )
    assert message.id.startswith("msg_")
    assert (message.type, message.role, message.model) == ("message", "assistant", "gpt-4o-mini")
    [block] = message.content
    assert block.type == "text" and '"Hello there"' in block.text
    assert message.stop_reason == "end_turn" and message.stop_sequence is None
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    assert message.usage.cache_read_input_tokens == 0
    stored = _conversation(gateway, _extra(message, "conversation_id"))
    assert [m["role"] for m in stored["messages"]] == ["system", "user", "assistant"]
    assert stored["messages"][-1]["id"] == _extra(message, "message_id")
    assert stored["backend"] == "openai"


def test_streamed_event_sequence_and_sdk_stream(
    claude: anthropic.Anthropic, http: httpx.Client
) -> None:
    body = {
        "model": "gpt-4o-mini",
        "max_tokens": 200,
        "stream": True,
        "messages": [{"role": "user", "content": "Tell me about streams"}],
    }
    response = http.post("/v1/messages", json=body)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["request-id"] == response.headers["x-request-id"]
    events = _sse(response.text)
    _check_grammar(events)
    start = events[0][1]["message"]
    assert start["model"] == "gpt-4o-mini" and start["content"] == []
    deltas = [d["delta"]["text"] for n, d in events if n == "content_block_delta"]
    assert len(deltas) > 1
    assert events[-2][1]["delta"]["stop_reason"] == "end_turn"
    assert events[-2][1]["usage"]["output_tokens"] > 0

    with claude.messages.stream(
        model="gpt-4o-mini",
        max_tokens=200,
        messages=[{"role": "user", "content": "Tell me about streams"}],
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "".join(deltas) == final.content[0].text  # type: ignore[union-attr]
    assert final.stop_reason == "end_turn"


def test_tool_use_round_trip(claude: anthropic.Anthropic, gateway: ServiceThread) -> None:
    messages: list[Any] = [{"role": "user", "content": QUESTION}]
    first = claude.messages.create(
        model="gpt-4o-mini", max_tokens=300, tools=[WEATHER], messages=messages
    )
    assert first.stop_reason == "tool_use"
    [call] = [b for b in first.content if b.type == "tool_use"]
    assert call.id.startswith("toolu_call_")
    assert (call.name, call.input) == ("get_weather", {"city": "Oslo"})
    messages += [
        {"role": "assistant", "content": [b.model_dump() for b in first.content]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "21 C, sunny"}],
        },
    ]
    second = claude.messages.create(
        model="gpt-4o-mini", max_tokens=300, tools=[WEATHER], messages=messages
    )
    assert second.stop_reason == "end_turn"
    text = second.content[0].text  # type: ignore[union-attr]
    # The emulator names the tool only when the tool_call_id is one it issued.
    assert "The tool get_weather returned: 21 C, sunny" in text
    stored = _conversation(gateway, _extra(second, "conversation_id"))
    roles = [m["role"] for m in stored["messages"]]
    assert roles == ["user", "assistant", "tool", "assistant"]
    tool_calls = stored["messages"][1]["message"]["tool_calls"]
    assert tool_calls[0]["id"] == call.id.removeprefix("toolu_")
    assert stored["messages"][2]["message"]["tool_call_id"] == tool_calls[0]["id"]


def test_streamed_tool_use(claude: anthropic.Anthropic, http: httpx.Client) -> None:
    body = {
        "model": "gpt-4o-mini",
        "max_tokens": 300,
        "stream": True,
        "tools": [WEATHER],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
        "messages": [{"role": "user", "content": QUESTION}],
    }
    events = _sse(http.post("/v1/messages", json=body).text)
    _check_grammar(events)
    starts = [d["content_block"] for n, d in events if n == "content_block_start"]
    assert [s["type"] for s in starts] == ["tool_use"]
    fragments = [d["delta"]["partial_json"] for n, d in events if n == "content_block_delta"]
    assert len(fragments) > 1
    assert orjson.loads("".join(fragments)) == {"city": "Oslo"}
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"

    with claude.messages.stream(
        model="gpt-4o-mini", max_tokens=300, tools=[WEATHER], messages=body["messages"]
    ) as stream:
        final = stream.get_final_message()
    [call] = final.content
    assert call.type == "tool_use" and call.input == {"city": "Oslo"}


def test_parameters_reach_an_openai_compatible_upstream(
    http: httpx.Client, emulator: EmulatorThread
) -> None:
    body = {
        "model": "compat",
        "max_tokens": 50,
        "stop_sequences": ["END"],
        "temperature": 0.5,
        "top_p": 0.9,
        "top_k": 40,
        "metadata": {"user_id": "u-1"},
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "tools": [WEATHER],
        "tool_choice": {"type": "tool", "name": "get_weather"},
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Describe"},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                    },
                ],
            }
        ],
    }
    emulator.clear()
    response = http.post("/v1/messages", json=body)
    assert response.status_code == 200, response.text
    [sent] = [r.json for r in emulator.requests if r.path.endswith("/chat/completions")]
    assert sent["model"] == "gpt-4o"
    assert (sent["max_tokens"], sent["stop"], sent["top_k"]) == (50, ["END"], 40)
    assert (sent["temperature"], sent["top_p"], sent["user"]) == (0.5, 0.9, "u-1")
    assert sent["reasoning_effort"] == "low"
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert sent["tools"][0]["function"]["parameters"] == WEATHER["input_schema"]
    image = sent["messages"][0]["content"][1]
    assert image == {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}
    assert response.json()["content"][0]["type"] == "tool_use"


def test_openai_backend_limits_and_refusals(http: httpx.Client, emulator: EmulatorThread) -> None:
    emulator.clear()
    ok = http.post(
        "/v1/messages",
        json={
            "model": "gpt-4o-mini",
            "max_tokens": 3,
            "messages": [{"role": "user", "content": "Hi"}],
        },
    )
    assert ok.status_code == 200
    assert ok.json()["stop_reason"] == "max_tokens"
    [sent] = [r.json for r in emulator.requests if r.path.endswith("/chat/completions")]
    assert sent["max_completion_tokens"] == 3 and "max_tokens" not in sent
    refused = http.post(
        "/v1/messages",
        json={
            "model": "gpt-4o-mini",
            "max_tokens": 10,
            "top_k": 5,
            "messages": [{"role": "user", "content": "Hi"}],
        },
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["type"] == "invalid_request_error"
    assert "'top_k'" in refused.json()["error"]["message"]


def test_web_model_text_turn(
    claude: anthropic.Anthropic, gateway: ServiceThread, emulator: EmulatorThread
) -> None:
    emulator.clear()
    message = claude.messages.create(
        model="gpt-3.5-turbo",
        max_tokens=200,
        system="Be brief.",
        messages=[{"role": "user", "content": "Hello there"}],
    )
    assert message.model == "gpt-3.5-turbo"
    assert "Hello there" in message.content[0].text  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn"
    # Keys not required: the x-api-key value is the upstream credential (a ChatGPT token).
    [web] = [r for r in emulator.requests if r.path.endswith("/backend-api/conversation")]
    assert web.headers["authorization"] == "Bearer tok-upstream"
    conversation_id = _extra(message, "conversation_id")
    stored = _conversation(gateway, conversation_id)
    assert stored["backend"] == "chatgpt-web"
    assert stored["messages"][-1]["content"] == message.content[0].text  # type: ignore[union-attr]
    # The gateway's extension fields continue the stored (upstream) conversation.
    follow = claude.messages.create(
        model="gpt-3.5-turbo",
        max_tokens=200,
        messages=[{"role": "user", "content": "And again"}],
        extra_body={
            "conversation_id": conversation_id,
            "parent_message_id": _extra(message, "message_id"),
        },
    )
    assert "turn 2" in follow.content[0].text  # type: ignore[union-attr]
    assert _extra(follow, "conversation_id") == conversation_id

    with claude.messages.stream(
        model="gpt-3.5-turbo", max_tokens=200, messages=[{"role": "user", "content": "Hi web"}]
    ) as stream:
        streamed = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert "Hi web" in streamed and final.stop_reason == "end_turn"


def test_web_max_tokens_and_stop_sequences_enforced(
    claude: anthropic.Anthropic, http: httpx.Client, gateway: ServiceThread
) -> None:
    whole = claude.messages.create(
        model="gpt-3.5-turbo", max_tokens=3, messages=[{"role": "user", "content": "Hello there"}]
    )
    assert whole.stop_reason == "max_tokens"
    assert whole.content[0].text == 'You said: "H'  # type: ignore[union-attr]  # 3 × 4 chars
    # The upstream's whole answer is stored (the upstream conversation holds it).
    stored = _conversation(gateway, _extra(whole, "conversation_id"))
    assert stored["messages"][-1]["content"].startswith('You said: "Hello there"')

    stopped = claude.messages.create(
        model="gpt-3.5-turbo",
        max_tokens=100,
        stop_sequences=["there"],
        messages=[{"role": "user", "content": "Hello there"}],
    )
    assert stopped.stop_reason == "stop_sequence" and stopped.stop_sequence == "there"
    assert stopped.content[0].text == 'You said: "Hello '  # type: ignore[union-attr]

    body = {
        "model": "gpt-3.5-turbo",
        "max_tokens": 100,
        "stream": True,
        "stop_sequences": ["there"],
        "messages": [{"role": "user", "content": "Hello there"}],
    }
    events = _sse(http.post("/v1/messages", json=body).text)
    _check_grammar(events)
    text = "".join(d["delta"]["text"] for n, d in events if n == "content_block_delta")
    assert text == 'You said: "Hello '
    assert events[-2][1]["delta"] == {"stop_reason": "stop_sequence", "stop_sequence": "there"}


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"tools": [WEATHER]}, "'tools'"),
        ({"temperature": 0.2}, "'temperature'"),
        ({"thinking": {"type": "enabled", "budget_tokens": 2048}}, "'thinking'"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "see"},
                            {
                                "type": "image",
                                "source": {"type": "url", "url": "https://x.test/a.png"},
                            },
                        ],
                    }
                ]
            },
            "'image' blocks",
        ),
    ],
)
def test_web_refuses_what_it_cannot_honour(
    http: httpx.Client, extra: dict[str, Any], param: str
) -> None:
    body = {
        "model": "gpt-3.5-turbo",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "Hi"}],
    }
    response = http.post("/v1/messages", json={**body, **extra})
    assert response.status_code == 400
    error = response.json()
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert param in error["error"]["message"] and "chatgpt-web" in error["error"]["message"]


def test_errors_in_anthropic_shape(claude: anthropic.Anthropic, http: httpx.Client) -> None:
    with pytest.raises(anthropic.BadRequestError) as bad:
        claude.messages.create(
            model="gpt-4o-mini",
            max_tokens=0,
            messages=[{"role": "user", "content": "Hi"}],
        )
    assert bad.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    assert "max_tokens" in bad.value.message
    missing = http.post(
        "/v1/messages",
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]},
    )
    assert missing.status_code == 400
    assert missing.json()["error"]["message"].startswith("max_tokens: Field required")
    assert missing.json()["request_id"] == missing.headers["request-id"]
    assert missing.headers["request-id"] == missing.headers["x-request-id"]
    unknown = http.post(
        "/v1/messages",
        json={
            "model": "gpt-4o-mini",
            "max_tokens": 5,
            "mcp_servers": [],
            "messages": [{"role": "user", "content": "Hi"}],
        },
    )
    assert unknown.status_code == 400 and "mcp_servers" in unknown.json()["error"]["message"]
    with pytest.raises(anthropic.NotFoundError) as not_found:
        claude.messages.create(
            model="no-such-model", max_tokens=5, messages=[{"role": "user", "content": "Hi"}]
        )
    assert not_found.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    with pytest.raises(anthropic.RateLimitError) as limited:
        claude.messages.create(
            model="limited", max_tokens=5, messages=[{"role": "user", "content": "Hi"}]
        )
    assert limited.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
    assert limited.value.response.headers["retry-after"] == "7"


def test_error_mid_stream_is_an_error_event(http: httpx.Client) -> None:
    body = {
        "model": "dropping",
        "max_tokens": 100,
        "stream": True,
        "messages": [{"role": "user", "content": "Tell me a long story about rivers"}],
    }
    events = _sse(http.post("/v1/messages", json=body).text)
    names = [name for name, _ in events]
    assert names[:2] == ["message_start", "ping"] and names[-1] == "error"
    assert "message_stop" not in names
    assert events[-1][1]["type"] == "error"
    assert events[-1][1]["error"]["type"] == "api_error"


def test_count_tokens(claude: anthropic.Anthropic, http: httpx.Client) -> None:
    small = claude.messages.count_tokens(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Hello there"}]
    )
    assert small.input_tokens == 4 + 3  # message overhead + ceil(11 / 4)
    bigger = claude.messages.count_tokens(
        model="gpt-3.5-turbo",
        system="x" * 400,
        tools=[WEATHER],
        messages=[{"role": "user", "content": "Hello there"}],
    )
    assert bigger.input_tokens > small.input_tokens + 100
    with pytest.raises(anthropic.NotFoundError):
        claude.messages.count_tokens(model="nope", messages=[{"role": "user", "content": "Hi"}])


def _make_key(url: str) -> str:
    async def create() -> str:
        store = await open_store(url)
        try:
            _, key = await KeyStore(store).create("claude")
            return key
        finally:
            await store.close()

    return asyncio.run(create())


def test_gateway_key_as_x_api_key(emulator: EmulatorThread, tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/keys.db"
    key = _make_key(url)
    emulator.clear()
    with ServiceThread(
        reverse_proxy=f"{emulator.url}/backend-api/conversation",
        models_file=_write_models(tmp_path, emulator),
        database_url=url,
        require_api_key=True,
    ) as svc:
        with anthropic.Anthropic(base_url=svc.url, api_key=key, max_retries=0) as client:
            message = client.messages.create(
                model="gpt-4o-mini", max_tokens=50, messages=[{"role": "user", "content": "Hi"}]
            )
        assert message.content[0].text  # type: ignore[union-attr]
        conversation = f"{svc.url}/v1/conversations/{_extra(message, 'conversation_id')}"
        assert httpx.get(conversation, headers={"x-api-key": key}).status_code == 200
        assert httpx.get(conversation).status_code == 401
        wrong = anthropic.Anthropic(base_url=svc.url, api_key="cak-wrong", max_retries=0)
        with wrong, pytest.raises(anthropic.AuthenticationError) as refused:
            wrong.messages.create(
                model="gpt-4o-mini", max_tokens=5, messages=[{"role": "user", "content": "Hi"}]
            )
        assert refused.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]
        with anthropic.Anthropic(base_url=svc.url, auth_token=key, max_retries=0) as client:
            tokens = client.messages.count_tokens(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}]
            )
        assert tokens.input_tokens > 0
    # The gateway key never reaches an upstream.
    headers = [value for r in emulator.requests for value in r.headers.values()]
    assert emulator.requests and not any(key in value for value in headers)
    assert all(key.encode() not in r.body for r in emulator.requests)


def test_metrics_label_the_route(claude: anthropic.Anthropic, gateway: ServiceThread) -> None:
    claude.messages.create(
        model="compat", max_tokens=20, messages=[{"role": "user", "content": "counted"}]
    )
    text = httpx.get(f"{gateway.url}/metrics").text
    lines = re.findall(r'chatgpt_api_requests_total\{[^}]*route="/v1/messages"[^}]*\}', text)
    assert any('backend="openai-compatible"' in x and 'model="compat"' in x for x in lines), lines


def test_gateway_rate_limit_is_an_anthropic_429(emulator: EmulatorThread, tmp_path: Path) -> None:
    with ServiceThread(
        reverse_proxy=f"{emulator.url}/backend-api/conversation",
        models_file=_write_models(tmp_path, emulator),
        database_url=f"sqlite+aiosqlite:///{tmp_path}/store.db",
        rate_limit_rpm=2,
    ) as svc:
        client = anthropic.Anthropic(base_url=svc.url, api_key="tok", max_retries=0)
        with client:
            for _ in range(2):
                client.messages.create(
                    model="gpt-3.5-turbo",
                    max_tokens=20,
                    messages=[{"role": "user", "content": "Hi"}],
                )
            with pytest.raises(anthropic.RateLimitError) as limited:
                client.messages.create(
                    model="gpt-3.5-turbo",
                    max_tokens=20,
                    messages=[{"role": "user", "content": "Hi"}],
                )
    assert limited.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
    assert int(limited.value.response.headers["retry-after"]) >= 1
