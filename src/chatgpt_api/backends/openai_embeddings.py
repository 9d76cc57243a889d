"""The upstream call of ``POST /v1/embeddings``: an OpenAI-style ``{base_url}/embeddings``.

The client's body goes upstream as it came, with only ``model`` replaced by the route's
upstream model (every other field, unknown ones included, is kept); the upstream's answer comes
back as bytes, unchanged apart from ``model``, which is set back to the name the client asked
for. A non-2xx answer becomes :class:`~chatgpt_api.errors.UpstreamStatusError` (message, code,
``Retry-After``: mapped like chat errors); a body cut off is
:class:`~chatgpt_api.errors.UpstreamTerminated`; a body that is not a JSON object, or larger
than the limit, is :class:`~chatgpt_api.errors.UpstreamProtocolError`.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
from yarl import URL

from chatgpt_api.backends import _http
from chatgpt_api.errors import AuthenticationError, UpstreamProtocolError, UpstreamTerminated

__all__ = ["create_embeddings", "embeddings_url"]


def embeddings_url(base_url: str) -> URL:
    """``{base_url}/embeddings`` as a URL (a bad base URL is ``UpstreamURLError``)."""
    base = _http.parse_upstream_url(base_url)
    return base.with_path(base.path.rstrip("/") + "/embeddings")


async def _read_all(response: aiohttp.ClientResponse, limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    try:
        async for chunk in response.content.iter_any():
            size += len(chunk)
            if size > limit:
                raise UpstreamProtocolError(
                    f"the upstream's embeddings answer is larger than {limit} bytes"
                )
            parts.append(chunk)
    except _http.BODY_ERRORS:
        raise UpstreamTerminated() from None
    return b"".join(parts)


def _client_view(data: bytes, client_model: str, upstream_model: str) -> bytes:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise UpstreamProtocolError("the upstream sent a reply that is not valid JSON") from None
    if not isinstance(doc, dict):
        raise UpstreamProtocolError("the upstream sent a reply that is not a JSON object")
    if client_model == upstream_model or doc.get("model") == client_model:
        return data
    if "model" in doc:
        doc["model"] = client_model
    return orjson.dumps(doc)


async def create_embeddings(
    session: aiohttp.ClientSession,
    *,
    base_url: str,
    credential: str,
    body: dict[str, Any],
    upstream_model: str,
    max_response_size: int,
) -> bytes:
    """POST ``body`` (with ``model`` = ``upstream_model``) and return the client's answer."""
    if not credential:
        raise AuthenticationError(
            "no API key for this model: configure one, or pass Authorization: Bearer <key>"
        )
    client_model = str(body.get("model"))
    payload = orjson.dumps({**body, "model": upstream_model})
    headers = {
        "Authorization": f"Bearer {credential}",
        "Accept": "application/json",
        "Content-Type": "application/json",
    }
    response = await _http.open_stream(session, embeddings_url(base_url), headers, payload)
    try:
        if not 200 <= response.status < 300:
            url = embeddings_url(base_url)
            raise await _http.openai_status_error(response, _http.request_secrets(credential, url))
        data = await _read_all(response, max_response_size)
    finally:
        _http.finish(response)
    return _client_view(data, client_model, upstream_model)
