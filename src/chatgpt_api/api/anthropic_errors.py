"""Errors in the Anthropic Messages API's shape.

``{"type": "error", "error": {"type": ..., "message": ...}, "request_id": "req_..."}`` with the
status the error carries (mapped as on the OpenAI surface, :func:`openai_error_body`: an
upstream's 429 stays a 429 with its ``Retry-After``, an upstream 5xx is a 502). The ``type``
follows the status the way Anthropic's API does: 400 ``invalid_request_error``, 401
``authentication_error``, 403 ``permission_error``, 404 ``not_found_error``, 413
``request_too_large``, 429 ``rate_limit_error``, 503/529 ``overloaded_error``, 504
``timeout_error``, any other 5xx ``api_error``. The ``request-id`` header and the body's
``request_id`` are the request's ``X-Request-ID``, the id on its log lines. A stream that
fails after it began ends with one ``event: error`` frame carrying the same body.
"""

from __future__ import annotations

import uuid

import orjson
from starlette.responses import Response

from chatgpt_api.api.errors import CLIENT_CLOSED_STATUS, ClientDisconnected, openai_error_body
from chatgpt_api.api.graceful_shutdown import SHUTDOWN_MESSAGE
from chatgpt_api.http_responses import JSONResponse
from chatgpt_api.observability.context import current_request_id

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def new_request_id() -> str:
    """The ``request-id`` header's value: the request's ``X-Request-ID`` (the id on its log
    lines), else a new ``req_`` id."""
    return current_request_id() or f"req_{uuid.uuid4().hex}"


def error_type(status: int) -> str:
    if status in _TYPES:
        return _TYPES[status]
    return "invalid_request_error" if status < 500 else "api_error"


def anthropic_error_body(
    exc: BaseException, request_id: str
) -> tuple[int, dict[str, object], dict[str, str]]:
    """Status, Anthropic error body and extra headers (``Retry-After``), logging the error."""
    status, openai_body, headers = openai_error_body(exc)
    error = openai_body["error"]
    message = error["message"] if isinstance(error, dict) else str(error)
    body: dict[str, object] = {
        "type": "error",
        "error": {"type": error_type(status), "message": message},
        "request_id": request_id,
    }
    return status, body, headers


def anthropic_error_response(exc: BaseException, request_id: str) -> Response:
    if isinstance(exc, ClientDisconnected):
        return Response(status_code=CLIENT_CLOSED_STATUS)
    status, body, headers = anthropic_error_body(exc, request_id)
    return JSONResponse(body, status_code=status, headers={**headers, "request-id": request_id})


def error_frame(body: dict[str, object]) -> bytes:
    return b"event: error\ndata: " + orjson.dumps(body) + b"\n\n"


def anthropic_shutdown_frame(request_id: str) -> bytes:
    """The frame that ends a stream the server cuts off at shutdown."""
    error = {"type": "overloaded_error", "message": SHUTDOWN_MESSAGE}
    return error_frame({"type": "error", "error": error, "request_id": request_id})
