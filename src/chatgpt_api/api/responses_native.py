"""``POST /v1/responses`` (and ``/compact``) forwarded as is to an upstream that serves them.

For a route with ``responses = "native"`` in the models file (an ``openai`` or
``openai-compatible`` backend): the client's body goes to ``{base_url}/responses`` unchanged but
for ``model`` (the route's upstream name), so reasoning items, encrypted content and every field
the upstream knows are preserved; its answer — the JSON object, or the event stream — comes back
as it came, event by event. The caller's rate limits are charged as for any turn and the
upstream's errors keep their status and message.

State stays with the upstream: ``previous_response_id`` names the upstream's responses, and
``GET`` / ``DELETE /v1/responses/{id}`` serve only the gateway's own (bridged) responses.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import aiohttp
import orjson
from starlette.requests import Request
from starlette.responses import Response

from chatgpt_api.api.admission import Admission, admit
from chatgpt_api.api.graceful_shutdown import openai_shutdown_frame
from chatgpt_api.api.state import AppState
from chatgpt_api.api.streaming import EventStreamResponse
from chatgpt_api.backends import _http, _json
from chatgpt_api.errors import (
    AuthenticationError,
    UpstreamProtocolError,
    UpstreamTerminated,
    UpstreamTimeout,
)
from chatgpt_api.http_responses import JSONResponse
from chatgpt_api.keys.gate import Caller
from chatgpt_api.observability.context import note_route
from chatgpt_api.registry import ModelRoute

#: The largest whole (non-streamed) answer relayed.
MAX_ANSWER_BYTES = 16 * 1024 * 1024


async def forward_response(
    state: AppState,
    request: Request,
    caller: Caller,
    route: ModelRoute,
    body: dict[str, Any],
    deadline: float | None,
    *,
    endpoint: str = "responses",
) -> Response:
    """The upstream's answer to ``body`` posted to ``{base_url}/{endpoint}`` (see the module
    docstring); errors are raised."""
    note_route(route.backend, route.name, route.listed)
    credential = route.api_key or caller.upstream_credential
    if not credential:
        raise AuthenticationError(
            "no API key for this model: configure one, or pass Authorization: Bearer <key>"
        )
    assert route.base_url is not None
    base = _http.parse_upstream_url(route.base_url)
    url = base.with_path(base.path.rstrip("/") + "/" + endpoint)
    headers = {
        "Authorization": f"Bearer {credential}",
        "Content-Type": "application/json",
        "Accept": "text/event-stream" if body.get("stream") else "application/json",
    }
    payload = _json.dumps({**body, "model": route.upstream_model})
    admission = await admit(state, request, caller, len(payload))
    try:
        async with asyncio.timeout_at(deadline):
            upstream = await _http.open_stream(state.http, url, headers, payload)
            if not 200 <= upstream.status < 300:
                try:
                    raise await _http.openai_status_error(upstream, (credential,))
                finally:
                    _http.finish(upstream)
            if "text/event-stream" in upstream.headers.get("Content-Type", ""):
                frames = _relayed(upstream, admission, deadline)
                admission = None  # released by the stream
                return EventStreamResponse(frames, openai_shutdown_frame())
            answer = await _whole(upstream)
    except TimeoutError:
        raise UpstreamTimeout() from None
    finally:
        if admission is not None:
            await admission.release()
    return JSONResponse(answer)


async def _whole(upstream: aiohttp.ClientResponse) -> Any:
    try:
        raw = await _http.read_limited(upstream, MAX_ANSWER_BYTES)
    finally:
        _http.finish(upstream, answered=True)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise UpstreamProtocolError("the upstream sent a reply that is not valid JSON") from None


async def _relayed(
    upstream: aiohttp.ClientResponse, admission: Admission | None, deadline: float | None
) -> AsyncGenerator[bytes, None]:
    """The upstream's event stream, byte for byte; a cut-off stream ends with an error event."""
    answered = False
    try:
        async with asyncio.timeout_at(deadline):
            async for chunk in upstream.content.iter_any():
                yield chunk
        answered = True
    except (TimeoutError, *_http.BODY_ERRORS) as exc:
        if isinstance(exc, TimeoutError):
            code, message = UpstreamTimeout.code, "the upstream took too long to answer"
        else:
            code, message = UpstreamTerminated.code, "the upstream's event stream was cut off"
        error = {"type": "server_error", "code": code, "message": message}
        event = {"type": "error", **error, "param": None, "error": {**error, "param": None}}
        yield b"\n\nevent: error\ndata: " + orjson.dumps(event) + b"\n\n"
    finally:
        _http.finish(upstream, answered=answered)
        if admission is not None:
            await admission.release()
