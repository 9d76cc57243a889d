"""Property tests for the parsers that take outside input, beyond the per-module ones.

tests/test_sse.py, test_bodies.py, test_coerce.py and test_web_answer.py check the SSE decoder,
the body parsers, id validation and the delta patcher on well-formed input. This file feeds
them hostile input and checks they fail only in their documented way:

* the SSE decoder: any bytes, cut anywhere — only ``EventTooLarge``, and the same events
  whatever the chunking (including 5,000-digit ``retry`` values: int() refuses >4,300 digits);
* the body parsers: any bytes with any content type, JSON nested up to orjson's limit, request
  objects of any shape for ``/v1/chat/completions`` and ``/send_message`` — only
  ``RequestError`` (a 400, or the seed's 500 ``{"message"}``), never another exception (which
  the routes would answer as ``internal server error``);
* id validation: ``is_message_id`` is exactly "8-4-4-4-12 ASCII hex"; the conversation list's
  ``limit``/``offset`` take exactly ASCII digits in range;
* the delta patcher: any path (escapes, huge indexes), any operation — never raises, and list
  operations on valid indexes agree with a plain list model.
"""

from __future__ import annotations

import asyncio
import json
import string
from typing import Any
from urllib.parse import urlencode

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from starlette.requests import Request

from chatgpt_api.api.bodies import FieldValue, parse_form, parse_json, read_fields
from chatgpt_api.api.coerce import is_message_id, js_number
from chatgpt_api.api.conversations import _int
from chatgpt_api.api.openai_request import parse_completion_request
from chatgpt_api.api.seed import parse_send_message
from chatgpt_api.backends.delta_v1 import DeltaDocuments
from chatgpt_api.errors import RequestError
from chatgpt_api.sse import EventTooLarge, ServerSentEvent, SSEDecoder

PROPERTY = settings(max_examples=150, deadline=None, derandomize=True, database=None)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)  # what orjson parses as an int
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=10,
)
long_digits = st.integers(0, 5000).map(lambda n: "9" * n)


# --- SSE decoder ------------------------------------------------------------------------------

sse_fields = st.sampled_from([b"data", b"event", b"id", b"retry", b"", b":", b"dat", b"\xff"])
sse_values = (
    st.binary(max_size=12)
    | long_digits.map(str.encode)
    | st.sampled_from([b"", b" ", b"0", b"\x00", b"[DONE]", b'{"a":1}', "é".encode()])
)
sse_separators = st.sampled_from([b":", b": ", b"", b"::"])
sse_endings = st.sampled_from([b"\n", b"\r", b"\r\n", b"\n\n", b""])
sse_lines = st.tuples(sse_fields, sse_separators, sse_values, sse_endings).map(b"".join)
sse_streams = st.lists(sse_lines | st.binary(max_size=20), max_size=12).map(b"".join)


def decode(chunks: list[bytes], limit: int) -> list[ServerSentEvent] | str:
    decoder = SSEDecoder(limit)
    events: list[ServerSentEvent] = []
    try:
        for chunk in chunks:
            events.extend(decoder.feed(chunk))
        events.extend(decoder.close())
    except EventTooLarge:
        return "too large"
    return events


@PROPERTY
@given(
    stream=sse_streams,
    limit=st.sampled_from([16, 256, 8 * 1024 * 1024]),
    cuts=st.lists(st.integers(0, 10**6), max_size=8),
)
@example(stream=b"retry: " + b"9" * 5000 + b"\ndata: x\n\n", limit=1 << 20, cuts=[])
def test_sse_decoder_takes_any_bytes_and_any_chunking(
    stream: bytes, limit: int, cuts: list[int]
) -> None:
    whole = decode([stream], limit)
    points = sorted({cut % (len(stream) + 1) for cut in cuts})
    pieces = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    assert decode(pieces, limit) == whole
    if isinstance(whole, list):
        for event in whole:
            assert isinstance(event.data, str)
            assert event.retry is None or event.retry >= 0


# --- body parsers -----------------------------------------------------------------------------


def nested(depth: int) -> bytes:
    """An object whose value is ``depth`` nested arrays, with a repeated-key suspect inside."""
    return b'{"prompt":"x","a":' + b"[" * depth + b"]" * depth + b',"b":{"c":1}}'


@PROPERTY
@given(
    body=st.binary(max_size=64)
    | json_values.map(orjson.dumps)
    | st.integers(1, 1100).map(nested)
    | st.dictionaries(st.text(max_size=3), json_values, max_size=4).map(orjson.dumps)
)
@example(body=nested(1000))
@example(body=b'{"a":1,"a":2}')
@example(body=b'{"a":"\\ud800"}')
@example(body=b'{"a":1e400}')
def test_parse_json_only_raises_request_error(body: bytes) -> None:
    try:
        fields = parse_json(body)
    except RequestError:
        return
    assert isinstance(fields, dict)
    assert all(value is not None for value in fields.values())


@pytest.mark.parametrize("depth", [990, 1000, 1023])
def test_parse_json_nesting_within_orjsons_limit_is_not_a_crash(depth: int) -> None:
    # Outside hypothesis (which raises the recursion limit), as the service runs it.
    try:
        parse_json(nested(depth))
    except RequestError as exc:
        assert exc.message == "invalid JSON body: nested too deeply"


form_bytes = st.lists(
    st.sampled_from([b"&", b"=", b"+", b"%", b"%2", b"%E4%BD", b"%ZZ", b"a", b"\xff", b"\xc3"])
    | st.binary(max_size=4),
    max_size=30,
).map(b"".join)


@PROPERTY
@given(body=form_bytes)
def test_parse_form_only_raises_request_error(body: bytes) -> None:
    try:
        fields = parse_form(body)
    except RequestError:
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in fields.items())


def post(body: bytes, content_type: str | None) -> Request:
    received = False

    async def receive() -> dict[str, Any]:
        nonlocal received
        if received:
            return {"type": "http.disconnect"}
        received = True
        return {"type": "http.request", "body": body, "more_body": False}

    headers = [(b"content-length", str(len(body)).encode())]
    if content_type is not None:
        headers.append((b"content-type", content_type.encode("latin-1")))
    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers, "query_string": b""}
    return Request(scope, receive)


def multipart(parts: list[tuple[str, bytes, bool]]) -> bytes:
    out = b""
    for name, value, as_file in parts:
        disposition = f'form-data; name="{name}"' + ('; filename="f.txt"' if as_file else "")
        out += b"--BOUNDARY\r\nContent-Disposition: " + disposition.encode() + b"\r\n\r\n"
        out += value + b"\r\n"
    return out + b"--BOUNDARY--\r\n"


content_types = st.sampled_from(
    [
        None,
        "",
        "application/json",
        "application/json; charset=latin1",
        "application/vnd.api+json",
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=UTF-8",
        "multipart/form-data; boundary=BOUNDARY",
        "multipart/form-data",
        "text/plain",
        ";;;=",
    ]
) | st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=30)
bodies = (
    st.binary(max_size=64)
    | json_values.map(orjson.dumps)
    | form_bytes
    | st.lists(
        st.tuples(st.text(string.ascii_letters, max_size=6), st.binary(max_size=8), st.booleans()),
        max_size=4,
    ).map(multipart)
)


@PROPERTY
@given(body=bodies, content_type=content_types, limit=st.sampled_from([8, 64 * 1024]))
def test_read_fields_only_raises_request_error(
    body: bytes, content_type: str | None, limit: int
) -> None:
    try:
        fields = asyncio.run(read_fields(post(body, content_type), limit))
    except RequestError:
        return
    assert isinstance(fields, dict)


completion_bodies = st.fixed_dictionaries(
    {},
    optional={
        "model": json_values,
        "messages": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "role": st.sampled_from(["user", "system", "tool", "robot"]) | json_values,
                    "content": json_values
                    | st.lists(
                        st.fixed_dictionaries(
                            {},
                            optional={"type": st.just("text") | json_values, "text": json_values},
                        ),
                        max_size=3,
                    ),
                },
            )
            | json_values,
            max_size=3,
        )
        | json_values,
        "stream": json_values,
        "temperature": json_values,
        "top_p": json_values,
        "max_tokens": json_values,
        "max_completion_tokens": json_values,
        "stop": json_values,
        "user": json_values,
        "n": json_values,
        "stream_options": st.fixed_dictionaries({}, optional={"include_usage": json_values})
        | json_values,
        "conversation_id": json_values | st.uuids().map(str),
        "parent_message_id": json_values | st.uuids().map(str),
    },
)


@PROPERTY
@given(body=completion_bodies)
@example(body={"messages": [{"role": {}}]})
def test_completion_request_parser_only_raises_request_error(body: dict[str, Any]) -> None:
    try:
        data = json.dumps(body).encode()
        parsed = parse_completion_request(data, default_model="m", credential=None)
    except RequestError as exc:
        assert exc.status == 400
        assert exc.param is None or isinstance(exc.param, str)
        return
    assert parsed.turn.messages and isinstance(parsed.turn.model, str)


field_values: st.SearchStrategy[FieldValue] = (
    st.text(max_size=8)
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.lists(st.integers(), max_size=2).map(list[object])
    | st.dictionaries(st.text(max_size=2), st.integers(), max_size=2).map(dict[str, object])
    | long_digits
    | st.sampled_from(["-1", "0x" + "f" * 300, "1e999", "NaN", "Infinity", " 12 "])
)
seed_fields = st.fixed_dictionaries(
    {},
    optional={
        name: field_values | st.uuids().map(str)
        for name in (
            "access_token",
            "prompt",
            "model",
            "timeout",
            "conversation_id",
            "parent_message_id",
            "reverse_proxy",
            "stream",
        )
    },
)


@PROPERTY
@given(fields=seed_fields, token_optional=st.booleans())
def test_send_message_parser_only_raises_request_error(
    fields: dict[str, FieldValue], token_optional: bool
) -> None:
    try:
        parsed = parse_send_message(fields, "m", token_optional=token_optional)
    except RequestError:
        return
    assert parsed.timeout_seconds is None or parsed.timeout_seconds > 0


@PROPERTY
@given(text=st.text(max_size=12) | long_digits | long_digits.map(lambda d: "0x" + d))
def test_js_number_takes_any_string(text: str) -> None:
    assert isinstance(js_number(text), float)


# --- id validation ----------------------------------------------------------------------------

HEX = set(string.hexdigits)


def reference_message_id(value: str) -> bool:
    groups = value.split("-")
    return [len(g) for g in groups] == [8, 4, 4, 4, 12] and all(c in HEX for c in "".join(groups))


id_like = st.lists(
    st.sampled_from(list("0123456789abcdefABCDEF-gG ")) | st.characters(), max_size=40
).map("".join)


@PROPERTY
@given(value=id_like | st.uuids().map(str) | st.uuids().map(lambda u: str(u).upper()))
@example(value="0" * 8 + "-" + "0" * 4 + "-" + "0" * 4 + "-" + "0" * 4 + "-" + "0" * 11 + "\n")
@example(value="\uff10" * 8 + "-0000-0000-0000-000000000000")  # full-width digits
def test_is_message_id_is_exactly_ascii_8_4_4_4_12_hex(value: str) -> None:
    assert is_message_id(value) == reference_message_id(value)


def query(name: str, value: str) -> Request:
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "headers": [],
        "query_string": urlencode({name: value}).encode(),
    }
    return Request(scope)


@PROPERTY
@given(value=st.text(max_size=8) | long_digits | st.integers(0, 200).map(str))
@example(value="²")
@example(value="٣")
@example(value="0" * 5000 + "7")
def test_page_parameters_take_exactly_ascii_digits_in_range(value: str) -> None:
    digits = value.lstrip("0") or "0"
    valid = value.isascii() and value.isdigit() and len(digits) <= 3 and int(digits) <= 100
    try:
        parsed = _int(query("limit", value), "limit", 20, 100)
    except RequestError as exc:
        assert not valid and exc.param == "limit"
        return
    assert valid and parsed == int(digits)


# --- delta patcher ----------------------------------------------------------------------------

pointer_tokens = (
    st.text(max_size=4)
    | st.integers(0, 5).map(str)
    | long_digits
    | st.sampled_from(["-", "~0", "~1", "00", "message", "content", "parts"])
)
pointers = st.lists(pointer_tokens, max_size=5).map(lambda t: "".join("/" + x for x in t))
raw_deltas = st.fixed_dictionaries(
    {},
    optional={
        "p": pointers | st.sampled_from(["", "nope"]) | json_values,
        "o": st.sampled_from(["add", "append", "replace", "remove", "truncate", "patch", "x"])
        | json_values,
        "v": json_values
        | st.lists(
            st.fixed_dictionaries({"p": pointers, "o": st.sampled_from(["append", "remove"])}),
            max_size=3,
        ),
        "c": st.integers(-2, 2) | json_values,
    },
)


@PROPERTY
@given(deltas=st.lists(raw_deltas, max_size=8))
@example(deltas=[{"p": "/message/content/parts/" + "9" * 5000, "o": "append", "v": "x"}])
@example(deltas=[{"p": "/message/content/parts/" + "0" * 5000, "o": "replace", "v": "x"}])
def test_delta_patcher_takes_any_delta(deltas: list[dict[str, Any]]) -> None:
    documents = DeltaDocuments()
    start = {"message": {"content": {"parts": ["a"]}, "list": [1, 2]}}
    documents.apply({"p": "", "o": "add", "v": start, "c": 0})
    for delta in deltas:
        touched = documents.apply(delta)
        assert touched is None or isinstance(touched, dict)


list_ops = st.lists(
    st.tuples(
        st.sampled_from(["add", "replace", "remove", "append", "truncate"]),
        st.integers(0, 6),
        st.text("xyz", max_size=2),
    ),
    max_size=12,
)


@PROPERTY
@given(ops=list_ops)
def test_delta_list_operations_match_a_list_model(ops: list[tuple[str, int, str]]) -> None:
    documents = DeltaDocuments()
    parts: list[str] = ["a"]
    document = {"message": {"content": {"parts": list(parts)}}}
    documents.apply({"p": "", "o": "add", "v": document, "c": 0})
    for op, index, text in ops:
        path = f"/message/content/parts/{index}"
        value: Any = len(text) if op == "truncate" else text
        documents.apply({"p": path, "o": op, "v": value})
        if op == "add" and index <= len(parts):
            parts.insert(index, text)
        elif op == "replace" and index <= len(parts):
            if index == len(parts):
                parts.append(text)
            else:
                parts[index] = text
        elif op == "remove" and index < len(parts):
            del parts[index]
        elif op == "append" and index < len(parts):
            parts[index] += text
        elif op == "append" and index == len(parts):
            parts.append(text)
        elif op == "truncate" and index < len(parts):
            parts[index] = parts[index][: len(text)]
        assert document["message"]["content"]["parts"] == parts, (op, index, text)


@pytest.mark.parametrize("limit", [1, 16, 4999])
def test_sse_decoder_limit_still_applies_to_long_retry_lines(limit: int) -> None:
    assert decode([b"retry: " + b"9" * 5000 + b"\n"], limit) == "too large"


def test_an_over_long_retry_is_ignored_like_an_invalid_one() -> None:
    stream = b"retry: " + b"9" * 5000 + b"\ndata: x\n\nretry: 1500\ndata: y\n\n"
    assert decode([stream], 1 << 20) == [
        ServerSentEvent(data="x"),
        ServerSentEvent(data="y", retry=1500),
    ]
