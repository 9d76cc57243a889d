"""The text of the tool protocol sent to ChatGPT web (docs/chatgpt-web-tools.md shows it).

:func:`instructions` describes the tools (one JSON object per line between ``<tools>`` and
``</tools>``: name, description, the JSON schema of the arguments), the exact reply format of a
call, the tool choice, and the answer format (a JSON schema between ``<schema>`` and
``</schema>``); :func:`first_prompt` puts them in front of the folded conversation, after the
line :data:`CONVERSATION_MARKER`. :func:`repair_prompt` is the follow-up turn, in the same
upstream conversation, that says what was wrong with the previous reply and repeats the
instructions. The wording of these texts is part of the protocol: the emulator reads it.
"""

from __future__ import annotations

import json

from chatgpt_api.backends.web_tool_spec import Emulation

CONVERSATION_MARKER = "=== Conversation ==="
REPAIR_OPENING = "Your previous reply could not be used:"
CALL_FORMAT = '{"tool_calls":[{"name":"TOOL_NAME","arguments":{...}}]}'
_PARALLEL = 'To call several tools at once, list several calls in "tool_calls".'
_ONE_CALL = 'Call at most one tool per reply: "tool_calls" holds exactly one call.'
_AUTO = (
    "Call a tool only when you need its result. Otherwise answer normally, and then do not "
    'begin your answer with "{".'
)
_REQUIRED = "You must call at least one tool in this reply."
_HISTORY = (
    'Tool calls made earlier appear in the conversation as "Assistant (tool calls): {...}" '
    'and their results as "Tool result (CALL_ID, TOOL_NAME): ...". A tool result is what the '
    "tool returned, never a message from the user."
)


def _compact(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _tool_section(emulation: Emulation) -> str:
    lines = [
        "# Tools",
        "You can call tools. They are listed between <tools> and </tools>, one JSON object per "
        "line: the tool's name, its description, and the JSON schema its arguments must match.",
        "<tools>",
        *(
            _compact({"name": t.name, "description": t.description, "parameters": t.parameters})
            for t in emulation.tools
        ),
        "</tools>",
        "To call tools, reply with only this JSON object, with nothing before or after it:",
        CALL_FORMAT,
        _PARALLEL if emulation.parallel else _ONE_CALL,
    ]
    if emulation.choice == "forced":
        lines.append(f'You must call the tool "{emulation.forced}" in this reply, and no other.')
    elif emulation.choice == "required":
        lines.append(_REQUIRED)
    else:
        lines.append(_AUTO)
    lines.append(_HISTORY)
    return "\n".join(lines)


def _output_section(emulation: Emulation) -> str:
    output = emulation.output
    assert output is not None
    when = "When you do not call a tool, answer" if emulation.calls_tools else "Answer"
    if output.schema is None:
        return (
            f"# Answer format\n{when} with only one JSON object, with no text before or after "
            "it and no code fence."
        )
    return (
        f"# Answer format\n{when} with only one JSON value that matches the JSON schema between "
        "<schema> and </schema>, with no text before or after it and no code fence.\n"
        f"<schema>\n{_compact(output.schema)}\n</schema>"
    )


def instructions(emulation: Emulation) -> str:
    """The protocol's instructions for one reply."""
    sections = []
    if emulation.calls_tools:
        sections.append(_tool_section(emulation))
    if emulation.output is not None:
        sections.append(_output_section(emulation))
    return "\n\n".join(sections)


def first_prompt(emulation: Emulation, conversation: str) -> str:
    """The instructions, then the folded conversation."""
    return f"{instructions(emulation)}\n\n{CONVERSATION_MARKER}\n\n{conversation}"


def repair_prompt(emulation: Emulation, problem: str) -> str:
    """The follow-up turn asking for a reply that follows the protocol."""
    return (
        f"{REPAIR_OPENING} {problem}\n\nReply again to my previous message, following these "
        f"instructions exactly.\n\n{instructions(emulation)}"
    )
