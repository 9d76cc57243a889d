"""How much answer one turn may take from its upstream.

An :class:`AnswerBudget` is made per upstream request from ``max_answer_size`` and charged with
everything the answer grows by, in UTF-8 bytes: the text (:meth:`AnswerBudget.observe` on each
event, so a rewrite of the whole text counts once, not on top of the old one) and any other
answer part a backend assembles, such as tool-call arguments (:meth:`AnswerBudget.charge`).
Past the limit it raises :class:`AnswerTooLarge`; the backend's generator then closes the
upstream connection on its way out, and the turn is stored ``partial`` with that reason.
"""

from __future__ import annotations

from chatgpt_api.errors import AnswerTooLarge
from chatgpt_api.messages import ChatEvent, TextDelta, TextReset


def utf8_size(text: str) -> int:
    """``len(text.encode())``, without the copy for ASCII text."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


class AnswerBudget:
    """The bytes one answer may still grow by; raises :class:`AnswerTooLarge` past ``limit``."""

    __slots__ = ("_other", "_text", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._text = 0
        self._other = 0

    @property
    def used(self) -> int:
        return self._text + self._other

    def observe(self, event: ChatEvent) -> ChatEvent:
        """Count an answer event's text (a :class:`TextReset` replaces the text counted so far);
        return the event."""
        if isinstance(event, TextDelta):
            self.add_text(event.text)
        elif isinstance(event, TextReset):
            self.replace_text(event.text)
        return event

    def add_text(self, text: str) -> None:
        """Count new answer text."""
        self._text += utf8_size(text)
        self._check()

    def replace_text(self, text: str) -> None:
        """The answer text is now ``text`` (a rewrite): count it instead of the previous."""
        self._text = utf8_size(text)
        self._check()

    def charge(self, part: str) -> None:
        """Count a part of the answer that is not its text (e.g. a tool call's arguments)."""
        self.charge_bytes(utf8_size(part))

    def charge_bytes(self, size: int) -> None:
        """Count ``size`` bytes held for the answer beside its text (e.g. the other documents of
        a delta-encoded stream)."""
        self._other += size
        self._check()

    def _check(self) -> None:
        if self._text + self._other > self.limit:
            raise AnswerTooLarge(self.limit)
