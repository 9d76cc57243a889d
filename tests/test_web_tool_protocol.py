"""The pieces of the chatgpt-web tool protocol without I/O: reading the request, deciding while
streaming whether the reply is a call, parsing and validating calls and JSON, folding a tool
history, the registry option and the capability check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chatgpt_api.backends.web_tool_answer import InvalidReply, call_state, parse_calls, parse_output
from chatgpt_api.backends.web_tool_spec import emulation_of
from chatgpt_api.capabilities import CAPABILITIES, capabilities_of, check_web_request
from chatgpt_api.errors import ConfigurationError, RequestError
from chatgpt_api.history import fold_transcript, follow_up_messages
from chatgpt_api.messages import Message
from chatgpt_api.registry import ModelRegistry, ModelRoute

WEATHER: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
TIME: dict[str, Any] = {"type": "function", "function": {"name": "get_time"}}


@pytest.mark.parametrize(
    ("text", "state"),
    [
        ("", "maybe"),
        ("  \n", "maybe"),
        ("{", "maybe"),
        ('{ "tool_', "maybe"),
        ('{"tool_calls"', "call"),
        ('{\n  "tool_calls": [', "call"),
        ("`", "maybe"),
        ("``", "maybe"),
        ("```js", "maybe"),
        ("```json\n", "maybe"),
        ('```json\n{"tool_calls":', "call"),
        ('```\n{"tool_calls":', "call"),
        ("```python\n", "text"),
        ("```jsx", "text"),
        ("`code`", "text"),
        ("Sure", "text"),
        ('{"name": "x"}', "text"),
        ('{"tool"}', "text"),
    ],
)
def test_a_reply_is_held_only_while_it_may_become_a_call(text: str, state: str) -> None:
    assert call_state(text) == state


def test_calls_are_parsed_validated_and_given_ids() -> None:
    emulation = emulation_of({"tools": [WEATHER, TIME]})
    calls = parse_calls(
        '```json\n{"tool_calls":[{"name":"get_weather","arguments":{"city":"Oslo"}},'
        '{"name":"get_time","arguments":"{}"}]}\n```',
        emulation,
    )
    assert [c["function"] for c in calls] == [
        {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
        {"name": "get_time", "arguments": "{}"},
    ]
    assert all(c["id"].startswith("call_") and len(c["id"]) == 29 for c in calls)
    assert calls[0]["id"] != calls[1]["id"]


@pytest.mark.parametrize(
    ("reply", "fields", "problem", "tool"),
    [
        ('{"tool_calls":[{"name":"get_weather","arguments":{}}]}', {}, "required", "get_weather"),
        ('{"tool_calls":[{"name":"get_weather","arguments":{"city":1}}]}', {}, "string", None),
        ('{"tool_calls":[{"name":"nope","arguments":{}}]}', {}, 'no tool "nope"', "nope"),
        ('{"tool_calls":[{"name":"get_weather","arguments":{', {}, "not valid JSON", None),
        ('{"tool_calls":[]}', {}, "at least one call", None),
        ('{"tool_calls":[{"name":"get_time"}], "x": 1}', {}, "exactly", None),
        (
            '{"tool_calls":[{"name":"get_time"},{"name":"get_time"}]}',
            {"parallel_tool_calls": False},
            "only one tool",
            None,
        ),
        (
            '{"tool_calls":[{"name":"get_time"}]}',
            {"tool_choice": {"type": "function", "function": {"name": "get_weather"}}},
            'only the tool "get_weather"',
            "get_time",
        ),
        ('{"tool_calls":[{"name":"get_weather","arguments":"[1]"}]}', {}, "JSON object", None),
    ],
)
def test_a_bad_call_says_what_is_wrong(
    reply: str, fields: dict[str, Any], problem: str, tool: str | None
) -> None:
    emulation = emulation_of({"tools": [WEATHER, TIME], **fields})
    with pytest.raises(InvalidReply) as caught:
        parse_calls(reply, emulation)
    assert problem in caught.value.problem
    if tool is not None:
        assert caught.value.tool == tool


def test_structured_output_is_checked_against_the_schema() -> None:
    schema = {
        "type": "object",
        "properties": {"n": {"type": "integer"}},
        "required": ["n"],
    }
    emulation = emulation_of(
        {"response_format": {"type": "json_schema", "json_schema": {"name": "N", "schema": schema}}}
    )
    assert emulation.output is not None
    assert parse_output('```json\n{"n": 3}\n```', emulation.output) == '{"n": 3}'
    with pytest.raises(InvalidReply, match="does not match the JSON schema"):
        parse_output('{"n": "three"}', emulation.output)
    with pytest.raises(InvalidReply, match="not a single valid JSON value"):
        parse_output('Here it is: {"n": 3}', emulation.output)
    json_object = emulation_of({"response_format": {"type": "json_object"}}).output
    assert json_object is not None
    with pytest.raises(InvalidReply, match="must be a JSON object"):
        parse_output("[1, 2]", json_object)


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"tools": [{"type": "custom", "custom": {"name": "x"}}]}, "tools[0].type"),
        ({"tools": [{"type": "function", "function": {"name": "a b"}}]}, "tools[0].function.name"),
        (
            {"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": 5}}}]},
            "tools[0].function.parameters",
        ),
        (
            {"tools": [TIME], "tool_choice": {"type": "function", "function": {"name": "x"}}},
            "tool_choice",
        ),
        ({"tool_choice": "required"}, "tool_choice"),
        ({"response_format": {"type": "yaml"}}, "response_format.type"),
        ({"tools": [TIME], "parallel_tool_calls": "yes"}, "parallel_tool_calls"),
    ],
)
def test_what_cannot_be_emulated_is_a_400_naming_it(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(RequestError) as caught:
        check_web_request(fields, [Message("user", "hi")], model="m", emulate_tools=True)
    assert caught.value.param == param
    assert caught.value.status == 400


def test_a_remote_schema_reference_is_never_fetched() -> None:
    remote = {"$ref": "http://192.0.2.1/schema.json"}
    tool = {"type": "function", "function": {"name": "f", "parameters": remote}}
    with pytest.raises(RequestError) as caught:
        emulation_of({"tools": [tool]})
    assert caught.value.param == "tools[0].function.parameters"


def _tool_history() -> list[Message]:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
    }
    return [
        Message("user", "Weather in Oslo?"),
        Message("assistant", "", {"role": "assistant", "content": None, "tool_calls": [call]}),
        Message("tool", "22C", {"role": "tool", "tool_call_id": "call_1", "content": "22C"}),
    ]


def test_a_tool_result_last_is_shown_as_a_tool_result() -> None:
    prompt = fold_transcript(_tool_history())
    assert "Tool result (call_1, get_weather): 22C" in prompt
    assert "Now answer my latest message" not in prompt
    assert prompt.endswith("or call another tool if you need one.")
    assert not prompt.rstrip().endswith("22C")


def test_a_follow_up_sends_every_trailing_tool_result() -> None:
    history = _tool_history()
    second = Message("tool", "9am", {"role": "tool", "tool_call_id": "call_2", "content": "9am"})
    assert follow_up_messages([*history, second]) == (history[-1], second)
    assert follow_up_messages(history[:1]) == tuple(history[:1])
    assert follow_up_messages([]) == ()
    prompt = fold_transcript(follow_up_messages([*history, second]))
    assert "Tool result (call_1): 22C" in prompt and "Tool result (call_2): 9am" in prompt


def test_emulate_tools_is_only_for_chatgpt_web_routes(tmp_path: Path) -> None:
    models = tmp_path / "models.toml"
    models.write_text('[models.x]\nbackend = "openai"\nemulate_tools = true\n')
    with pytest.raises(ConfigurationError, match="emulate_tools"):
        ModelRegistry.from_file(models)
    models.write_text('[models.x]\nbackend = "chatgpt-web"\nemulate_tools = true\n')
    route = ModelRegistry.from_file(models).resolve("x")
    assert route.emulate_tools
    assert capabilities_of(route)["tools"] == "emulated"
    assert capabilities_of(ModelRoute("y", "chatgpt-web", "y")) == CAPABILITIES["chatgpt-web"]
