"""Lossless relay on /v1/chat/completions: what the client sends reaches an OpenAI-style
upstream exactly, what the upstream answers reaches the client exactly; tool turns, choices and
images live in the conversation tree and are replayed exactly; chatgpt-web refuses, by name,
what it cannot honour."""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatgpt_api.testing import EmulatorThread
from tests.scripted_upstream import ScriptedUpstream, chunk
from tests.servers import ServiceThread, registry_service

MODELS = """
default_backend = "chatgpt-web"

[models."relay"]
backend = "openai-compatible"
base_url = "{up}/v1"
upstream_model = "up-model"
api_key = "sk-relay"
"""

EXTENSIONS = {"conversation_id", "parent_message_id"}


@pytest.fixture(scope="module")
def upstream() -> Iterator[ScriptedUpstream]:
    with ScriptedUpstream() as up:
        yield up


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("relay")


@pytest.fixture(scope="module")
def relay(
    upstream: ScriptedUpstream, emulator: EmulatorThread, home: Path
) -> Iterator[ServiceThread]:
    with registry_service(home, MODELS.format(up=upstream.url), emulator.url) as svc:
        yield svc


@pytest.fixture()
def http(relay: ServiceThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=relay.url, timeout=30) as client:
        yield client


def _completion(message: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-up",
        "object": "chat.completion",
        "created": 1,
        "model": "up-model",
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
        **extra,
    }


def _events(response: httpx.Response) -> list[Any]:
    out = []
    for block in response.text.split("\n\n"):
        if block.startswith("data: "):
            data = block[len("data: ") :]
            out.append(data if data == "[DONE]" else orjson.loads(data))
    return out


def _expected_upstream_body(body: dict[str, Any]) -> dict[str, Any]:
    sent = {k: v for k, v in body.items() if k not in EXTENSIONS}
    sent["model"] = "up-model"
    return sent


RICH_BODY: dict[str, Any] = {
    "model": "relay",
    "messages": [
        {"role": "developer", "content": "Be exact", "name": "ops"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in this image?"},
                {
                    "type": "image_url",
                    "image_url": {"url": "https://x.test/a.png", "detail": "low"},
                },
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "look", "arguments": '{"where": "left"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "a cat"},
    ],
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "look",
                "description": "Look somewhere",
                "parameters": {"type": "object", "properties": {"where": {"type": "string"}}},
                "strict": True,
            },
        }
    ],
    "tool_choice": "auto",
    "parallel_tool_calls": False,
    "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}},
    "seed": 7,
    "logprobs": True,
    "top_logprobs": 2,
    "logit_bias": {"50256": -100},
    "presence_penalty": 0.5,
    "frequency_penalty": -0.5,
    "reasoning_effort": "low",
    "metadata": {"k": "v"},
    "store": False,
    "service_tier": "auto",
    "max_completion_tokens": 9,
    "top_k": 40,
    "chat_template_kwargs": {"enable_thinking": False},
}


def test_every_request_field_reaches_the_upstream(
    http: httpx.Client, upstream: ScriptedUpstream
) -> None:
    upstream.replies.append(_completion({"role": "assistant", "content": "ok"}))
    response = http.post("/v1/chat/completions", json=RICH_BODY)
    assert response.status_code == 200, response.text
    assert upstream.bodies[-1] == _expected_upstream_body(RICH_BODY)
    assert "max_tokens" not in upstream.bodies[-1]


def test_a_whole_completion_comes_back_unchanged(
    http: httpx.Client, upstream: ScriptedUpstream
) -> None:
    answer = _completion(
        {
            "role": "assistant",
            "content": None,
            "refusal": None,
            "annotations": [],
            "tool_calls": [
                {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
            "reasoning_content": "thinking",
        },
        system_fingerprint="fp_1",
        service_tier="default",
    )
    answer["choices"][0]["finish_reason"] = "tool_calls"
    upstream.replies.append(answer)
    body = {"model": "relay", "messages": [{"role": "user", "content": "hi"}]}
    got = http.post("/v1/chat/completions", json=body).json()
    extension = {k: got.pop(k) for k in ("conversation_id", "message_id")}
    assert got == {**answer, "model": "relay"}
    assert all(extension.values())


def test_stream_chunks_come_back_unchanged(http: httpx.Client, upstream: ScriptedUpstream) -> None:
    chunks = [
        chunk([{"index": 0, "delta": {"role": "assistant", "content": None}}]),
        chunk(
            [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "call_9",
                                "type": "function",
                                "function": {"name": "get_weather", "arguments": ""},
                            }
                        ]
                    },
                }
            ]
        ),
        chunk(
            [
                {
                    "index": 0,
                    "delta": {"tool_calls": [{"index": 0, "function": {"arguments": '{"ci'}}]},
                }
            ]
        ),
        chunk(
            [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [{"index": 0, "function": {"arguments": 'ty": "Oslo"}'}}]
                    },
                }
            ]
        ),
        chunk([{"index": 0, "delta": {"reasoning_content": "hm"}, "logprobs": {"content": []}}]),
        chunk([{"index": 0, "delta": {}, "finish_reason": "tool_calls"}], system_fingerprint="fp"),
        chunk([], usage={"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}),
    ]
    upstream.replies.append(chunks)
    body = {
        "model": "relay",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": "weather in Oslo?"}],
    }
    response = http.post("/v1/chat/completions", json=body)
    events = _events(response)
    assert events[-1] == "[DONE]"
    received = events[:-1]
    last = received[-1]
    assert last.pop("conversation_id") and last.pop("message_id")
    assert received == [{**c, "model": "relay"} for c in chunks]
    assert upstream.bodies[-1] == _expected_upstream_body(body)


def _stored(home: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(home / "store.db") as db:
        return db.execute(sql, args).fetchall()


def test_tool_history_is_stored_and_replayed_exactly(
    http: httpx.Client, upstream: ScriptedUpstream, home: Path
) -> None:
    call = {"id": "call_7", "type": "function", "function": {"name": "add", "arguments": "{}"}}
    upstream.replies.append(
        [
            chunk([{"index": 0, "delta": {"role": "assistant", "content": None}}]),
            chunk([{"index": 0, "delta": {"tool_calls": [{"index": 0, **call}]}}]),
            chunk([{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]),
        ]
    )
    first_body = {
        "model": "relay",
        "stream": True,
        "messages": [{"role": "user", "content": "add 2 and 3"}],
        "tools": [{"type": "function", "function": {"name": "add", "parameters": {}}}],
    }
    ids = _events(http.post("/v1/chat/completions", json=first_body))[-2]
    result = {"role": "tool", "tool_call_id": "call_7", "content": "5"}
    upstream.replies.append(_completion({"role": "assistant", "content": "It is 5."}))
    follow = {
        "model": "relay",
        "conversation_id": ids["conversation_id"],
        "messages": [result],
        "tools": first_body["tools"],
    }
    assert http.post("/v1/chat/completions", json=follow).status_code == 200
    replayed = upstream.bodies[-1]["messages"]
    assert replayed == [
        {"role": "user", "content": "add 2 and 3"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        result,
    ]
    conversation = http.get(f"/v1/conversations/{ids['conversation_id']}").json()
    assert conversation["id"] == ids["conversation_id"]


def test_n_choices_are_stored_as_sibling_branches(
    http: httpx.Client, upstream: ScriptedUpstream, home: Path
) -> None:
    answer = _completion({"role": "assistant", "content": "one"})
    answer["choices"].append(
        {"index": 1, "message": {"role": "assistant", "content": "two"}, "finish_reason": "stop"}
    )
    upstream.replies.append(answer)
    body = {"model": "relay", "n": 2, "messages": [{"role": "user", "content": "pick"}]}
    got = http.post("/v1/chat/completions", json=body).json()
    assert upstream.bodies[-1]["n"] == 2
    first, second = got["message_ids"]
    assert first == got["message_id"]
    rows = _stored(
        home,
        "SELECT id, parent_id, content FROM messages WHERE conversation_id = ? ORDER BY position",
        got["conversation_id"],
    )
    user, one, two = rows
    assert (one[0], one[2], two[0], two[2]) == (first, "one", second, "two")
    assert one[1] == two[1] == user[0]


def test_images_are_stored_once_and_replayed_exactly(
    http: httpx.Client, upstream: ScriptedUpstream, home: Path
) -> None:
    data = base64.b64encode(bytes(range(256)) * 8).decode()
    image = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{data}"}}
    question = {"role": "user", "content": [{"type": "text", "text": "what?"}, image]}
    upstream.replies.append(_completion({"role": "assistant", "content": "bytes"}))
    body = {"model": "relay", "messages": [question]}
    first = http.post("/v1/chat/completions", json=body).json()
    again = {"role": "user", "content": [{"type": "text", "text": "and now?"}, image]}
    upstream.replies.append(_completion({"role": "assistant", "content": "same"}))
    follow = {"model": "relay", "conversation_id": first["conversation_id"], "messages": [again]}
    assert http.post("/v1/chat/completions", json=follow).status_code == 200
    assert upstream.bodies[-1]["messages"] == [
        question,
        {"role": "assistant", "content": "bytes"},
        again,
    ]
    assert _stored(home, "SELECT media_type, size FROM attachments") == [("image/png", 2048)]
    payloads = _stored(
        home,
        "SELECT payload FROM messages WHERE conversation_id = ? AND role = 'user'",
        first["conversation_id"],
    )
    assert len(payloads) == 2 and all(data not in p[0] for p in payloads)


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"tools": [{"type": "function", "function": {"name": "f"}}]}, "tools"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"n": 2}, "n"),
        ({"temperature": 0.2}, "temperature"),
        ({"top_k": 3}, "top_k"),
    ],
)
def test_chatgpt_web_refuses_what_it_cannot_honour(
    http: httpx.Client, extra: dict[str, Any], param: str
) -> None:
    body = {"model": "gpt-3.5-turbo", "messages": [{"role": "user", "content": "hi"}], **extra}
    response = http.post("/v1/chat/completions", json=body, headers={"Authorization": "Bearer tok"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == param
    assert "chatgpt-web" in error["message"]


def test_chatgpt_web_refuses_images_and_tool_history(http: httpx.Client) -> None:
    image = {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}}
    cases = [
        (
            [{"role": "user", "content": [{"type": "text", "text": "x"}, image]}],
            "messages[0].content[1].image_url.url",  # an http(s) image is never fetched
        ),
        ([{"role": "tool", "tool_call_id": "c", "content": "5"}], "messages[0].role"),
    ]
    for messages, param in cases:
        body = {"model": "gpt-3.5-turbo", "messages": messages}
        response = http.post(
            "/v1/chat/completions", json=body, headers={"Authorization": "Bearer tok"}
        )
        assert response.status_code == 400
        assert response.json()["error"]["param"] == param


def test_models_carry_their_capabilities(http: httpx.Client) -> None:
    models = {m["id"]: m for m in http.get("/v1/models").json()["data"]}
    assert models["relay"]["capabilities"]["tools"] == "native"


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
_NAMES = st.text(st.characters(categories=("Ll",)), min_size=1, max_size=10).filter(
    lambda name: name not in {"model", "messages", "stream", *EXTENSIONS}
)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    extra=st.dictionaries(_NAMES, _JSON, max_size=4),
    message_extra=st.dictionaries(
        _NAMES.filter(lambda n: n not in {"role", "content"}), _JSON, max_size=2
    ),
    deltas=st.lists(st.dictionaries(_NAMES, _JSON, max_size=3), min_size=1, max_size=4),
    stream=st.booleans(),
)
def test_relay_is_lossless_both_ways(
    relay: ServiceThread,
    upstream: ScriptedUpstream,
    extra: dict[str, Any],
    message_extra: dict[str, Any],
    deltas: list[dict[str, Any]],
    stream: bool,
) -> None:
    body = {
        **extra,
        "model": "relay",
        "stream": stream,
        "messages": [{"role": "user", "content": "x", **message_extra}],
    }
    if stream:
        reply: Any = [chunk([{"index": 0, "delta": d}]) for d in deltas]
        reply.append(chunk([{"index": 0, "delta": {}, "finish_reason": "stop"}]))
    else:
        reply = _completion({"role": "assistant", "content": "y", **deltas[0]})
    upstream.replies.append(reply)
    with httpx.Client(base_url=relay.url, timeout=30) as http:
        response = http.post("/v1/chat/completions", content=orjson.dumps(body))
    assert response.status_code == 200, response.text
    assert upstream.bodies[-1] == _expected_upstream_body(body)
    if stream:
        events = _events(response)[:-1]
        events[-1].pop("conversation_id")
        events[-1].pop("message_id")
        assert events == [{**c, "model": "relay"} for c in reply]
    else:
        got = response.json()
        got.pop("conversation_id")
        got.pop("message_id")
        assert got == {**reply, "model": "relay"}


def test_conversations_show_structured_messages_and_attachments(
    http: httpx.Client, upstream: ScriptedUpstream
) -> None:
    data = base64.b64encode(b"\x89PNG" + bytes(600)).decode()
    image = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{data}"}}
    html = base64.b64encode(b"<script>alert(1)</script>" * 40).decode()
    page = {"type": "file", "file": {"file_data": f"data:text/html;base64,{html}"}}
    question = {"role": "user", "content": [{"type": "text", "text": "see"}, image, page]}
    upstream.replies.append(_completion({"role": "assistant", "content": "seen"}))
    got = http.post("/v1/chat/completions", json={"model": "relay", "messages": [question]})
    conversation_id = got.json()["conversation_id"]
    tree = http.get(f"/v1/conversations/{conversation_id}").json()
    user = next(m for m in tree["messages"] if m["role"] == "user")
    url = user["message"]["content"][1]["image_url"]["url"]
    assert url.startswith("attachment:sha256:")
    picture = http.get(f"/v1/conversations/{conversation_id}/attachments/{url.split(':')[-1]}")
    assert picture.content == base64.b64decode(data)
    assert picture.headers["content-type"] == "image/png"
    assert "content-disposition" not in picture.headers
    ref = user["message"]["content"][2]["file"]["file_data"].split(":")[-1]
    risky = http.get(f"/v1/conversations/{conversation_id}/attachments/{ref}")
    assert risky.headers["content-disposition"].startswith("attachment")
    assert "sandbox" in risky.headers["content-security-policy"]
    assert risky.headers["x-content-type-options"] == "nosniff"
    missing = http.get(f"/v1/conversations/{conversation_id}/attachments/{'0' * 64}")
    assert missing.status_code == 404


def test_a_body_over_the_limit_is_a_clear_413(relay: ServiceThread) -> None:
    with httpx.Client(base_url=relay.url, timeout=30) as http:
        big = "x" * (relay.settings.max_body_size + 1)
        body = {"model": "relay", "messages": [{"role": "user", "content": big}]}
        response = http.post("/v1/chat/completions", json=body)
    assert response.status_code == 413
    assert "max_body_size" in response.json()["error"]["message"]
