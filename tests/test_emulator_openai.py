"""The emulator's OpenAI-style API, driven by the official ``openai`` SDK and by raw httpx."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from chatgpt_api.testing import OPENAI_FAULTS, EmulatorOptions, EmulatorThread

CHUNKS = 4
KEY = "sk-test"
AUTH = {"Authorization": f"Bearer {KEY}"}
MODEL = "gpt-4o-mini"
HELLO: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hello there"}]
HELLO_ANSWER = 'You said: "Hello there". This is turn 1 of this conversation.'
FINGERPRINT = "fp_" + hashlib.sha256(MODEL.encode()).hexdigest()[:10]
DETAILS = {
    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    "completion_tokens_details": {
        "reasoning_tokens": 0,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    },
}


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorThread]:
    with EmulatorThread(EmulatorOptions(chunks=CHUNKS)) as running:
        yield running


def make_sdk(base_url: str, api_key: str = KEY, timeout: float = 5.0) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=timeout)


@pytest.fixture
def sdk(emu: EmulatorThread) -> Iterator[openai.OpenAI]:
    with make_sdk(f"{emu.url}/v1") as client:
        yield client


@pytest.fixture
def http(emu: EmulatorThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emu.url, timeout=5.0) as client:
        yield client


def sse_data(body: bytes) -> list[str]:
    """The data of every event of an SSE body (each event is exactly ``data: ...\\n\\n``)."""
    assert body.endswith(b"\n\n")
    events = body[:-2].split(b"\n\n")
    assert all(e.startswith(b"data: ") and b"\n" not in e for e in events)
    return [e[len(b"data: ") :].decode() for e in events]


def sdk_chunks(sdk: openai.OpenAI, **kwargs: Any) -> list[Any]:
    stream = sdk.chat.completions.create(model=MODEL, stream=True, **kwargs)
    with stream:
        return list(stream)


# --------------------------------------------------------------------------- models


def test_models_list_and_retrieve(sdk: openai.OpenAI, http: httpx.Client) -> None:
    ids = [m.id for m in sdk.models.list()]
    assert {"gpt-3.5-turbo", "gpt-4o-mini", "gpt-4o"} <= set(ids)
    model = sdk.models.retrieve("gpt-4o")
    assert (model.id, model.object, model.owned_by) == ("gpt-4o", "model", "emulator")
    with pytest.raises(openai.NotFoundError):
        sdk.models.retrieve("nope")

    r = http.get("/v1/models", headers=AUTH)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    doc = r.json()
    assert doc["object"] == "list"
    for item in doc["data"]:
        assert set(item) == {"id", "object", "created", "owned_by"}
        assert item["object"] == "model" and item["owned_by"] == "emulator"
        assert isinstance(item["created"], int)
    assert http.get("/v1/models").status_code == 401


# --------------------------------------------------------------------------- answers


def test_create_non_stream(emu: EmulatorThread, sdk: openai.OpenAI) -> None:
    emu.clear()
    done = sdk.chat.completions.create(model=MODEL, messages=HELLO)
    assert done.id.startswith("chatcmpl-")
    assert done.object == "chat.completion"
    assert done.model == MODEL
    (choice,) = done.choices
    assert choice.index == 0
    assert choice.message.role == "assistant"
    assert choice.message.content == HELLO_ANSWER
    assert choice.message.refusal is None
    assert choice.finish_reason == "stop"
    assert done.usage is not None
    assert (done.usage.prompt_tokens, done.usage.completion_tokens) == (2, 11)
    assert done.usage.total_tokens == 13

    assert emu.wait_until_closed(0)
    (record,) = emu.requests
    assert (record.method, record.path) == ("POST", "/v1/chat/completions")
    assert record.headers["authorization"] == f"Bearer {KEY}"
    assert record.json["messages"] == HELLO
    assert record.json["model"] == MODEL
    assert record.fixture is None and not record.client_went_away


def test_history_is_counted(sdk: openai.OpenAI) -> None:
    messages: Any = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [{"type": "text", "text": "two"}]},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "three  words here"},
    ]
    done = sdk.chat.completions.create(model="gpt-3.5-turbo", messages=messages)
    text = 'You said: "three  words here". This is turn 3 of this conversation.'
    assert done.choices[0].message.content == text
    assert done.usage is not None and done.usage.prompt_tokens == 2 + 1 + 1 + 1 + 1 + 3


def test_stream(sdk: openai.OpenAI) -> None:
    chunks = sdk_chunks(sdk, messages=HELLO)
    assert len({c.id for c in chunks}) == 1 and chunks[0].id.startswith("chatcmpl-")
    assert all(c.object == "chat.completion.chunk" and c.model == MODEL for c in chunks)
    first, *middle, last = chunks
    assert first.choices[0].delta.role == "assistant"
    assert first.choices[0].delta.content == ""
    assert first.choices[0].finish_reason is None
    assert len(middle) == CHUNKS
    assert all(c.choices[0].delta.role is None for c in middle)
    assert all(c.choices[0].finish_reason is None for c in middle)
    assert "".join(c.choices[0].delta.content for c in middle) == HELLO_ANSWER
    assert last.choices[0].delta.content is None
    assert last.choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in chunks)


def test_stream_include_usage(sdk: openai.OpenAI) -> None:
    chunks = sdk_chunks(sdk, messages=HELLO, stream_options={"include_usage": True})
    *answer, usage = chunks
    assert len(answer) == CHUNKS + 2
    assert answer[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in answer)
    assert usage.choices == []
    assert usage.usage is not None
    assert (usage.usage.prompt_tokens, usage.usage.completion_tokens) == (2, 11)
    assert usage.usage.total_tokens == 13


@pytest.mark.parametrize("param", ["max_tokens", "max_completion_tokens"])
def test_max_tokens(sdk: openai.OpenAI, param: str) -> None:
    limit: Any = {param: 3}
    done = sdk.chat.completions.create(model=MODEL, messages=HELLO, **limit)
    assert done.choices[0].message.content == 'You said: "Hello'
    assert done.choices[0].finish_reason == "length"
    assert done.usage is not None and done.usage.completion_tokens == 3

    chunks = sdk_chunks(sdk, messages=HELLO, **limit)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == 'You said: "Hello'
    assert chunks[-1].choices[0].finish_reason == "length"

    roomy: Any = {param: 100}
    done = sdk.chat.completions.create(model=MODEL, messages=HELLO, **roomy)
    assert done.choices[0].message.content == HELLO_ANSWER
    assert done.choices[0].finish_reason == "stop"


def test_stop(sdk: openai.OpenAI) -> None:
    done = sdk.chat.completions.create(model=MODEL, messages=HELLO, stop=["turn", "there"])
    assert done.choices[0].message.content == 'You said: "Hello '
    assert done.choices[0].finish_reason == "stop"
    chunks = sdk_chunks(sdk, messages=HELLO, stop="This")
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == 'You said: "Hello there". '
    assert chunks[-1].choices[0].finish_reason == "stop"


# --------------------------------------------------------------------------- errors


def test_authentication_errors(emu: EmulatorThread, http: httpx.Client) -> None:
    body = {"model": MODEL, "messages": HELLO}
    r = http.post("/v1/chat/completions", json=body)
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {
        "error": {
            "message": "Missing bearer authentication in header",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    }
    for key in ("sk-expired", "bad-key"):
        with make_sdk(f"{emu.url}/v1", api_key=key) as client:
            with pytest.raises(openai.AuthenticationError) as caught:
                client.chat.completions.create(model=MODEL, messages=HELLO)
            assert caught.value.code == "invalid_api_key"
            assert caught.value.type == "invalid_request_error"
            assert caught.value.request_id is not None


def test_unknown_model(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        sdk.chat.completions.create(model="gpt-9", messages=HELLO)
    assert caught.value.code == "model_not_found"
    assert "gpt-9" in caught.value.message


def test_bad_requests_via_sdk(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(model=MODEL, messages=[])
    assert (caught.value.param, caught.value.code) == ("messages", "empty_array")
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(model=MODEL, messages=HELLO, n=129)
    assert (caught.value.param, caught.value.code) == ("n", "integer_above_max_value")


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        (b"not json", None, None),
        (b"[]", None, None),
        ({"messages": HELLO}, "model", "missing_required_parameter"),
        ({"model": MODEL}, "messages", "missing_required_parameter"),
        ({"model": MODEL, "messages": "hi"}, "messages", "invalid_type"),
        ({"model": MODEL, "messages": ["hi"]}, "messages[0]", "invalid_type"),
        ({"model": MODEL, "messages": [{"content": "x"}]}, "messages[0].role", None),
        ({"model": MODEL, "messages": [{"role": "bot", "content": "x"}]}, None, "invalid_value"),
        ({"model": MODEL, "messages": [{"role": "user"}]}, "messages[0].content", None),
        ({"model": MODEL, "messages": [{"role": "user", "content": 3}]}, None, "invalid_type"),
        ({"model": MODEL, "messages": HELLO, "n": 0}, "n", "integer_below_min_value"),
        ({"model": MODEL, "messages": HELLO, "max_tokens": 0}, "max_tokens", None),
        ({"model": MODEL, "messages": HELLO, "stop": ["a"] * 5}, "stop", None),
        ({"model": MODEL, "messages": HELLO, "stream": "yes"}, "stream", "invalid_type"),
        (
            {"model": MODEL, "messages": HELLO, "stream_options": {"include_usage": True}},
            "stream_options",
            None,
        ),
    ],
)
def test_validation(http: httpx.Client, body: Any, param: str | None, code: str | None) -> None:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    r = http.post("/v1/chat/completions", content=content, headers=AUTH)
    assert r.status_code == 400
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    if param is not None:
        assert error["param"] == param
    if code is not None:
        assert error["code"] == code


def test_assistant_tool_call_without_content_is_accepted(http: httpx.Client) -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    messages = [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "done"},
    ]
    r = http.post("/v1/chat/completions", json={"model": MODEL, "messages": messages}, headers=AUTH)
    assert r.status_code == 200
    assert r.json()["choices"][0]["message"]["content"].startswith('You said: "go". This is turn 1')


# --------------------------------------------------------------------------- raw shapes


def test_raw_non_stream_shape(http: httpx.Client) -> None:
    r = http.post("/v1/chat/completions", json={"model": MODEL, "messages": HELLO}, headers=AUTH)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.headers["x-request-id"].startswith("req_")
    doc = r.json()
    assert doc["id"].startswith("chatcmpl-") and len(doc["id"]) == len("chatcmpl-") + 29
    assert isinstance(doc["created"], int) and abs(doc["created"] - time.time()) < 60
    del doc["id"], doc["created"]
    assert doc == {
        "object": "chat.completion",
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": HELLO_ANSWER, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 2, "completion_tokens": 11, "total_tokens": 13, **DETAILS},
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
    }


@pytest.mark.parametrize("include_usage", [False, True])
def test_raw_sse_bytes(http: httpx.Client, include_usage: bool) -> None:
    body: dict[str, Any] = {"model": MODEL, "messages": HELLO, "stream": True}
    if include_usage:
        body["stream_options"] = {"include_usage": True}
    r = http.post("/v1/chat/completions", json=body, headers=AUTH)
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert r.content.endswith(b"\n\ndata: [DONE]\n\n")
    *datas, done = sse_data(r.content)
    assert done == "[DONE]"
    chunks = [json.loads(d) for d in datas]
    ids = {c.pop("id") for c in chunks}
    assert len(ids) == 1
    created = {c.pop("created") for c in chunks}
    assert len(created) == 1

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "object": "chat.completion.chunk",
            "model": MODEL,
            "service_tier": "default",
            "system_fingerprint": FINGERPRINT,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if include_usage:
            out["usage"] = None
        return out

    pieces = [c["choices"][0]["delta"].get("content") for c in chunks[1 : CHUNKS + 1]]
    expected = [chunk({"role": "assistant", "content": ""})]
    expected += [chunk({"content": p}) for p in pieces]
    expected.append(chunk({}, "stop"))
    if include_usage:
        final = chunk({})
        final["choices"] = []
        final["usage"] = {
            "prompt_tokens": 2,
            "completion_tokens": 11,
            "total_tokens": 13,
            **DETAILS,
        }
        expected.append(final)
    assert chunks == expected
    assert "".join(pieces) == HELLO_ANSWER


# --------------------------------------------------------------------------- faults


def test_rate_limit(emu: EmulatorThread, sdk: openai.OpenAI) -> None:
    with (
        make_sdk(f"{emu.url}/openai-faults/429/v1") as client,
        pytest.raises(openai.RateLimitError) as caught,
    ):
        client.chat.completions.create(model=MODEL, messages=HELLO)
    error = caught.value
    assert error.status_code == 429
    assert error.response.headers["retry-after"] == "7"
    assert error.code == "rate_limit_exceeded" and error.type == "requests"
    assert isinstance(error.body, dict)
    assert error.body["message"].startswith("Rate limit reached for gpt-4o-mini")
    assert error.body == {
        "message": error.body["message"],
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    }
    with pytest.raises(openai.RateLimitError):  # the same fault through the header
        sdk.chat.completions.create(
            model=MODEL,
            messages=HELLO,
            extra_headers={"X-Emulator-Fixture": "429"},
        )
    assert emu.requests[-1].fixture == "429"


def test_server_errors(emu: EmulatorThread, http: httpx.Client) -> None:
    with make_sdk(f"{emu.url}/openai-faults/500/v1") as client:
        with pytest.raises(openai.InternalServerError) as caught:
            client.chat.completions.create(model=MODEL, messages=HELLO)
        assert caught.value.status_code == 500 and caught.value.type == "server_error"
        with pytest.raises(openai.InternalServerError):
            client.models.list()
    with make_sdk(f"{emu.url}/openai-faults/502/v1") as client:
        with pytest.raises(openai.InternalServerError) as caught:
            client.chat.completions.create(model=MODEL, messages=HELLO)
        assert caught.value.status_code == 502
    r = http.post("/openai-faults/502/v1/chat/completions", json={})
    assert (r.status_code, r.text) == (502, "Bad Gateway")
    assert r.headers["content-type"].startswith("text/plain")
    r = http.post("/openai-faults/500/v1/chat/completions", json={})
    assert r.json()["error"]["type"] == "server_error"


def test_drop(emu: EmulatorThread) -> None:
    emu.clear()
    got: list[str] = []
    with make_sdk(f"{emu.url}/openai-faults/drop/v1") as client:
        stream = client.chat.completions.create(model=MODEL, messages=HELLO, stream=True)
        with pytest.raises(openai.APIConnectionError), stream:
            for c in stream:
                got.append(c.choices[0].delta.content or "")
        assert len(got) == 3 and got[0] == ""
        assert HELLO_ANSWER.startswith("".join(got))
        with pytest.raises(openai.APIConnectionError):
            client.chat.completions.create(model=MODEL, messages=HELLO)
    assert emu.wait_until_closed(1)
    assert [r.fixture for r in emu.requests] == ["drop", "drop"]


def test_stall_notices_the_client_leaving(emu: EmulatorThread) -> None:
    emu.clear()
    with (
        make_sdk(f"{emu.url}/openai-faults/stall/v1", timeout=0.3) as client,
        pytest.raises(openai.APITimeoutError),
    ):
        client.chat.completions.create(model=MODEL, messages=HELLO)
    assert emu.wait_until_closed(0, timeout=2.0)
    (record,) = emu.requests
    assert record.client_went_away and record.fixture == "stall"

    with httpx.stream(
        "POST",
        f"{emu.url}/v1/chat/completions",
        json={"model": MODEL, "messages": HELLO, "stream": True},
        headers={**AUTH, "X-Emulator-Fixture": "stall"},
        timeout=5.0,
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
    assert emu.wait_until_closed(1)
    assert emu.requests[1].client_went_away


def test_garbage(emu: EmulatorThread, sdk: openai.OpenAI, http: httpx.Client) -> None:
    body = {"model": MODEL, "messages": HELLO, "stream": True}
    r = http.post("/openai-faults/garbage/v1/chat/completions", json=body, headers=AUTH)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    first, garbage, done = sse_data(r.content)
    assert json.loads(first)["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    with pytest.raises(ValueError):
        json.loads(garbage)
    assert done == "[DONE]"
    with make_sdk(f"{emu.url}/openai-faults/garbage/v1") as client:
        stream = client.chat.completions.create(model=MODEL, messages=HELLO, stream=True)
        with pytest.raises(ValueError), stream:
            list(stream)


def test_slow(emu: EmulatorThread) -> None:
    with make_sdk(f"{emu.url}/openai-faults/slow/v1") as client:
        start = time.monotonic()
        chunks = sdk_chunks(client, messages=HELLO)
        elapsed = time.monotonic() - start
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == HELLO_ANSWER
    assert elapsed >= 0.1 * (len(chunks) - 1) * 0.9
    assert emu.requests[-1].fixture == "slow"


def test_unknown_fault_and_auth_still_checked(http: httpx.Client) -> None:
    body = {"model": MODEL, "messages": HELLO}
    r = http.post("/openai-faults/nope/v1/chat/completions", json=body, headers=AUTH)
    assert r.status_code == 400
    assert "nope" in r.json()["error"]["message"]
    r = http.post("/openai-faults/slow/v1/chat/completions", json=body)
    assert r.status_code == 401
    assert set(OPENAI_FAULTS) == {"429", "500", "502", "drop", "stall", "garbage", "slow"}


def test_options_models_and_no_auth() -> None:
    options = EmulatorOptions(require_auth=False, openai_models=("my-model",), chunk_delay_ms=1)
    with EmulatorThread(options) as emu, httpx.Client(base_url=emu.url) as http:
        assert [m["id"] for m in http.get("/v1/models").json()["data"]] == ["my-model"]
        body = {"model": "my-model", "messages": HELLO}
        r = http.post("/v1/chat/completions", json=body)
        assert r.json()["choices"][0]["message"]["content"] == HELLO_ANSWER
        body["model"] = MODEL
        assert http.post("/v1/chat/completions", json=body).status_code == 404
