"""The typed ``/v1`` wire models: what parses, what is refused (and with which ``param``), the
request kept exactly as sent, and the ``/openapi.json`` schemas generated from them.

The round-trip property generates valid request bodies of every kind (every role and content
part, every request field, unknown fields at every level, unicode, 64-bit integers, floats) and
proves ``request_dict(parse_chat_request(body))`` is the body, byte for byte once serialized
with sorted keys (so ``1`` vs ``1.0`` or ``true`` vs ``1`` would show). The same bodies must
be valid for the generated JSON schema, so the document and the validation agree.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import jsonschema_rs
import orjson
import pytest
import schemathesis
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode

from chatgpt_api.api.chat_models import (
    ChatCompletion,
    ChatCompletionChunk,
    EmbeddingResponse,
    openapi_schemas,
    parse_chat_request,
    parse_embedding_request,
    request_dict,
    request_json,
)
from chatgpt_api.api.chat_models.request import ChatCompletionRequest
from chatgpt_api.api.openapi import openapi_document
from chatgpt_api.errors import RequestError

PROPERTY = settings(max_examples=200, deadline=None, derandomize=True, database=None)

USER = {"role": "user", "content": "hi"}
CONVERSATION = "0f8fad5b-d9cb-469f-a165-70867728950e"
PARENT = "7C9E6679-7425-40DE-944B-E07FC1F90AE7"


def canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def body_of(**fields: Any) -> bytes:
    return orjson.dumps({"messages": [USER], **fields})


# --- valid bodies of every kind ----------------------------------------------------------------

IMAGE_DATA = "data:image/png;base64," + base64.b64encode(b"\x89PNG" * 8).decode()
TOOL_CALL = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}

VALID_MESSAGES: list[dict[str, Any]] = [
    {"role": "system", "content": "Be brief", "name": "setup"},
    {"role": "developer", "content": [{"type": "text", "text": "Use tools"}]},
    {"role": "user", "content": "Hello", "name": "ann"},
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
            {"type": "image_url", "image_url": {"url": IMAGE_DATA, "detail": "high"}},
            {"type": "image_url", "image_url": {"url": IMAGE_DATA, "detail": "original"}},
            {"type": "text", "text": "cached", "prompt_cache_breakpoint": {"mode": "explicit"}},
            {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
            {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBE"}},
            {"type": "file", "file": {"file_id": "file-abc", "filename": "a.pdf"}},
        ],
    },
    {"role": "assistant", "content": "Sure."},
    {"role": "assistant", "content": None, "tool_calls": [TOOL_CALL]},
    {"role": "assistant", "tool_calls": [TOOL_CALL], "reasoning_content": "thought"},
    {
        "role": "assistant",
        "tool_calls": [{"id": "c2", "type": "custom", "custom": {"name": "sh", "input": "ls"}}],
    },
    {"role": "assistant", "content": [{"type": "refusal", "refusal": "No."}], "refusal": "No."},
    {"role": "assistant", "content": None, "audio": {"id": "audio_1"}},
    {"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": "{}"}},
    {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 21}'},
    {"role": "tool", "tool_call_id": "call_1", "content": [{"type": "text", "text": "21"}]},
    {"role": "function", "name": "f", "content": "21"},
    {"role": "function", "name": "f", "content": None},
]

VALID_FIELDS: list[dict[str, Any]] = [
    {},
    {"model": "gpt-4o-mini", "stream": True, "stream_options": {"include_usage": True}},
    {"stream_options": {"include_obfuscation": False}},
    {"temperature": 0, "top_p": 1, "n": 128, "presence_penalty": -2, "frequency_penalty": 2.0},
    {"temperature": 1.5, "top_p": 0.25, "n": 1},
    {"max_tokens": 10, "max_completion_tokens": 20},
    {"n": 2.0, "max_tokens": 5.0, "seed": -3.0, "top_logprobs": 0.0, "logit_bias": {"1": -75.0}},
    {"stop": "END"},
    {"stop": ["a", "b", "c", "d"]},
    {"logit_bias": {"50256": -100, "1": 100}, "logprobs": True, "top_logprobs": 20},
    {"seed": -(2**63), "user": "u-1", "safety_identifier": "s", "prompt_cache_key": "k"},
    {
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Weather",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                    "strict": True,
                },
            },
            {"type": "custom", "custom": {"name": "sh", "format": {"type": "text"}}},
            {
                "type": "custom",
                "custom": {
                    "name": "calc",
                    "format": {
                        "type": "grammar",
                        "grammar": {"definition": "start: NUMBER", "syntax": "lark"},
                    },
                },
            },
        ],
        "tool_choice": "required",
        "parallel_tool_calls": False,
    },
    {"tool_choice": {"type": "function", "function": {"name": "get_weather"}}},
    {"tool_choice": {"type": "custom", "custom": {"name": "sh"}}},
    {
        "tool_choice": {
            "type": "allowed_tools",
            "allowed_tools": {"mode": "auto", "tools": [{"type": "function", "name": "f"}]},
        }
    },
    {"functions": [{"name": "f", "parameters": {}}], "function_call": {"name": "f"}},
    {"function_call": "auto"},
    {"response_format": {"type": "text"}},
    {"response_format": {"type": "json_object"}},
    {
        "response_format": {
            "type": "json_schema",
            "json_schema": {
                "name": "answer",
                "description": "An answer",
                "schema": {"type": "object", "additionalProperties": False},
                "strict": True,
            },
        }
    },
    {"reasoning_effort": "minimal", "verbosity": "low", "service_tier": "flex", "store": True},
    {"metadata": {"k" * 64: "v" * 512}},
    {"modalities": ["text", "audio"], "audio": {"voice": "alloy", "format": "wav"}},
    {"audio": {"voice": {"id": "voice_1"}, "format": "mp3"}},
    {"prediction": {"type": "content", "content": "old code"}},
    {"prediction": {"type": "content", "content": [{"type": "text", "text": "old"}]}},
    {
        "web_search_options": {
            "search_context_size": "low",
            "user_location": {"type": "approximate", "approximate": {"city": "Paris"}},
        }
    },
    {
        "moderation": {"model": "omni-moderation-latest", "policy": {"input": {"mode": "block"}}},
        "prompt_cache_options": {"mode": "explicit", "ttl": "30m"},
        "prompt_cache_retention": "24h",
    },
    {"conversation_id": CONVERSATION},
    {"conversation_id": CONVERSATION, "parent_message_id": PARENT},
    {"top_k": 40, "chat_template_kwargs": {"enable_thinking": False}, "min_p": 0.05},
    {"temperature": None, "stop": None, "tools": None, "model": None, "seed": None},
]


@pytest.mark.parametrize("message", VALID_MESSAGES)
def test_every_message_kind_parses_and_comes_back_as_sent(message: dict[str, Any]) -> None:
    body = orjson.dumps({"messages": [USER, message]})
    request = parse_chat_request(body)
    assert canonical(request_dict(request)) == canonical(orjson.loads(body))


@pytest.mark.parametrize("fields", VALID_FIELDS)
def test_every_request_field_parses_and_comes_back_as_sent(fields: dict[str, Any]) -> None:
    body = body_of(**fields)
    request = parse_chat_request(body)
    assert canonical(request_dict(request)) == canonical(orjson.loads(body))
    assert orjson.loads(request_json(request)) == orjson.loads(body)


def test_typed_access_and_what_stays_unset() -> None:
    request = parse_chat_request(
        body_of(model="m", max_completion_tokens=5, temperature=1, top_k=3, tools=[])
    )
    assert request.model == "m"
    assert request.max_completion_tokens == 5 and request.max_tokens is None
    assert request.temperature == 1 and isinstance(request.temperature, int)
    assert request.messages[0]["role"] == "user"
    assert request.model_extra == {"top_k": 3}
    assert request.model_fields_set == {
        "model",
        "messages",
        "max_completion_tokens",
        "temperature",
        "tools",
        "top_k",
    }
    assert list(request_dict(request)) == [
        "model",
        "messages",
        "temperature",
        "max_completion_tokens",
        "tools",
        "top_k",
    ]
    assert parse_chat_request(b'{"messages":[{"role":"user","content":"x"}]}').model is None


def test_request_json_drops_extensions_and_keeps_huge_integers() -> None:
    body = body_of(conversation_id=CONVERSATION, parent_message_id=PARENT, seed=7)
    request = parse_chat_request(body[:-1] + b',"big":1208925819614629174706176}')  # 2**80
    sent = request_json(request, exclude={"conversation_id", "parent_message_id"})
    assert b'"big":1208925819614629174706176' in sent
    assert b"conversation_id" not in sent and b"parent_message_id" not in sent


def test_a_large_image_data_url_is_accepted_without_a_length_limit() -> None:
    url = "data:image/jpeg;base64," + "A" * 8_000_000
    body = orjson.dumps(
        {
            "messages": [
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}
            ]
        }
    )
    request = parse_chat_request(body)
    assert request.messages[0]["content"][0]["image_url"]["url"] == url  # type: ignore[index,typeddict-item]


# --- invalid bodies: a RequestError naming the parameter ---------------------------------------

INVALID: list[tuple[bytes, str | None, str]] = [
    (b"{nope", None, "We could not parse the JSON body of your request"),
    (b"", None, "We could not parse the JSON body of your request"),
    (b"[1]", None, "The request body must be a JSON object."),
    (b'"text"', None, "The request body must be a JSON object."),
    (b"{}", "messages", "'messages' must be a non-empty array of messages."),
    (b'{"messages":[]}', "messages", "'messages' must be a non-empty array of messages."),
    (b'{"messages":null}', "messages", "'messages' must be a non-empty array of messages."),
    (b'{"messages":"hi"}', "messages", "'messages' must be a non-empty array of messages."),
    (b'{"messages":[5]}', "messages[0]", "expected an object"),
    (b'{"messages":[{"role":{}}]}', "messages[0].role", "Invalid 'role'"),
    (b'{"messages":[{"role":["user"]}]}', "messages[0].role", "Invalid 'role'"),
    (b'{"messages":[{"role":"robot","content":"x"}]}', "messages[0].role", "Invalid 'role'"),
    (b'{"messages":[{"content":"x"}]}', "messages[0].role", "Missing required parameter"),
    (b'{"messages":[{"role":"user"}]}', "messages[0].content", "Missing required parameter"),
    (b'{"messages":[{"role":"user","content":null}]}', "messages[0].content", "expected a string"),
    (b'{"messages":[{"role":"user","content":5}]}', "messages[0].content", "or an array"),
    (b'{"messages":[{"role":"tool","content":"x"}]}', "messages[0].tool_call_id", "Missing"),
    (b'{"messages":[{"role":"function","content":"x"}]}', "messages[0].name", "Missing"),
    (
        b'{"messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"https://a"}}]}]}',
        "messages[0].content[0].type",
        "expected 'text'",
    ),
    (
        b'{"messages":[{"role":"user","content":[{"type":5}]}]}',
        "messages[0].content[0].type",
        "expected a string",
    ),
    (
        b'{"messages":[{"role":"user","content":[{"type":"text"}]}]}',
        "messages[0].content[0].text",
        "Missing required parameter",
    ),
    (
        b'{"messages":[{"role":"user","content":[{"type":"image_url","image_url":"https://a"}]}]}',
        "messages[0].content[0].image_url",
        "expected an object",
    ),
    (
        b'{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://a","detail":"max"}}]}]}',
        "messages[0].content[0].image_url.detail",
        "'auto', 'low', 'high' or 'original'",
    ),
    (
        b'{"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"x"}}]}]}',
        "messages[0].content[0].input_audio.format",
        "Missing required parameter",
    ),
    (
        b'{"messages":[{"role":"user","content":[{"type":"file","file":{"file_id":5}}]}]}',
        "messages[0].content[0].file.file_id",
        "expected a string",
    ),
    (
        b'{"messages":[{"role":"assistant","tool_calls":[{"id":"a","type":"function","function":{"name":"f"}}]}]}',
        "messages[0].tool_calls[0].function.arguments",
        "Missing required parameter",
    ),
    (
        b'{"messages":[{"role":"assistant","tool_calls":[{"id":"a","function":{"name":"f","arguments":""}}]}]}',
        "messages[0].tool_calls[0].type",
        "Missing required parameter",
    ),
    (
        b'{"messages":[{"role":"assistant","content":[{"type":"image_url","image_url":{"url":"https://a"}}]}]}',
        "messages[0].content[0].type",
        "'text', 'refusal'",
    ),
    (b'{"model":"","messages":[{"role":"user","content":"x"}]}', "model", "non-empty string"),
    (b'{"model":5,"messages":[{"role":"user","content":"x"}]}', "model", "non-empty string"),
    (body_of(stream="yes"), "stream", "expected a boolean"),
    (body_of(stream=1), "stream", "expected a boolean"),
    (body_of(stream_options=5), "stream_options", "expected an object"),
    (body_of(stream_options={"include_usage": "y"}), "stream_options.include_usage", "boolean"),
    (body_of(temperature=2.5), "temperature", "expected a number between 0 and 2"),
    (body_of(temperature=-1), "temperature", "between 0 and 2"),
    (body_of(temperature="hot"), "temperature", "between 0 and 2"),
    (body_of(temperature=True), "temperature", "between 0 and 2"),
    (b'{"messages":[{"role":"user","content":"x"}],"temperature":NaN}', "temperature", "number"),
    (body_of(top_p=1.01), "top_p", "between 0 and 1"),
    (body_of(presence_penalty=-2.1), "presence_penalty", "between -2 and 2"),
    (body_of(frequency_penalty=3), "frequency_penalty", "between -2 and 2"),
    (body_of(n=0), "n", "an integer between 1 and 128"),
    (body_of(n=129), "n", "between 1 and 128"),
    (body_of(n=1.5), "n", "between 1 and 128"),
    (body_of(max_tokens=0), "max_tokens", "expected a positive integer"),
    (body_of(max_completion_tokens=True), "max_completion_tokens", "positive integer"),
    (body_of(max_tokens=2**63), "max_tokens", "positive integer"),
    (body_of(stop=["a", "b", "c", "d", "e"]), "stop", "at most 4 strings"),
    (body_of(stop=5), "stop", "a string or an array"),
    (body_of(stop=[1]), "stop", "a string or an array"),
    (body_of(logit_bias={"50256": 101}), "logit_bias.50256", "between -100 and 100"),
    (body_of(logit_bias={"abc": 1}), "logit_bias.abc", "token id"),
    (body_of(logit_bias=[1]), "logit_bias", "expected an object"),
    (body_of(logprobs="yes"), "logprobs", "boolean"),
    (body_of(top_logprobs=21), "top_logprobs", "between 0 and 20"),
    (body_of(seed=1.5), "seed", "an integer"),
    (body_of(seed=2**63), "seed", "an integer"),
    (body_of(user=5), "user", "expected a string"),
    (body_of(tools={}), "tools", "expected an array"),
    (body_of(tools=[{"type": "function"}]), "tools[0].function", "Missing required parameter"),
    (
        body_of(tools=[{"type": "function", "function": {"name": 1}}]),
        "tools[0].function.name",
        "expected a string",
    ),
    (body_of(tools=[{"type": "retrieval"}]), "tools[0].type", "'function', 'custom'"),
    (
        body_of(tools=[{"type": "function", "function": {"name": "f", "parameters": []}}]),
        "tools[0].function.parameters",
        "expected an object",
    ),
    (
        body_of(
            tools=[
                {
                    "type": "custom",
                    "custom": {
                        "name": "g",
                        "format": {
                            "type": "grammar",
                            "grammar": {"definition": "x", "syntax": "peg"},
                        },
                    },
                }
            ]
        ),
        "tools[0].custom.format.grammar.syntax",
        "'lark' or 'regex'",
    ),
    (body_of(tool_choice="maybe"), "tool_choice", "'none', 'auto' or 'required' or an object"),
    (body_of(tool_choice={"type": "function"}), "tool_choice.function", "Missing"),
    (
        body_of(tool_choice={"type": "function", "function": {}}),
        "tool_choice.function.name",
        "Missing",
    ),
    (body_of(tool_choice={"type": "bogus"}), "tool_choice.type", "Invalid 'type'"),
    (
        body_of(
            tool_choice={"type": "allowed_tools", "allowed_tools": {"mode": "all", "tools": []}}
        ),
        "tool_choice.allowed_tools.mode",
        "'auto' or 'required'",
    ),
    (body_of(parallel_tool_calls="true"), "parallel_tool_calls", "boolean"),
    (body_of(functions=[{}]), "functions[0].name", "Missing"),
    (body_of(function_call="required"), "function_call", "'none' or 'auto'"),
    (body_of(response_format={"type": "xml"}), "response_format.type", "Invalid 'type'"),
    (body_of(response_format="json"), "response_format", "expected an object"),
    (
        body_of(response_format={"type": "json_schema", "json_schema": {"schema": {}}}),
        "response_format.json_schema.name",
        "Missing required parameter",
    ),
    (
        body_of(response_format={"type": "json_schema", "json_schema": {"name": "a", "schema": 1}}),
        "response_format.json_schema.schema",
        "expected an object",
    ),
    (body_of(reasoning_effort=1), "reasoning_effort", "expected a string"),
    (body_of(metadata={"k": 1}), "metadata.k", "expected a string"),
    (body_of(metadata={"k": "v" * 513}), "metadata.k", "512"),
    (body_of(metadata={str(i): "v" for i in range(17)}), "metadata", "16"),
    (body_of(store="no"), "store", "boolean"),
    (body_of(modalities=["video"]), "modalities[0]", "'text' or 'audio'"),
    (body_of(audio={"voice": "alloy"}), "audio.format", "Missing required parameter"),
    (body_of(prediction={"type": "diff", "content": ""}), "prediction.type", "'content'"),
    (
        body_of(web_search_options={"search_context_size": "huge"}),
        "web_search_options.search_context_size",
        "'low', 'medium' or 'high'",
    ),
    (
        body_of(moderation={"model": "m", "policy": {"output": {"mode": "warn"}}}),
        "moderation.policy.output.mode",
        "'score' or 'block'",
    ),
    (body_of(moderation={}), "moderation.model", "Missing required parameter"),
    (body_of(prompt_cache_options={"mode": "never"}), "prompt_cache_options.mode", "'implicit'"),
    (
        b'{"messages":[{"role":"user","content":[{"type":"text","text":"x",'
        b'"prompt_cache_breakpoint":{"mode":"implicit"}}]}]}',
        "messages[0].content[0].prompt_cache_breakpoint.mode",
        "'explicit'",
    ),
    (body_of(conversation_id="nope"), "conversation_id", "an 8-4-4-4-12 hex id"),
    (body_of(conversation_id=CONVERSATION, parent_message_id=5), "parent_message_id", "hex id"),
    (
        body_of(parent_message_id=PARENT),
        "parent_message_id",
        "'parent_message_id' needs 'conversation_id'.",
    ),
    (body_of(conversation_id=None, parent_message_id=PARENT), "parent_message_id", "needs"),
    (body_of(max_tokens=2.0**63), "max_tokens", "positive integer"),
    (b'{"messages":[{"role":"user","content":"x"}],"top_k":NaN}', None, "could not parse"),
    (b'{"messages":[{"role":"user","content":"x"}],"x":{"y":-Infinity}}', None, "could not parse"),
]


@pytest.mark.parametrize(("body", "param", "message"), INVALID)
def test_invalid_bodies_are_a_400_naming_the_parameter(
    body: bytes, param: str | None, message: str
) -> None:
    with pytest.raises(RequestError) as refused:
        parse_chat_request(body)
    assert refused.value.status == 400
    assert refused.value.param == param
    assert message in refused.value.message


def test_the_first_bad_message_is_the_one_reported() -> None:
    bad_role = {"role": "robot", "content": "x"}
    bad_part = {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}
    with pytest.raises(RequestError) as refused:
        parse_chat_request(orjson.dumps({"messages": [USER, bad_role, bad_part]}))
    assert refused.value.param == "messages[1].role"


def test_the_image_url_is_checked_by_its_prefix() -> None:
    def image(url: str) -> bytes:
        part = {"type": "image_url", "image_url": {"url": url}}
        return orjson.dumps(
            {"messages": [USER, USER, {"role": "user", "content": [part]}]}, default=str
        )

    for url in ("https://a/b.png", "http://a", "data:image/webp;base64,UklGR"):
        parse_chat_request(image(url))
    for url in ("ftp://a/b.png", "data:text/plain;base64,aGk=", "data:image/png,raw", "a.png"):
        with pytest.raises(RequestError) as refused:
            parse_chat_request(image(url))
        assert refused.value.param == "messages[2].content[0].image_url.url"
        assert "http(s) URL or a data:image" in refused.value.message


def test_nesting_deeper_than_the_json_reader_takes_is_a_400() -> None:
    deep = b"[" * 200 + b"]" * 200
    parse_chat_request(body_of()[:-1] + b',"deep":' + deep + b"}")
    with pytest.raises(RequestError) as refused:
        parse_chat_request(body_of()[:-1] + b',"deep":[' + deep + b"]}")  # pydantic: 200 max
    assert "recursion limit exceeded" in refused.value.message


@pytest.mark.parametrize("padding", [0, 100_000])
def test_nan_inside_a_string_is_just_text(padding: int) -> None:
    request = parse_chat_request(body_of(stop="NaN", note="-Infinity", pad="NaN" * padding))
    assert request_dict(request)["note"] == "-Infinity"
    with pytest.raises(RequestError) as refused:
        parse_chat_request(body_of(pad="x" * padding)[:-1] + b',"x-n":NaN}')
    assert "could not parse" in refused.value.message


# --- the round-trip property -------------------------------------------------------------------

texts = st.text(max_size=12)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)  # what orjson reads as an integer
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(texts, children, max_size=3),
    max_leaves=8,
)
#: Unknown fields: a prefix keeps them apart from the declared names.
unknown_fields = st.dictionaries(texts.map(lambda key: "x-" + key), json_values, max_size=2)


def obj(
    required: dict[str, st.SearchStrategy[Any]],
    optional: dict[str, st.SearchStrategy[Any]] | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    """A JSON object with these fields, some optional ones, and unknown fields."""
    known = st.fixed_dictionaries(required, optional=optional or {})
    return st.builds(lambda extra, fields: {**extra, **fields}, unknown_fields, known)


def nullable(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return strategy | st.none()


def numbers(low: float, high: float) -> st.SearchStrategy[int | float]:
    return st.integers(int(low), int(high)) | st.floats(low, high)


breakpoint_ = {
    "prompt_cache_breakpoint": obj(
        {"mode": st.just("explicit")}, {"ttl": st.sampled_from(["30m", "12h"])}
    )
}
text_part = obj({"type": st.just("text"), "text": texts}, breakpoint_)
image_urls = (
    st.sampled_from(["https://example.com/a.png", "http://h"])
    | texts.map(lambda t: "https://h/" + t)
    | st.binary(max_size=30).map(lambda b: "data:image/png;base64," + base64.b64encode(b).decode())
)
image_part = obj(
    {
        "type": st.just("image_url"),
        "image_url": obj(
            {"url": image_urls},
            {"detail": nullable(st.sampled_from(["auto", "low", "high", "original"]))},
        ),
    },
    breakpoint_,
)
audio_part = obj(
    {
        "type": st.just("input_audio"),
        "input_audio": obj({"data": texts, "format": st.sampled_from(["wav", "mp3"])}),
    },
    breakpoint_,
)
file_part = obj(
    {
        "type": st.just("file"),
        "file": obj(
            {},
            {"file_data": nullable(texts), "file_id": nullable(texts), "filename": nullable(texts)},
        ),
    },
    breakpoint_,
)
refusal_part = obj({"type": st.just("refusal"), "refusal": texts})
text_content = texts | st.lists(text_part, max_size=3)
user_content = texts | st.lists(text_part | image_part | audio_part | file_part, max_size=4)
function_call = obj({"name": texts, "arguments": texts})
tool_call = obj({"id": texts, "type": st.just("function"), "function": function_call}) | obj(
    {"id": texts, "type": st.just("custom"), "custom": obj({"name": texts, "input": texts})}
)
messages = (
    obj(
        {"role": st.sampled_from(["system", "developer"]), "content": text_content},
        {"name": nullable(texts)},
    )
    | obj({"role": st.just("user"), "content": user_content}, {"name": nullable(texts)})
    | obj(
        {"role": st.just("assistant")},
        {
            "content": nullable(texts | st.lists(text_part | refusal_part, max_size=3)),
            "refusal": nullable(texts),
            "name": nullable(texts),
            "audio": nullable(obj({"id": texts})),
            "tool_calls": nullable(st.lists(tool_call, max_size=3)),
            "function_call": nullable(function_call),
        },
    )
    | obj({"role": st.just("tool"), "content": text_content, "tool_call_id": texts})
    | obj({"role": st.just("function"), "content": nullable(texts), "name": texts})
)
json_objects = st.dictionaries(texts, json_values, max_size=3)
function_definition = obj(
    {"name": texts},
    {
        "description": nullable(texts),
        "parameters": nullable(json_objects),
        "strict": nullable(st.booleans()),
    },
)
custom_format = obj({"type": st.just("text")}) | obj(
    {
        "type": st.just("grammar"),
        "grammar": obj({"definition": texts, "syntax": st.sampled_from(["lark", "regex"])}),
    }
)
tools = obj({"type": st.just("function"), "function": function_definition}) | obj(
    {
        "type": st.just("custom"),
        "custom": obj(
            {"name": texts}, {"description": nullable(texts), "format": nullable(custom_format)}
        ),
    }
)
tool_choices = (
    st.sampled_from(["none", "auto", "required"])
    | obj({"type": st.just("function"), "function": obj({"name": texts})})
    | obj({"type": st.just("custom"), "custom": obj({"name": texts})})
    | obj(
        {
            "type": st.just("allowed_tools"),
            "allowed_tools": obj(
                {
                    "mode": st.sampled_from(["auto", "required"]),
                    "tools": st.lists(json_objects, max_size=2),
                }
            ),
        }
    )
)
response_formats = obj({"type": st.sampled_from(["text", "json_object"])}) | obj(
    {
        "type": st.just("json_schema"),
        "json_schema": obj(
            {"name": texts},
            {
                "description": nullable(texts),
                "schema": nullable(json_objects),
                "strict": nullable(st.booleans()),
            },
        ),
    }
)
ids = st.uuids().map(str) | st.uuids().map(lambda u: str(u).upper())
extensions = (
    st.just({})
    | st.builds(lambda c: {"conversation_id": c}, ids)
    | st.builds(lambda c, p: {"conversation_id": c, "parent_message_id": p}, ids, ids)
)
optional_fields: dict[str, st.SearchStrategy[Any]] = {
    "model": st.text(min_size=1, max_size=12),
    "stream": st.booleans(),
    "stream_options": obj(
        {}, {"include_usage": nullable(st.booleans()), "include_obfuscation": st.booleans()}
    ),
    "temperature": numbers(0, 2),
    "top_p": numbers(0, 1),
    "n": st.integers(1, 128) | st.integers(1, 128).map(float),
    "max_tokens": st.integers(1, 2**63 - 1),
    "max_completion_tokens": st.integers(1, 2**63 - 1),
    "stop": texts | st.lists(texts, max_size=4),
    "presence_penalty": numbers(-2, 2),
    "frequency_penalty": numbers(-2, 2),
    "logit_bias": st.dictionaries(st.integers(0, 200_000).map(str), st.integers(-100, 100)),
    "logprobs": st.booleans(),
    "top_logprobs": st.integers(0, 20),
    "seed": st.integers(-(2**63), 2**63 - 1) | st.integers(-(2**53), 2**53).map(float),
    "user": texts,
    "tools": st.lists(tools, max_size=3),
    "tool_choice": tool_choices,
    "parallel_tool_calls": st.booleans(),
    "functions": st.lists(function_definition, max_size=2),
    "function_call": st.sampled_from(["none", "auto"]) | obj({"name": texts}),
    "response_format": response_formats,
    "reasoning_effort": texts,
    "verbosity": texts,
    "metadata": st.dictionaries(st.text(max_size=64), st.text(max_size=30), max_size=16),
    "store": st.booleans(),
    "service_tier": texts,
    "modalities": st.lists(st.sampled_from(["text", "audio"]), max_size=2),
    "audio": obj(
        {"voice": texts | obj({"id": texts}), "format": st.sampled_from(["wav", "mp3", "pcm16"])}
    ),
    "prediction": obj({"type": st.just("content"), "content": text_content}),
    "web_search_options": obj(
        {},
        {
            "search_context_size": nullable(st.sampled_from(["low", "medium", "high"])),
            "user_location": nullable(
                obj(
                    {
                        "type": st.just("approximate"),
                        "approximate": obj({}, {"city": nullable(texts), "country": texts}),
                    }
                )
            ),
        },
    ),
    "prompt_cache_key": texts,
    "prompt_cache_options": obj(
        {}, {"mode": st.sampled_from(["implicit", "explicit"]), "ttl": st.just("30m")}
    ),
    "prompt_cache_retention": st.sampled_from(["in_memory", "24h"]),
    "moderation": obj(
        {"model": texts},
        {
            "policy": nullable(
                obj(
                    {},
                    {
                        "input": nullable(obj({"mode": st.sampled_from(["score", "block"])})),
                        "output": nullable(obj({"mode": st.sampled_from(["score", "block"])})),
                    },
                )
            )
        },
    ),
    "safety_identifier": texts,
}
request_bodies = st.builds(
    lambda extra, fields, ext: {**extra, **fields, **ext},
    unknown_fields,
    st.fixed_dictionaries(
        {"messages": st.lists(messages, min_size=1, max_size=4)},
        optional={name: nullable(value) for name, value in optional_fields.items()},
    ),
    extensions,
)


@PROPERTY
@given(body=request_bodies)
@example(body={"messages": [USER], "seed": 2**63 - 1, "x-big": 2**64 - 1, "x-f": 1e308})
@example(body={"messages": [USER], "temperature": 1, "top_p": 1.0, "x-": {"é\u2028𝄞": [0.1]}})
def test_request_dict_is_exactly_the_body(body: dict[str, Any]) -> None:
    raw = orjson.dumps(body)
    request = parse_chat_request(raw)
    assert canonical(request_dict(request)) == canonical(orjson.loads(raw))
    assert canonical(orjson.loads(request_json(request))) == canonical(body)
    assert REQUEST_SCHEMA.is_valid(body)


@PROPERTY
@given(
    body=st.fixed_dictionaries(
        {}, optional={name: json_values for name in ["messages", *optional_fields]}
    )
    | json_values,
    extra=st.sampled_from([b"", b"NaN", b"Infinity", b"1" * 30]),
)
def test_any_body_parses_or_is_a_400(body: Any, extra: bytes) -> None:
    raw = orjson.dumps(body)
    if extra and raw.startswith(b"{") and raw != b"{}":
        raw = b'{"z":' + extra + b"," + raw[1:]
    try:
        request = parse_chat_request(raw)
    except RequestError as exc:
        assert exc.status == 400
        assert exc.param is None or isinstance(exc.param, str)
        return
    assert request.messages


# --- the generated OpenAPI schemas -------------------------------------------------------------

DOCUMENT = openapi_document()
SCHEMAS = DOCUMENT["components"]["schemas"]


def validator_for(name: str) -> Any:
    return jsonschema_rs.Draft202012Validator(
        {"$ref": f"#/components/schemas/{name}", "components": {"schemas": SCHEMAS}}
    )


REQUEST_SCHEMA = validator_for("ChatCompletionRequest")


def test_the_v1_schemas_are_the_generated_ones() -> None:
    generated = openapi_schemas()
    for name, schema in generated.items():
        assert SCHEMAS[name] == schema, name
    request = SCHEMAS["ChatCompletionRequest"]
    assert request["then"]["required"] == ["conversation_id"]
    assert request["properties"]["temperature"]["anyOf"][0] == {
        "type": "number",
        "minimum": 0,
        "maximum": 2,
    }
    body = DOCUMENT["paths"]["/v1/chat/completions"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["$ref"].endswith("/ChatCompletionRequest")
    for example_body in request["examples"]:
        parse_chat_request(orjson.dumps(example_body))


@pytest.mark.parametrize("fields", VALID_FIELDS)
def test_the_schema_accepts_what_the_model_accepts(fields: dict[str, Any]) -> None:
    assert REQUEST_SCHEMA.is_valid({"messages": [USER, *VALID_MESSAGES], **fields})


#: JSON Schema counts 1.0 as an integer; the model keeps integers strict.
SCHEMA_CANNOT_SAY = {
    body_of(n=1.0),
    b'{"messages":[{"role":"user","content":"x"}],"temperature":NaN}',
}


@pytest.mark.parametrize(("body", "param", "message"), INVALID[4:-2])
def test_the_schema_refuses_what_the_model_refuses(
    body: bytes, param: str | None, message: str
) -> None:
    if body not in SCHEMA_CANNOT_SAY:
        assert not REQUEST_SCHEMA.is_valid(orjson.loads(body))


fuzzed_document = schemathesis.openapi.from_dict(DOCUMENT)
completions = fuzzed_document["/v1/chat/completions"]["POST"]


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(case=completions.as_strategy(generation_mode=GenerationMode.POSITIVE))
def test_what_the_fuzzer_generates_from_the_schema_parses(case: Any) -> None:
    """The other direction: bodies valid for the document (as schemathesis makes them, with
    integers beyond 64 bits, floats like 3.0 for integers) are valid for the model."""
    raw = json.dumps(case.body, ensure_ascii=False).encode()
    request = parse_chat_request(raw)
    assert json.loads(request_json(request)) == json.loads(raw)


# --- answers and embeddings --------------------------------------------------------------------

COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "gpt-4o-mini",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "refusal": None,
                "tool_calls": [TOOL_CALL],
                "annotations": [
                    {
                        "type": "url_citation",
                        "url_citation": {
                            "start_index": 0,
                            "end_index": 3,
                            "title": "t",
                            "url": "u",
                        },
                    }
                ],
                "reasoning_content": "because",
            },
            "logprobs": {
                "content": [
                    {
                        "token": "a",
                        "logprob": -0.5,
                        "bytes": [97],
                        "top_logprobs": [{"token": "a", "logprob": -0.5, "bytes": [97]}],
                    }
                ],
                "refusal": None,
            },
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "total_tokens": 15,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 2, "accepted_prediction_tokens": 0},
    },
    "system_fingerprint": "fp_1",
    "service_tier": "default",
    "metadata": {"k": "v"},
    "moderation": {
        "input": {
            "type": "moderation_results",
            "model": "omni-moderation-latest",
            "results": [
                {
                    "type": "moderation_result",
                    "model": "omni-moderation-latest",
                    "flagged": False,
                    "categories": {"violence": False},
                    "category_scores": {"violence": 0.01},
                    "category_applied_input_types": {"violence": ["text"]},
                }
            ],
        },
        "output": {"type": "error", "code": "timeout", "message": "moderation timed out"},
    },
    "conversation_id": CONVERSATION,
    "message_id": PARENT,
    "message_ids": [PARENT],
}
CHUNKS = [
    {
        "choices": [
            {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
        ]
    },
    {
        "choices": [
            {
                "index": 0,
                "delta": {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "f", "arguments": ""},
                        }
                    ]
                },
                "logprobs": None,
                "finish_reason": None,
            }
        ]
    },
    {
        "choices": [
            {
                "index": 0,
                "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]},
                "finish_reason": None,
            }
        ]
    },
    {"choices": [{"index": 0, "delta": {"reasoning_content": "hm"}, "finish_reason": None}]},
    {
        "choices": [{"index": 0, "delta": {"audio": {"id": "a", "transcript": "hi"}}}],
        "obfuscation": "x9",
    },
    {
        "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}],
        "conversation_id": CONVERSATION,
        "message_id": PARENT,
    },
    {"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}},
]
CHUNK_HEAD = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m"}


def test_answers_validate_and_match_their_schemas() -> None:
    completion = ChatCompletion.model_validate_json(orjson.dumps(COMPLETION))
    assert completion.choices[0].message.tool_calls == [TOOL_CALL]
    assert canonical(completion.model_dump(mode="json", exclude_unset=True)) == canonical(
        COMPLETION
    )
    assert validator_for("ChatCompletion").is_valid(COMPLETION)
    for chunk in CHUNKS:
        whole = {**CHUNK_HEAD, **chunk}
        ChatCompletionChunk.model_validate_json(orjson.dumps(whole))
        assert validator_for("ChatCompletionChunk").is_valid(whole)
    assert not validator_for("ChatCompletion").is_valid({**COMPLETION, "object": "list"})


def test_embeddings_request_and_answer() -> None:
    for body in (
        {"input": "hello", "model": "text-embedding-3-small"},
        {"input": ["a", "b"], "encoding_format": "base64", "dimensions": 256, "user": "u"},
        {"input": [1, 2, 3]},
        {"input": [[1, 2], [3]], "x-extra": True},
    ):
        raw = orjson.dumps(body)
        assert canonical(request_dict(parse_embedding_request(raw))) == canonical(body)
        assert validator_for("EmbeddingRequest").is_valid(body)
    for body, param in (
        ({}, "input"),
        ({"input": []}, "input"),
        ({"input": "a", "dimensions": 0}, "dimensions"),
        ({"input": "a", "encoding_format": "int8"}, "encoding_format"),
    ):
        with pytest.raises(RequestError) as refused:
            parse_embedding_request(orjson.dumps(body))
        assert refused.value.param == param
    answer = {
        "object": "list",
        "data": [{"object": "embedding", "index": 0, "embedding": [0.1, -0.2]}],
        "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": 2, "total_tokens": 2},
    }
    EmbeddingResponse.model_validate_json(orjson.dumps(answer))
    assert validator_for("EmbeddingResponse").is_valid(answer)


def test_the_request_model_is_exported() -> None:
    assert parse_chat_request(body_of()).__class__ is ChatCompletionRequest


def test_an_unknown_user_part_type_is_relayed_as_sent() -> None:
    # vLLM's video_url, or a part OpenAI adds later: the upstream judges it.
    body = (
        b'{"messages":[{"role":"user","content":[{"type":"video_url","video_url":{"url":"v"}}]}]}'
    )
    assert request_dict(parse_chat_request(body)) == orjson.loads(body)
