"""Unit tests for the web answer reader (legacy and delta "v1" streams) and DeltaDocuments.

The fixture payloads are the ``data:`` strings of part 5 of docs/upstream-protocol.md.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatgpt_api.backends.delta_v1 import DeltaDocuments
from chatgpt_api.backends.web_answer import (
    INVALID_JSON_MESSAGE,
    NO_ANSWER_MESSAGE,
    WebAnswerReader,
)
from chatgpt_api.errors import UpstreamNoAnswer, UpstreamProtocolError, UpstreamStreamError
from chatgpt_api.messages import ChatEvent, Finished, TextDelta, TextReset

FAST = settings(max_examples=200, deadline=None)

C4 = "2f9c1e7a-5b3d-4c8e-9a1f-6d2b7e4c0a13"
C8 = "6a1b2c3d-4e5f-8012-9abc-def012345678"
A = "b1d2c3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e"
U = "aaa1f0c2-3d4e-4f5a-8b6c-7d8e9f0a1b2c"
S = "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9"

UNUSUAL_ACTIVITY = (
    "Our systems have detected unusual activity coming from your system. Please try again later."
)

F1 = [
    (
        '{"message": {"id": "b1d2c3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e", '
        '"author": {"role": "assistant", "metadata": {}}, "create_time": 1681000000.5, '
        '"content": {"content_type": "text", "parts": ["Two"]}, "end_turn": null, '
        '"weight": 1.0, "metadata": {"message_type": "next", '
        '"model_slug": "text-davinci-002-render-sha"}, "recipient": "all"}, '
        '"conversation_id": "2f9c1e7a-5b3d-4c8e-9a1f-6d2b7e4c0a13", "error": null}'
    ),
    (
        '{"message": {"id": "b1d2c3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e", '
        '"author": {"role": "assistant", "metadata": {}}, "create_time": 1681000000.5, '
        '"content": {"content_type": "text", "parts": ["Two plus two"]}, "end_turn": null, '
        '"weight": 1.0, "metadata": {"message_type": "next", '
        '"model_slug": "text-davinci-002-render-sha"}, "recipient": "all"}, '
        '"conversation_id": "2f9c1e7a-5b3d-4c8e-9a1f-6d2b7e4c0a13", "error": null}'
    ),
    (
        '{"message": {"id": "b1d2c3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e", '
        '"author": {"role": "assistant", "metadata": {}}, "create_time": 1681000000.5, '
        '"content": {"content_type": "text", "parts": ["Two plus two is four."]}, '
        '"end_turn": true, "weight": 1.0, "metadata": {"message_type": "next", '
        '"model_slug": "text-davinci-002-render-sha", "finish_details": {"type": "stop", '
        '"stop": "<|im_end|>"}}, "recipient": "all"}, '
        '"conversation_id": "2f9c1e7a-5b3d-4c8e-9a1f-6d2b7e4c0a13", "error": null}'
    ),
    "[DONE]",
]

F2 = [
    (
        '{"message": {"id": "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9", '
        '"author": {"role": "system", "name": null, "metadata": {}}, "create_time": null, '
        '"update_time": null, "content": {"content_type": "text", "parts": [""]}, '
        '"status": "finished_successfully", "end_turn": true, "weight": 0.0, '
        '"metadata": {"is_visually_hidden_from_conversation": true}, "recipient": "all", '
        '"channel": null}, "conversation_id": "6a1b2c3d-4e5f-8012-9abc-def012345678", '
        '"error": null}'
    ),
    (
        '{"message": {"id": "aaa1f0c2-3d4e-4f5a-8b6c-7d8e9f0a1b2c", "author": {"role": "user", '
        '"name": null, "metadata": {}}, "create_time": 1729000000.1, "update_time": null, '
        '"content": {"content_type": "text", "parts": ["Say hi"]}, '
        '"status": "finished_successfully", "end_turn": null, "weight": 1.0, '
        '"metadata": {"message_type": null}, "recipient": "all", "channel": null}, '
        '"conversation_id": "6a1b2c3d-4e5f-8012-9abc-def012345678", "error": null}'
    ),
    (
        '{"message": {"id": "b1d2c3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e", '
        '"author": {"role": "assistant", "name": null, "metadata": {}}, '
        '"create_time": 1729000000.3, "update_time": null, "content": {"content_type": "text", '
        '"parts": [""]}, "status": "in_progress", "end_turn": null, "weight": 1.0, '
        '"metadata": {"citations": [], "message_type": "next", "model_slug": "gpt-4o-mini", '
        '"default_model_slug": "auto", "parent_id": "aaa1f0c2-3d4e-4f5a-8b6c-7d8e9f0a1b2c"}, '
        '"recipient": "all", "channel": null}, '
        '"conversation_id": "6a1b2c3d-4e5f-8012-9abc-def012345678", "error": null}'
    ),
    (
        '{"message": {"id": "b1d2c3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e", '
        '"author": {"role": "assistant", "name": null, "metadata": {}}, '
        '"create_time": 1729000000.3, "update_time": null, "content": {"content_type": "text", '
        '"parts": ["Hi"]}, "status": "in_progress", "end_turn": null, "weight": 1.0, '
        '"metadata": {"message_type": "next", "model_slug": "gpt-4o-mini"}, '
        '"recipient": "all", "channel": null}, '
        '"conversation_id": "6a1b2c3d-4e5f-8012-9abc-def012345678", "error": null}'
    ),
    (
        '{"message": {"id": "b1d2c3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e", '
        '"author": {"role": "assistant", "name": null, "metadata": {}}, '
        '"create_time": 1729000000.3, "update_time": null, "content": {"content_type": "text", '
        '"parts": ["Hi there!"]}, "status": "finished_successfully", "end_turn": true, '
        '"weight": 1.0, "metadata": {"message_type": "next", "model_slug": "gpt-4o-mini", '
        '"finish_details": {"type": "stop", "stop_tokens": [200002]}, "is_complete": true}, '
        '"recipient": "all", "channel": null}, '
        '"conversation_id": "6a1b2c3d-4e5f-8012-9abc-def012345678", "error": null}'
    ),
    (
        '{"type": "title_generation", "title": "Friendly greeting", '
        '"conversation_id": "6a1b2c3d-4e5f-8012-9abc-def012345678"}'
    ),
    (
        '{"type": "message_stream_complete", '
        '"conversation_id": "6a1b2c3d-4e5f-8012-9abc-def012345678"}'
    ),
    "[DONE]",
]

F3 = [
    '"v1"',
    (
        '{"type": "resume_conversation_token", "kind": "conduit", "token": "opaque-token", '
        '"conversation_id": "6a1b2c3d-4e5f-8012-9abc-def012345678"}'
    ),
    (
        '{"p": "", "o": "add", "v": {"message": {"id": "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9", '
        '"author": {"role": "system", "name": null, "metadata": {}}, "create_time": null, '
        '"update_time": null, "content": {"content_type": "text", "parts": [""]}, '
        '"status": "finished_successfully", "end_turn": true, "weight": 0.0, '
        '"metadata": {"is_visually_hidden_from_conversation": true}, "recipient": "all", '
        '"channel": null}, "conversation_id": "6a1b2c3d-4e5f-8012-9abc-def012345678", '
        '"error": null}, "c": 0}'
    ),
    (
        '{"v": {"message": {"id": "aaa1f0c2-3d4e-4f5a-8b6c-7d8e9f0a1b2c", '
        '"author": {"role": "user", "name": null, "metadata": {}}, '
        '"create_time": 1769000000.2, "update_time": null, "content": {"content_type": "text", '
        '"parts": ["Say hi"]}, "status": "finished_successfully", "end_turn": null, '
        '"weight": 1.0, "metadata": {}, "recipient": "all", "channel": null}, '
        '"conversation_id": "6a1b2c3d-4e5f-8012-9abc-def012345678", "error": null}, "c": 1}'
    ),
    (
        '{"v": {"message": {"id": "b1d2c3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e", '
        '"author": {"role": "assistant", "name": null, "metadata": {}}, '
        '"create_time": 1769000000.9, "update_time": null, "content": {"content_type": "text", '
        '"parts": [""]}, "status": "in_progress", "end_turn": null, "weight": 1.0, '
        '"metadata": {"message_type": "next", "model_slug": "gpt-5", '
        '"parent_id": "aaa1f0c2-3d4e-4f5a-8b6c-7d8e9f0a1b2c"}, "recipient": "all", '
        '"channel": null}, "conversation_id": "6a1b2c3d-4e5f-8012-9abc-def012345678", '
        '"error": null}, "c": 2}'
    ),
    (
        '{"type": "message_marker", "conversation_id": "6a1b2c3d-4e5f-8012-9abc-def012345678", '
        '"message_id": "b1d2c3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e", "marker": "user_visible_token", '
        '"event": "first"}'
    ),
    '{"p": "/message/content/parts/0", "o": "append", "v": "Hi"}',
    '{"v": " there"}',
    (
        '{"type": "title_generation", "title": "Friendly greeting", '
        '"conversation_id": "6a1b2c3d-4e5f-8012-9abc-def012345678"}'
    ),
    (
        '{"p": "", "o": "patch", "v": [{"p": "/message/content/parts/0", "o": "append", '
        '"v": "!"}, {"p": "/message/status", "o": "replace", "v": "finished_successfully"}, '
        '{"p": "/message/end_turn", "o": "replace", "v": true}, {"p": "/message/metadata", '
        '"o": "append", "v": {"finish_details": {"type": "stop", "stop_tokens": [200002]}, '
        '"is_complete": true}}]}'
    ),
    (
        '{"type": "message_stream_complete", '
        '"conversation_id": "6a1b2c3d-4e5f-8012-9abc-def012345678"}'
    ),
    "[DONE]",
]

F4 = [
    (
        '{"message": {"id": "b1d2c3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e", '
        '"author": {"role": "assistant"}, "content": {"content_type": "text", '
        '"parts": ["Partial ans"]}, "status": "in_progress", "end_turn": null, "metadata": {}, '
        '"recipient": "all"}, "conversation_id": "2f9c1e7a-5b3d-4c8e-9a1f-6d2b7e4c0a13", '
        '"error": null}'
    ),
    (
        '{"message": null, "conversation_id": "2f9c1e7a-5b3d-4c8e-9a1f-6d2b7e4c0a13", '
        '"error": "Something went wrong while generating the response."}'
    ),
    "[DONE]",
]

F5 = [
    (
        '{"message": {"id": "aaa1f0c2-3d4e-4f5a-8b6c-7d8e9f0a1b2c", "author": {"role": "user", '
        '"name": null, "metadata": {}}, "content": {"content_type": "text", '
        '"parts": ["Say hi"]}, "status": "finished_successfully", "end_turn": null, '
        '"metadata": {}, "recipient": "all"}, '
        '"conversation_id": "6a1b2c3d-4e5f-8012-9abc-def012345678", "error": null}'
    ),
    (
        '{"message": null, "conversation_id": "6a1b2c3d-4e5f-8012-9abc-def012345678", '
        '"error": "Our systems have detected unusual activity coming from your system. Please t'
        'ry again later."}'
    ),
    "[DONE]",
]

F8 = [
    (
        '{"message": {"id": "b1d2c3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e", '
        '"author": {"role": "assistant"}, "content": {"content_type": "text", '
        '"parts": ["ok so far"]}, "metadata": {}, "recipient": "all"}, '
        '"conversation_id": "2f9c1e7a-5b3d-4c8e-9a1f-6d2b7e4c0a13", "error": null}'
    ),
    "<html>oops</html>",
    "[DONE]",
]

F11 = [
    '{"message": {"id": "b1d2c3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e", "author": {"role": "assistant"},\n'
    ' "content": {"content_type": "text", "parts": ["CRLF text"]}}, '
    '"conversation_id": "2f9c1e7a-5b3d-4c8e-9a1f-6d2b7e4c0a13", "error": null}',
    "[DONE]",
]

F12_DONE_ONLY = ["[DONE]"]

F12_MULTIMODAL = [
    '{"message": {"id": "b1d2c3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e", "author": {"role": "assistant"}, '
    '"content": {"content_type": "multimodal_text", "parts": [{"content_type": '
    '"image_asset_pointer", "asset_pointer": "file-service://file-abc"}]}}, '
    '"conversation_id": "2f9c1e7a-5b3d-4c8e-9a1f-6d2b7e4c0a13", "error": null}',
    "[DONE]",
]


def feed_all(reader: WebAnswerReader, payloads: list[str]) -> list[list[ChatEvent]]:
    return [reader.feed(payload) for payload in payloads]


def joined(events: list[ChatEvent]) -> str:
    text = ""
    for event in events:
        if isinstance(event, TextDelta):
            text += event.text
        elif isinstance(event, TextReset):
            text = event.text
    return text


# --- fixtures -------------------------------------------------------------------------------


def test_f1_legacy_cumulative() -> None:
    reader = WebAnswerReader()
    assert feed_all(reader, F1) == [
        [TextDelta("Two")],
        [TextDelta(" plus two")],
        [TextDelta(" is four.")],
        [],
    ]
    assert reader.done
    assert reader.finish() == Finished("Two plus two is four.", C4, A)


def test_f2_system_and_user_echo_are_ignored() -> None:
    reader = WebAnswerReader()
    assert feed_all(reader, F2) == [
        [],
        [],
        [],
        [TextDelta("Hi")],
        [TextDelta(" there!")],
        [],
        [],
        [],
    ]
    assert reader.done
    assert reader.finish() == Finished("Hi there!", C8, A)


def test_f2_user_echo_never_sets_the_answer_id() -> None:
    reader = WebAnswerReader()
    feed_all(reader, F2[:2])
    assert reader.message_id is None
    assert reader.text == ""
    assert reader.conversation_id == C8


def test_f3_delta_v1() -> None:
    reader = WebAnswerReader()
    assert feed_all(reader, F3) == [
        [],  # "v1"
        [],  # resume_conversation_token
        [],  # system document
        [],  # user echo document
        [],  # assistant document, empty text
        [],  # message_marker
        [TextDelta("Hi")],
        [TextDelta(" there")],  # shorthand: same path and op
        [],  # title_generation
        [TextDelta("!")],  # patch batch
        [],  # message_stream_complete
        [],  # [DONE]
    ]
    assert reader.done
    assert reader.finish() == Finished("Hi there!", C8, A)


def test_f3_conversation_id_from_a_typed_event_only() -> None:
    reader = WebAnswerReader()
    reader.feed(F3[0])
    reader.feed(F3[1])
    assert reader.conversation_id == C8


def test_f4_error_mid_stream() -> None:
    reader = WebAnswerReader()
    assert reader.feed(F4[0]) == [TextDelta("Partial ans")]
    with pytest.raises(UpstreamStreamError) as info:
        reader.feed(F4[1])
    assert info.value.message == "Something went wrong while generating the response."


def test_f5_user_echo_then_error_never_returns_the_prompt() -> None:
    reader = WebAnswerReader()
    assert reader.feed(F5[0]) == []
    with pytest.raises(UpstreamStreamError) as info:
        reader.feed(F5[1])
    assert info.value.message == UNUSUAL_ACTIVITY
    assert "Say hi" not in info.value.message
    assert reader.text == ""
    assert reader.message_id is None


def test_f5_without_the_error_event_has_no_answer() -> None:
    reader = WebAnswerReader()
    assert reader.feed(F5[0]) == []
    assert reader.feed("[DONE]") == []
    with pytest.raises(UpstreamNoAnswer):
        reader.finish()


def test_f8_non_json_data() -> None:
    reader = WebAnswerReader()
    assert reader.feed(F8[0]) == [TextDelta("ok so far")]
    with pytest.raises(UpstreamProtocolError) as info:
        reader.feed(F8[1])
    assert info.value.message == INVALID_JSON_MESSAGE


def test_f11_multi_line_data() -> None:
    reader = WebAnswerReader()
    assert feed_all(reader, F11) == [[TextDelta("CRLF text")], []]
    assert reader.finish() == Finished("CRLF text", C4, A)


def test_f12_done_only_has_no_answer() -> None:
    reader = WebAnswerReader()
    assert feed_all(reader, F12_DONE_ONLY) == [[]]
    assert reader.done
    with pytest.raises(UpstreamNoAnswer) as info:
        reader.finish()
    assert info.value.message == NO_ANSWER_MESSAGE


def test_f12_multimodal_part_is_empty_text_not_a_dict() -> None:
    reader = WebAnswerReader()
    assert feed_all(reader, F12_MULTIMODAL) == [[], []]
    finished = reader.finish()
    assert finished == Finished("", C4, A)
    assert isinstance(finished.text, str)


def test_request_conversation_id_is_the_default() -> None:
    reader = WebAnswerReader(conversation_id=C4)
    reader.feed(legacy("hello", conversation_id=None))
    assert reader.finish() == Finished("hello", C4, A)


def test_stream_without_done_still_finishes() -> None:
    reader = WebAnswerReader()
    reader.feed(F1[2])
    assert not reader.done
    assert reader.finish() == Finished("Two plus two is four.", C4, A)


# --- legacy rules ---------------------------------------------------------------------------


def legacy(
    text: Any,
    *,
    message_id: str | None = A,
    role: str = "assistant",
    recipient: str | None = "all",
    conversation_id: str | None = C4,
    error: Any = None,
) -> str:
    message: dict[str, Any] = {
        "author": {"role": role},
        "content": {"content_type": "text", "parts": [text]},
    }
    if message_id is not None:
        message["id"] = message_id
    if recipient is not None:
        message["recipient"] = recipient
    event: dict[str, Any] = {"message": message, "error": error}
    if conversation_id is not None:
        event["conversation_id"] = conversation_id
    return orjson.dumps(event).decode()


def test_browser_recipient_and_tool_author_are_ignored() -> None:
    reader = WebAnswerReader()
    assert reader.feed(legacy("search(weather)", message_id=S, recipient="browser")) == []
    assert reader.feed(legacy("tool output", message_id=U, role="tool")) == []
    assert reader.feed(legacy("system text", message_id=U, role="system")) == []
    assert reader.message_id is None
    assert reader.feed(legacy("Sunny.")) == [TextDelta("Sunny.")]
    assert reader.feed(legacy("tool again", message_id=U, role="tool")) == []
    assert reader.finish() == Finished("Sunny.", C4, A)


def test_missing_recipient_counts_as_all() -> None:
    reader = WebAnswerReader()
    assert reader.feed(legacy("x", recipient=None)) == [TextDelta("x")]


def test_rewritten_text_is_a_reset() -> None:
    reader = WebAnswerReader()
    assert reader.feed(legacy("Hello wrld")) == [TextDelta("Hello wrld")]
    assert reader.feed(legacy("Hello world")) == [TextReset("Hello world")]
    assert reader.feed(legacy("Hello world!")) == [TextDelta("!")]
    assert reader.finish().text == "Hello world!"


def test_repeated_or_empty_text_emits_nothing() -> None:
    reader = WebAnswerReader()
    assert reader.feed(legacy("abc")) == [TextDelta("abc")]
    assert reader.feed(legacy("abc")) == []
    assert reader.feed(legacy("")) == []
    assert reader.finish().text == "abc"


def test_a_second_assistant_message_replaces_the_answer() -> None:
    reader = WebAnswerReader()
    assert reader.feed(legacy("Let me check.")) == [TextDelta("Let me check.")]
    assert reader.feed(legacy("It is sunny.", message_id=S)) == [TextReset("It is sunny.")]
    assert reader.finish() == Finished("It is sunny.", C4, S)


def test_message_without_id_gets_a_stable_generated_one() -> None:
    reader = WebAnswerReader()
    assert reader.feed(legacy("a", message_id=None)) == [TextDelta("a")]
    first = reader.message_id
    assert first is not None
    assert len(first) == 36
    assert reader.feed(legacy("ab", message_id=None)) == [TextDelta("b")]
    assert reader.message_id == first


def test_string_parts_are_joined_and_others_skipped() -> None:
    event = {
        "message": {
            "id": A,
            "author": {"role": "assistant"},
            "content": {"content_type": "multimodal_text", "parts": ["a", {"x": 1}, 5, "b"]},
        }
    }
    reader = WebAnswerReader()
    assert reader.feed(orjson.dumps(event).decode()) == [TextDelta("ab")]


def test_code_content_uses_text_field() -> None:
    event = {
        "message": {
            "id": A,
            "author": {"role": "assistant"},
            "content": {"content_type": "code", "text": "print(1)"},
        }
    }
    reader = WebAnswerReader()
    assert reader.feed(orjson.dumps(event).decode()) == [TextDelta("print(1)")]


@pytest.mark.parametrize("content", [None, "text", [], {"parts": "x"}, {"text": 5}])
def test_odd_content_is_empty_text(content: Any) -> None:
    event = {"message": {"id": A, "author": {"role": "assistant"}, "content": content}}
    reader = WebAnswerReader()
    assert reader.feed(orjson.dumps(event).decode()) == []
    assert reader.finish() == Finished("", None, A)


def test_non_dict_json_is_ignored() -> None:
    reader = WebAnswerReader()
    for payload in ['"v1"', "1", "[]", "null", "true"]:
        assert reader.feed(payload) == []
    assert reader.message_id is None


def test_error_object_is_serialised() -> None:
    reader = WebAnswerReader()
    with pytest.raises(UpstreamStreamError) as info:
        reader.feed('{"message": null, "error": {"code": "x"}}')
    assert info.value.message == '{"code":"x"}'


def test_falsy_error_is_not_an_error() -> None:
    reader = WebAnswerReader()
    assert reader.feed(legacy("ok", error="")) == [TextDelta("ok")]


def test_conversation_id_is_the_last_truthy_one() -> None:
    reader = WebAnswerReader(conversation_id="given")
    reader.feed('{"type": "title_generation", "conversation_id": ""}')
    assert reader.conversation_id == "given"
    reader.feed(f'{{"type": "title_generation", "conversation_id": "{C8}"}}')
    reader.feed('{"type": "x", "conversation_id": 5}')
    assert reader.conversation_id == C8


# --- delta v1 rules -------------------------------------------------------------------------


def assistant_doc(text: str = "", message_id: str = A) -> dict[str, Any]:
    return {
        "message": {
            "id": message_id,
            "author": {"role": "assistant"},
            "content": {"content_type": "text", "parts": [text]},
            "status": "in_progress",
            "end_turn": None,
            "metadata": {},
            "recipient": "all",
        },
        "conversation_id": C8,
        "error": None,
    }


def d(obj: Any) -> str:
    return orjson.dumps(obj).decode()


PARTS0 = "/message/content/parts/0"


def test_delta_replace_of_the_text_is_a_reset() -> None:
    reader = WebAnswerReader()
    reader.feed(d({"p": "", "o": "add", "v": assistant_doc("Hello"), "c": 0}))
    assert reader.feed(d({"p": PARTS0, "o": "replace", "v": "Bye"})) == [TextReset("Bye")]
    assert reader.finish() == Finished("Bye", C8, A)


def test_delta_error_patch_is_an_error() -> None:
    reader = WebAnswerReader()
    reader.feed(d({"p": "", "o": "add", "v": assistant_doc("Hel"), "c": 0}))
    with pytest.raises(UpstreamStreamError) as info:
        reader.feed(d({"p": "/error", "o": "replace", "v": "boom"}))
    assert info.value.message == "boom"


def test_delta_tool_document_is_ignored() -> None:
    reader = WebAnswerReader()
    tool = assistant_doc("")
    tool["message"]["author"]["role"] = "tool"
    reader.feed(d({"p": "", "o": "add", "v": tool, "c": 3}))
    assert reader.feed(d({"p": PARTS0, "o": "append", "v": "raw tool output"})) == []
    browser = assistant_doc("", message_id=S)
    browser["message"]["recipient"] = "browser"
    reader.feed(d({"v": browser, "c": 4}))
    assert reader.feed(d({"p": PARTS0, "o": "append", "v": "search"})) == []
    assert reader.message_id is None


def test_delta_documents_are_kept_per_counter() -> None:
    reader = WebAnswerReader()
    reader.feed(d({"p": "", "o": "add", "v": assistant_doc("A:", message_id=A), "c": 1}))
    reader.feed(d({"p": PARTS0, "o": "append", "v": "1"}))
    user = assistant_doc("prompt", message_id=U)
    user["message"]["author"]["role"] = "user"
    assert reader.feed(d({"p": "", "o": "add", "v": user, "c": 0})) == []
    assert reader.feed(d({"p": PARTS0, "o": "append", "v": " more prompt"})) == []
    assert reader.feed(d({"p": PARTS0, "o": "append", "v": "2", "c": 1})) == [TextDelta("2")]
    assert reader.finish() == Finished("A:12", C8, A)


def test_delta_before_any_document_is_ignored() -> None:
    reader = WebAnswerReader()
    assert reader.feed(d({"p": PARTS0, "o": "append", "v": "x"})) == []
    assert reader.feed(d({"v": "y"})) == []
    with pytest.raises(UpstreamNoAnswer):
        reader.finish()


@pytest.mark.parametrize(
    "delta",
    [
        {"p": "/message/content/parts/²", "o": "append", "v": "x"},
        {"p": "/message/content/parts/٣", "o": "replace", "v": "x"},
        {"p": "", "o": "patch", "v": [{"p": 5, "o": "append", "v": "x"}]},
        {"p": "", "o": "patch", "v": [{"p": None, "o": "append", "v": "x"}]},
        {"p": "", "o": "patch", "v": [{"p": PARTS0, "o": 7, "v": "x"}]},
        {"p": "", "o": "patch", "v": [{"p": PARTS0, "o": ["append"], "v": "x"}]},
        {"p": "", "o": "patch", "v": [{"p": ["a"], "o": "append", "v": "x"}]},
        {"p": "", "o": "patch", "v": ["junk", 1, None, {"p": PARTS0}]},
        {"p": "", "o": "patch", "v": "not a list"},
        {"p": "message/content/parts/0", "o": "append", "v": "x"},
        {"p": "/message/content/parts/9", "o": "append", "v": "x"},
        {"p": "/message/content/parts/-1", "o": "replace", "v": "x"},
        {"p": "/message/content/parts/0/deeper", "o": "append", "v": "x"},
        {"p": "/message/nothing/here", "o": "append", "v": "x"},
        {"p": PARTS0, "o": "append", "v": 5},
        {"p": PARTS0, "o": "append", "v": ["x"]},
        {"p": PARTS0, "o": "truncate", "v": "3"},
        {"p": PARTS0, "o": "truncate", "v": -1},
        {"p": PARTS0, "o": "explode", "v": "x"},
        {"p": 12, "o": "append", "v": "x"},
        {"p": PARTS0, "o": None, "v": "x"},
        {"p": "", "o": "replace", "v": "x"},
        {"p": "", "o": "append", "v": "x"},
        {"c": "1", "p": PARTS0, "o": "append", "v": ""},
    ],
)
def test_malformed_delta_is_ignored(delta: dict[str, Any]) -> None:
    reader = WebAnswerReader()
    reader.feed(d({"p": "", "o": "add", "v": assistant_doc("keep"), "c": 0}))
    assert reader.feed(d(delta)) == []
    assert reader.feed(d({"p": PARTS0, "o": "append", "v": "!"})) == [TextDelta("!")]
    assert reader.finish() == Finished("keep!", C8, A)


# --- DeltaDocuments operations --------------------------------------------------------------


def docs_with(document: dict[str, Any]) -> tuple[DeltaDocuments, dict[str, Any]]:
    docs = DeltaDocuments()
    doc = copy.deepcopy(document)
    assert docs.apply({"p": "", "o": "add", "v": doc, "c": 0}) is doc
    return docs, doc


BASE: dict[str, Any] = {"message": {"content": {"parts": ["ab"]}, "list": [1, 2, 3], "m": {"k": 1}}}


def test_ops_on_lists() -> None:
    docs, doc = docs_with(BASE)
    docs.apply({"p": "/message/list/1", "o": "replace", "v": 20})
    assert doc["message"]["list"] == [1, 20, 3]
    docs.apply({"p": "/message/list/0", "o": "add", "v": 0})
    assert doc["message"]["list"] == [0, 1, 20, 3]
    docs.apply({"p": "/message/list/-", "o": "add", "v": 4})
    assert doc["message"]["list"] == [0, 1, 20, 3, 4]
    docs.apply({"p": "/message/list/5", "o": "add", "v": 5})
    assert doc["message"]["list"] == [0, 1, 20, 3, 4, 5]
    docs.apply({"p": "/message/list/2", "o": "remove"})
    assert doc["message"]["list"] == [0, 1, 3, 4, 5]
    docs.apply({"p": "/message/list", "o": "truncate", "v": 2})
    assert doc["message"]["list"] == [0, 1]
    docs.apply({"p": "/message/list", "o": "append", "v": [7, 8]})
    assert doc["message"]["list"] == [0, 1, 7, 8]
    docs.apply({"p": "/message/list", "o": "append", "v": 9})
    assert doc["message"]["list"] == [0, 1, 7, 8, 9]
    docs.apply({"p": "/message/list/9", "o": "remove"})
    docs.apply({"p": "/message/list/9", "o": "replace", "v": 1})
    assert doc["message"]["list"] == [0, 1, 7, 8, 9]


def test_ops_on_strings_and_objects() -> None:
    docs, doc = docs_with(BASE)
    docs.apply({"p": "/message/content/parts/0", "o": "append", "v": "cdef"})
    assert doc["message"]["content"]["parts"] == ["abcdef"]
    docs.apply({"p": "/message/content/parts/0", "o": "truncate", "v": 3})
    assert doc["message"]["content"]["parts"] == ["abc"]
    docs.apply({"p": "/message/m", "o": "append", "v": {"j": 2}})
    assert doc["message"]["m"] == {"k": 1, "j": 2}
    docs.apply({"p": "/message/m/k", "o": "remove"})
    assert doc["message"]["m"] == {"j": 2}
    docs.apply({"p": "/message/new", "o": "append", "v": "x"})
    assert doc["message"]["new"] == "x"
    docs.apply({"p": "/message/status", "o": "replace", "v": "finished_successfully"})
    assert doc["message"]["status"] == "finished_successfully"
    docs.apply({"p": "/message/gone", "o": "remove"})
    assert "gone" not in doc["message"]


def test_pointer_escapes() -> None:
    docs, doc = docs_with({"message": {"a/b": "x", "c~d": "y"}})
    docs.apply({"p": "/message/a~1b", "o": "append", "v": "1"})
    docs.apply({"p": "/message/c~0d", "o": "append", "v": "2"})
    assert doc["message"] == {"a/b": "x1", "c~d": "y2"}


def test_shorthand_continues_the_previous_op() -> None:
    docs, doc = docs_with(BASE)
    docs.apply({"p": "/message/content/parts/0", "o": "append", "v": "c"})
    docs.apply({"v": "d"})
    docs.apply({"v": "e"})
    assert doc["message"]["content"]["parts"] == ["abcde"]
    docs.apply({"p": "/message/list", "o": "truncate", "v": 1})
    docs.apply({"v": 0})
    assert doc["message"]["list"] == []


def test_patch_batch() -> None:
    docs, doc = docs_with(BASE)
    touched = docs.apply(
        {
            "p": "",
            "o": "patch",
            "v": [
                {"p": "/message/content/parts/0", "o": "append", "v": "!"},
                {"p": "/message/status", "o": "replace", "v": "finished_successfully"},
                {"p": "/message/end_turn", "o": "replace", "v": True},
                {"p": "/message/m", "o": "append", "v": {"is_complete": True}},
                {"p": "", "o": "patch", "v": [{"p": "/message/list/0", "o": "remove"}]},
            ],
        }
    )
    assert touched is doc
    assert doc["message"]["content"]["parts"] == ["ab!"]
    assert doc["message"]["status"] == "finished_successfully"
    assert doc["message"]["end_turn"] is True
    assert doc["message"]["m"] == {"k": 1, "is_complete": True}
    assert doc["message"]["list"] == [2, 3]


def test_new_document_with_carried_over_add() -> None:
    docs = DeltaDocuments()
    first: dict[str, Any] = {"message": {"id": "1"}}
    second: dict[str, Any] = {"message": {"id": "2"}}
    assert docs.apply({"p": "", "o": "add", "v": first, "c": 0}) is first
    assert docs.apply({"v": second, "c": 1}) is second
    assert docs.apply({"p": "/message/id", "o": "append", "v": "x"}) is second
    assert docs.apply({"p": "/message/id", "o": "append", "v": "y", "c": 0}) is first
    assert first["message"]["id"] == "1y"
    assert second["message"]["id"] == "2x"


def test_delta_for_a_missing_document_returns_none() -> None:
    docs = DeltaDocuments()
    assert docs.apply({"p": "/message/id", "o": "append", "v": "x"}) is None
    docs.apply({"p": "", "o": "add", "v": {"message": {}}, "c": 0})
    assert docs.apply({"p": "/message/id", "o": "append", "v": "x", "c": 5}) is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=8,
)
paths = st.sampled_from(
    [
        "",
        "/",
        "/message",
        "/message/content",
        PARTS0,
        "/message/content/parts/1",
        "/message/x",
        "/message/content/parts/-",
        "/message/content/parts/00",
        "/x/y/z",
        "nope",
        "/message/~2",
    ]
) | st.text(max_size=6)
ops = st.sampled_from(["add", "append", "replace", "remove", "truncate", "patch", "other"])
deltas = st.fixed_dictionaries(
    {},
    optional={
        "p": paths | st.integers(-1000, 1000) | st.none(),
        "o": ops | st.integers(-1000, 1000) | st.none(),
        "v": json_values,
        "c": st.integers(0, 3) | st.text(max_size=2),
    },
)
patch_deltas = st.builds(
    lambda items: {"p": "", "o": "patch", "v": items}, st.lists(deltas | json_values, max_size=4)
)


@FAST
@given(st.lists(deltas | patch_deltas, max_size=12))
def test_any_delta_sequence_never_crashes_the_reader(sequence: list[dict[str, Any]]) -> None:
    reader = WebAnswerReader()
    reader.feed(d({"p": "", "o": "add", "v": assistant_doc("start"), "c": 0}))
    for delta in sequence:
        try:
            events = reader.feed(d(delta))
        except UpstreamStreamError:
            return  # a delta that sets "error" is a legitimate upstream error
        assert all(isinstance(e, TextDelta | TextReset) for e in events)
    assert isinstance(reader.finish().text, str)


# --- the same text through either encoding (property) ---------------------------------------

piece_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8)


def v1_stream(pieces: list[str], message_id: str = A) -> list[str]:
    user = assistant_doc("prompt", message_id=U)
    user["message"]["author"]["role"] = "user"
    stream = [
        '"v1"',
        d({"p": "", "o": "add", "v": user, "c": 0}),
        d({"v": assistant_doc("", message_id), "c": 1}),
        d({"p": PARTS0, "o": "append", "v": pieces[0]}),
    ]
    for piece in pieces[1:-1]:
        stream.append(d({"v": piece}))
        stream.append(d({"type": "message_marker", "conversation_id": C8}))
    stream.append(
        d(
            {
                "p": "",
                "o": "patch",
                "v": [
                    {"p": PARTS0, "o": "append", "v": pieces[-1]},
                    {"p": "/message/status", "o": "replace", "v": "finished_successfully"},
                    {"p": "/message/end_turn", "o": "replace", "v": True},
                ],
            }
        )
    )
    stream.append("[DONE]")
    return stream


def legacy_stream(pieces: list[str]) -> list[str]:
    stream = [legacy("prompt", message_id=U, role="user")]
    text = ""
    for piece in pieces:
        text += piece
        stream.append(legacy(text, conversation_id=C8))
    stream.append('{"type": "message_stream_complete", "conversation_id": "' + C8 + '"}')
    stream.append("[DONE]")
    return stream


@FAST
@given(st.lists(piece_text, min_size=2, max_size=10))
def test_v1_deltas_concatenate_to_the_text(pieces: list[str]) -> None:
    reader = WebAnswerReader()
    events = [event for payload in v1_stream(pieces) for event in reader.feed(payload)]
    assert all(isinstance(event, TextDelta) and event.text for event in events)
    assert "".join(event.text for event in events) == "".join(pieces)
    assert reader.finish() == Finished("".join(pieces), C8, A)


@FAST
@given(st.lists(piece_text, min_size=1, max_size=10))
def test_legacy_deltas_concatenate_to_the_text(pieces: list[str]) -> None:
    reader = WebAnswerReader()
    events = [event for payload in legacy_stream(pieces) for event in reader.feed(payload)]
    assert all(isinstance(event, TextDelta) and event.text for event in events)
    assert "".join(event.text for event in events) == "".join(pieces)
    assert reader.finish() == Finished("".join(pieces), C8, A)


@FAST
@given(st.lists(piece_text, min_size=2, max_size=6), st.lists(piece_text, min_size=2, max_size=6))
def test_mixed_rewrites_track_the_latest_text(first: list[str], second: list[str]) -> None:
    reader = WebAnswerReader()
    events: list[ChatEvent] = []
    for payload in legacy_stream(first)[:-1] + v1_stream(second, message_id=S):
        events.extend(reader.feed(payload))
    assert joined(events) == "".join(second)
    assert reader.finish().text == "".join(second)
