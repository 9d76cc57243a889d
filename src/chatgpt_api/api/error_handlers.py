"""The Starlette exception handlers: how an error raised by a route becomes its answer.

Routes raise; the surface the request was made on decides the shape (see :mod:`.errors`):
the seed routes answer ``{"message": ...}`` (500, or a gateway refusal's own status),
``/v1/messages`` Anthropic's error object, every other ``/v1`` route OpenAI's. An error on
any other path (or a WebSocket) is not one of theirs: it goes on to the lifecycle
middleware's plain 500 (:mod:`.lifecycle`).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from chatgpt_api.api.anthropic_errors import anthropic_error_response, new_request_id
from chatgpt_api.api.errors import openai_error_response, seed_error_response

SEED_PATHS = frozenset({"/send_message", "/get_access_token"})


async def surface_error(request: Request, exc: Exception) -> Response:
    scope = request.scope
    path: str = scope["path"]
    if scope["type"] != "http":
        raise exc
    if path.startswith("/v1/"):
        if path.startswith("/v1/messages"):
            return anthropic_error_response(exc, new_request_id())
        return openai_error_response(exc)
    if path in SEED_PATHS:
        return seed_error_response(exc)
    raise exc
