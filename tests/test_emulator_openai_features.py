"""The emulator's OpenAI answers beyond plain text: tool calls, structured outputs, images,
``n`` choices, logprobs, usage details and embeddings — through the official ``openai`` SDK and
raw HTTP, checked against what the real API sends."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import struct
from collections.abc import Iterator
from enum import StrEnum
from typing import Any

import httpx
import jsonschema_rs
import openai
import pytest
from pydantic import BaseModel, Field

from chatgpt_api.testing import EmulatorOptions, EmulatorThread

CHUNKS = 4
KEY = "sk-test"
AUTH = {"Authorization": f"Bearer {KEY}"}
MODEL = "gpt-4o-mini"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
                "note": {"type": "string"},
            },
            "required": ["city", "unit", "days"],
        },
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Local clock time in a timezone",
        "parameters": {
            "type": "object",
            "properties": {"timezone": {"type": "string"}},
            "required": ["timezone"],
        },
    },
}
ASK_WEATHER = 'What is the weather in "Paris" for 3 days, in fahrenheit?'
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorThread]:
    with EmulatorThread(EmulatorOptions(chunks=CHUNKS)) as running:
        yield running


@pytest.fixture
def sdk(emu: EmulatorThread) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{emu.url}/v1", api_key=KEY, max_retries=0) as client:
        yield client


@pytest.fixture
def http(emu: EmulatorThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emu.url, timeout=5.0, headers=AUTH) as client:
        yield client


def user(text: Any) -> list[Any]:
    return [{"role": "user", "content": text}]


def raw_chunks(http: httpx.Client, body: dict[str, Any]) -> list[dict[str, Any]]:
    r = http.post("/v1/chat/completions", json={**body, "stream": True})
    assert r.status_code == 200, r.text
    events = r.content.decode().strip().split("\n\n")
    assert events[-1] == "data: [DONE]"
    return [json.loads(e.removeprefix("data: ")) for e in events[:-1]]


# --------------------------------------------------------------------------- tool calls


def test_tool_call_whole(emu: EmulatorThread, sdk: openai.OpenAI) -> None:
    emu.clear()
    done = sdk.chat.completions.create(
        model=MODEL, messages=user(ASK_WEATHER), tools=[WEATHER, TIME]
    )
    (choice,) = done.choices
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    (call,) = choice.message.tool_calls or []
    assert call.type == "function" and call.id.startswith("call_") and len(call.id) == 29
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris", "unit": "fahrenheit", "days": 3}
    recorded = emu.requests[-1].json
    assert recorded["tools"] == [WEATHER, TIME]


@pytest.mark.parametrize(
    ("text", "extra", "names"),
    [
        ("Hello there", {}, []),  # nothing mentioned: text
        (ASK_WEATHER, {"tool_choice": "none"}, []),
        ("Hello there", {"tool_choice": "required"}, ["get_weather"]),
        (
            "Hello",
            {"tool_choice": {"type": "function", "function": {"name": "get_time"}}},
            ["get_time"],
        ),
        ("weather and the clock time please", {}, ["get_weather", "get_time"]),
        ("the get_time tool, and GET WEATHER", {}, ["get_weather", "get_time"]),
        ("weather and the clock time please", {"parallel_tool_calls": False}, ["get_weather"]),
    ],
)
def test_which_tools_are_called(
    sdk: openai.OpenAI, text: str, extra: dict[str, Any], names: list[str]
) -> None:
    done = sdk.chat.completions.create(
        model=MODEL, messages=user(text), tools=[WEATHER, TIME], **extra
    )
    calls = done.choices[0].message.tool_calls or []
    assert [c.function.name for c in calls] == names
    assert len({c.id for c in calls}) == len(calls)
    if not names:
        assert done.choices[0].finish_reason == "stop"
        assert done.choices[0].message.content == (
            f'You said: "{text}". This is turn 1 of this conversation.'
        )


def test_tool_call_stream_is_shaped_like_openai(http: httpx.Client) -> None:
    body = {"model": MODEL, "messages": user("weather and clock time"), "tools": [WEATHER, TIME]}
    chunks = raw_chunks(http, body)
    deltas = [c["choices"][0]["delta"] for c in chunks]
    first = deltas[0]
    assert first["role"] == "assistant" and first["content"] is None
    (head,) = first["tool_calls"]
    assert head["index"] == 0 and head["id"].startswith("call_") and head["type"] == "function"
    assert head["function"] == {"name": "get_weather", "arguments": ""}
    heads = [d["tool_calls"][0] for d in deltas if "tool_calls" in d and "id" in d["tool_calls"][0]]
    assert [(h["index"], h["function"]["name"]) for h in heads] == [
        (0, "get_weather"),
        (1, "get_time"),
    ]
    fragments: dict[int, list[str]] = {0: [], 1: []}
    for delta in deltas:
        for item in delta.get("tool_calls", []):
            if "id" not in item:
                assert set(item) == {"index", "function"} and set(item["function"]) == {"arguments"}
                fragments[item["index"]].append(item["function"]["arguments"])
    assert all(len(parts) >= 2 for parts in fragments.values())
    assert json.loads("".join(fragments[1])) == {"timezone": "example timezone"}
    assert chunks[-1]["choices"][0] == {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": "tool_calls",
    }


def test_tool_round_trip_with_the_sdk_stream_helper(sdk: openai.OpenAI) -> None:
    messages: list[Any] = user(ASK_WEATHER)
    with sdk.chat.completions.stream(model=MODEL, messages=messages, tools=[WEATHER]) as stream:
        final = stream.get_final_completion()
    message = final.choices[0].message
    (call,) = message.tool_calls or []
    assert json.loads(call.function.arguments)["city"] == "Paris"
    messages += [
        message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": '{"temp": 21}'},
    ]
    done = sdk.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER])
    assert done.choices[0].finish_reason == "stop"
    assert done.choices[0].message.content == (
        f'You said: "{ASK_WEATHER}". This is turn 1 of this conversation. '
        'The tool get_weather returned: {"temp": 21}.'
    )


def test_required_after_results_calls_a_tool_not_called_yet(sdk: openai.OpenAI) -> None:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": "{}"},
    }
    messages: Any = [
        *user(ASK_WEATHER),
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]
    done = sdk.chat.completions.create(
        model=MODEL, messages=messages, tools=[WEATHER, TIME], tool_choice="required"
    )
    assert [c.function.name for c in done.choices[0].message.tool_calls or []] == ["get_time"]


def test_legacy_functions(http: httpx.Client) -> None:
    body = {
        "model": MODEL,
        "messages": user(ASK_WEATHER),
        "functions": [WEATHER["function"]],
    }
    doc = http.post("/v1/chat/completions", json=body).json()
    choice = doc["choices"][0]
    assert choice["finish_reason"] == "function_call"
    assert choice["message"]["function_call"]["name"] == "get_weather"
    chunks = raw_chunks(http, body)
    assert chunks[0]["choices"][0]["delta"]["function_call"] == {
        "name": "get_weather",
        "arguments": "",
    }
    arguments = "".join(
        c["choices"][0]["delta"].get("function_call", {}).get("arguments", "") for c in chunks
    )
    assert json.loads(arguments)["city"] == "Paris"


# --------------------------------------------------------------------------- structured output


class Unit(StrEnum):
    celsius = "celsius"
    fahrenheit = "fahrenheit"


class Reading(BaseModel):
    at: str = Field(json_schema_extra={"format": "date-time"})
    value: float = Field(ge=-90, le=60)


class Forecast(BaseModel):
    city: str
    unit: Unit
    days: int = Field(ge=1, le=7)
    readings: list[Reading]
    warning: str | None
    tags: list[str] = Field(min_length=2)


def test_structured_output_with_the_sdk_parse_helper(sdk: openai.OpenAI) -> None:
    done = sdk.chat.completions.parse(
        model=MODEL,
        messages=user('Forecast for "Oslo" in celsius, 5 days'),
        response_format=Forecast,
    )
    parsed = done.choices[0].message.parsed
    assert isinstance(parsed, Forecast)
    assert (parsed.city, parsed.unit, parsed.days) == ("Oslo", Unit.celsius, 5)
    assert len(parsed.readings) == 1 and len(parsed.tags) == 2


RECURSIVE = {
    "$defs": {
        "Node": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "minLength": 3, "maxLength": 5},
                "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                "parent": {"anyOf": [{"$ref": "#/$defs/Node"}, {"type": "null"}]},
            },
            "required": ["name", "children", "parent"],
            "additionalProperties": False,
        }
    },
    "type": "object",
    "properties": {
        "root": {"$ref": "#/$defs/Node"},
        "pair": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "boolean"}]},
        "ratio": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        "kind": {"const": "tree"},
        "id": {"type": "string", "format": "uuid"},
        "mixed": {"type": ["null", "integer"], "minimum": 10},
        "merged": {"allOf": [{"type": "object", "properties": {"a": {"type": "string"}}}]},
    },
    "required": ["root", "pair", "ratio", "kind", "id", "mixed", "merged"],
    "additionalProperties": False,
}


def test_json_schema_output_validates(http: httpx.Client) -> None:
    body = {
        "model": MODEL,
        "messages": user("Build a tree"),
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "tree", "schema": RECURSIVE, "strict": True},
        },
    }
    content = http.post("/v1/chat/completions", json=body).json()["choices"][0]["message"][
        "content"
    ]
    value = json.loads(content)
    jsonschema_rs.validator_for(RECURSIVE).validate(value)
    assert value["kind"] == "tree" and value["mixed"] == 10
    streamed = raw_chunks(http, body)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in streamed)
    assert json.loads(text) == value


def test_json_object(http: httpx.Client) -> None:
    body: dict[str, Any] = {
        "model": MODEL,
        "messages": user("Answer in JSON please"),
        "response_format": {"type": "json_object"},
    }
    content = http.post("/v1/chat/completions", json=body).json()["choices"][0]["message"][
        "content"
    ]
    assert json.loads(content) == {"you_said": "Answer in JSON please", "turn": 1}
    body["messages"] = user("no format word")
    r = http.post("/v1/chat/completions", json=body)
    assert r.status_code == 400 and r.json()["error"]["param"] == "messages"


# --------------------------------------------------------------------------- media


def test_image_audio_and_file_parts_are_described(sdk: openai.OpenAI) -> None:
    png_url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    wav = b"RIFF0000WAVEfmt "
    pdf = b"%PDF-1.4 tiny"
    content: Any = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": png_url, "detail": "high"}},
        {"type": "image_url", "image_url": {"url": "http://127.0.0.1:9/cat.jpg"}},
        {
            "type": "input_audio",
            "input_audio": {"data": base64.b64encode(wav).decode(), "format": "wav"},
        },
        {
            "type": "file",
            "file": {
                "filename": "doc.pdf",
                "file_data": "data:application/pdf;base64," + base64.b64encode(pdf).decode(),
            },
        },
    ]
    done = sdk.chat.completions.create(model=MODEL, messages=user(content))

    def digest(data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()[:12]

    assert done.choices[0].message.content == (
        'You said: "What is this?". This is turn 1 of this conversation. '
        f"I see 2 images: image/png, {len(PNG)} bytes, sha256 {digest(PNG)}… (detail high); "
        "http://127.0.0.1:9/cat.jpg. "
        f"I hear 1 audio clip: wav, {len(wav)} bytes, sha256 {digest(wav)}…. "
        f"I read 1 file: doc.pdf, application/pdf, {len(pdf)} bytes, sha256 {digest(pdf)}…."
    )


@pytest.mark.parametrize(
    ("part", "param"),
    [
        (
            {"type": "image_url", "image_url": {"url": "ftp://x/y.png"}},
            "messages[0].content[0].image_url.url",
        ),
        (
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,@@@"}},
            "messages[0].content[0].image_url.url",
        ),
        (
            {"type": "image_url", "image_url": {"url": "http://x/y", "detail": "max"}},
            "messages[0].content[0].image_url.detail",
        ),
        ({"type": "image_url"}, "messages[0].content[0].image_url"),
        (
            {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "ogg"}},
            "messages[0].content[0].input_audio.format",
        ),
        ({"type": "video"}, "messages[0].content[0].type"),
    ],
)
def test_bad_parts_are_refused(http: httpx.Client, part: dict[str, Any], param: str) -> None:
    r = http.post("/v1/chat/completions", json={"model": MODEL, "messages": user([part])})
    assert r.status_code == 400
    assert r.json()["error"]["param"] == param


# --------------------------------------------------------------------------- n, logprobs, usage


def test_n_choices(sdk: openai.OpenAI, http: httpx.Client) -> None:
    done = sdk.chat.completions.create(model=MODEL, messages=user("Hi"), n=3)
    assert [c.index for c in done.choices] == [0, 1, 2]
    texts = [c.message.content for c in done.choices]
    assert texts == [
        f'You said: "Hi". This is turn 1 of this conversation. (choice {i} of 3)' for i in (1, 2, 3)
    ]
    assert done.usage is not None and done.usage.completion_tokens == 3 * 14
    chunks = raw_chunks(http, {"model": MODEL, "messages": user("Hi"), "n": 2})
    streamed: dict[int, str] = {0: "", 1: ""}
    finishes = {}
    for chunk in chunks:
        (choice,) = chunk["choices"]
        streamed[choice["index"]] += choice["delta"].get("content") or ""
        if choice["finish_reason"]:
            finishes[choice["index"]] = choice["finish_reason"]
    assert [chunks[0]["choices"][0]["index"], chunks[1]["choices"][0]["index"]] == [0, 1]
    assert streamed == {i: t.replace("of 3", "of 2") for i, t in enumerate(texts[:2])}
    assert finishes == {0: "stop", 1: "stop"}


def test_n_tool_calls_have_their_own_ids(sdk: openai.OpenAI) -> None:
    done = sdk.chat.completions.create(
        model=MODEL, messages=user(ASK_WEATHER), tools=[WEATHER], n=2
    )
    ids = [c.message.tool_calls[0].id for c in done.choices if c.message.tool_calls]
    assert len(set(ids)) == 2


def test_logprobs(sdk: openai.OpenAI) -> None:
    done = sdk.chat.completions.create(
        model=MODEL, messages=user("Hi"), logprobs=True, top_logprobs=3
    )
    choice = done.choices[0]
    assert choice.logprobs is not None and choice.logprobs.content is not None
    tokens = choice.logprobs.content
    assert "".join(t.token for t in tokens) == choice.message.content
    for token in tokens:
        assert -2.5 <= token.logprob <= 0
        assert token.bytes == list(token.token.encode())
        assert len(token.top_logprobs) == 3
        assert token.top_logprobs[0].token == token.token
        assert [t.logprob for t in token.top_logprobs] == sorted(
            (t.logprob for t in token.top_logprobs), reverse=True
        )
    stream = sdk.chat.completions.create(
        model=MODEL, messages=user("Hi"), logprobs=True, top_logprobs=1, stream=True
    )
    with stream:
        pieces = [c.choices[0] for c in stream if c.choices and c.choices[0].delta.content]
    assert all(p.logprobs is not None and p.logprobs.content for p in pieces)
    streamed = [t.token for p in pieces for t in p.logprobs.content or []]  # type: ignore[union-attr]
    assert streamed == [t.token for t in tokens]
    plain = sdk.chat.completions.create(model=MODEL, messages=user("Hi"))
    assert plain.choices[0].logprobs is None


def test_usage_details_tier_and_fingerprint(sdk: openai.OpenAI) -> None:
    done = sdk.chat.completions.create(model=MODEL, messages=user("Hi"), service_tier="flex")
    assert done.service_tier == "flex"
    assert done.system_fingerprint is not None and done.system_fingerprint.startswith("fp_")
    assert done.usage is not None
    assert done.usage.prompt_tokens_details is not None
    assert done.usage.prompt_tokens_details.cached_tokens == 0
    assert done.usage.completion_tokens_details is not None
    assert done.usage.completion_tokens_details.reasoning_tokens == 0
    assert sdk.chat.completions.create(model=MODEL, messages=user("Hi")).service_tier == "default"


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"tool_choice": "auto"}, "tool_choice"),
        ({"parallel_tool_calls": True}, "parallel_tool_calls"),
        ({"tools": [WEATHER], "tool_choice": "sometimes"}, "tool_choice"),
        (
            {"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "nope"}}},
            "tool_choice",
        ),
        (
            {"tools": [{"type": "function", "function": {"name": "bad name"}}]},
            "tools[0].function.name",
        ),
        ({"top_logprobs": 2}, "top_logprobs"),
        ({"logprobs": True, "top_logprobs": 21}, "top_logprobs"),
        (
            {"response_format": {"type": "json_schema", "json_schema": {}}},
            "response_format.json_schema.name",
        ),
        ({"service_tier": "turbo"}, "service_tier"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
    ],
)
def test_new_fields_are_validated(http: httpx.Client, extra: dict[str, Any], param: str) -> None:
    r = http.post("/v1/chat/completions", json={"model": MODEL, "messages": user("Hi"), **extra})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == param


# --------------------------------------------------------------------------- embeddings


def norm(vector: list[float]) -> float:
    return math.sqrt(sum(v * v for v in vector))


def test_embeddings_with_the_sdk(emu: EmulatorThread, sdk: openai.OpenAI) -> None:
    emu.clear()
    one = sdk.embeddings.create(model="text-embedding-3-small", input="hello world")
    assert one.object == "list" and one.model == "text-embedding-3-small"
    (item,) = one.data
    assert (item.object, item.index, len(item.embedding)) == ("embedding", 0, 1536)
    assert abs(norm(item.embedding) - 1) < 1e-5
    assert (one.usage.prompt_tokens, one.usage.total_tokens) == (2, 2)
    # The SDK asks for base64 by default and decodes it.
    assert emu.requests[-1].json["encoding_format"] == "base64"
    many = sdk.embeddings.create(
        model="text-embedding-3-large",
        input=["hello world", "other", "hello world"],
        dimensions=256,
    )
    vectors = [d.embedding for d in many.data]
    assert [len(v) for v in vectors] == [256] * 3
    assert vectors[0] == vectors[2] and vectors[0] != vectors[1]
    full = sdk.embeddings.create(model="text-embedding-3-large", input="hello world").data[0]
    prefix = full.embedding[:256]
    assert all(abs(a - b / norm(prefix)) < 1e-6 for a, b in zip(vectors[0], prefix, strict=True))


def test_embeddings_raw_float_and_base64(http: httpx.Client) -> None:
    body: dict[str, Any] = {"model": "text-embedding-3-small", "input": [[1, 2, 3], [4]]}
    floats = http.post("/v1/embeddings", json=body).json()
    assert floats["usage"] == {"prompt_tokens": 4, "total_tokens": 4}
    encoded = http.post("/v1/embeddings", json={**body, "encoding_format": "base64"}).json()
    for plain, packed in zip(floats["data"], encoded["data"], strict=True):
        raw = base64.b64decode(packed["embedding"])
        assert list(struct.unpack(f"<{len(raw) // 4}f", raw)) == plain["embedding"]


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"model": "text-embedding-3-small"}, 400, "input"),
        ({"model": "text-embedding-3-small", "input": ""}, 400, "input"),
        ({"model": "text-embedding-3-small", "input": []}, 400, "input"),
        (
            {"model": "text-embedding-3-small", "input": "x", "encoding_format": "hex"},
            400,
            "encoding_format",
        ),
        ({"model": "text-embedding-ada-002", "input": "x", "dimensions": 8}, 400, "dimensions"),
        ({"model": "text-embedding-3-small", "input": "x", "dimensions": 5000}, 400, "dimensions"),
        ({"model": "gpt-4o", "input": "x"}, 404, "model"),
    ],
)
def test_embeddings_errors(
    http: httpx.Client, body: dict[str, Any], status: int, param: str
) -> None:
    r = http.post("/v1/embeddings", json=body)
    assert r.status_code == status, r.text
    assert r.json()["error"]["param"] == param


def test_embeddings_faults_and_chat_refuses_embedding_models(
    emu: EmulatorThread, http: httpx.Client
) -> None:
    body = {"model": "text-embedding-3-small", "input": "x"}
    assert http.post("/openai-faults/429/v1/embeddings", json=body).status_code == 429
    assert (
        http.post(
            "/v1/embeddings", json=body, headers={"Authorization": "Bearer bad-key"}
        ).status_code
        == 401
    )
    r = http.post(
        "/v1/chat/completions", json={"model": "text-embedding-3-small", "messages": user("x")}
    )
    assert r.status_code == 404


def test_embeddings_slow_and_stall(emu: EmulatorThread, http: httpx.Client) -> None:
    body = {"model": "text-embedding-3-small", "input": "x"}
    slow = http.post("/openai-faults/slow/v1/embeddings", json=body)
    assert slow.status_code == 200 and len(slow.json()["data"][0]["embedding"]) == 1536
    emu.clear()
    with pytest.raises(httpx.ReadTimeout):
        http.post("/openai-faults/stall/v1/embeddings", json=body, timeout=0.3)
    assert emu.wait_until_closed(0)
    assert emu.requests[0].client_went_away
