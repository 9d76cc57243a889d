"""The demo web backend playing along with the gateway's tool protocol (docs/chatgpt-web-tools.md).

A prompt carrying the protocol's instructions is answered as a model following them would,
deterministically and by the rules of :mod:`.openai_tools`: tools, tool choice and answer schema
are read from the prompt, the conversation from its folded transcript; a named tool is called
with arguments from its schema, tool results are quoted, a schema gets a matching JSON value.
Faults by upstream model name: ``tools-malformed-once`` answers malformed once, then repairs;
``tools-malformed-always`` never does.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .json_schema_values import Hints, value_for_schema
from .openai_tools import ToolSpec, ToolsRequest, plan_calls, tool_results_text

__all__ = ["MALFORMED_ALWAYS", "MALFORMED_ONCE", "is_repair", "protocol_reply"]

CONVERSATION = "\n=== Conversation ===\n\n"
REPAIR = "Your previous reply could not be used:"
MALFORMED_ONCE = "tools-malformed-once"
MALFORMED_ALWAYS = "tools-malformed-always"
_TOOLS = re.compile(r"^<tools>\n(.*?)\n</tools>$", re.S | re.M)
_SCHEMA = re.compile(r"^<schema>\n(.*?)\n</schema>$", re.S | re.M)
_FORCED = re.compile(r'You must call the tool "([^"]+)" in this reply')
_HEADING = "Here is our conversation so far:\n\n"
_LATEST = "\n\nNow answer my latest message:\n\n"
_AFTER_RESULTS = "The entries just above are tool results"
_ENTRY = re.compile(
    r"\n\n(?=(?:System|User|Assistant|Assistant \(tool calls\)|Tool result \([^)]*\)): )"
)
_RESULT = re.compile(r"^Tool result \(([^,)]*)(?:, ([^)]*))?\): (.*)$", re.S)


def is_repair(prompt: str) -> bool:
    return prompt.startswith(REPAIR)


def protocol_reply(prompt: str, earlier_prompt: str | None, model: str) -> str | None:
    """The answer to a protocol prompt (None: not one). ``earlier_prompt`` is the
    conversation's last protocol prompt before a repair turn."""
    repair = is_repair(prompt)
    if repair:
        if earlier_prompt is None or CONVERSATION not in earlier_prompt:
            return None
        instructions, conversation = prompt, earlier_prompt.split(CONVERSATION, 1)[1]
    elif CONVERSATION in prompt:
        instructions, conversation = prompt.split(CONVERSATION, 1)
    else:
        return None
    faulty = MALFORMED_ALWAYS in model or (MALFORMED_ONCE in model and not repair)
    request = _tools_request(instructions)
    messages, user_text = _read_conversation(conversation)
    calls = plan_calls(request, tuple(messages), user_text)
    if calls:
        if faulty:
            return _malformed_call(request, calls[0].name)
        shown = [{"name": c.name, "arguments": json.loads(c.arguments)} for c in calls]
        return json.dumps({"tool_calls": shown}, ensure_ascii=False)
    schema = _SCHEMA.search(instructions)
    if schema is not None or "with only one JSON object" in instructions:
        if faulty:
            return 'Here is the JSON you asked for: {"answer": '
        if schema is None:
            return json.dumps({"answer": user_text}, ensure_ascii=False)
        value = value_for_schema(json.loads(schema.group(1)), Hints.from_text(user_text))
        return json.dumps(value, ensure_ascii=False)
    return tool_results_text(tuple(messages)) or f'You said: "{user_text}".'


def _tools_request(instructions: str) -> ToolsRequest:
    block = _TOOLS.search(instructions)
    if block is None:
        return ToolsRequest()
    tools = []
    for line in block.group(1).splitlines():
        spec = json.loads(line)
        tools.append(ToolSpec(spec["name"], spec.get("description") or "", spec["parameters"]))
    parallel = "Call at most one tool per reply" not in instructions
    forced = _FORCED.search(instructions)
    if forced is not None:
        return ToolsRequest(tuple(tools), forced.group(1), True, parallel)
    if "You must call at least one tool" in instructions:
        return ToolsRequest(tuple(tools), "required", False, parallel)
    return ToolsRequest(tuple(tools), "auto", False, parallel)


def _read_conversation(text: str) -> tuple[list[dict[str, Any]], str]:
    """The folded conversation as chat messages, and the user's last words."""
    latest: str | None = None
    folded = text.startswith(_HEADING)
    body = text.removeprefix(_HEADING)
    if _LATEST in body:
        body, latest = body.rsplit(_LATEST, 1)
    elif _AFTER_RESULTS in body:
        body = body.rsplit("\n\n" + _AFTER_RESULTS, 1)[0]
    elif not folded:  # one message: the user's, as it is
        return [{"role": "user", "content": text}], text
    messages = [_message(entry) for entry in _ENTRY.split(body) if entry]
    if latest is not None:
        messages.append({"role": "user", "content": latest})
    users = [m["content"] for m in messages if m["role"] == "user"]
    return messages, users[-1] if users else ""


def _message(entry: str) -> dict[str, Any]:
    result = _RESULT.match(entry)
    if result is not None:
        call_id, _, content = result.groups()
        return {"role": "tool", "tool_call_id": call_id, "content": content}
    label, _, content = entry.partition(": ")
    if label == "Assistant (tool calls)":
        calls = json.loads(content)["tool_calls"]
        return {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call["id"],
                    "type": "function",
                    "function": {"name": call["name"], "arguments": json.dumps(call["arguments"])},
                }
                for call in calls
            ],
        }
    role = {"User": "user", "System": "system"}.get(label, "assistant")
    return {"role": role, "content": content}


def _malformed_call(request: ToolsRequest, name: str) -> str:
    tool = next(t for t in request.tools if t.name == name)
    if tool.parameters.get("required"):
        return json.dumps({"tool_calls": [{"name": name, "arguments": {}}]})
    return '{"tool_calls": [{"name": "' + name + '", "arguments": {'
