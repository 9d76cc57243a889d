"""Tool calling as the emulator plays it: the request's tools, which to call, and with what.

:func:`plan_calls` decides deterministically: none for ``tool_choice: "none"``; a forced
function always; otherwise, after a user message, the tools the text *mentions* (name or a
keyword of at least 5 letters), or with ``"required"`` the first tool. After tool results
``"auto"`` answers by quoting them (:func:`tool_results_text`). ``parallel_tool_calls: false``
and the legacy ``functions`` keep one call. Arguments are built from the ``parameters`` schema
(:mod:`.json_schema_values`), filled from the user's words where they fit.
"""

from __future__ import annotations

import json
import re
import secrets
import string
from dataclasses import dataclass
from typing import Any

from .json_schema_values import Hints, value_for_schema
from .openai_errors import OpenAIError, invalid_type, invalid_value, missing

__all__ = [
    "ToolCall",
    "ToolSpec",
    "ToolsRequest",
    "new_call_id",
    "parse_tools",
    "plan_calls",
    "tool_results_text",
]

_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_WORDS = re.compile(r"[A-Za-z]+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_ID_ALPHABET = string.ascii_letters + string.digits
KEYWORD_MIN_LETTERS = 5
COMMON_WORDS = frozenset(
    [
        "about",
        "above",
        "after",
        "again",
        "along",
        "already",
        "among",
        "another",
        "before",
        "being",
        "below",
        "between",
        "could",
        "every",
        "first",
        "given",
        "going",
        "their",
        "there",
        "these",
        "thing",
        "those",
        "through",
        "under",
        "until",
        "using",
        "value",
        "values",
        "where",
        "which",
        "while",
        "would",
        "should",
        "other",
        "return",
        "returns",
        "result",
        "results",
    ]
)


@dataclass(frozen=True)
class ToolSpec:
    """One function the model may call."""

    name: str
    description: str
    parameters: dict[str, Any]

    def keywords(self) -> set[str]:
        words = _WORDS.findall(_CAMEL.sub(" ", self.name)) + _WORDS.findall(self.description)
        return {
            w.lower()
            for w in words
            if len(w) >= KEYWORD_MIN_LETTERS and w.lower() not in COMMON_WORDS
        }

    def mentioned_in(self, text: str) -> bool:
        low = text.lower()
        phrases = {self.name.lower(), re.sub(r"[_-]+", " ", self.name).lower(), *self.keywords()}
        return any(re.search(r"(?<!\w)" + re.escape(p) + r"(?!\w)", low) for p in phrases)


@dataclass(frozen=True)
class ToolCall:
    """A call the assistant makes."""

    id: str
    name: str
    arguments: str

    def tool_call(self) -> dict[str, Any]:
        """The ``tool_calls`` item of a whole message."""
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


@dataclass(frozen=True)
class ToolsRequest:
    """The tool-related fields of a chat request."""

    tools: tuple[ToolSpec, ...] = ()
    #: ``"none"``, ``"auto"``, ``"required"``, or the name of a forced function.
    choice: str = "auto"
    forced: bool = False
    parallel: bool = True
    #: The request used the legacy ``functions`` / ``function_call`` fields.
    legacy: bool = False


def new_call_id() -> str:
    """A fresh ``call_…`` id (24 letters and digits, like the real ones)."""
    return "call_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(24))


def _function(param: str, raw: Any) -> ToolSpec:
    if not isinstance(raw, dict):
        raise invalid_type(param, "an object", raw)
    name = raw.get("name")
    if name is None:
        raise missing(f"{param}.name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise invalid_value(
            f"{param}.name",
            f"Invalid '{param}.name': string does not match pattern. Expected a string that "
            "matches the pattern '^[a-zA-Z0-9_-]+$' of at most 64 characters.",
        )
    description = raw.get("description")
    if description is not None and not isinstance(description, str):
        raise invalid_type(f"{param}.description", "a string", description)
    parameters = raw.get("parameters", {"type": "object", "properties": {}})
    if not isinstance(parameters, dict):
        raise invalid_type(f"{param}.parameters", "an object", parameters)
    return ToolSpec(name, description or "", parameters)


def _tool_list(doc: dict[str, Any], field: str) -> tuple[ToolSpec, ...]:
    raw = doc.get(field)
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise invalid_type(field, "an array", raw)
    specs = []
    for index, tool in enumerate(raw):
        param = f"{field}[{index}]"
        if field == "functions":
            specs.append(_function(param, tool))
            continue
        if not isinstance(tool, dict):
            raise invalid_type(param, "an object", tool)
        if "type" not in tool:
            raise missing(f"{param}.type")
        if tool["type"] == "function":
            if "function" not in tool:
                raise missing(f"{param}.function")
            specs.append(_function(f"{param}.function", tool["function"]))
    return tuple(specs)


def _choice(field: str, value: Any, tools: tuple[ToolSpec, ...]) -> tuple[str, bool]:
    if value is None:
        return "auto", False
    if isinstance(value, str):
        allowed = ("none", "auto") if field == "function_call" else ("none", "auto", "required")
        if value not in allowed:
            raise invalid_value(
                field,
                f"Invalid value: '{value}'. Supported values are: "
                + ", ".join(f"'{a}'" for a in allowed)
                + ", or an object naming a function.",
            )
        return value, False
    if not isinstance(value, dict):
        raise invalid_type(field, "a string or an object", value)
    target = value if field == "function_call" else value.get("function")
    if field == "tool_choice" and value.get("type") != "function":
        raise invalid_value(f"{field}.type", "Invalid value: only 'function' can be forced.")
    name = target.get("name") if isinstance(target, dict) else None
    if not isinstance(name, str):
        raise missing(f"{field}.name" if field == "function_call" else f"{field}.function.name")
    if name not in {t.name for t in tools}:
        raise OpenAIError(
            400,
            f"Invalid value for '{field}': no function named '{name}' was specified in the "
            f"'{'functions' if field == 'function_call' else 'tools'}' parameter.",
            param=field,
            code="invalid_value",
        )
    return name, True


def parse_tools(doc: dict[str, Any]) -> ToolsRequest:
    """The tool fields of a request body; raises :class:`OpenAIError` (400)."""
    tools = _tool_list(doc, "tools")
    functions = _tool_list(doc, "functions")
    raw_tools = doc.get("tools")
    for field in ("tool_choice", "parallel_tool_calls"):
        if doc.get(field) is not None and not raw_tools:
            raise OpenAIError(
                400,
                f"Invalid value for '{field}': '{field}' is only allowed when 'tools' are "
                "specified.",
                param=field,
            )
    if doc.get("function_call") is not None and not doc.get("functions"):
        raise OpenAIError(
            400,
            "Invalid value for 'function_call': 'function_call' is only allowed when "
            "'functions' are specified.",
            param="function_call",
        )
    parallel = doc.get("parallel_tool_calls")
    if parallel is not None and not isinstance(parallel, bool):
        raise invalid_type("parallel_tool_calls", "a boolean", parallel)
    if functions and not raw_tools:
        choice, forced = _choice("function_call", doc.get("function_call"), functions)
        return ToolsRequest(functions, choice, forced, parallel=False, legacy=True)
    choice, forced = _choice("tool_choice", doc.get("tool_choice"), tools)
    return ToolsRequest(tools, choice, forced, parallel=parallel is not False)


def _arguments(tool: ToolSpec, user_text: str) -> str:
    value = value_for_schema(tool.parameters, Hints.from_text(user_text), tool.name)
    if not isinstance(value, dict):
        value = {}
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _called_names(messages: tuple[dict[str, Any], ...]) -> set[str]:
    names: set[str] = set()
    for message in messages:
        if message.get("role") != "assistant":
            continue
        for call in message.get("tool_calls") or ():
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict) and isinstance(function.get("name"), str):
                names.add(function["name"])
        legacy = message.get("function_call")
        if isinstance(legacy, dict) and isinstance(legacy.get("name"), str):
            names.add(legacy["name"])
    return names


def plan_calls(
    request: ToolsRequest, messages: tuple[dict[str, Any], ...], user_text: str
) -> list[ToolCall]:
    """The calls of one answer (empty: answer with text); see the module docstring."""
    tools = request.tools
    if not tools or request.choice == "none":
        return []
    if request.forced:
        chosen = [t for t in tools if t.name == request.choice][:1]
    elif messages[-1].get("role") in ("tool", "function"):
        if request.choice != "required":
            return []
        called = _called_names(messages)
        chosen = [next((t for t in tools if t.name not in called), tools[0])]
    elif messages[-1].get("role") != "user":
        return []
    else:
        chosen = [t for t in tools if t.mentioned_in(user_text)]
        if not chosen and request.choice == "required":
            chosen = [tools[0]]
    if not request.parallel:
        chosen = chosen[:1]
    return [ToolCall(new_call_id(), t.name, _arguments(t, user_text)) for t in chosen]


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    return ""


def tool_results_text(messages: tuple[dict[str, Any], ...]) -> str:
    """``The tool NAME returned: RESULT.`` for each trailing tool / function result; "" if none."""
    names: dict[str, str] = {}
    for message in messages:
        if message.get("role") != "assistant":
            continue
        for call in message.get("tool_calls") or ():
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict) and isinstance(call.get("id"), str):
                names[call["id"]] = str(function.get("name"))
    results: list[str] = []
    for message in reversed(messages):
        role = message.get("role")
        if role == "tool":
            call_id = message.get("tool_call_id")
            name = names.get(call_id, f"call {call_id}") if isinstance(call_id, str) else "call"
            results.append(f"The tool {name} returned: {_content_text(message.get('content'))}.")
        elif role == "function":
            name = message.get("name") if isinstance(message.get("name"), str) else "function"
            results.append(
                f"The function {name} returned: {_content_text(message.get('content'))}."
            )
        else:
            break
    return " ".join(reversed(results))
