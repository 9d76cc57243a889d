"""The Messages API bridge in-process: Anthropic requests → chat completions turns per
backend, the gateway's own max_tokens / stop_sequences on text answers, and answers and
event streams rendered from chat completions events (thinking, text, tool calls)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import orjson
import pytest

from chatgpt_api.api.anthropic_bridge import bridge_messages, parse_body
from chatgpt_api.api.anthropic_content import anthropic_tool_id, count_tokens, upstream_tool_id
from chatgpt_api.api.anthropic_models import CountTokensBody, MessagesBody
from chatgpt_api.api.anthropic_render import (
    MessageMeta,
    TextLimiter,
    message_frames,
    message_object,
)
from chatgpt_api.errors import RequestError
from chatgpt_api.messages import ChatEvent, Choice, Finished, TextDelta, TextReset, Usage
from chatgpt_api.registry import ModelRoute

OPENAI = ModelRoute("m", "openai", "up-m", "http://x.test/v1", "sk")
COMPAT = ModelRoute("m", "openai-compatible", "up-m", "http://x.test/v1", "sk")
WEB = ModelRoute("m", "chatgpt-web", "m")
TOOL = {"name": "look", "description": "Look", "input_schema": {"type": "object"}}


def _body(**extra: Any) -> dict[str, Any]:
    return {
        "model": "m",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "Hi"}],
        **extra,
    }


def _bridge(route: ModelRoute, **extra: Any) -> Any:
    request = parse_body(MessagesBody, _body(**extra))
    return bridge_messages(request, route, credential=None, owner=None)


def _refusal(route: ModelRoute, **extra: Any) -> RequestError:
    with pytest.raises(RequestError) as caught:
        _bridge(route, **extra)
    return caught.value


def test_tool_ids_map_both_ways() -> None:
    for upstream in ("call_abc", "chatcmpl-tool-1", "toolu_01X"):
        assert upstream_tool_id(anthropic_tool_id(upstream)) == upstream.removeprefix("toolu_")
    assert anthropic_tool_id("call_abc") == "toolu_call_abc"
    assert upstream_tool_id("toolu_call_abc") == "call_abc"


def test_a_tool_history_becomes_chat_messages() -> None:
    messages = [
        {"role": "user", "content": "Look left"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "s"},
                {"type": "text", "text": "Looking."},
                {"type": "tool_use", "id": "toolu_call_1", "name": "look", "input": {"a": 1}},
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_call_1",
                    "content": [{"type": "text", "text": "a cat"}],
                    "is_error": True,
                },
                {"type": "text", "text": "And now?"},
            ],
        },
    ]
    turn = _bridge(OPENAI, system=[{"type": "text", "text": "Be exact"}], messages=messages).turn
    wires = [m.wire() for m in turn.messages]
    assert wires[0] == {"role": "system", "content": "Be exact"}
    assert wires[2] == {
        "role": "assistant",
        "content": "Looking.",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "look", "arguments": '{"a":1}'},
            }
        ],
    }
    assert wires[3] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": [{"type": "text", "text": "[tool error]"}, {"type": "text", "text": "a cat"}],
    }
    assert wires[4] == {"role": "user", "content": [{"type": "text", "text": "And now?"}]}
    assert turn.messages[3].content == "[tool error] a cat"


def test_passthrough_per_backend() -> None:
    fields = {
        "stop_sequences": ["X"],
        "temperature": 0.3,
        "metadata": {"user_id": "u"},
        "tools": [TOOL],
        "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
        "thinking": {"type": "enabled", "budget_tokens": 20000},
        "stream": True,
    }
    sent = _bridge(OPENAI, **fields).turn.passthrough
    assert sent == {
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_completion_tokens": 100,
        "stop": ["X"],
        "temperature": 0.3,
        "user": "u",
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "look",
                    "parameters": {"type": "object"},
                    "description": "Look",
                },
            }
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": False,
        "reasoning_effort": "high",
    }
    compat = _bridge(COMPAT, top_k=3, output_config={"effort": "medium"}).turn.passthrough
    assert compat["max_tokens"] == 100 and compat["top_k"] == 3
    assert compat["reasoning_effort"] == "medium"
    assert (
        _bridge(OPENAI, tool_choice={"type": "any"}, tools=[TOOL]).turn.passthrough["tool_choice"]
        == "required"
    )
    web = _bridge(WEB, stop_sequences=["X"], metadata={"user_id": "u"})
    assert web.turn.passthrough is None and web.gateway_limits
    assert web.stop_sequences == ("X",) and web.max_tokens == 100


@pytest.mark.parametrize(
    ("route", "extra", "param"),
    [
        (OPENAI, {"top_k": 3}, "top_k"),
        (WEB, {"top_k": 3}, "top_k"),
        (WEB, {"tools": [TOOL]}, "tools"),
        (WEB, {"tool_choice": {"type": "any"}}, "tool_choice"),
        (
            WEB,
            {"output_config": {"format": {"type": "json_schema", "schema": {}}}},
            "output_config.format",
        ),
        (OPENAI, {"tool_choice": {"type": "tool", "name": "x"}}, "tool_choice"),
        (OPENAI, {"tools": [{**TOOL, "type": "web_search_20250305"}]}, "tools[0].type"),
        (OPENAI, {"mcp_servers": [{"url": "x"}]}, "mcp_servers"),
        (OPENAI, {"max_tokens": 0}, "max_tokens"),
        (OPENAI, {"temperature": 1.5}, "temperature"),
        (OPENAI, {"conversation_id": "nope"}, "conversation_id"),
        (
            OPENAI,
            {"messages": [{"role": "user", "content": [{"type": "video", "x": 1}]}]},
            "messages[0].content[0]",
        ),
        (
            OPENAI,
            {"messages": [{"role": "user", "content": [{"type": "text", "text": "a", "x": 1}]}]},
            "messages[0].content[0].x",
        ),
        (OPENAI, {"messages": [{"role": "user", "content": []}]}, "messages[0].content"),
        (
            OPENAI,
            {
                "messages": [
                    {"role": "user", "content": "Hi"},
                    {"role": "assistant", "content": "The answer is"},
                ]
            },
            "messages[1]",
        ),
        (
            WEB,
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {  # base64 images are uploaded (issue 12); url ones: no
                                "type": "image",
                                "source": {"type": "url", "url": "https://x.test/a.png"},
                            }
                        ],
                    }
                ]
            },
            "messages[0].content[0]",
        ),
    ],
)
def test_refusals_name_the_parameter(route: ModelRoute, extra: dict[str, Any], param: str) -> None:
    error = _refusal(route, **extra)
    assert error.status == 400 and error.param == param, error.message


def test_documents_and_images_become_parts() -> None:
    content = [
        {
            "type": "document",
            "source": {"type": "text", "media_type": "text/plain", "data": "notes"},
        },
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"},
        },
        {"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}},
    ]
    turn = _bridge(OPENAI, messages=[{"role": "user", "content": content}]).turn
    parts = turn.messages[0].wire()["content"]
    assert parts == [
        {"type": "text", "text": "notes"},
        {
            "type": "file",
            "file": {"filename": "document.pdf", "file_data": "data:application/pdf;base64,JVBE"},
        },
        {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}},
    ]
    # A plain-text document is text: the web backend takes it.
    web = _bridge(WEB, messages=[{"role": "user", "content": content[:1]}])
    assert web.turn.messages[0].content == "notes"


def test_count_tokens_estimate() -> None:
    base = parse_body(
        CountTokensBody, {"model": "m", "messages": [{"role": "user", "content": "abcd" * 10}]}
    )
    assert count_tokens(base) == 4 + 10
    image = {"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}}
    with_image = parse_body(
        CountTokensBody,
        {
            "model": "m",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "abcd"}, image]}],
        },
    )
    assert count_tokens(with_image) == 4 + 1 + 1600
    prefill = parse_body(
        CountTokensBody,
        {
            "model": "m",
            "messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}],
        },
    )
    assert count_tokens(prefill) == 10  # a final assistant message is counted, not refused


def test_text_limiter() -> None:
    limiter = TextLimiter(3, ("STOP", "zz"))
    assert limiter.cut("abcdefghijklmnop", final=False).stop_reason == "max_tokens"
    assert limiter.cut("abcdefghijklmnop", final=False).text == "abcdefghijkl"
    cut = limiter.cut("abSTOPcd", final=True)
    assert (cut.text, cut.stop_reason, cut.stop_sequence) == ("ab", "stop_sequence", "STOP")
    # While streaming, the last characters may begin a stop sequence: they are held back.
    assert limiter.cut("abcST", final=False).text == "ab"
    assert limiter.cut("abcST", final=True).text == "abcST"
    # The earliest sequence wins; a sequence after the token limit does not count.
    assert limiter.cut("azzbSTOP", final=True).stop_sequence == "zz"
    assert limiter.cut("abcdefghijklmnSTOP", final=True).stop_reason == "max_tokens"


def _meta(route: ModelRoute = OPENAI, **extra: Any) -> MessageMeta:
    return MessageMeta("msg_1", _bridge(route, **extra))


def test_message_object_from_a_chat_answer() -> None:
    message = {
        "role": "assistant",
        "content": "Let me look.",
        "reasoning_content": "The user wants a look.",
        "tool_calls": [
            {
                "id": "call_9",
                "type": "function",
                "function": {"name": "look", "arguments": '{"a": 2}'},
            }
        ],
    }
    answer = Finished(
        "Let me look.",
        "c-1",
        "m-1",
        "tool_calls",
        Usage(12, 7),
        (Choice(0, message, "tool_calls"),),
    )
    obj = message_object(answer, _meta())
    assert obj["content"] == [
        {"type": "thinking", "thinking": "The user wants a look.", "signature": ""},
        {"type": "text", "text": "Let me look."},
        {"type": "tool_use", "id": "toolu_call_9", "name": "look", "input": {"a": 2}},
    ]
    assert obj["stop_reason"] == "tool_use" and obj["model"] == "m"
    assert obj["usage"] == {
        "input_tokens": 12,
        "output_tokens": 7,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }
    assert (obj["conversation_id"], obj["message_id"]) == ("c-1", "m-1")
    length = Finished("cut", None, "m-2", "length")
    assert message_object(length, _meta())["stop_reason"] == "max_tokens"


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


async def _frames(events: list[ChatEvent], meta: MessageMeta) -> list[tuple[str, dict[str, Any]]]:
    async def source() -> AsyncGenerator[ChatEvent, None]:
        for event in events[1:]:
            yield event

    out = []
    async for frame in message_frames(events[0], source(), meta, "req_1"):
        head, data = frame.decode().strip().split("\n")
        out.append((head.removeprefix("event: "), orjson.loads(data.removeprefix("data: "))))
    return out


def test_stream_of_thinking_text_and_two_tool_calls() -> None:
    def call(index: int, **fields: Any) -> dict[str, Any]:
        return _chunk({"tool_calls": [{"index": index, **fields}]})

    chunks = [
        _chunk({"role": "assistant", "content": ""}),
        _chunk({"reasoning_content": "Think"}),
        _chunk({"content": "Hel"}),
        _chunk({"content": "lo"}),
        call(0, id="call_a", type="function", function={"name": "look", "arguments": ""}),
        call(0, function={"arguments": '{"a"'}),
        call(0, function={"arguments": ": 1}"}),
        call(1, id="call_b", type="function", function={"name": "look", "arguments": "{}"}),
        _chunk({}, "tool_calls"),
    ]
    events: list[ChatEvent] = [TextDelta("", c) for c in chunks]
    events.append(Finished("Hello", "c", "m", "tool_calls", Usage(5, 9)))
    frames = asyncio.run(_frames(events, _meta()))
    names = [n for n, _ in frames]
    assert names == [
        "message_start",
        "ping",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    starts = [d["content_block"] for n, d in frames if n == "content_block_start"]
    assert [s["type"] for s in starts] == ["thinking", "text", "tool_use", "tool_use"]
    assert [s.get("id") for s in starts[2:]] == ["toolu_call_a", "toolu_call_b"]
    partial = [d["delta"].get("partial_json") for n, d in frames if n == "content_block_delta"]
    assert partial[-3:] == ['{"a"', ": 1}", "{}"]
    delta = frames[-2][1]
    assert delta["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    assert delta["usage"]["output_tokens"] == 9 and delta["conversation_id"] == "c"


def test_web_stream_with_a_rewrite_and_a_stop_sequence() -> None:
    events: list[ChatEvent] = [
        TextDelta("Hello wo"),
        TextReset("Hello wor"),
        TextDelta("ld, END of it"),
        Finished("Hello world, END of it", "c", "m"),
    ]
    frames = asyncio.run(_frames(events, _meta(WEB, stop_sequences=["END"])))
    text = "".join(d["delta"]["text"] for n, d in frames if n == "content_block_delta")
    assert text == "Hello world, "
    assert frames[-2][1]["delta"] == {"stop_reason": "stop_sequence", "stop_sequence": "END"}
    assert frames[-2][1]["usage"]["output_tokens"] == 4  # ceil(13 / 4), what was shown


def test_a_failure_mid_stream_is_one_error_event() -> None:
    async def failing() -> AsyncGenerator[ChatEvent, None]:
        yield TextDelta("more")
        raise RequestError("boom")

    async def collect() -> list[bytes]:
        return [f async for f in message_frames(TextDelta("Hi"), failing(), _meta(WEB), "req_9")]

    frames = asyncio.run(collect())
    last = frames[-1].decode()
    assert last.startswith("event: error\n")
    body = orjson.loads(last.split("data: ", 1)[1])
    assert body == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "boom"},
        "request_id": "req_9",
    }


def test_a_stop_sequence_named_by_the_upstream() -> None:
    """vLLM names the matched stop string in the choice's ``stop_reason``."""
    raw = {
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "ab"},
                "finish_reason": "stop",
                "stop_reason": "END",
            }
        ]
    }
    answer = Finished("ab", None, "m", "stop", raw=raw)
    meta = _meta(COMPAT, stop_sequences=["END", "X"])
    obj = message_object(answer, meta)
    assert (obj["stop_reason"], obj["stop_sequence"]) == ("stop_sequence", "END")
    assert message_object(answer, _meta(COMPAT))["stop_reason"] == "end_turn"
    chunk = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop", "stop_reason": "X"}]}
    events: list[ChatEvent] = [TextDelta("ab", _chunk({"content": "ab"})), TextDelta("", chunk)]
    events.append(Finished("ab", None, "m"))
    frames = asyncio.run(_frames(events, meta))
    assert frames[-2][1]["delta"] == {"stop_reason": "stop_sequence", "stop_sequence": "X"}
    whole = asyncio.run(_frames([answer], meta))
    assert whole[-2][1]["delta"] == {"stop_reason": "stop_sequence", "stop_sequence": "END"}
