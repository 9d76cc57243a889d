"""The base of every wire model, and the constrained scalar types they share.

Every model and typed dict keeps unknown fields (``extra="allow"``: vLLM's ``top_k`` or a
future OpenAI field must reach the upstream) and validates strictly, so that a value is kept
exactly as the client sent it: ``1`` stays an integer and ``1.0`` a float (numbers are
``int | float``), ``true`` is never an integer, ``"1"`` never a number. ``NaN`` and infinities
are refused.

A constrained type reports one clear error whatever went wrong (``expected a number between 0
and 2``), raised as the custom error type ``invalid_value``; its JSON schema is generated from
the same bounds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any, TypeAlias

from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

#: The custom error type of the constrained types below (the message says what is expected).
INVALID_VALUE = "invalid_value"
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
MESSAGE_ID_PATTERN = (
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)


#: The configuration of every wire object (models and typed dicts).
WIRE = ConfigDict(extra="allow", strict=True, allow_inf_nan=False, protected_namespaces=())


class WireModel(BaseModel):
    """A JSON object of the OpenAI wire format: unknown fields kept, values kept as sent."""

    model_config = WIRE


def _number_text(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


@dataclass(frozen=True, eq=False, slots=True)  # hashed by identity: a schema is a dict
class Checked:
    """Annotation metadata: validate with ``schema`` and report one ``expected ...`` error.

    The JSON schema is pydantic's for ``schema``, or ``json_override`` where the generated form
    would be clumsy (``anyOf`` integer / number for a number).
    """

    schema: CoreSchema
    expected: str
    json_override: tuple[tuple[str, Any], ...] = ()

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.custom_error_schema(
            self.schema,
            custom_error_type=INVALID_VALUE,
            custom_error_message=f"expected {self.expected}",
        )

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        if self.json_override:
            return dict(self.json_override)
        return handler(self.schema)


def number(low: float | None = None, high: float | None = None) -> Checked:
    """A JSON number within ``[low, high]``, kept as sent (an integer stays an integer)."""
    integer = core_schema.int_schema(ge=_int_bound(low), le=_int_bound(high), strict=True)
    real = core_schema.float_schema(ge=low, le=high, strict=True, allow_inf_nan=False)
    json: dict[str, Any] = {"type": "number"}
    if low is not None:
        json["minimum"] = low
    if high is not None:
        json["maximum"] = high
    return Checked(
        core_schema.union_schema([integer, real], mode="left_to_right"),
        f"a number{_range_text(low, high)}",
        tuple(json.items()),
    )


def integer(
    low: int | None = INT64_MIN, high: int | None = INT64_MAX, *, expected: str | None = None
) -> Checked:
    """A JSON integer within ``[low, high]`` (by default a signed 64-bit integer), kept as
    sent: JSON Schema counts ``3.0`` as an integer, so a float without a fraction is one too
    (and stays a float)."""
    whole = core_schema.int_schema(ge=low, le=high, strict=True)
    integral = core_schema.float_schema(
        ge=_float_at_least(low),
        le=_float_at_most(high),
        multiple_of=1,
        strict=True,
        allow_inf_nan=False,
    )
    json: dict[str, Any] = {"type": "integer"}
    if low is not None:
        json["minimum"] = low
    if high is not None:
        json["maximum"] = high
    return Checked(
        core_schema.union_schema([whole, integral], mode="left_to_right"),
        expected or f"an integer{_range_text(low, high)}",
        tuple(json.items()),
    )


def _float_at_least(bound: int | None) -> float | None:
    """The smallest float >= ``bound`` (so that an out-of-range integer, which the float
    branch would take, is refused there too)."""
    if bound is None:
        return None
    nearest = float(bound)
    return math.nextafter(nearest, math.inf) if nearest < bound else nearest


def _float_at_most(bound: int | None) -> float | None:
    """The largest float <= ``bound``."""
    if bound is None:
        return None
    nearest = float(bound)
    return math.nextafter(nearest, -math.inf) if nearest > bound else nearest


def _int_bound(bound: float | None) -> int | None:
    return None if bound is None else int(bound)


def _range_text(low: float | None, high: float | None) -> str:
    if low is not None and high is not None and (low, high) != (INT64_MIN, INT64_MAX):
        return f" between {_number_text(low)} and {_number_text(high)}"
    if low is not None and high is None:
        return f" of at least {_number_text(low)}"
    if high is not None and low is None:
        return f" of at most {_number_text(high)}"
    return ""


def text(*, pattern: str | None = None, min_length: int | None = None, expected: str) -> Checked:
    """A JSON string with a pattern or a minimum length, reported as ``expected``."""
    return Checked(
        core_schema.str_schema(pattern=pattern, min_length=min_length, strict=True), expected
    )


Temperature: TypeAlias = Annotated[int | float, number(0, 2)]
Probability: TypeAlias = Annotated[int | float, number(0, 1)]
Penalty: TypeAlias = Annotated[int | float, number(-2, 2)]
TokenCount: TypeAlias = Annotated[int | float, integer(1, INT64_MAX, expected="a positive integer")]
Int64: TypeAlias = Annotated[int | float, integer()]
NonEmptyString: TypeAlias = Annotated[str, text(min_length=1, expected="a non-empty string")]
MessageId: TypeAlias = Annotated[
    str, text(pattern=MESSAGE_ID_PATTERN, expected="an 8-4-4-4-12 hex id")
]
