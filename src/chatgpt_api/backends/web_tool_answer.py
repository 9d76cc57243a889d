"""Reading a ChatGPT web reply under the tool protocol: a tool call, JSON, or plain text.

* :func:`call_state` says, for the text received so far, whether it is a tool call
  (``"call"``), plain text (``"text"``), or still undecided (``"maybe"``: a prefix of the call
  format — blanks, an optional ```` ```json ```` fence line, ``{``, ``"tool_calls"``). While it
  is undecided, streamed text is held back; plain text then streams as usual.
* :func:`parse_calls` turns a tool-call reply into chat completions ``tool_calls`` (ids
  ``call_…``), the arguments validated against each tool's schema and the tool choice checked.
* :func:`parse_output` checks a structured-output reply (JSON, matching the schema).

A reply that breaks the protocol raises :class:`InvalidReply`, whose ``problem`` is told to the
model in the repair turn (and to the client in the error if the repaired reply is no better).
"""

from __future__ import annotations

import json
import secrets
import string
from typing import TYPE_CHECKING, Any, Literal

from chatgpt_api.backends.web_tool_spec import Emulation, OutputFormat
from chatgpt_api.errors import UpstreamError

if TYPE_CHECKING:
    import jsonschema_rs

CallState = Literal["call", "text", "maybe"]
_KEY = '"tool_calls"'
_ID_ALPHABET = string.ascii_letters + string.digits
_MAX_PROBLEMS = 3


class InvalidReply(Exception):
    """The reply does not follow the protocol; ``problem`` says how (for the model)."""

    def __init__(self, problem: str, tool: str | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.tool = tool


class ToolEmulationFailed(UpstreamError):
    """The model's reply broke the tool protocol, even after one repair turn (502)."""

    code = "tool_emulation_failed"


def new_call_id() -> str:
    """A fresh ``call_…`` id (24 letters and digits, like OpenAI's)."""
    return "call_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(24))


def _unfenced(text: str) -> str | None:
    """``text`` without blanks and a leading ```` ``` ````/```` ```json ```` fence line; None
    while such a fence line is still incomplete; ``"x"`` for another fence (never a call)."""
    stripped = text.lstrip()
    if not stripped.startswith("`"):
        return stripped
    if not stripped.startswith("```"):
        return None if "```".startswith(stripped) else "x"
    language, newline, rest = stripped[3:].partition("\n")
    language = language.strip().lower()
    if not newline:
        return None if "json".startswith(language) else "x"
    return rest.lstrip() if language in ("", "json") else "x"


def call_state(text: str) -> CallState:
    """Whether ``text`` (the reply so far) is, is not, or may still become a tool call."""
    body = _unfenced(text)
    if body is None or body == "":
        return "maybe"
    if not body.startswith("{"):
        return "text"
    rest = body[1:].lstrip()
    if rest.startswith(_KEY):
        return "call"
    return "maybe" if _KEY.startswith(rest) else "text"


def _json_body(text: str) -> str:
    """The reply without a surrounding code fence."""
    body = text.strip()
    if body.startswith("```"):
        body = body[3:].partition("\n")[2]
        if body.rstrip().endswith("```"):
            body = body.rstrip()[:-3]
    return body.strip()


def _problems(validator: jsonschema_rs.Validator, value: Any) -> str | None:
    found = []
    for error in validator.iter_errors(value):
        where = "/".join(str(p) for p in error.instance_path)
        found.append(f"{error.message} (at /{where})" if where else error.message)
        if len(found) == _MAX_PROBLEMS:
            break
    return "; ".join(found) if found else None


def parse_calls(text: str, emulation: Emulation) -> list[dict[str, Any]]:
    """The reply's calls as chat completions ``tool_calls``; raises :class:`InvalidReply`."""
    try:
        reply = json.loads(_json_body(text))
    except ValueError as exc:
        raise InvalidReply(f"the tool call is not valid JSON ({exc}).") from None
    calls = reply.get("tool_calls") if isinstance(reply, dict) else None
    if not isinstance(calls, list) or not calls or set(reply) != {"tool_calls"}:
        raise InvalidReply(
            'a tool call reply must be exactly {"tool_calls":[...]} with at least one call.'
        )
    if len(calls) > 1 and not emulation.parallel:
        raise InvalidReply("only one tool may be called per reply.")
    out = []
    for index, call in enumerate(calls):
        out.append(_one_call(call, index, emulation))
    if emulation.choice == "forced":
        other = next((c for c in out if c["function"]["name"] != emulation.forced), None)
        if other is not None:
            raise InvalidReply(
                f'only the tool "{emulation.forced}" may be called in this reply.',
                tool=other["function"]["name"],
            )
    return out


def _one_call(call: Any, index: int, emulation: Emulation) -> dict[str, Any]:
    if not isinstance(call, dict) or not isinstance(call.get("name"), str):
        raise InvalidReply(f'tool_calls[{index}] must be an object with a "name" string.')
    name = call["name"]
    tool = emulation.tool(name)
    if tool is None:
        known = ", ".join(t.name for t in emulation.tools)
        raise InvalidReply(f'there is no tool "{name}" (the tools are: {known}).', tool=name)
    arguments = call.get("arguments", {})
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except ValueError:
            raise InvalidReply(
                f'the arguments of "{name}" are not valid JSON.', tool=name
            ) from None
    if not isinstance(arguments, dict):
        raise InvalidReply(f'the arguments of "{name}" must be a JSON object.', tool=name)
    problems = _problems(tool.validator, arguments)
    if problems:
        raise InvalidReply(
            f'the arguments of "{name}" do not match its schema: {problems}.', tool=name
        )
    return {
        "id": new_call_id(),
        "type": "function",
        "function": {
            "name": name,
            "arguments": json.dumps(arguments, ensure_ascii=False, separators=(",", ":")),
        },
    }


def parse_output(text: str, output: OutputFormat) -> str:
    """The reply's JSON text, checked against the answer format; raises :class:`InvalidReply`."""
    body = _json_body(text)
    try:
        value = json.loads(body)
    except ValueError:
        raise InvalidReply("the answer is not a single valid JSON value.") from None
    if output.kind == "json_object" and not isinstance(value, dict):
        raise InvalidReply("the answer must be a JSON object.")
    if output.validator is not None:
        problems = _problems(output.validator, value)
        if problems:
            raise InvalidReply(f"the answer does not match the JSON schema: {problems}.")
    return body
