"""OpenAI error documents for the emulator: :class:`OpenAIError` and the usual 400s' wording."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "OpenAIError",
    "below_min",
    "error_body",
    "invalid_type",
    "invalid_value",
    "json_type",
    "missing",
]


def error_body(
    message: str,
    type_: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    """An OpenAI error document: ``{"error": {message, type, param, code}}``."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


@dataclass
class OpenAIError(Exception):
    """A request the emulator refuses, with the OpenAI error body to answer."""

    status: int
    message: str
    type: str = "invalid_request_error"
    param: str | None = None
    code: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        """The JSON error document."""
        return error_body(self.message, self.type, self.param, self.code)


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def invalid_type(param: str, expected: str, value: Any) -> OpenAIError:
    return OpenAIError(
        400,
        f"Invalid type for '{param}': expected {expected}, but got {json_type(value)} instead.",
        param=param,
        code="invalid_type",
    )


def missing(param: str) -> OpenAIError:
    return OpenAIError(
        400,
        f"Missing required parameter: '{param}'.",
        param=param,
        code="missing_required_parameter",
    )


def below_min(param: str, minimum: int, value: int) -> OpenAIError:
    return OpenAIError(
        400,
        f"Invalid '{param}': integer below minimum value. Expected a value >= {minimum}, "
        f"but got {value} instead.",
        param=param,
        code="integer_below_min_value",
    )


def invalid_value(param: str, message: str) -> OpenAIError:
    """A 400 ``invalid_value`` about ``param``."""
    return OpenAIError(400, message, param=param, code="invalid_value")
