"""Stored messages of the conversation tree as Responses API items (the Conversations API's
view), and items back as messages to store.

The items of a conversation are those of its current path, root → tip. A user, system or
developer message is a ``message`` item with ``input_text`` / ``input_image`` / ``input_file``
parts; an assistant message is a ``message`` item with an ``output_text`` part (when it has text)
followed by a ``function_call`` item per tool call; a tool result is a ``function_call_output``
item. A message item's id is the stored message's id; a function call's is
``fc_<message id>_<index>``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from chatgpt_api.messages import Message
from chatgpt_api.store import ConversationStore, NewMessage, StoredMessage
from chatgpt_api.store.attachments import references, resolve


def function_call_id(message_id: str, index: int) -> str:
    return f"fc_{message_id}_{index}"


def message_items(message: StoredMessage) -> list[dict[str, Any]]:
    """The items one stored message (attachments resolved) stands for."""
    payload: Mapping[str, Any] = message.payload or {}
    status = "completed" if message.status == "complete" else "incomplete"
    if message.role == "tool":
        return [
            {
                "type": "function_call_output",
                "id": message.id,
                "call_id": payload.get("tool_call_id") or "",
                "output": message.content,
                "status": status,
            }
        ]
    if message.role != "assistant":
        return [
            {
                "type": "message",
                "id": message.id,
                "role": message.role,
                "status": status,
                "content": _input_parts(payload.get("content"), message.content),
            }
        ]
    items: list[dict[str, Any]] = []
    calls = payload.get("tool_calls") or []
    if message.content or not calls:
        part = {"type": "output_text", "text": message.content, "annotations": [], "logprobs": []}
        items.append(
            {
                "type": "message",
                "id": message.id,
                "role": "assistant",
                "status": status,
                "content": [part],
            }
        )
    for index, call in enumerate(calls):
        if not isinstance(call, dict):
            continue
        function = call.get("function") or {}
        items.append(
            {
                "type": "function_call",
                "id": function_call_id(message.id, index),
                "call_id": call.get("id") or "",
                "name": function.get("name", ""),
                "arguments": function.get("arguments", ""),
                "status": "completed",
            }
        )
    return items


def _input_parts(content: Any, text: str) -> list[dict[str, Any]]:
    if not isinstance(content, list):
        return [{"type": "input_text", "text": text}]
    parts: list[dict[str, Any]] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            parts.append({"type": "input_text", "text": part.get("text", "")})
        elif kind == "image_url":
            image = part.get("image_url") or {}
            parts.append(
                {
                    "type": "input_image",
                    "image_url": image.get("url"),
                    "detail": image.get("detail") or "auto",
                }
            )
        elif kind == "file":
            file = part.get("file") or {}
            parts.append(
                {
                    "type": "input_file",
                    "file_data": file.get("file_data"),
                    "filename": file.get("filename"),
                }
            )
        else:
            parts.append(dict(part) if isinstance(part, dict) else {"type": "unknown"})
    return parts


def path_items(path: Sequence[StoredMessage]) -> list[dict[str, Any]]:
    return [item for message in path for item in message_items(message)]


def new_messages(messages: Sequence[Message]) -> list[NewMessage]:
    """Chat messages as messages to store (their chat form kept when it says more than text)."""
    stored = []
    for message in messages:
        raw = message.raw
        plain = raw is None or (
            raw.keys() <= {"role", "content"} and isinstance(raw.get("content"), str)
        )
        stored.append(NewMessage(message.role, message.content, payload=None if plain else raw))
    return stored


async def resolved_path(
    store: ConversationStore, conversation_id: str, node: str | None
) -> list[StoredMessage]:
    """Root → ``node`` with inline attachments put back (empty for no node)."""
    if node is None:
        return []
    path = await store.path_to(node, conversation_id=conversation_id)
    wanted: set[str] = set()
    for message in path:
        if message.payload is not None:
            wanted |= references(message.payload)
    found = await store.attachments(wanted) if wanted else {}
    return [m if m.payload is None else replace(m, payload=resolve(m.payload, found)) for m in path]


def as_messages(path: Sequence[StoredMessage]) -> tuple[Message, ...]:
    """Stored messages in the form the upstream first received them."""
    return tuple(Message(m.role, m.content, m.payload) for m in path)
