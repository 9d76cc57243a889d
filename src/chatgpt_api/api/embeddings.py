"""``POST /v1/embeddings``: OpenAI's embeddings API, relayed to the model's upstream.

The model registry routes the request; only ``openai`` and ``openai-compatible`` backends have
embeddings (a ``chatgpt-web`` model is a 400 naming the model and its backend). As on
``/v1/chat/completions``: the gateway key is checked first (:func:`authenticate`), the caller's
rate limits are charged (the characters of ``input``), the route's backend and model label the
metrics, and errors are OpenAI error documents (an upstream's status mapped as for chat). The
body goes upstream as sent, with ``model`` replaced by the route's upstream model, and the
upstream's answer comes back unchanged, with ``model`` as the client asked
(:mod:`chatgpt_api.backends.openai_embeddings`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from chatgpt_api.api.admission import admit
from chatgpt_api.api.disconnect import cancel_on_disconnect
from chatgpt_api.api.openai_compat import read_json_object
from chatgpt_api.api.state import AppState
from chatgpt_api.backends.openai_embeddings import create_embeddings
from chatgpt_api.errors import RequestError, UpstreamTimeout
from chatgpt_api.keys.gate import authenticate
from chatgpt_api.observability.context import note_first_token, note_route
from chatgpt_api.registry import ModelRoute

__all__ = ["embeddings", "input_chars"]


class EmbeddingsUnsupported(RequestError):
    """The model's backend has no embeddings."""

    code = "unsupported_model"


def _checked(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` if it names a model and has an input (the upstream judges the rest)."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise RequestError("'model' must be a non-empty string.", param="model")
    if body.get("input") is None:
        raise RequestError("Missing required parameter: 'input'.", param="input")
    return body


def input_chars(value: Any) -> int:
    """The size of ``input`` charged to the caller's limits: characters of its strings, one per
    token of its token arrays."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list):
        return sum(input_chars(item) if isinstance(item, str | list) else 1 for item in value)
    return 0


def _embeddings_route(state: AppState, model: str) -> ModelRoute:
    route = state.service.registry.resolve(model)
    note_route(route.backend, route.name, route.listed)
    if route.backend not in ("openai", "openai-compatible") or route.base_url is None:
        raise EmbeddingsUnsupported(
            f"The model `{model}` is served by the {route.backend} backend, which has no "
            "embeddings; use a model routed to an openai or openai-compatible backend.",
            param="model",
        )
    return route


async def embeddings(request: Request) -> Response:
    state: AppState = request.app.state.chatgpt
    settings = state.settings
    caller = await authenticate(request)
    body = _checked(await read_json_object(request, settings.max_body_size))
    route = _embeddings_route(state, body["model"])
    admission = await admit(state, request, caller, input_chars(body["input"]))
    try:
        call = create_embeddings(
            state.http,
            base_url=route.base_url or "",
            credential=route.api_key or caller.upstream_credential or "",
            body=body,
            upstream_model=route.upstream_model,
            max_response_size=settings.max_embeddings_response_size,
        )
        try:
            async with asyncio.timeout(settings.upstream_timeout):
                answer = await cancel_on_disconnect(request.receive, call)
        except TimeoutError:
            raise UpstreamTimeout() from None
    finally:
        if admission is not None:
            await admission.release()
    note_first_token(stream=False)
    return Response(answer, media_type="application/json")
