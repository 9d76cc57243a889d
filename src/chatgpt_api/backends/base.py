"""The one seam every upstream hangs on: :meth:`Backend.stream_chat`.

A backend receives a :class:`~chatgpt_api.messages.ChatRequest` and yields
:class:`~chatgpt_api.messages.TextDelta` / :class:`~chatgpt_api.messages.TextReset` events
as the answer grows, then exactly one :class:`~chatgpt_api.messages.Finished`. Failures are
raised as :class:`~chatgpt_api.errors.ServiceError` subclasses. The caller closes the iterator
(``contextlib.aclosing``) when it stops early, which closes the upstream connection; a
cancelled consumer cancels the upstream request the same way.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Protocol

from chatgpt_api.messages import ChatEvent, ChatRequest


class Backend(Protocol):
    name: str

    def stream_chat(self, request: ChatRequest) -> AsyncGenerator[ChatEvent, None]: ...
