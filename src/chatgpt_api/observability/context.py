"""The per-request context: the request id, and what the routes learn while they answer.

:class:`ObservabilityMiddleware <chatgpt_api.observability.middleware.ObservabilityMiddleware>`
sets one :class:`RequestContext` per request in a context variable. Routes and the service fill
it in through the hooks below, each a context-variable read and an attribute store, called at
most a few times per request (never per chunk). Outside a request (the CLI's in-process
client, background work) the hooks do nothing.

Request ids: an incoming ``X-Request-ID`` is kept when it is a sane token (1-128 characters of
``[A-Za-z0-9._-]``), otherwise a new 32-hex-digit id is generated.
"""

from __future__ import annotations

import os
import re

from chatgpt_api.request_context import (
    RequestContext,
    current,
    current_request_id,
    enter,
    leave,
    note_error,
    note_first_token,
    note_route,
)

REQUEST_ID_HEADER = b"x-request-id"
_SANE_ID = re.compile(rb"[A-Za-z0-9._-]{1,128}")


def accept_request_id(incoming: bytes | None) -> str:
    """``incoming`` if it is a sane request id, else a freshly generated one."""
    if incoming is not None and _SANE_ID.fullmatch(incoming):
        return incoming.decode("ascii")
    return os.urandom(16).hex()


__all__ = [
    "REQUEST_ID_HEADER",
    "RequestContext",
    "accept_request_id",
    "current",
    "current_request_id",
    "enter",
    "leave",
    "note_error",
    "note_first_token",
    "note_route",
]
