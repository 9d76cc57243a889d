"""A deterministic value for a JSON schema: the emulator's tool arguments and structured outputs.

:func:`value_for_schema` builds one value valid against a function's ``parameters`` or a
``json_schema`` response format (pydantic's schemas included): required properties, one array
item, the first listed or non-null branch, ``$ref`` / ``allOf`` resolved, bounds and formats
honoured. :class:`Hints` carries values from the user's text — quoted strings, numbers, named
enum values — used where they fit.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Hints", "value_for_schema"]

#: Below this nesting depth optional branches (nullable, empty arrays) are taken.
MAX_DEPTH = 6
_QUOTED = re.compile(r'"([^"\n]+)"|“([^”\n]+)”|(?<!\w)\'([^\'\n]+)\'(?!\w)')
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.]*\w)")
_FORMATS = {
    "date": "2024-01-01",
    "date-time": "2024-01-01T00:00:00Z",
    "time": "12:00:00",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "duration": "P1D",
}


@dataclass
class Hints:
    """Values found in the user's text, handed out in order (see the module docstring)."""

    text: str = ""
    strings: list[str] = field(default_factory=list)
    numbers: list[float] = field(default_factory=list)

    @classmethod
    def from_text(cls, text: str) -> Hints:
        strings = [next(g for g in m.groups() if g is not None) for m in _QUOTED.finditer(text)]
        unquoted = _QUOTED.sub(" ", text)
        numbers = [float(m.group(0)) for m in _NUMBER.finditer(unquoted)]
        return cls(text, strings, numbers)

    def names(self, word: str) -> bool:
        """Whether the text contains ``word`` as a whole word (any case)."""
        pattern = r"(?<!\w)" + re.escape(word.lower()) + r"(?!\w)"
        return re.search(pattern, self.text.lower()) is not None


def value_for_schema(schema: Any, hints: Hints | None = None, name: str = "value") -> Any:
    """A value valid against ``schema`` (a JSON schema as a dict; ``True``/``{}`` mean any)."""
    return _Builder(schema if isinstance(schema, dict) else {}, hints or Hints()).build(
        schema, name, 0
    )


class _Builder:
    def __init__(self, root: dict[str, Any], hints: Hints) -> None:
        self.root = root
        self.hints = hints

    def resolve(self, schema: Any) -> dict[str, Any]:
        """``schema`` with its ``$ref`` chain followed and ``allOf`` merged."""
        seen = 0
        while isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and seen < 32:
            target = self.lookup(schema["$ref"])
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**target, **rest}
            seen += 1
        if not isinstance(schema, dict):
            return {}
        if isinstance(schema.get("allOf"), list):
            merged = {k: v for k, v in schema.items() if k != "allOf"}
            for part in schema["allOf"]:
                branch = self.resolve(part)
                merged.setdefault("properties", {})
                merged["properties"] = {
                    **branch.get("properties", {}),
                    **merged["properties"],
                }
                if "required" in branch or "required" in merged:
                    merged["required"] = [
                        *merged.get("required", []),
                        *branch.get("required", []),
                    ]
                for key, value in branch.items():
                    merged.setdefault(key, value)
            if not merged["properties"]:
                del merged["properties"]
            return merged
        return schema

    def lookup(self, ref: str) -> Any:
        if not ref.startswith("#"):
            return {}
        node: Any = self.root
        for part in ref[1:].split("/"):
            if not part:
                continue
            part = part.replace("~1", "/").replace("~0", "~")
            node = node.get(part) if isinstance(node, dict) else None
        return node if isinstance(node, dict) else {}

    def build(self, raw: Any, name: str, depth: int) -> Any:
        schema = self.resolve(raw)
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return self.pick_enum(schema["enum"])
        for key in ("anyOf", "oneOf"):
            branches = schema.get(key)
            if isinstance(branches, list) and branches:
                return self.build(self.choose(branches, depth), name, depth)
        kind = schema.get("type")
        if isinstance(kind, list):
            kinds = [k for k in kind if isinstance(k, str)]
            concrete = [k for k in kinds if k != "null"]
            kind = (
                "null" if (depth >= MAX_DEPTH and "null" in kinds) or not concrete else concrete[0]
            )
        if kind is None:
            kind = self.infer_type(schema)
        if kind == "object":
            return self.object(schema, depth)
        if kind == "array":
            return self.array(schema, name, depth)
        if kind == "string":
            return self.string(schema, name)
        if kind == "integer":
            return int(self.number(schema, integer=True))
        if kind == "number":
            return self.number(schema, integer=False)
        if kind == "boolean":
            return True
        return None

    def choose(self, branches: list[Any], depth: int) -> Any:
        resolved = [self.resolve(b) for b in branches]
        nulls = [b for b, r in zip(branches, resolved, strict=True) if r.get("type") == "null"]
        others = [b for b, r in zip(branches, resolved, strict=True) if r.get("type") != "null"]
        if depth >= MAX_DEPTH and nulls:
            return nulls[0]
        return others[0] if others else branches[0]

    @staticmethod
    def infer_type(schema: dict[str, Any]) -> str | None:
        if "properties" in schema or "additionalProperties" in schema or "required" in schema:
            return "object"
        if "items" in schema or "prefixItems" in schema:
            return "array"
        if schema == {}:
            return "object"
        return None

    def pick_enum(self, values: list[Any]) -> Any:
        for value in values:
            if isinstance(value, str) and self.hints.names(value):
                return value
        return values[0]

    def object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        properties = schema.get("properties")
        if not isinstance(properties, dict):
            return {}
        required = schema.get("required")
        names = (
            [n for n in properties if n in required]
            if isinstance(required, list)
            else list(properties)
        )
        return {n: self.build(properties[n], n, depth + 1) for n in names}

    def array(self, schema: dict[str, Any], name: str, depth: int) -> list[Any]:
        prefix = schema.get("prefixItems")
        if isinstance(prefix, list):
            return [self.build(item, name, depth + 1) for item in prefix]
        minimum = schema.get("minItems")
        count = minimum if isinstance(minimum, int) and minimum > 0 else 1
        if depth >= MAX_DEPTH and not (isinstance(minimum, int) and minimum > 0):
            return []
        maximum = schema.get("maxItems")
        if isinstance(maximum, int):
            count = min(count, maximum)
        item = schema.get("items", {})
        return [self.build(item, name, depth + 1) for _ in range(count)]

    def string(self, schema: dict[str, Any], name: str) -> str:
        fmt = schema.get("format")
        if isinstance(fmt, str) and fmt in _FORMATS:
            return _FORMATS[fmt]
        if self.hints.strings:
            value = self.hints.strings.pop(0)
        else:
            value = "example " + name.replace("_", " ")
        low, high = schema.get("minLength"), schema.get("maxLength")
        if isinstance(low, int) and len(value) < low:
            value = value + "x" * (low - len(value))
        if isinstance(high, int) and len(value) > high:
            value = value[:high]
        return value

    def number(self, schema: dict[str, Any], *, integer: bool) -> float:
        low, high = _bounds(schema, integer=integer)
        for index, hint in enumerate(self.hints.numbers):
            if (not integer or hint == int(hint)) and low <= hint <= high:
                del self.hints.numbers[index]
                return int(hint) if integer else hint
        default = 1.0 if low <= 1 <= high else low if low > -math.inf else high
        return int(default) if integer else default


def _bounds(schema: dict[str, Any], *, integer: bool) -> tuple[float, float]:
    """The closed interval of allowed values (exclusive bounds moved to the next value)."""
    low, high = -math.inf, math.inf
    if isinstance(schema.get("minimum"), int | float):
        low = float(schema["minimum"])
    if isinstance(schema.get("maximum"), int | float):
        high = float(schema["maximum"])
    above, below = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if isinstance(above, int | float):
        bound = float(math.floor(above) + 1) if integer else math.nextafter(above, math.inf)
        low = max(low, bound)
    if isinstance(below, int | float):
        bound = float(math.ceil(below) - 1) if integer else math.nextafter(below, -math.inf)
        high = min(high, bound)
    if integer:
        low = float(math.ceil(low)) if low > -math.inf else low
        high = float(math.floor(high)) if high < math.inf else high
    return low, high
