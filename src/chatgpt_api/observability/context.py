"""The per-request context: the request id, and what the routes learn while they answer.

The lifecycle middleware (:mod:`chatgpt_api.api.lifecycle`) sets one :class:`RequestContext`
per request in a context variable; routes and the service fill it in through the hooks below
(a few times per request, never per chunk; outside a request they do nothing).

Request ids: an incoming ``X-Request-ID`` is kept when it is a sane token (1-128 characters of
``[A-Za-z0-9._-]``), else a new 32-hex-digit id comes from a seeded PRNG — not a secret, and no
``os.urandom`` system call (which lets go of the GIL, behind the store's writer thread).
"""

from __future__ import annotations

import random
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
# Its own generator, seeded from os.urandom; request ids are not secrets.
_random_bits = random.Random().getrandbits  # noqa: S311


def accept_request_id(incoming: bytes | None) -> str:
    """``incoming`` if it is a sane request id, else a freshly generated one."""
    if incoming is not None and _SANE_ID.fullmatch(incoming):
        return incoming.decode("ascii")
    return f"{_random_bits(128):032x}"


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
