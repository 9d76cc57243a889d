"""The dynamic "demo" ChatGPT web backend of the emulator.

It answers ``POST .../conversation`` like the real service, deterministically (``You said:
"<prompt>". This is turn N of this conversation.``, or the tool protocol's answers,
:mod:`.web_tool_play`), in the legacy cumulative format or, when asked, the delta encoding.
Conversations are trees in memory, so follow-ups work; an unknown parent inside a known
conversation hangs under its current node, an unknown ``conversation_id`` is a 404.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .fixtures import F9_BODIES, message_doc, sse_data, sse_event
from .web_tool_play import is_repair, protocol_reply

__all__ = ["Conversation", "DemoBackend", "DemoReply", "Node", "new_conversation_id", "split_text"]

_FINISH = {"finish_details": {"type": "stop", "stop_tokens": [200002]}, "is_complete": True}
_PARTS0 = "/message/content/parts/0"


def new_conversation_id() -> str:
    """A 2024+-style conversation id: Unix time in the first 8 hex digits, version nibble 8."""
    value = uuid.uuid4().int
    value = (value & ~(0xFFFFFFFF << 96)) | ((int(time.time()) & 0xFFFFFFFF) << 96)
    value = (value & ~(0xF << 76)) | (0x8 << 76)  # version 8
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return str(uuid.UUID(int=value))


def split_text(text: str, pieces: int) -> list[str]:
    """``text`` cut into ``pieces`` non-empty parts of nearly equal length (fewer if short)."""
    count = max(1, min(pieces, len(text)))
    size, extra = divmod(len(text), count)
    out: list[str] = []
    start = 0
    for i in range(count):
        end = start + size + (1 if i < extra else 0)
        out.append(text[start:end])
        start = end
    return out


@dataclass
class Node:
    """One node of a conversation tree."""

    id: str
    parent: str | None
    role: str | None
    text: str = ""


@dataclass
class Conversation:
    """A conversation: a tree of nodes and the latest node."""

    id: str
    title: str
    nodes: dict[str, Node] = field(default_factory=dict)
    current_node: str | None = None

    def add(self, node: Node) -> None:
        self.nodes[node.id] = node
        self.current_node = node.id

    def user_turns(self, node_id: str | None) -> int:
        """How many user messages lie on the path from ``node_id`` up to the root."""
        count = 0
        seen: set[str] = set()
        while node_id is not None and node_id in self.nodes and node_id not in seen:
            seen.add(node_id)
            node = self.nodes[node_id]
            count += node.role == "user"
            node_id = node.parent
        return count


@dataclass(frozen=True)
class DemoReply:
    """What the demo backend answers: status, content type and body chunks."""

    status: int
    content_type: str
    chunks: tuple[bytes, ...]
    conversation_id: str | None = None
    assistant_id: str | None = None
    text: str | None = None


def _json_error(status: int, detail: Any) -> DemoReply:
    body = json.dumps({"detail": detail}, separators=(",", ":"), ensure_ascii=False)
    return DemoReply(status, "application/json", (body.encode(),))


@dataclass(frozen=True)
class _Turn:
    conversation: Conversation
    is_new: bool
    user_id: str
    prompt: str
    assistant_id: str
    text: str
    model: str
    system_id: str | None


class DemoBackend:
    """In-memory conversations plus the event generator."""

    def __init__(self, chunks: int = 8, *, state_file: Path | None = None) -> None:
        self.chunks = max(1, chunks)
        self.conversations: dict[str, Conversation] = {}
        #: Where the conversations are kept across restarts (see :mod:`.demo_state`).
        self.state_file = state_file
        if state_file is not None:
            from .demo_state import load_conversations

            self.conversations = load_conversations(state_file)

    # ----------------------------------------------------------------- request handling

    def handle(self, body: bytes, *, seen: str = "") -> DemoReply:
        """Answer one ``POST /conversation`` body (authorisation is checked by the caller).

        ``seen`` describes the attachments the message referenced (checked by the caller);
        it is added to the answer.
        """
        try:
            data = json.loads(body)
        except ValueError as exc:
            return _json_error(400, f"Invalid JSON body: {exc}")
        if not isinstance(data, dict):
            return _json_error(400, "The request body must be a JSON object")
        prompt = _prompt_of(data)
        if prompt is None:
            return _json_error(400, "messages[0].content.parts[0] must be a string")
        conversation_id = data.get("conversation_id")
        parent_id = data.get("parent_message_id")
        model = data.get("model")
        if conversation_id is not None and not isinstance(conversation_id, str):
            return _json_error(400, "conversation_id must be a string")
        if parent_id is not None and not isinstance(parent_id, str):
            return _json_error(400, "parent_message_id must be a string")
        if conversation_id is not None and conversation_id not in self.conversations:
            status, content_type, error_body = F9_BODIES["F9-404"]
            return DemoReply(status, content_type, (error_body,))
        user_id = _user_message_id(data)
        turn = self._record_turn(
            conversation_id,
            parent_id,
            user_id,
            prompt,
            model if isinstance(model, str) else "",
            seen,
        )
        encodings = data.get("supported_encodings")
        v1 = isinstance(encodings, list) and "v1" in encodings
        chunks = self._v1_events(turn) if v1 else self._legacy_events(turn)
        return DemoReply(
            200,
            "text/event-stream; charset=utf-8",
            tuple(chunks),
            conversation_id=turn.conversation.id,
            assistant_id=turn.assistant_id,
            text=turn.text,
        )

    def _record_turn(
        self,
        conversation_id: str | None,
        parent_id: str | None,
        user_id: str,
        prompt: str,
        model: str,
        seen: str = "",
    ) -> _Turn:
        system_id: str | None = None
        parent: str | None
        if conversation_id is None:
            conv = Conversation(new_conversation_id(), _title_for(prompt))
            root_id = parent_id or str(uuid.uuid4())
            conv.add(Node(root_id, None, None))
            system_id = str(uuid.uuid4())
            conv.add(Node(system_id, root_id, "system"))
            self.conversations[conv.id] = conv
            parent = system_id
        else:
            conv = self.conversations[conversation_id]
            parent = parent_id if parent_id in conv.nodes else conv.current_node
        earlier = _earlier_protocol_prompt(conv, parent) if is_repair(prompt) else None
        conv.add(Node(user_id, parent, "user", prompt))
        turn_number = conv.user_turns(user_id)
        text = protocol_reply(prompt, earlier, model) or (
            f'You said: "{prompt}". This is turn {turn_number} of this conversation.{seen}'
        )
        assistant_id = str(uuid.uuid4())
        conv.add(Node(assistant_id, user_id, "assistant", text))
        if self.state_file is not None:
            from .demo_state import save_conversations

            save_conversations(self.state_file, self.conversations)
        return _Turn(
            conversation=conv,
            is_new=conversation_id is None,
            user_id=user_id,
            prompt=prompt,
            assistant_id=assistant_id,
            text=text,
            model=model or "auto",
            system_id=system_id,
        )

    # ----------------------------------------------------------------- event generation

    def _documents(self, turn: _Turn) -> tuple[dict[str, Any] | None, dict[str, Any], Any]:
        now = time.time()
        system = None
        if turn.system_id is not None:
            system = message_doc(
                turn.system_id,
                "system",
                "",
                create_time=None,
                status="finished_successfully",
                end_turn=True,
                weight=0.0,
                metadata={"is_visually_hidden_from_conversation": True},
            )
        user = message_doc(
            turn.user_id,
            "user",
            turn.prompt,
            create_time=now,
            status="finished_successfully",
            end_turn=None,
            weight=1.0,
            metadata={"message_type": None},
        )
        return system, user, now

    def _assistant(
        self, turn: _Turn, text: str, *, created: float, done: bool, first: bool = False
    ) -> dict[str, Any]:
        metadata: dict[str, Any] = {"message_type": "next", "model_slug": turn.model}
        if first:
            metadata = {
                "citations": [],
                **metadata,
                "default_model_slug": turn.model,
                "parent_id": turn.user_id,
            }
        if done:
            metadata.update(_FINISH)
        return message_doc(
            turn.assistant_id,
            "assistant",
            text,
            create_time=created,
            status="finished_successfully" if done else "in_progress",
            end_turn=True if done else None,
            weight=1.0,
            metadata=metadata,
        )

    def _wrap(self, turn: _Turn, message: dict[str, Any]) -> dict[str, Any]:
        return {"message": message, "conversation_id": turn.conversation.id, "error": None}

    def _tail(self, turn: _Turn) -> list[dict[str, Any]]:
        cid = turn.conversation.id
        events: list[dict[str, Any]] = []
        if turn.is_new:
            events.append(
                {
                    "type": "title_generation",
                    "title": turn.conversation.title,
                    "conversation_id": cid,
                }
            )
        return events

    def _legacy_events(self, turn: _Turn) -> list[bytes]:
        system, user, now = self._documents(turn)
        out: list[bytes] = []
        if system is not None:
            out.append(sse_data(self._wrap(turn, system)))
        out.append(sse_data(self._wrap(turn, user)))
        created = now + 0.2
        out.append(
            sse_data(
                self._wrap(turn, self._assistant(turn, "", created=created, done=False, first=True))
            )
        )
        pieces = split_text(turn.text, self.chunks)
        so_far = ""
        for index, piece in enumerate(pieces):
            so_far += piece
            done = index == len(pieces) - 1
            out.append(
                sse_data(
                    self._wrap(turn, self._assistant(turn, so_far, created=created, done=done))
                )
            )
        out.extend(sse_data(event) for event in self._tail(turn))
        out.append(
            sse_data({"type": "message_stream_complete", "conversation_id": turn.conversation.id})
        )
        out.append(b"data: [DONE]\n\n")
        return out

    def _v1_events(self, turn: _Turn) -> list[bytes]:
        system, user, now = self._documents(turn)
        cid = turn.conversation.id
        out = [
            sse_event("delta_encoding", "v1"),
            sse_data(
                {
                    "type": "resume_conversation_token",
                    "kind": "conduit",
                    "token": secrets.token_urlsafe(24),
                    "conversation_id": cid,
                }
            ),
        ]
        documents = [doc for doc in (system, user) if doc is not None]
        created = now + 0.2
        documents.append(self._assistant(turn, "", created=created, done=False, first=True))
        for index, doc in enumerate(documents):
            delta: dict[str, Any] = {"v": self._wrap(turn, doc), "c": index}
            if index == 0:
                delta = {"p": "", "o": "add", **delta}
            out.append(sse_event("delta", delta))
        out.append(
            sse_data(
                {
                    "type": "message_marker",
                    "conversation_id": cid,
                    "message_id": turn.assistant_id,
                    "marker": "user_visible_token",
                    "event": "first",
                }
            )
        )
        pieces = split_text(turn.text, self.chunks)
        *streamed, last = pieces
        for index, piece in enumerate(streamed):
            if index == 0:
                out.append(sse_event("delta", {"p": _PARTS0, "o": "append", "v": piece}))
            else:
                out.append(sse_event("delta", {"v": piece}))
        out.extend(sse_data(event) for event in self._tail(turn))
        patch = [
            {"p": _PARTS0, "o": "append", "v": last},
            {"p": "/message/status", "o": "replace", "v": "finished_successfully"},
            {"p": "/message/end_turn", "o": "replace", "v": True},
            {"p": "/message/metadata", "o": "append", "v": _FINISH},
        ]
        out.append(sse_event("delta", {"p": "", "o": "patch", "v": patch}))
        out.append(sse_data({"type": "message_stream_complete", "conversation_id": cid}))
        out.append(b"data: [DONE]\n\n")
        return out


def _earlier_protocol_prompt(conv: Conversation, node_id: str | None) -> str | None:
    """The last prompt before ``node_id`` that is not a repair turn (what a repair repairs)."""
    seen: set[str] = set()
    while node_id is not None and node_id in conv.nodes and node_id not in seen:
        seen.add(node_id)
        node = conv.nodes[node_id]
        if node.role == "user" and not is_repair(node.text):
            return node.text
        node_id = node.parent
    return None


def _prompt_of(data: dict[str, Any]) -> str | None:
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages or not isinstance(messages[0], dict):
        return None
    content = messages[0].get("content")
    if not isinstance(content, dict):
        return None
    parts = content.get("parts")
    if content.get("content_type") == "multimodal_text" and isinstance(parts, list):
        texts = [part for part in parts if isinstance(part, str)]  # beside image pointers
        return "\n".join(texts) if texts else None
    if not isinstance(parts, list) or not parts or not isinstance(parts[0], str):
        return None
    return parts[0]


def _user_message_id(data: dict[str, Any]) -> str:
    message = data["messages"][0]
    msg_id = message.get("id")
    return msg_id if isinstance(msg_id, str) and msg_id else "aaa" + str(uuid.uuid4())[3:]


def _title_for(prompt: str) -> str:
    words = prompt.split()
    return " ".join(words[:5]) if words else "New chat"
