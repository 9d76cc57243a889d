"""The OpenAI chat completions backend, for the OpenAI API and any compatible server.

``POST {base_url}/chat/completions`` with ``stream: true`` (and ``stream_options.include_usage``
unless the route turns it off for servers that reject it); ``chat.completion.chunk`` events are
turned into text deltas, the final chunk's ``finish_reason`` and the usage chunk into
:class:`~chatgpt_api.messages.Finished`. A server that ignores ``stream`` and answers one JSON
``chat.completion`` is accepted too. Upstream errors keep their status, message, code and
``Retry-After`` (see :class:`~chatgpt_api.errors.UpstreamStatusError`), their text redacted
against the request's key. The answer is charged to an
:class:`~chatgpt_api.backends.budget.AnswerBudget` (``max_answer_size``; ``_ChunkReader.budget``
also takes other answer parts, e.g. tool-call arguments, via ``charge``), and a non-streamed reply
body is read up to ``max_upstream_body_size``: past either, ``AnswerTooLarge``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from typing import Any

import aiohttp
import orjson
from yarl import URL

from chatgpt_api.backends import _http, _json
from chatgpt_api.backends.budget import AnswerBudget
from chatgpt_api.errors import (
    AnswerTooLarge,
    AuthenticationError,
    UpstreamNoAnswer,
    UpstreamProtocolError,
    UpstreamStatusError,
    UpstreamStreamError,
    UpstreamTerminated,
)
from chatgpt_api.messages import ChatEvent, ChatRequest, Finished, TextDelta, Usage
from chatgpt_api.netpolicy.session import RequestUpstreams, pinned
from chatgpt_api.sse import EventTooLarge, SSEDecoder


def build_completion_body(request: ChatRequest, *, include_usage: bool) -> bytes:
    params = request.params
    body: dict[str, Any] = {
        "model": request.model,
        "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        "stream": True,
    }
    if include_usage:
        body["stream_options"] = {"include_usage": True}
    if params.temperature is not None:
        body["temperature"] = params.temperature
    if params.top_p is not None:
        body["top_p"] = params.top_p
    if params.max_tokens is not None:
        body["max_tokens"] = params.max_tokens
    if params.stop:
        body["stop"] = list(params.stop)
    if params.user is not None:
        body["user"] = params.user
    return orjson.dumps(body)


class OpenAIBackend:
    """Streams chat completions from an OpenAI-style ``/chat/completions`` endpoint."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        name: str,
        base_url: str,
        max_event_size: int,
        include_usage: bool = True,
        request_upstreams: RequestUpstreams | None = None,
        max_answer_size: int = 2 * 1024 * 1024,
        max_body_size: int = 8 * 1024 * 1024,
    ) -> None:
        self.name = name
        self._max_answer_size = max_answer_size
        self._max_body_size = max_body_size
        self._session = session
        self._request_upstreams = request_upstreams
        self._base_url = base_url
        self._max_event_size = max_event_size
        self._include_usage = include_usage

    def endpoint(self, request: ChatRequest) -> URL:
        # An empty per-request URL is a bad URL ("Failed to parse URL from "), as on the web
        # backend: never a silent fallback to the configured upstream.
        given = request.upstream_url
        base = _http.parse_upstream_url(self._base_url if given is None else given)
        return base.with_path(base.path.rstrip("/") + "/chat/completions")

    def _target(self, request: ChatRequest) -> tuple[aiohttp.ClientSession, URL]:
        """The session and URL to POST to; a client's URL passes the network policy."""
        url = self.endpoint(request)
        if request.upstream_url is not None:
            return pinned(self._request_upstreams, url)
        return self._session, url

    async def stream_chat(self, request: ChatRequest) -> AsyncGenerator[ChatEvent, None]:
        if not request.credential:
            raise AuthenticationError(
                "no API key for this model: configure one, or pass Authorization: Bearer <key>"
            )
        headers = {
            "Authorization": f"Bearer {request.credential}",
            "Accept": "text/event-stream",
            "Content-Type": "application/json",
        }
        body = build_completion_body(request, include_usage=self._include_usage)
        session, url = self._target(request)
        secrets = _http.request_secrets(request.credential, url)
        response = await _http.open_stream(session, url, headers, body)
        reader = _ChunkReader(secrets, AnswerBudget(self._max_answer_size))
        answered = False
        try:
            if not 200 <= response.status < 300:
                raise await _status_error(response, secrets)
            if "json" in response.headers.get("Content-Type", ""):
                completion = await _read_json(response, secrets, self._max_body_size)
                for event in reader.feed_completion(completion):
                    yield event
                return
            decoder = SSEDecoder(self._max_event_size)
            async for chunk in response.content.iter_any():
                for sse in decoder.feed(chunk):
                    if sse.data == "[DONE]":
                        answered = True
                        yield reader.finish()
                        return
                    delta = reader.feed(sse.data)
                    if delta:
                        yield TextDelta(delta)
            for sse in decoder.close():
                if sse.data != "[DONE]":
                    delta = reader.feed(sse.data)
                    if delta:
                        yield TextDelta(delta)
            yield reader.finish()
        except _http.BODY_ERRORS:
            raise UpstreamTerminated(reader.text) from None
        except EventTooLarge as exc:
            raise UpstreamProtocolError(
                f"the upstream sent an event larger than {exc.limit} bytes"
            ) from None
        finally:
            _http.finish(response, answered=answered)


class _ChunkReader:
    """Accumulates ``chat.completion.chunk`` objects."""

    __slots__ = ("budget", "finish_reason", "id", "parts", "secrets", "usage")

    def __init__(self, secrets: tuple[str, ...], budget: AnswerBudget) -> None:
        #: The request's credentials: an in-stream error quoting them is redacted.
        self.secrets = secrets
        #: Every part of the answer (text, tool-call arguments) is charged to it.
        self.budget = budget
        self.parts: list[str] = []
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self.id: str | None = None

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def feed(self, data: str) -> str:
        try:
            chunk = _json.loads(data)
        except orjson.JSONDecodeError:
            raise UpstreamProtocolError(
                "the upstream sent an event that is not valid JSON"
            ) from None
        if not isinstance(chunk, dict):
            return ""
        if chunk.get("error"):
            raise UpstreamStreamError(_error_message(chunk["error"]), secrets=self.secrets)
        self.id = self.id or _str(chunk.get("id"))
        self.usage = _usage(chunk.get("usage")) or self.usage
        choices = chunk.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            return ""
        choice = choices[0]
        if choice.get("finish_reason"):
            self.finish_reason = str(choice["finish_reason"])
        delta = choice.get("delta")
        content = delta.get("content") if isinstance(delta, dict) else None
        if isinstance(content, str) and content:
            self.budget.add_text(content)
            self.parts.append(content)
            return content
        return ""

    def feed_completion(self, completion: dict[str, Any]) -> list[ChatEvent]:
        choices = completion.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise UpstreamNoAnswer("the upstream sent no answer")
        message = choices[0].get("message")
        content = message.get("content") if isinstance(message, dict) else None
        text = content if isinstance(content, str) else ""
        self.budget.add_text(text)
        self.parts.append(text)
        self.finish_reason = _str(choices[0].get("finish_reason"))
        self.usage = _usage(completion.get("usage"))
        self.id = _str(completion.get("id"))
        return [TextDelta(text), self.finish()] if text else [self.finish()]

    def finish(self) -> Finished:
        if self.finish_reason is None and not self.parts:
            raise UpstreamNoAnswer("the upstream sent no answer")
        return Finished(
            text=self.text,
            conversation_id=None,
            message_id=self.id or f"chatcmpl-{uuid.uuid4().hex}",
            finish_reason=self.finish_reason or "stop",
            usage=self.usage,
        )


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _usage(value: Any) -> Usage | None:
    if not isinstance(value, dict):
        return None
    prompt, completion = value.get("prompt_tokens"), value.get("completion_tokens")
    if isinstance(prompt, int) and isinstance(completion, int):
        return Usage(prompt, completion)
    return None


def _error_message(error: Any) -> str:
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    return error if isinstance(error, str) else orjson.dumps(error).decode()


async def _read_json(
    response: aiohttp.ClientResponse, secrets: tuple[str, ...], limit: int
) -> dict[str, Any]:
    body = await _http.read_limited(response, limit + 1)
    if len(body) > limit:
        raise AnswerTooLarge(limit, "max_upstream_body_size")
    try:
        obj = _json.loads(body)
    except orjson.JSONDecodeError:
        raise UpstreamProtocolError("the upstream sent a reply that is not valid JSON") from None
    if not isinstance(obj, dict):
        raise UpstreamProtocolError("the upstream sent a reply that is not a JSON object")
    if obj.get("error"):
        raise UpstreamStreamError(_error_message(obj["error"]), secrets=secrets)
    return obj


async def _status_error(
    response: aiohttp.ClientResponse, secrets: tuple[str, ...]
) -> UpstreamStatusError:
    raw = (await _http.read_limited(response)).decode("utf-8", "replace")
    message = f"upstream error {response.status}: {raw}"
    code: str | None = None
    try:
        error = orjson.loads(raw).get("error")
    except (orjson.JSONDecodeError, AttributeError):
        error = None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        message = error["message"]
        code = _str(error.get("code"))
    elif isinstance(error, str):
        message = error
    return UpstreamStatusError(
        message,
        response.status,
        secrets=secrets,
        retry_after=_retry_after(response.headers.get("Retry-After")),
        upstream_code=code,
    )


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
