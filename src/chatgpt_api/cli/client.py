"""What the chatting commands talk to: a running service over HTTP, or the service in-process.

:func:`~chatgpt_api.cli.options.open_client` returns a :class:`ChatClient`:
:class:`~chatgpt_api.cli.http_client.HttpClient` when a URL is given, else
:class:`~chatgpt_api.cli.local_client.LocalClient`, which builds the service from the settings
(``CHATGPT_API_*``) exactly as ``chatgpt-api serve`` does. Both speak the public ``/v1`` shapes:
a turn is a ``/v1/chat/completions`` body (:func:`completion_body`), its result an OpenAI
``chat.completion`` object with ``conversation_id`` / ``message_id``.

Every failure reaches the commands as :class:`CliError`, one readable line.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

#: Receives answer text as it arrives (each call: the next piece).
TextSink = Callable[[str], None]


class CliError(Exception):
    """A failure to show the user as ``Error: <message>`` (exit code 1)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class TurnRequest:
    """One user turn, new or continuing a conversation."""

    prompt: str
    model: str | None = None
    #: Sent only when the turn starts a conversation.
    system: str | None = None
    conversation_id: str | None = None
    parent_message_id: str | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """A complete answer and where it sits in its conversation."""

    text: str
    conversation_id: str | None
    message_id: str | None
    #: The OpenAI ``chat.completion`` object (with the two id extensions).
    completion: dict[str, Any]


class ChatClient(Protocol):
    """The operations the CLI needs; both implementations return the ``/v1`` JSON shapes."""

    #: Identifies the target (the state file remembers the last conversation per target).
    target: str

    def check(self) -> None:
        """Fail early (a :class:`CliError`) when the target cannot be used at all."""

    def ask(self, turn: TurnRequest, on_text: TextSink | None) -> Reply: ...

    def list_conversations(self, limit: int, offset: int) -> dict[str, Any]: ...

    def get_conversation(self, conversation_id: str) -> dict[str, Any]: ...

    def export_conversation(self, conversation_id: str) -> dict[str, Any]: ...

    def delete_conversation(self, conversation_id: str) -> dict[str, Any]: ...

    def close(self) -> None: ...


def completion_body(turn: TurnRequest) -> dict[str, Any]:
    """The streaming ``/v1/chat/completions`` request body for ``turn``."""
    messages: list[dict[str, str]] = []
    if turn.system and not turn.conversation_id:
        messages.append({"role": "system", "content": turn.system})
    messages.append({"role": "user", "content": turn.prompt})
    body: dict[str, Any] = {
        "messages": messages,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if turn.model:
        body["model"] = turn.model
    if turn.conversation_id:
        body["conversation_id"] = turn.conversation_id
        if turn.parent_message_id:
            body["parent_message_id"] = turn.parent_message_id
    return body


@dataclass(slots=True)
class CompletionBuilder:
    """Assembles a ``chat.completion`` object from what a stream delivered."""

    model: str
    id: str = ""
    created: int = 0
    text: str = ""
    finish_reason: str | None = None
    conversation_id: str | None = None
    message_id: str | None = None
    usage: dict[str, int] | None = None

    def reply(self) -> Reply:
        completion = {
            "id": self.id or f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": self.created or int(time.time()),
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": self.text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": self.finish_reason or "stop",
                }
            ],
            "usage": self.usage,
            "system_fingerprint": None,
            "conversation_id": self.conversation_id,
            "message_id": self.message_id,
        }
        return Reply(self.text, self.conversation_id, self.message_id, completion)
