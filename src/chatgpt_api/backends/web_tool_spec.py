"""What a request asks of tool and structured-output emulation on ChatGPT web, checked.

:func:`emulation_of` reads the chat completions fields ``tools``, ``tool_choice``,
``parallel_tool_calls`` and ``response_format`` into an :class:`Emulation` (the tools with a
compiled validator for their ``parameters``, the choice, the answer format). Whatever cannot
be emulated — a tool type other than ``function``, a schema that is not a valid JSON schema, a
forced tool that is not listed, an unknown ``response_format`` type — is a 400 naming the
parameter. Schemas are compiled offline: a remote ``$ref`` is never fetched (by
``jsonschema_rs``, imported at the first schema only).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from chatgpt_api.errors import RequestError

if TYPE_CHECKING:
    import jsonschema_rs

_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_EMPTY_OBJECT: Mapping[str, Any] = {"type": "object", "properties": {}}
#: The chat completions fields the emulation honours.
EMULATED_FIELDS = frozenset({"tools", "tool_choice", "parallel_tool_calls", "response_format"})


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """One function the model may call, and the validator of its arguments."""

    name: str
    description: str
    parameters: Mapping[str, Any]
    validator: jsonschema_rs.Validator


@dataclass(frozen=True, slots=True)
class OutputFormat:
    """``response_format``: any JSON object, or a value matching a schema."""

    kind: Literal["json_object", "json_schema"]
    schema: Mapping[str, Any] | None
    validator: jsonschema_rs.Validator | None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Emulation:
    """The tools and the answer format one request asks for."""

    tools: tuple[ToolSpec, ...] = ()
    #: ``"auto"``, ``"none"``, ``"required"`` or ``"forced"`` (then ``forced`` names the tool).
    choice: Literal["auto", "none", "required", "forced"] = "auto"
    forced: str | None = None
    parallel: bool = True
    output: OutputFormat | None = None

    @property
    def calls_tools(self) -> bool:
        """The model may (or must) call tools in this answer."""
        return bool(self.tools) and self.choice != "none"

    @property
    def active(self) -> bool:
        """Something to emulate: tools to offer or an answer format to enforce."""
        return self.calls_tools or self.output is not None

    def tool(self, name: str) -> ToolSpec | None:
        return next((tool for tool in self.tools if tool.name == name), None)


def compile_schema(schema: Any, param: str) -> jsonschema_rs.Validator:
    """A validator for ``schema``; a 400 naming ``param`` when it is not a JSON schema."""
    if not isinstance(schema, dict | bool):
        raise RequestError(f"'{param}' must be a JSON schema (an object).", param=param)
    import jsonschema_rs

    try:
        return jsonschema_rs.validator_for(schema, offline=True)
    except (ValueError, jsonschema_rs.ReferencingError) as exc:
        problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        message = f"'{param}' is not a valid JSON schema: {problem}"
        raise RequestError(message, param=param) from None


def emulation_of(passthrough: Mapping[str, Any] | None) -> Emulation:
    """The emulation a request asks for (an inactive one when it asks for none)."""
    fields = passthrough or {}
    tools = _tools(fields.get("tools"))
    choice, forced = _choice(fields.get("tool_choice"), tools)
    parallel = fields.get("parallel_tool_calls")
    if parallel is not None and not isinstance(parallel, bool):
        raise RequestError("'parallel_tool_calls' must be a boolean.", param="parallel_tool_calls")
    return Emulation(
        tools, choice, forced, parallel is not False, _output(fields.get("response_format"))
    )


def _tools(raw: Any) -> tuple[ToolSpec, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise RequestError("'tools' must be an array of function tools.", param="tools")
    specs: list[ToolSpec] = []
    for index, tool in enumerate(raw):
        param = f"tools[{index}]"
        if not isinstance(tool, dict) or tool.get("type") != "function":
            kind = tool.get("type") if isinstance(tool, dict) else None
            raise RequestError(
                f"'{param}': only function tools can be emulated on ChatGPT web "
                f"(got type {kind!r}).",
                param=f"{param}.type",
            )
        function = tool.get("function")
        if not isinstance(function, dict):
            raise RequestError(f"'{param}.function' must be an object.", param=f"{param}.function")
        name = function.get("name")
        if not isinstance(name, str) or not _TOOL_NAME.match(name):
            raise RequestError(
                f"'{param}.function.name' must be 1 to 64 letters, digits, '_' or '-'.",
                param=f"{param}.function.name",
            )
        if any(spec.name == name for spec in specs):
            raise RequestError(f"'{param}': the tool name {name!r} is listed twice.", param=param)
        description = function.get("description") or ""
        if not isinstance(description, str):
            raise RequestError(
                f"'{param}.function.description' must be a string.",
                param=f"{param}.function.description",
            )
        parameters = function.get("parameters", _EMPTY_OBJECT)
        validator = compile_schema(parameters, f"{param}.function.parameters")
        specs.append(ToolSpec(name, description, parameters, validator))
    return tuple(specs)


def _choice(
    raw: Any, tools: tuple[ToolSpec, ...]
) -> tuple[Literal["auto", "none", "required", "forced"], str | None]:
    if raw is None or raw == "auto":
        return "auto", None
    if raw == "none":
        return "none", None
    if raw == "required":
        if not tools:
            raise RequestError(
                "'tool_choice' is 'required' but no tools are given.", param="tool_choice"
            )
        return "required", None
    name = None
    if isinstance(raw, dict) and raw.get("type") == "function":
        function = raw.get("function")
        name = function.get("name") if isinstance(function, dict) else None
    if not isinstance(name, str):
        raise RequestError(
            "'tool_choice' must be 'none', 'auto', 'required' or "
            '{"type": "function", "function": {"name": ...}}.',
            param="tool_choice",
        )
    if not any(tool.name == name for tool in tools):
        raise RequestError(
            f"'tool_choice' names the function {name!r}, which is not in 'tools'.",
            param="tool_choice",
        )
    return "forced", name


def _output(raw: Any) -> OutputFormat | None:
    if raw is None:
        return None
    kind = raw.get("type") if isinstance(raw, dict) else None
    if kind == "text":
        return None
    if kind == "json_object":
        return OutputFormat("json_object", None, None)
    if kind == "json_schema":
        spec = raw.get("json_schema")
        if not isinstance(spec, dict):
            raise RequestError(
                "'response_format.json_schema' must be an object.",
                param="response_format.json_schema",
            )
        name = spec.get("name") if isinstance(spec.get("name"), str) else None
        schema = spec.get("schema")
        if schema is None:
            return OutputFormat("json_schema", None, None, name)
        validator = compile_schema(schema, "response_format.json_schema.schema")
        return OutputFormat("json_schema", schema, validator, name)
    raise RequestError(
        "'response_format.type' must be 'text', 'json_object' or 'json_schema'.",
        param="response_format.type",
    )
