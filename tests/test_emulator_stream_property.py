"""Property: a streamed emulator answer, assembled as a client does, is the whole answer.

For generated requests (tools and tool choices, ``n``, logprobs, structured output, chunk
counts) the chunks of :func:`stream_objects` are folded back per choice — content, tool call
headers and argument fragments by index, logprobs — and compared with the choices of
:func:`chat_completion` for the same completion.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from chatgpt_api.testing.openai_protocol import (
    chat_completion,
    complete,
    parse_chat_request,
    stream_objects,
)
from chatgpt_api.testing.options import DEFAULT_OPENAI_MODELS


def function(name: str, description: str) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                "required": ["city", "days"],
            },
        },
    }


TOOLS = [function("get_weather", "Current weather"), function("get_time", "Clock time now")]
TEXTS = st.sampled_from(
    ["Hello", 'weather in "Paris" for 3 days', "the clock and the weather", "json please", ""]
)


@st.composite
def bodies(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": draw(TEXTS)}],
        "n": draw(st.integers(1, 3)),
    }
    if draw(st.booleans()):
        body["tools"] = TOOLS
        body["tool_choice"] = draw(
            st.sampled_from(
                ["auto", "none", "required", {"type": "function", "function": {"name": "get_time"}}]
            )
        )
        body["parallel_tool_calls"] = draw(st.booleans())
    if draw(st.booleans()):
        body["logprobs"] = True
        body["top_logprobs"] = draw(st.integers(0, 4))
    if draw(st.booleans()):
        schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "out", "schema": schema},
        }
    return body


def assemble(chunks: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    choices: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        for choice in chunk["choices"]:
            out = choices.setdefault(
                choice["index"], {"content": None, "calls": {}, "finish": None, "logprobs": []}
            )
            delta = choice["delta"]
            if delta.get("content") is not None:
                out["content"] = (out["content"] or "") + delta["content"]
            for item in delta.get("tool_calls", []):
                call = out["calls"].setdefault(item["index"], {"name": "", "arguments": ""})
                if "id" in item:
                    assert item["type"] == "function" and item["function"]["arguments"] == ""
                    call["name"] = item["function"]["name"]
                call["arguments"] += item["function"]["arguments"]
            if choice["logprobs"] is not None:
                out["logprobs"].extend(choice["logprobs"]["content"])
            if choice["finish_reason"] is not None:
                assert out["finish"] is None
                out["finish"] = choice["finish_reason"]
    return choices


@settings(max_examples=200, deadline=None)
@given(bodies(), st.integers(1, 9))
def test_streamed_answer_assembles_to_the_whole_answer(body: dict[str, Any], pieces: int) -> None:
    request = parse_chat_request(json.dumps(body).encode(), DEFAULT_OPENAI_MODELS)
    completion = complete(request)
    whole = chat_completion("chatcmpl-x", 0, request, completion)
    streamed = assemble(stream_objects("chatcmpl-x", 0, request, completion, pieces))
    assert sorted(streamed) == [c["index"] for c in whole["choices"]]
    for choice in whole["choices"]:
        got = streamed[choice["index"]]
        message = choice["message"]
        assert got["finish"] == choice["finish_reason"]
        if message.get("tool_calls"):
            calls = [got["calls"][i] for i in sorted(got["calls"])]
            expected = [c["function"] for c in message["tool_calls"]]
            assert calls == expected
            assert got["content"] is None
        else:
            assert got["content"] == message["content"]
        if body.get("logprobs") and message["content"] is not None:
            assert got["logprobs"] == choice["logprobs"]["content"]
