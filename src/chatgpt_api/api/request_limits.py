"""How much one request may ask for: its number of messages and their total text.

Checked by the one turn runner (:func:`chatgpt_api.api.turns.run_turn`) for every surface,
before the caller is charged and before anything is stored or sent upstream.

The limits are the settings ``max_request_messages`` and ``max_request_chars``. A request over
either is refused with :class:`RequestTooLarge` (400, ``param`` ``messages``), so a single body
cannot make the store write thousands of rows while other requests wait.
"""

from __future__ import annotations

from collections.abc import Sequence

from chatgpt_api.errors import RequestError
from chatgpt_api.messages import Message


class RequestTooLarge(RequestError):
    """Too many messages, or too much text, in one request."""

    code = "request_limit_exceeded"


def check_request_size(messages: Sequence[Message], *, most_messages: int, most_chars: int) -> None:
    """Refuse ``messages`` with :class:`RequestTooLarge` if they exceed the request limits."""
    if len(messages) > most_messages:
        raise RequestTooLarge(
            f"Too many messages: {len(messages):,} given, at most {most_messages:,} are accepted "
            "in one request.",
            param="messages",
        )
    total = 0
    for message in messages:
        total += len(message.content)
        if total > most_chars:
            raise RequestTooLarge(
                f"The messages are too long: more than {most_chars:,} characters in one request.",
                param="messages",
            )
