"""The emulator's value generator: any schema of the supported grammar gets a valid value."""

from __future__ import annotations

import datetime
import uuid
from enum import Enum
from typing import Any, Literal

import jsonschema_rs
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from chatgpt_api.testing.json_schema_values import Hints, value_for_schema

NAMES = st.from_regex(r"[a-z]{1,8}", fullmatch=True)

LEAVES = st.one_of(
    st.just({"type": "string"}),
    st.just({"type": "boolean"}),
    st.just({"type": "null"}),
    st.builds(
        lambda low, span: {"type": "integer", "minimum": low, "maximum": low + span},
        st.integers(-(10**6), 10**6),
        st.integers(0, 10),
    ),
    st.builds(
        lambda low, high: {"type": "integer", "exclusiveMinimum": low, "exclusiveMaximum": high},
        st.floats(-100, 100),
        st.floats(102, 200),
    ),
    st.builds(
        lambda low: {"type": "number", "exclusiveMinimum": low},
        st.floats(-1e12, 1e12, allow_nan=False),
    ),
    st.builds(lambda high: {"type": "number", "maximum": high}, st.floats(-1e6, 1e6)),
    st.lists(st.text(max_size=5), min_size=1, max_size=3, unique=True).map(lambda v: {"enum": v}),
    st.sampled_from(
        [{"type": "string", "format": f} for f in ("date", "date-time", "email", "uuid", "uri")]
    ),
    st.builds(
        lambda low, extra: {"type": "string", "minLength": low, "maxLength": low + extra},
        st.integers(0, 30),
        st.integers(0, 5),
    ),
    st.integers().map(lambda v: {"const": v}),
    st.just({"type": ["null", "string"]}),
)


def _object(props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": props,
        "required": required,
        "additionalProperties": False,
    }


def _objects(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    def with_required(props: dict[str, Any]) -> st.SearchStrategy[Any]:
        names = sorted(props)
        required = st.lists(st.sampled_from(names), unique=True) if names else st.just([])
        return required.map(lambda req: _object(props, req))

    return st.dictionaries(NAMES, children, max_size=4).flatmap(with_required)


def extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        _objects(children),
        st.builds(
            lambda item, low: {"type": "array", "items": item, "minItems": low},
            children,
            st.integers(0, 3),
        ),
        st.lists(children, min_size=1, max_size=3).map(lambda branches: {"anyOf": branches}),
        children.map(lambda child: {"anyOf": [child, {"type": "null"}]}),
        st.lists(children, min_size=1, max_size=3).map(
            lambda items: {"type": "array", "prefixItems": items}
        ),
        children.map(lambda child: {"allOf": [_object({"x": child}, ["x"])]}),
    )


SCHEMAS = st.recursive(LEAVES, extend, max_leaves=12)
WITH_DEFS = st.tuples(SCHEMAS, SCHEMAS).map(
    lambda pair: {
        "$defs": {"Item": pair[0]},
        **_object({"a": {"$ref": "#/$defs/Item"}, "b": pair[1]}, ["a", "b"]),
    }
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(SCHEMAS, WITH_DEFS))
def test_every_generated_schema_gets_a_valid_value(schema: dict[str, Any]) -> None:
    value = value_for_schema(schema)
    jsonschema_rs.validator_for(schema).validate(value)


class Colour(Enum):
    red = "red"
    blue = "blue"


class Address(BaseModel):
    street: str
    zip_code: str = Field(min_length=5, max_length=5)


class Person(BaseModel):
    name: str
    age: int = Field(gt=17, lt=130)
    score: float = Field(ge=0.5, le=0.75)
    born: datetime.date
    seen: datetime.datetime
    id: uuid.UUID
    colour: Colour
    mood: Literal["happy", "sad"]
    home: Address
    previous: list[Address]
    partner: Person | None
    tags: dict[str, int]
    pair: tuple[int, str]
    nickname: str | None = None


def test_pydantic_models_parse_their_generated_value() -> None:
    schema = Person.model_json_schema()
    value = value_for_schema(schema, Hints.from_text('I am "Ada", 36, and sad'))
    person = Person.model_validate(value)
    assert (person.name, person.age, person.mood) == ("Ada", 36, "sad")
    assert person.home.street == "example street" and len(person.home.zip_code) == 5


def test_hints() -> None:
    hints = Hints.from_text("What's the weather in 'Paris' or “Köln” for 3 days at 2.5 pm, v2?")
    assert hints.strings == ["Paris", "Köln"]
    assert hints.numbers == [3.0, 2.5]
    schema = _object(
        {
            "first": {"type": "string"},
            "second": {"type": "string"},
            "third": {"type": "string"},
            "count": {"type": "integer", "maximum": 2},
            "ratio": {"type": "number"},
            "unit": {"enum": ["celsius", "WEATHER"]},
        },
        ["first", "second", "third", "count", "ratio", "unit"],
    )
    assert value_for_schema(schema, hints) == {
        "first": "Paris",
        "second": "Köln",
        "third": "example third",
        "count": 1,  # 3 is out of bounds, 2.5 is not an integer
        "ratio": 3.0,
        "unit": "WEATHER",
    }
