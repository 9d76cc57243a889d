"""The OpenAI chat completions backend, for the OpenAI API and any compatible server.

``POST {base_url}/chat/completions``: a chat completions request goes upstream as the client
sent it; other surfaces' requests are streamed (with ``include_usage`` unless the route turns it
off). Each chunk becomes a :class:`~chatgpt_api.messages.TextDelta` carrying it, and the choices
are assembled (:mod:`.openai_chunks`) into :class:`~chatgpt_api.messages.Finished`; a JSON
``chat.completion`` is accepted too. Upstream errors keep their status, code and
``Retry-After``, redacted; the answer is charged to an
:class:`~chatgpt_api.backends.budget.AnswerBudget`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncGenerator
from typing import Any

import aiohttp
import orjson
from yarl import URL

from chatgpt_api.backends import _http, _json
from chatgpt_api.backends.budget import AnswerBudget
from chatgpt_api.backends.openai_chunks import ChoiceAssembler
from chatgpt_api.errors import (
    AnswerTooLarge,
    AuthenticationError,
    UpstreamNoAnswer,
    UpstreamProtocolError,
    UpstreamStreamError,
    UpstreamTerminated,
)
from chatgpt_api.messages import ChatEvent, ChatRequest, Finished, TextDelta
from chatgpt_api.netpolicy.session import RequestUpstreams, pinned
from chatgpt_api.sse import EventTooLarge, SSEDecoder


def build_completion_body(request: ChatRequest, *, include_usage: bool) -> bytes:
    """The upstream request body.

    From the chat completions surface (``request.passthrough``): every field the client sent,
    unchanged, with ``model`` set to the route's upstream model and ``messages`` to the history
    (stored turns replayed in their original form) plus the client's messages. From the other
    surfaces: a streamed request built from the generation parameters.
    """
    messages = [m.wire() for m in request.messages]
    if request.passthrough is not None:
        body = {**request.passthrough, "model": request.model, "messages": messages}
        try:
            return _json.dumps(body)
        except TypeError:  # an integer beyond 64 bits, which orjson does not write
            return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    params = request.params
    body = {"model": request.model, "messages": messages, "stream": True}
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
    return _json.dumps(body)


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
        self._max_answer_size = max_answer_size
        self._max_body_size = max_body_size
        self.name = name
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
        response = await _http.open_stream(session, url, headers, body)
        secrets = _http.request_secrets(request.credential, url)
        reader = _ChunkReader(
            secrets,
            AnswerBudget(self._max_answer_size),
            every_chunk=request.passthrough is not None,
        )
        answered = False
        try:
            if not 200 <= response.status < 300:
                raise await _http.openai_status_error(response, secrets)
            if "json" in response.headers.get("Content-Type", ""):
                completion = await _read_json(response, secrets, self._max_body_size)
                answered = True
                yield reader.finish_completion(completion)
                return
            decoder = SSEDecoder(self._max_event_size)
            async for chunk in response.content.iter_any():
                for sse in decoder.feed(chunk):
                    if sse.data == "[DONE]":
                        answered = True
                        yield reader.finish()
                        return
                    delta = reader.feed(sse.data)
                    if delta is not None:
                        yield delta
            for sse in decoder.close():
                if sse.data != "[DONE]":
                    delta = reader.feed(sse.data)
                    if delta is not None:
                        yield delta
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
    """Parses ``chat.completion.chunk`` events into text deltas carrying the chunk itself."""

    __slots__ = ("_assembler", "_every_chunk", "budget", "secrets")

    def __init__(
        self, secrets: tuple[str, ...], budget: AnswerBudget, *, every_chunk: bool
    ) -> None:
        #: The request's credentials: an in-stream error quoting them is redacted.
        self.secrets = secrets
        #: Every part of the answer (text, tool-call arguments…) is charged to it.
        self.budget = budget
        self._assembler = ChoiceAssembler()
        #: Passthrough: every chunk is handed on (tool calls, logprobs, usage…), not only text.
        self._every_chunk = every_chunk

    @property
    def text(self) -> str:
        return self._assembler.text()

    def feed(self, data: str) -> TextDelta | None:
        try:
            chunk = _json.loads(data)
        except orjson.JSONDecodeError:
            raise UpstreamProtocolError(
                "the upstream sent an event that is not valid JSON"
            ) from None
        if not isinstance(chunk, dict):
            return None
        if chunk.get("error"):
            raise UpstreamStreamError(_error_message(chunk["error"]), secrets=self.secrets)
        choices = chunk.get("choices")
        if isinstance(choices, list):
            for choice in choices:
                if isinstance(choice, dict):
                    _charge(self.budget, choice.get("delta"))
        text = self._assembler.feed_chunk(chunk)
        if text or self._every_chunk:
            return TextDelta(text, chunk)
        return None

    def finish_completion(self, completion: dict[str, Any]) -> Finished:
        if not isinstance(completion.get("choices"), list) or not completion["choices"]:
            raise UpstreamNoAnswer("the upstream sent no answer")
        for choice in completion["choices"]:
            if isinstance(choice, dict):
                _charge(self.budget, choice.get("message"))
        self._assembler.take_completion(completion)
        return self.finish(raw=completion)

    def finish(self, raw: dict[str, Any] | None = None) -> Finished:
        assembler = self._assembler
        if not assembler.answered:
            raise UpstreamNoAnswer("the upstream sent no answer")
        choices = assembler.choices()
        first = choices[0] if choices else None
        return Finished(
            text=first.text if first else "",
            conversation_id=None,
            message_id=assembler.id or f"chatcmpl-{uuid.uuid4().hex}",
            finish_reason=(first.finish_reason if first else None) or "stop",
            usage=assembler.usage,
            choices=choices,
            raw=raw,
        )


def _charge(budget: AnswerBudget, value: Any) -> None:
    """Charge every string of a delta or message (text, refusal, reasoning, arguments…)."""
    if type(value) is dict and len(value) == 1 and type(value.get("content")) is str:
        budget.charge(value["content"])  # the common case: one text fragment
    elif isinstance(value, str):
        budget.charge(value)
    elif isinstance(value, dict):
        for item in value.values():
            _charge(budget, item)
    elif isinstance(value, list):
        for item in value:
            _charge(budget, item)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _error_message(error: Any) -> str:
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    return error if isinstance(error, str) else orjson.dumps(error).decode()


async def _read_json(
    response: aiohttp.ClientResponse, secrets: tuple[str, ...], limit: int
) -> dict[str, Any]:
    """The whole JSON reply; a body cut off by the upstream raises (as a stream does)."""
    parts: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise AnswerTooLarge(limit, "max_upstream_body_size")
        parts.append(chunk)
    try:
        obj = _json.loads(b"".join(parts))
    except orjson.JSONDecodeError:
        raise UpstreamProtocolError("the upstream sent a reply that is not valid JSON") from None
    if not isinstance(obj, dict):
        raise UpstreamProtocolError("the upstream sent a reply that is not a JSON object")
    if obj.get("error"):
        raise UpstreamStreamError(_error_message(obj["error"]), secrets=secrets)
    return obj
