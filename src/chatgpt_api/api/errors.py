"""The one place where errors become responses, per surface.

Seed routes (``/send_message``, ``/get_access_token``) answer every failure as the original
did: HTTP 500 with ``{"message": ...}``. A cut-off stream adds the partial ``text``. An
unexpected exception is logged with its traceback (to stderr) and answered with a fixed
message: no traceback or internal detail ever reaches a client. A client that went away gets
nothing (status 499 in the access log).
"""

from __future__ import annotations

import logging

from starlette.responses import Response

from chatgpt_api.api.responses import JSONResponse
from chatgpt_api.errors import ServiceError, UpstreamTerminated

log = logging.getLogger("chatgpt_api.errors")

INTERNAL_ERROR_MESSAGE = "internal server error"
CLIENT_CLOSED_STATUS = 499


class ClientDisconnected(Exception):
    """The client closed its connection before the answer was ready."""


def seed_error_body(exc: BaseException) -> dict[str, str]:
    """The ``{"message": ...}`` body for a failure on a seed route, logging it."""
    if isinstance(exc, ServiceError):
        log.warning("%s: %s", type(exc).__name__, exc.message)
        body = {"message": exc.message}
        if isinstance(exc, UpstreamTerminated) and exc.partial_text:
            body["text"] = exc.partial_text
        return body
    log.error("unexpected error", exc_info=exc)
    return {"message": INTERNAL_ERROR_MESSAGE}


def seed_error_response(exc: BaseException) -> Response:
    if isinstance(exc, ClientDisconnected):
        return Response(status_code=CLIENT_CLOSED_STATUS)
    return JSONResponse(seed_error_body(exc), status_code=500)
