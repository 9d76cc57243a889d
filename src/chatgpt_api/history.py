"""Fitting a conversation into what an upstream takes.

:func:`trim_history` applies the history budget of stateless backends (leading system messages
and the newest messages that fit; the new message always kept). :func:`fold_transcript` maps a
message list onto the ChatGPT web protocol's one user message: earlier messages become a
labelled transcript in front of the last one. Tool traffic is labelled as such, never as the
user's words (docs/chatgpt-web-tools.md); a conversation ending with tool results ends with
:data:`AFTER_TOOL_RESULTS`.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from chatgpt_api.messages import Message

#: The end of a folded conversation whose last messages are tool results.
AFTER_TOOL_RESULTS = (
    "The entries just above are tool results: the output of the tools you called, not words "
    "of the user. Continue from them: answer the user's last message using them, or call "
    "another tool if you need one."
)


def trim_history(
    messages: Sequence[Message], *, max_messages: int, max_chars: int
) -> tuple[Message, ...]:
    if not messages:
        return ()
    head = 0
    while head < len(messages) - 1 and messages[head].role in ("system", "developer"):
        head += 1
    system, rest = list(messages[:head]), list(messages[head:])
    budget_messages = max(1, max_messages - len(system))
    budget_chars = max_chars - sum(len(m.content) for m in system)
    kept: list[Message] = [rest[-1]]
    used = len(rest[-1].content)
    for message in reversed(rest[:-1]):
        if len(kept) >= budget_messages or used + len(message.content) > budget_chars:
            break
        kept.append(message)
        used += len(message.content)
    kept.reverse()
    # A tool result without the assistant message that called it is refused by upstreams.
    while len(kept) > 1 and kept[0].role == "tool":
        kept.pop(0)
    return (*system, *kept)


_LABELS = {
    "system": "System",
    "developer": "System",
    "user": "User",
    "assistant": "Assistant",
    "tool": "Tool",
}


def follow_up_messages(messages: Sequence[Message]) -> tuple[Message, ...]:
    """What a follow-up in a stateful conversation sends: the last message — or, when the list
    ends with tool results, all of them (the calls they answer are upstream already)."""
    start = len(messages) - 1
    if start >= 0 and messages[start].role == "tool":
        while start > 0 and messages[start - 1].role == "tool":
            start -= 1
    return tuple(messages[max(start, 0) :])


def fold_transcript(messages: Sequence[Message]) -> str:
    """One prompt holding the whole conversation, ending with the last user message (or, when
    the conversation ends with tool results, with those results shown as such)."""
    if messages and messages[-1].role == "tool":
        return _fold_after_tool_results(messages)
    if len(messages) == 1:
        return messages[0].content
    *earlier, last = messages
    names = _call_names(messages)
    transcript = "\n\n".join(_entry(m, names) for m in earlier)
    return (
        "Here is our conversation so far:\n\n"
        f"{transcript}\n\n"
        f"Now answer my latest message:\n\n{last.content}"
    )


def _fold_after_tool_results(messages: Sequence[Message]) -> str:
    names = _call_names(messages)
    transcript = "\n\n".join(_entry(m, names) for m in messages)
    heading = "Here is our conversation so far:\n\n" if len(messages) > 1 else ""
    return f"{heading}{transcript}\n\n{AFTER_TOOL_RESULTS}"


def _entry(message: Message, names: Mapping[str, str]) -> str:
    """One labelled entry of the transcript."""
    raw = message.raw or {}
    if message.role == "tool":
        call_id = raw.get("tool_call_id")
        call_id = call_id if isinstance(call_id, str) else "unknown call"
        name = names.get(call_id) or raw.get("name")
        about = f"{call_id}, {name}" if isinstance(name, str) and name else call_id
        return f"Tool result ({about}): {message.content}"
    calls = raw.get("tool_calls") if message.role == "assistant" else None
    if not calls or not isinstance(calls, list):
        return f"{_LABELS[message.role]}: {message.content}"
    shown = {"tool_calls": [_shown_call(call) for call in calls if isinstance(call, dict)]}
    rendered = "Assistant (tool calls): " + json.dumps(shown, ensure_ascii=False)
    if message.content:
        return f"Assistant: {message.content}\n\n{rendered}"
    return rendered


def _shown_call(call: Mapping[str, Any]) -> dict[str, Any]:
    function = call.get("function")
    function = function if isinstance(function, dict) else {}
    arguments: Any = function.get("arguments")
    if isinstance(arguments, str):
        with contextlib.suppress(ValueError):  # else shown as the string it is
            arguments = json.loads(arguments)
    return {"id": call.get("id"), "name": function.get("name"), "arguments": arguments}


def _call_names(messages: Sequence[Message]) -> dict[str, str]:
    """Tool call id → the called function's name, from the assistants' calls."""
    names: dict[str, str] = {}
    for message in messages:
        calls = (message.raw or {}).get("tool_calls") if message.role == "assistant" else None
        for call in calls if isinstance(calls, list) else ():
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict) and isinstance(call.get("id"), str):
                names[call["id"]] = str(function.get("name"))
    return names
