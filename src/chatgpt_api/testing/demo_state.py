"""Keeping the demo backend's conversations in a JSON file, so a restarted demo continues them.

The served demo (``chatgpt-api serve --demo``) stores its own side of each conversation in the
data directory; without this, a restart would forget the ChatGPT-web conversations the service
still lists, and every follow-up would get the upstream's 404. The file is rewritten whole
(to a temporary file, then renamed) after each turn: demo-sized, never a hot path.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .demo import Conversation, Node

__all__ = ["load_conversations", "save_conversations"]

FORMAT_VERSION = 1


def load_conversations(path: Path) -> dict[str, Conversation]:
    """The conversations saved at ``path`` (none if the file is missing or unreadable)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
        return {}
    conversations: dict[str, Conversation] = {}
    for item in data.get("conversations", []):
        conversation = _conversation(item)
        if conversation is not None:
            conversations[conversation.id] = conversation
    return conversations


def save_conversations(path: Path, conversations: dict[str, Conversation]) -> None:
    """Write ``conversations`` to ``path`` atomically."""
    document = {
        "version": FORMAT_VERSION,
        "conversations": [_document(c) for c in conversations.values()],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(document), encoding="utf-8")
    os.replace(temporary, path)


def _document(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "title": conversation.title,
        "current_node": conversation.current_node,
        "nodes": [[n.id, n.parent, n.role, n.text] for n in conversation.nodes.values()],
    }


def _conversation(item: Any) -> Conversation | None:
    try:
        conversation = Conversation(str(item["id"]), str(item["title"]))
        for node_id, parent, role, text in item["nodes"]:
            conversation.nodes[node_id] = Node(node_id, parent, role, text)
        conversation.current_node = item["current_node"]
    except (KeyError, TypeError, ValueError):
        return None
    return conversation
