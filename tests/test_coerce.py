"""Unit tests for chatgpt_api.api.coerce: JavaScript Number(), number printing, ids, flags."""

from __future__ import annotations

import math
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatgpt_api.api.coerce import is_message_id, js_number, js_number_text, parse_flag

FAST = settings(max_examples=200, deadline=None)


def same_number(a: float, b: float) -> bool:
    if math.isnan(b):
        return math.isnan(a)
    return a == b and math.copysign(1, a) == math.copysign(1, b)


# --- js_number: JavaScript Number(string) ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0.0),
        ("   ", 0.0),
        ("\t\n", 0.0),
        ("5", 5.0),
        ("  5 ", 5.0),
        ("\n5\t", 5.0),
        ("\u00a05\u3000", 5.0),  # any Unicode space separator
        ("\ufeff5", 5.0),  # JavaScript trims the BOM too
        ("\u20285\u2029", 5.0),
        ("1e3", 1000.0),
        ("1E3", 1000.0),
        ("1e+3", 1000.0),
        ("1e-3", 0.001),
        ("2.5e2", 250.0),
        ("0x10", 16.0),
        ("0X10", 16.0),
        ("0xff", 255.0),
        ("0xFF", 255.0),
        ("0o17", 15.0),
        ("0O17", 15.0),
        ("0b11", 3.0),
        ("0B11", 3.0),
        (" 0x10 ", 16.0),
        ("Infinity", math.inf),
        ("+Infinity", math.inf),
        ("-Infinity", -math.inf),
        (" Infinity ", math.inf),
        (".5", 0.5),
        ("5.", 5.0),
        ("+5", 5.0),
        ("-5", -5.0),
        ("-0", -0.0),
        ("0", 0.0),
        ("007", 7.0),
        ("1.5", 1.5),
        ("-1.5", -1.5),
        ("1e400", math.inf),
        ("-1e400", -math.inf),
        ("1e-400", 0.0),
        ("0x" + "f" * 300, math.inf),  # beyond the largest double
        ("1500", 1500.0),
    ],
)
def test_js_number_values(text: str, expected: float) -> None:
    assert same_number(js_number(text), expected)


@pytest.mark.parametrize(
    "text",
    [
        "abc",
        "1_000",
        "inf",
        "-inf",
        "infinity",
        "INFINITY",
        "nan",
        "NaN",
        "0x",
        "0o",
        "0b",
        "-0x10",
        "+0x10",
        "0x1g",
        "0o8",
        "0b2",
        "0x1.5",
        "1e",
        "1e+",
        "e3",
        ".",
        "+",
        "-",
        "+-5",
        "5 5",
        "1,000",
        "5px",
        "1.2.3",
        "١٢",  # Arabic-Indic digits: Python's float() takes them, JavaScript does not
        "５",  # fullwidth digit
        "0x١",
        "\x1c5",  # Python's str.strip() removes \x1c; JavaScript does not
        "5\x85",
        "0x_1",
        "1__0",
        "--5",
    ],
)
def test_js_number_nan(text: str) -> None:
    assert math.isnan(js_number(text))


@FAST
@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_js_number_integers(value: int) -> None:
    assert js_number(str(value)) == value
    assert js_number(f"  {value}\n") == value


@FAST
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_js_number_round_trips_python_repr(value: float) -> None:
    assert same_number(js_number(repr(value)), value)


@FAST
@given(st.integers(min_value=0, max_value=2**64))
def test_js_number_radix(value: int) -> None:
    assert js_number(hex(value)) == float(value)
    assert js_number(oct(value)) == float(value)
    assert js_number(bin(value)) == float(value)


@FAST
@given(st.text(alphabet="0123456789.eE+-xobXOB_ aIfinty", max_size=8))
def test_js_number_never_raises(text: str) -> None:
    result = js_number(text)
    assert isinstance(result, float)


# --- js_number_text: JavaScript String(number) ----------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (-5.0, "-5"),
        (5.0, "5"),
        (0.0, "0"),
        (-0.0, "0"),
        (-1.5, "-1.5"),
        (0.1, "0.1"),
        (-1e21, "-1e+21"),
        (1e21, "1e+21"),
        (1.5e21, "1.5e+21"),
        (-1e-7, "-1e-7"),
        (1e-7, "1e-7"),
        (1.5e-7, "1.5e-7"),
        (-0.000001, "-0.000001"),
        (0.0000015, "0.0000015"),
        (0.00001, "0.00001"),
        (-123456789012.0, "-123456789012"),
        (1e20, "100000000000000000000"),
        (1e16, "10000000000000000"),
        (2.0**60, "1152921504606847000"),  # shortest digits, padded with zeros (not exact)
        (1.2345678901234568e20, "123456789012345680000"),
        (-9007199254740993.0, "-9007199254740992"),
        (123.456, "123.456"),
        (-1e300, "-1e+300"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (math.inf, "Infinity"),
        (-math.inf, "-Infinity"),
        (math.nan, "NaN"),
    ],
)
def test_js_number_text(value: float, expected: str) -> None:
    assert js_number_text(value) == expected


@FAST
@given(st.floats(allow_nan=False))
def test_js_number_text_reads_back(value: float) -> None:
    text = js_number_text(value)
    assert same_number(js_number(text), 0.0 if value == 0 else value)
    if math.isfinite(value):
        assert "e" not in text or "e+" in text or "e-" in text
        assert not text.endswith(".0")
        # JavaScript switches to exponent form exactly outside [1e-6, 1e21).
        assert ("e" in text) == (value != 0 and not 1e-6 <= abs(value) < 1e21)


@FAST
@given(st.integers(min_value=-(2**53), max_value=2**53))
def test_js_number_text_integers(value: int) -> None:
    assert js_number_text(float(value)) == str(value)


# --- is_message_id --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "2f9c1e7a-5b3d-4c8e-9a1f-6d2b7e4c0a13",
        "6a1b2c3d-4e5f-8012-9abc-def012345678",  # version nibble 8
        "670e921b-cbb0-8002-9abc-a1ba20e84d4a",
        "aaa1f0c2-3d4e-4f5a-8b6c-7d8e9f0a1b2c",
        "B1D2C3E4-F5A6-4B7C-8D9E-0F1A2B3C4D5E",
        "b1D2c3E4-f5A6-4b7C-8d9E-0f1A2b3C4d5E",
        "00000000-0000-0000-0000-000000000000",
        "ffffffff-ffff-ffff-ffff-ffffffffffff",
        "12345678-1234-0234-c234-123456789abc",  # version 0, non-RFC variant: still accepted
    ],
)
def test_is_message_id_accepts(value: str) -> None:
    assert is_message_id(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "2f9c1e7a-5b3d-4c8e-9a1f-6d2b7e4c0a13\n",
        "\n2f9c1e7a-5b3d-4c8e-9a1f-6d2b7e4c0a13",
        " 2f9c1e7a-5b3d-4c8e-9a1f-6d2b7e4c0a13",
        "2f9c1e7a-5b3d-4c8e-9a1f-6d2b7e4c0a13 ",
        "2f9c1e7a5b3d4c8e9a1f6d2b7e4c0a13",
        "{2f9c1e7a-5b3d-4c8e-9a1f-6d2b7e4c0a13}",
        "2f9c1e7a-5b3d-4c8e-9a1f-6d2b7e4c0a1",
        "2f9c1e7a-5b3d-4c8e-9a1f-6d2b7e4c0a134",
        "2f9c1e7a-5b3d-4c8e-9a1f6-d2b7e4c0a13",
        "2f9c1e7g-5b3d-4c8e-9a1f-6d2b7e4c0a13",
        "2f9c1e7a_5b3d_4c8e_9a1f_6d2b7e4c0a13",
        "urn:uuid:2f9c1e7a-5b3d-4c8e-9a1f-6d2b7e4c0a13",
        "２f9c1e7a-5b3d-4c8e-9a1f-6d2b7e4c0a13",  # fullwidth digit
        "x",
    ],
)
def test_is_message_id_rejects(value: str) -> None:
    assert not is_message_id(value)


@FAST
@given(st.uuids(), st.booleans())
def test_is_message_id_accepts_any_uuid(value: uuid.UUID, upper: bool) -> None:
    text = str(value).upper() if upper else str(value)
    assert is_message_id(text)
    assert not is_message_id(text + "\n")
    assert not is_message_id(text[:-1])


@FAST
@given(st.text(max_size=40))
def test_is_message_id_matches_the_shape(value: str) -> None:
    groups = value.split("-")
    shaped = [len(g) for g in groups] == [8, 4, 4, 4, 12] and all(
        c in "0123456789abcdefABCDEF" for g in groups for c in g
    )
    assert is_message_id(value) == shaped


# --- parse_flag -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("True", True),
        (" true ", True),
        ("1", True),
        ("yes", True),
        ("on", True),
        ("ON", True),
        ("false", False),
        ("False", False),
        ("0", False),
        ("no", False),
        ("off", False),
        ("", False),
        ("  ", False),
        ("maybe", None),
        ("2", None),
        ("truex", None),
        ("t", None),
        ("-1", None),
    ],
)
def test_parse_flag(value: str, expected: bool | None) -> None:
    assert parse_flag(value) is expected
