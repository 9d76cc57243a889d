"""Reading the answer out of a ChatGPT web conversation stream (legacy and delta encodings).

:class:`WebAnswerReader` is fed each SSE event's ``data`` and returns our events, without I/O.
Only the assistant's messages to the user count; legacy full texts and delta patches
(:mod:`.delta_v1`) both become text deltas. ``[DONE]`` or a clean end finishes the answer; an
``error`` string is an error, redacted against the request's secrets. With a ``budget``,
patches that do not change the text are charged too. The conversation id is the last one seen,
the answer id the assistant message's.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from chatgpt_api.backends import _json
from chatgpt_api.backends.budget import AnswerBudget, utf8_size
from chatgpt_api.backends.delta_v1 import DeltaDocuments
from chatgpt_api.errors import UpstreamNoAnswer, UpstreamProtocolError, UpstreamStreamError
from chatgpt_api.messages import ChatEvent, Finished, TextDelta, TextReset

INVALID_JSON_MESSAGE = "ChatGPT sent an event that is not valid JSON"
NO_ANSWER_MESSAGE = "ChatGPT sent no answer"
_DELTA_KEYS = ("v", "p", "o")


class WebAnswerReader:
    """State of one answer being read from a web conversation stream."""

    __slots__ = (
        "_budget",
        "_deltas",
        "_secrets",
        "conversation_id",
        "done",
        "message_id",
        "text",
    )

    def __init__(
        self,
        conversation_id: str | None = None,
        *,
        secrets: tuple[str, ...] = (),
        budget: AnswerBudget | None = None,
    ) -> None:
        self.conversation_id = conversation_id
        #: The request's credentials: an in-stream error quoting them is redacted.
        self._secrets = secrets
        #: Charged with delta traffic that does not change the answer (other documents grow
        #: in memory too); the answer's own text is charged by the caller.
        self._budget = budget
        #: The answer's message id; ``None`` until an assistant message arrived.
        self.message_id: str | None = None
        self.text = ""
        self.done = False
        self._deltas: DeltaDocuments | None = None

    def feed(self, data: str) -> list[ChatEvent]:
        """Interpret one event's data; return the events to pass on (often none or one)."""
        if data == "[DONE]":
            self.done = True
            return []
        try:
            obj = _json.loads(data)
        except orjson.JSONDecodeError:
            raise UpstreamProtocolError(INVALID_JSON_MESSAGE) from None
        if not isinstance(obj, dict):
            return []  # e.g. the "v1" announcement of delta encoding
        if any(key in obj for key in _DELTA_KEYS):
            if self._deltas is None:
                self._deltas = DeltaDocuments()
            document = self._deltas.apply(obj)
            events = [] if document is None else self._on_document(document)
            if not events and self._budget is not None:
                self._budget.charge_bytes(utf8_size(data))
            return events
        return self._on_document(obj)

    def finish(self) -> Finished:
        """The final event; an answer-less stream is an error."""
        if self.message_id is None:
            raise UpstreamNoAnswer(NO_ANSWER_MESSAGE)
        return Finished(self.text, self.conversation_id, self.message_id)

    def _on_document(self, document: dict[str, Any]) -> list[ChatEvent]:
        error = document.get("error")
        if error:
            text = error if isinstance(error, str) else orjson.dumps(error).decode()
            raise UpstreamStreamError(text, secrets=self._secrets)
        conversation_id = document.get("conversation_id")
        if conversation_id and isinstance(conversation_id, str):
            self.conversation_id = conversation_id
        message = document.get("message")
        if isinstance(message, dict) and _is_answer(message):
            return self._on_answer(message)
        return []

    def _on_answer(self, message: dict[str, Any]) -> list[ChatEvent]:
        message_id = message.get("id")
        if not message_id or not isinstance(message_id, str):
            message_id = self.message_id or str(uuid.uuid4())
        text = _text_of(message.get("content"))
        if message_id != self.message_id:
            self.message_id = message_id
            previous, self.text = self.text, text
            if previous:
                return [TextReset(text)]
            return [TextDelta(text)] if text else []
        if not text or text == self.text:
            return []
        previous, self.text = self.text, text
        if text.startswith(previous):
            return [TextDelta(text[len(previous) :])]
        return [TextReset(text)]


def _is_answer(message: dict[str, Any]) -> bool:
    author = message.get("author")
    if not isinstance(author, dict) or author.get("role") != "assistant":
        return False
    return message.get("recipient") in (None, "all")


def _text_of(content: Any) -> str:
    if not isinstance(content, dict):
        return ""
    parts = content.get("parts")
    if isinstance(parts, list):
        return "".join(part for part in parts if isinstance(part, str))
    text = content.get("text")
    return text if isinstance(text, str) else ""
