"""Unit tests for chatgpt_api.api.bodies.parse_form and parse_json."""

from __future__ import annotations

from urllib.parse import quote, urlencode

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatgpt_api.api.bodies import MAX_FIELDS, parse_form, parse_json
from chatgpt_api.errors import RequestError

FAST = settings(max_examples=200, deadline=None)


# --- parse_form -----------------------------------------------------------------------------


def test_form_basic() -> None:
    assert parse_form(b"access_token=tok&prompt=hello") == {
        "access_token": "tok",
        "prompt": "hello",
    }


def test_form_plus_and_percent_escapes() -> None:
    # The seed's observed example: "1 1=? 你".
    assert parse_form(b"prompt=1+1%3D%3F%20%E4%BD%A0") == {"prompt": "1 1=? 你"}


def test_form_percent_escapes_in_keys() -> None:
    assert parse_form(b"a%20b+c=1&%E4%BD%A0=2") == {"a b c": "1", "你": "2"}


def test_form_escaped_plus_is_a_plus() -> None:
    assert parse_form(b"prompt=1%2B1") == {"prompt": "1+1"}


def test_form_lowercase_and_uppercase_hex() -> None:
    assert parse_form(b"a=%e4%bd%a0&b=%E4%BD%A0") == {"a": "你", "b": "你"}


def test_form_key_without_equals_is_empty() -> None:
    assert parse_form(b"flag&prompt=x") == {"flag": "", "prompt": "x"}
    assert parse_form(b"prompt=") == {"prompt": ""}


def test_form_only_first_equals_splits() -> None:
    assert parse_form(b"prompt=a=b==c") == {"prompt": "a=b==c"}


def test_form_empty_pairs_are_skipped() -> None:
    assert parse_form(b"&&a=1&&b=2&") == {"a": "1", "b": "2"}
    assert parse_form(b"") == {}
    assert parse_form(b"&") == {}


def test_form_empty_key() -> None:
    assert parse_form(b"=x") == {"": "x"}


def test_form_invalid_percent_escapes_are_kept() -> None:
    assert parse_form(b"a=100%&b=%zz&c=%4") == {"a": "100%", "b": "%zz", "c": "%4"}


def test_form_raw_utf8_bytes() -> None:
    assert parse_form("prompt=你好".encode()) == {"prompt": "你好"}


def test_form_repeated_key_is_rejected() -> None:
    with pytest.raises(RequestError) as info:
        parse_form(b"prompt=a&prompt=b")
    assert info.value.message == "invalid [prompt]: given more than once"


def test_form_repeated_key_after_decoding_is_rejected() -> None:
    with pytest.raises(RequestError) as info:
        parse_form(b"prompt=a&%70rompt=b")
    assert info.value.message == "invalid [prompt]: given more than once"


def test_form_repeated_empty_key_is_rejected() -> None:
    with pytest.raises(RequestError) as info:
        parse_form(b"flag&flag")
    assert info.value.message == "invalid [flag]: given more than once"


def test_form_parameter_limit() -> None:
    at_limit = b"&".join(b"k%d=v" % i for i in range(MAX_FIELDS))
    assert len(parse_form(at_limit)) == MAX_FIELDS
    with pytest.raises(RequestError) as info:
        parse_form(at_limit + b"&extra=1")
    assert info.value.message == "too many parameters"
    assert MAX_FIELDS == 1000


def test_form_parameter_limit_counts_separators_like_body_parser() -> None:
    # body-parser counts '&' separators, empty pairs included: 1000 of them is too many.
    with pytest.raises(RequestError) as info:
        parse_form(b"a=1" + b"&" * 1000)
    assert info.value.message == "too many parameters"
    assert parse_form(b"a=1" + b"&" * 999) == {"a": "1"}


@pytest.mark.parametrize(
    "body",
    [b"prompt=%FF", b"prompt=%E4%BD", b"%C3=x", b"prompt=%ED%A0%80", b"prompt=\xff", b"\xe4=1"],
)
def test_form_invalid_utf8_is_rejected(body: bytes) -> None:
    with pytest.raises(RequestError) as info:
        parse_form(body)
    assert info.value.message == "request body is not valid UTF-8"


def test_form_errors_are_request_errors_with_status_400() -> None:
    with pytest.raises(RequestError) as info:
        parse_form(b"a=1&a=2")
    assert info.value.status == 400


form_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20)


@FAST
@given(st.dictionaries(form_text, form_text, max_size=12))
def test_form_round_trips_urlencode(fields: dict[str, str]) -> None:
    assert parse_form(urlencode(fields).encode()) == fields


@FAST
@given(st.dictionaries(form_text, form_text, max_size=12))
def test_form_round_trips_percent20_encoding(fields: dict[str, str]) -> None:
    body = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in fields.items())
    assert parse_form(body.encode()) == fields


@FAST
@given(st.binary(max_size=40))
def test_form_never_raises_anything_but_request_error(body: bytes) -> None:
    try:
        result = parse_form(body)
    except RequestError:
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in result.items())


# --- parse_json -----------------------------------------------------------------------------


def test_json_object() -> None:
    body = b'{"access_token": "tok", "prompt": "hi", "timeout": 5, "stream": true}'
    assert parse_json(body) == {"access_token": "tok", "prompt": "hi", "timeout": 5, "stream": True}


def test_json_nulls_are_dropped() -> None:
    assert parse_json(b'{"prompt": "hi", "conversation_id": null, "x": null}') == {"prompt": "hi"}


def test_json_keeps_falsy_values() -> None:
    assert parse_json(b'{"a": "", "b": 0, "c": false, "d": [], "e": {}}') == {
        "a": "",
        "b": 0,
        "c": False,
        "d": [],
        "e": {},
    }


def test_json_unicode() -> None:
    assert parse_json('{"prompt": "你好 \\u00e9"}'.encode()) == {"prompt": "你好 é"}


@pytest.mark.parametrize("body", [b"[]", b'["prompt"]', b'"prompt"', b"1", b"null", b"true"])
def test_json_non_object_is_rejected(body: bytes) -> None:
    with pytest.raises(RequestError) as info:
        parse_json(body)
    assert info.value.message == "invalid JSON body: expected an object"


@pytest.mark.parametrize(
    "body", [b"{", b"{'a': 1}", b'{"a": 1,}', b"prompt=x", b'{"a": "\xff"}', b"", b"{} {}"]
)
def test_json_invalid_is_rejected(body: bytes) -> None:
    with pytest.raises(RequestError) as info:
        parse_json(body)
    assert info.value.message.startswith("invalid JSON body: ")


def test_json_parameter_limit() -> None:
    at_limit = {f"k{i}": i for i in range(MAX_FIELDS)}
    assert len(parse_json(orjson.dumps(at_limit))) == MAX_FIELDS
    with pytest.raises(RequestError) as info:
        parse_json(orjson.dumps({**at_limit, "extra": 1}))
    assert info.value.message == "too many parameters"


json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | form_text


@FAST
@given(st.dictionaries(form_text, json_scalars, max_size=12))
def test_json_round_trips_without_nulls(fields: dict[str, object]) -> None:
    expected = {k: v for k, v in fields.items() if v is not None}
    assert parse_json(orjson.dumps(fields)) == expected


def test_json_repeated_top_level_key_is_rejected() -> None:
    with pytest.raises(RequestError) as info:
        parse_json(b'{"prompt": "a", "access_token": "t", "prompt": "b"}')
    assert info.value.message == "invalid [prompt]: given more than once"


def test_json_repeated_nested_keys_and_colons_in_strings_are_fine() -> None:
    body = b'{"a": {"x": 1, "x": 2}, "b": [{"k": 1}, {"k": 2}], "c": "\\":\\":"}'
    assert parse_json(body) == {"a": {"x": 2}, "b": [{"k": 1}, {"k": 2}], "c": '":":'}
