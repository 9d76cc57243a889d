"""The Responses ⇄ chat completions bridge against a scripted chat completions upstream: what
the upstream receives for each Responses field, and how its chunks and completions (reasoning,
refusals, annotations, parallel tool calls, usage details) become items and events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.scripted_upstream import ScriptedUpstream, chunk
from tests.servers import ServiceThread


@pytest.fixture(scope="module")
def upstream() -> Iterator[ScriptedUpstream]:
    with ScriptedUpstream() as up:
        yield up


@pytest.fixture(scope="module")
def gateway(upstream: ScriptedUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home: Path = tmp_path_factory.mktemp("bridge")
    (home / "models.toml").write_text(
        f'[models."scripted"]\nbackend = "openai-compatible"\nbase_url = "{upstream.url}/v1"\n'
        'upstream_model = "up-model"\napi_key = "sk-up"\n'
    )
    with ServiceThread(
        models_file=home / "models.toml", database_url=f"sqlite+aiosqlite:///{home}/s.db"
    ) as svc:
        yield f"{svc.url}/v1"


def _completion(message: dict[str, Any], finish: str = "stop") -> dict[str, Any]:
    return {
        "id": "chatcmpl-up",
        "object": "chat.completion",
        "created": 1,
        "model": "up-model",
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": {
            "prompt_tokens": 11,
            "completion_tokens": 7,
            "total_tokens": 18,
            "prompt_tokens_details": {"cached_tokens": 3},
            "completion_tokens_details": {"reasoning_tokens": 2},
        },
    }


def test_request_fields_reach_the_upstream_in_chat_form(
    gateway: str, upstream: ScriptedUpstream
) -> None:
    upstream.replies.append(_completion({"role": "assistant", "content": '{"a": 1}'}))
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    body = {
        "model": "scripted",
        "instructions": "Be exact.",
        "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "Go"}]},
            {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "x"},
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            {"type": "function_call", "call_id": "c2", "name": "g", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "one"},
            {
                "type": "function_call_output",
                "call_id": "c2",
                "output": [{"type": "input_text", "text": "two"}],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "input_file",
                        "file_data": "data:application/pdf;base64,JVBE",
                        "filename": "a.pdf",
                    },
                ],
            },
        ],
        "tools": [
            {"type": "function", "name": "f", "parameters": {"type": "object"}, "strict": True}
        ],
        "tool_choice": {"type": "function", "name": "f"},
        "parallel_tool_calls": False,
        "text": {
            "format": {"type": "json_schema", "name": "out", "schema": schema, "strict": True},
            "verbosity": "low",
        },
        "max_output_tokens": 50,
        "reasoning": {"effort": "low"},
        "temperature": 0.2,
        "top_p": 0.9,
        "user": "u1",
        "metadata": {"k": "v"},
        "truncation": "auto",
        "vendor_field": 7,
    }
    reply = httpx.post(f"{gateway}/responses", json=body)
    assert reply.status_code == 200, reply.text
    sent = upstream.bodies[-1]
    assert sent["messages"] == [
        {"role": "system", "content": "Be exact."},
        {"role": "user", "content": "Go"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                {"id": "c2", "type": "function", "function": {"name": "g", "arguments": "{}"}},
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "one"},
        {"role": "tool", "tool_call_id": "c2", "content": "two"},
        {
            "role": "user",
            "content": [
                {
                    "type": "file",
                    "file": {"file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"},
                }
            ],
        },
    ]
    assert {k: v for k, v in sent.items() if k != "messages"} == {
        "model": "up-model",
        "stream": False,
        "tools": [
            {
                "type": "function",
                "function": {"name": "f", "parameters": {"type": "object"}, "strict": True},
            }
        ],
        "parallel_tool_calls": False,
        "tool_choice": {"type": "function", "function": {"name": "f"}},
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "out", "schema": schema, "strict": True},
        },
        "verbosity": "low",
        "max_completion_tokens": 50,
        "reasoning_effort": "low",
        "temperature": 0.2,
        "top_p": 0.9,
        "user": "u1",
        "vendor_field": 7,
    }
    response = reply.json()
    assert response["usage"] == {
        "input_tokens": 11,
        "input_tokens_details": {"cached_tokens": 3},
        "output_tokens": 7,
        "output_tokens_details": {"reasoning_tokens": 2},
        "total_tokens": 18,
    }
    assert response["metadata"] == {"k": "v"} and response["text"]["verbosity"] == "low"


def test_refusal_annotations_and_reasoning_of_a_whole_answer(
    gateway: str, upstream: ScriptedUpstream
) -> None:
    citation = {"start_index": 0, "end_index": 4, "url": "https://example.org", "title": "Ex"}
    upstream.replies.append(
        _completion(
            {
                "role": "assistant",
                "content": "Text",
                "refusal": "No more.",
                "reasoning_content": "Thought.",
                "annotations": [{"type": "url_citation", "url_citation": citation}],
            }
        )
    )
    output = httpx.post(f"{gateway}/responses", json={"model": "scripted", "input": "x"}).json()[
        "output"
    ]
    assert [item["type"] for item in output] == ["reasoning", "message"]
    assert output[0]["content"] == [{"type": "reasoning_text", "text": "Thought."}]
    assert output[1]["content"] == [
        {
            "type": "output_text",
            "text": "Text",
            "annotations": [{"type": "url_citation", **citation}],
            "logprobs": [],
        },
        {"type": "refusal", "refusal": "No more."},
    ]


def test_streamed_reasoning_text_and_parallel_calls(
    gateway: str, upstream: ScriptedUpstream
) -> None:
    def delta(**fields: Any) -> dict[str, Any]:
        return chunk([{"index": 0, "delta": fields, "finish_reason": None}])

    call = {"type": "function", "function": {"name": "f", "arguments": ""}}
    upstream.replies.append(
        [
            delta(role="assistant", reasoning_content="Hm"),
            delta(reasoning_content="m."),
            delta(content="Calling."),
            delta(tool_calls=[{"index": 0, "id": "c1", **call}]),
            delta(tool_calls=[{"index": 0, "function": {"arguments": '{"a":'}}]),
            delta(tool_calls=[{"index": 0, "function": {"arguments": "1}"}}]),
            delta(tool_calls=[{"index": 1, "id": "c2", **call}]),
            delta(tool_calls=[{"index": 1, "function": {"arguments": "{}"}}]),
            chunk([{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]),
            chunk([], usage={"prompt_tokens": 5, "completion_tokens": 9, "total_tokens": 14}),
        ]
    )
    body = {"model": "scripted", "input": "x", "stream": True}
    with httpx.stream("POST", f"{gateway}/responses", json=body) as reply:
        data = [line[6:] for line in reply.iter_lines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    events = [json.loads(line) for line in data[:-1]]
    assert upstream.bodies[-1]["stream"] is True
    assert upstream.bodies[-1]["stream_options"] == {"include_usage": True}
    kinds = [(e["type"], e.get("output_index")) for e in events]
    assert kinds == [
        ("response.created", None),
        ("response.in_progress", None),
        ("response.output_item.added", 0),
        ("response.content_part.added", 0),
        ("response.reasoning.delta", 0),
        ("response.reasoning.delta", 0),
        ("response.reasoning.done", 0),
        ("response.content_part.done", 0),
        ("response.output_item.done", 0),
        ("response.output_item.added", 1),
        ("response.content_part.added", 1),
        ("response.output_text.delta", 1),
        ("response.output_text.done", 1),
        ("response.content_part.done", 1),
        ("response.output_item.done", 1),
        ("response.output_item.added", 2),
        ("response.function_call_arguments.delta", 2),
        ("response.function_call_arguments.delta", 2),
        ("response.function_call_arguments.done", 2),
        ("response.output_item.done", 2),
        ("response.output_item.added", 3),
        ("response.function_call_arguments.delta", 3),
        ("response.function_call_arguments.done", 3),
        ("response.output_item.done", 3),
        ("response.completed", None),
    ]
    final = events[-1]["response"]
    assert [i["type"] for i in final["output"]] == [
        "reasoning",
        "message",
        "function_call",
        "function_call",
    ]
    assert [(i["call_id"], i["arguments"]) for i in final["output"][2:]] == [
        ("c1", '{"a":1}'),
        ("c2", "{}"),
    ]
    assert final["usage"]["total_tokens"] == 14


def test_allowed_tools_are_enforced_whatever_the_upstream_does(
    gateway: str, upstream: ScriptedUpstream
) -> None:
    """The upstream calls a tool outside ``allowed_tools``: the response fails, whole or
    streamed, before any item of that call is shown."""
    tools = [
        {"type": "function", "name": name, "parameters": {"type": "object"}} for name in ("f", "g")
    ]
    choice = {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "function", "name": "g"}]}
    body = {"model": "scripted", "input": "x", "tools": tools, "tool_choice": choice}
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    upstream.replies.append(
        _completion({"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls")
    )
    refused = httpx.post(f"{gateway}/responses", json=body)
    assert refused.status_code == 502 and refused.json()["error"]["code"] == "tool_not_allowed"
    assert upstream.bodies[-1]["tool_choice"] == {
        "type": "allowed_tools",
        "allowed_tools": {
            "mode": "auto",
            "tools": [{"type": "function", "function": {"name": "g"}}],
        },
    }
    upstream.replies.append(
        [
            chunk(
                [
                    {
                        "index": 0,
                        "delta": {"role": "assistant", "tool_calls": [{"index": 0, **call}]},
                        "finish_reason": None,
                    }
                ]
            ),
            chunk([{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]),
        ]
    )
    with httpx.stream("POST", f"{gateway}/responses", json={**body, "stream": True}) as reply:
        data = [line[6:] for line in reply.iter_lines() if line.startswith("data: ")]
    events = [json.loads(line) for line in data[:-1]]
    assert [e["type"] for e in events] == [
        "response.created",
        "response.in_progress",
        "error",
        "response.failed",
    ]
    assert events[2]["code"] == "tool_not_allowed"
