"""The one place where errors become responses, per surface.

Seed routes (``/send_message``, ``/get_access_token``) answer every failure as the original
did: HTTP 500 with ``{"message": ...}`` — except a missing or invalid gateway API key
(:class:`~chatgpt_api.errors.InvalidAPIKey`), answered HTTP 401 with the same body shape (the
seed had no keys). The ``/v1`` routes answer OpenAI error bodies
``{"error": {message, type, param, code}}`` with the status the error carries; an upstream's
status is mapped (400/401/403/404/429 kept, anything else 502) and its ``Retry-After`` kept.
On the seed routes a cut-off stream adds the partial ``text``. An
unexpected exception is logged with its traceback (to stderr) and answered with a fixed
message: no traceback or internal detail ever reaches a client. A client that went away gets
nothing (status 499 in the access log).
"""

from __future__ import annotations

import logging
import math

from starlette.responses import Response

from chatgpt_api.accounts.pool import PoolUnavailable
from chatgpt_api.errors import (
    InvalidAPIKey,
    ServiceError,
    UpstreamStatusError,
    UpstreamTerminated,
)
from chatgpt_api.http_responses import JSONResponse
from chatgpt_api.limits.errors import LimiterUnavailable, PoolBusy, RateLimited
from chatgpt_api.observability.context import note_error

log = logging.getLogger("chatgpt_api.errors")

#: Refusals by the gateway itself, answered with their own status even on the seed routes.
GATEWAY_REFUSALS: tuple[type[ServiceError], ...] = (
    InvalidAPIKey,
    RateLimited,
    PoolBusy,
    LimiterUnavailable,
    PoolUnavailable,
)

INTERNAL_ERROR_MESSAGE = "internal server error"
CLIENT_CLOSED_STATUS = 499


class ClientDisconnected(Exception):
    """The client closed its connection before the answer was ready."""


def seed_error_body(exc: BaseException) -> dict[str, str]:
    """The ``{"message": ...}`` body for a failure on a seed route, logging it."""
    note_error(exc)
    if isinstance(exc, ServiceError):
        message = getattr(exc, "seed_message", exc.message)
        log.warning("%s: %s", type(exc).__name__, message)
        body = {"message": message}
        if isinstance(exc, UpstreamTerminated) and exc.partial_text:
            body["text"] = exc.partial_text
        return body
    log.error("unexpected error", exc_info=exc)
    return {"message": INTERNAL_ERROR_MESSAGE}


def seed_error_response(exc: BaseException) -> Response:
    """The seed's 500, except for the gateway's own refusals (which the seed never had): a
    missing key (401), a rate limit (429) and a busy pool (503) keep their status and
    ``Retry-After``, so clients and load balancers can react."""
    if isinstance(exc, ClientDisconnected):
        return Response(status_code=CLIENT_CLOSED_STATUS)
    status = exc.status if isinstance(exc, GATEWAY_REFUSALS) else 500
    headers = {}
    retry_after = getattr(exc, "retry_after", None)
    if isinstance(exc, GATEWAY_REFUSALS) and isinstance(retry_after, int | float):
        headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return JSONResponse(seed_error_body(exc), status_code=status, headers=headers)


def _openai_status(exc: ServiceError) -> int:
    if isinstance(exc, UpstreamStatusError):
        upstream = exc.upstream_status
        if upstream in (400, 413, 422):
            return 400
        if upstream in (401, 403, 404, 429):
            return upstream
        return 502
    return exc.status


def openai_error_body(exc: BaseException) -> tuple[int, dict[str, object], dict[str, str]]:
    """Status, ``{"error": {message, type, param, code}}`` and extra headers, logging it."""
    note_error(exc)
    headers: dict[str, str] = {}
    if not isinstance(exc, ServiceError):
        log.error("unexpected error", exc_info=exc)
        error = {
            "message": INTERNAL_ERROR_MESSAGE,
            "type": "server_error",
            "param": None,
            "code": None,
        }
        return 500, {"error": error}, headers
    log.warning("%s: %s", type(exc).__name__, exc.message)
    status = _openai_status(exc)
    error_type, code = exc.error_type, exc.code
    if isinstance(exc, UpstreamStatusError):
        code = exc.upstream_code or code
        if status == 429:
            error_type, code = "requests", exc.upstream_code or "rate_limit_exceeded"
        elif status < 500:
            error_type = "invalid_request_error"
        if exc.retry_after is not None:
            headers["Retry-After"] = str(math.ceil(exc.retry_after))
    retry_after = getattr(exc, "retry_after", None)
    if isinstance(retry_after, int | float) and "Retry-After" not in headers:
        headers["Retry-After"] = str(math.ceil(retry_after))
    error = {"message": exc.message, "type": error_type, "param": exc.param, "code": code}
    return status, {"error": error}, headers


def openai_error_response(exc: BaseException) -> Response:
    if isinstance(exc, ClientDisconnected):
        return Response(status_code=CLIENT_CLOSED_STATUS)
    status, body, headers = openai_error_body(exc)
    return JSONResponse(body, status_code=status, headers=headers)
