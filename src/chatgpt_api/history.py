"""Fitting a conversation into what an upstream takes.

* :func:`trim_history` applies the history budget for stateless backends: system messages at
  the start are kept, then the newest messages that fit within ``max_messages`` and
  ``max_chars`` (oldest dropped first); the new user message is always kept.
* :func:`fold_transcript` maps a whole OpenAI message list onto the ChatGPT web protocol, which
  takes one user message per turn: earlier messages become a labelled transcript in front of
  the last user message. (With ``conversation_id``/``parent_message_id`` the web backend keeps
  the history itself and only the new message is sent.)
"""

from __future__ import annotations

from collections.abc import Sequence

from chatgpt_api.messages import Message


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


def fold_transcript(messages: Sequence[Message]) -> str:
    """One prompt holding the whole conversation, ending with the last user message."""
    if len(messages) == 1:
        return messages[0].content
    *earlier, last = messages
    lines = [f"{_LABELS[m.role]}: {m.content}" for m in earlier]
    transcript = "\n\n".join(lines)
    return (
        "Here is our conversation so far:\n\n"
        f"{transcript}\n\n"
        f"Now answer my latest message:\n\n{last.content}"
    )
