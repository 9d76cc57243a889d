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
import time
from collections.abc import Callable
from contextvars import ContextVar

from chatgpt_api.errors import ServiceError

REQUEST_ID_HEADER = b"x-request-id"
_SANE_ID = re.compile(rb"[A-Za-z0-9._-]{1,128}")
# Its own generator, seeded from os.urandom; request ids are not secrets.
_random_bits = random.Random().getrandbits  # noqa: S311


def accept_request_id(incoming: bytes | None) -> str:
    """``incoming`` if it is a sane request id, else a freshly generated one."""
    if incoming is not None and _SANE_ID.fullmatch(incoming):
        return incoming.decode("ascii")
    return f"{_random_bits(128):032x}"


class RequestContext:
    """What is known about the request being answered (mutable, one per request)."""

    __slots__ = (
        "backend",
        "error",
        "first_token_at",
        "listed",
        "model",
        "on_stream",
        "request_id",
        "started",
        "streaming",
    )

    def __init__(self, request_id: str, on_stream: Callable[[str], None] | None = None) -> None:
        self.request_id = request_id
        self.started = time.perf_counter()
        #: Backend and model name the chat request was routed to (None: not a chat request).
        self.backend: str | None = None
        self.model: str | None = None
        #: Whether ``model`` is a name of the registry (else it is a client's free-form name).
        self.listed = False
        self.first_token_at: float | None = None
        self.streaming = False
        #: The error class answered to the client (also a stream's error event).
        self.error: str | None = None
        #: Called with the backend once when a stream starts (the active-streams gauge).
        self.on_stream = on_stream


_current: ContextVar[RequestContext | None] = ContextVar("chatgpt_api_request", default=None)


def current() -> RequestContext | None:
    """The context of the request being answered, if any."""
    return _current.get()


def current_request_id() -> str | None:
    context = _current.get()
    return None if context is None else context.request_id


def enter(context: RequestContext) -> object:
    """Make ``context`` current; pass the result to :func:`leave`."""
    return _current.set(context)


def leave(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]


def note_route(backend: str, model: str, listed: bool) -> None:
    """The chat request goes to ``backend`` as ``model`` (called once per turn)."""
    context = _current.get()
    if context is not None:
        context.backend, context.model, context.listed = backend, model, listed


def note_first_token(*, stream: bool) -> None:
    """The first answer text is ready to send: a stream's first event, or the whole answer.

    For a stream this also counts it as active until the response ends.
    """
    context = _current.get()
    if context is None or context.first_token_at is not None:
        return
    context.first_token_at = time.perf_counter()
    if stream and not context.streaming:
        context.streaming = True
        if context.on_stream is not None:
            context.on_stream(context.backend or "none")


def note_error(exc: BaseException) -> None:
    """The request is answered with (or its stream ends on) ``exc``."""
    context = _current.get()
    if context is not None:
        context.error = type(exc).__name__ if isinstance(exc, ServiceError) else "InternalError"
