"""OpenAI-style routes of the emulator (``base_url = f"{emu.url}/v1"`` for the ``openai`` SDK).

``GET /v1/models[/<id>]``, ``POST /v1/chat/completions`` (deterministic answers from
:mod:`.openai_protocol`, whole or streamed) and ``POST /v1/embeddings``. The same routes under
``/openai-faults/<fault>/v1`` (or with ``X-Emulator-Fixture: <fault>``) answer with one of
:data:`OPENAI_FAULTS`: ``429``, ``500``, ``502`` at once; ``drop`` (cut and reset), ``stall``,
``garbage`` (a non-JSON data line) and ``slow`` (100 ms between chunks). Requests are
authenticated and validated like the real API (401, 400, 404 with OpenAI error bodies).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from typing import Any

from aiohttp import hdrs, web

from .openai_embeddings import embeddings_response, parse_embeddings_request
from .openai_protocol import (
    ChatRequest,
    Completion,
    OpenAIError,
    chat_completion,
    complete,
    completion_chunk,
    model_object,
    models_list,
    new_completion_id,
    parse_chat_request,
    split_text,
    sse_bytes,
    stream_objects,
)
from .options import EmulatorOptions
from .wire import (
    DELAY_HEADER,
    FIXTURE_HEADER,
    MAX_STALL_SECONDS,
    STALL_HEADER,
    BadHeader,
    current_record,
    header_seconds,
    reset_connection,
    start_stream,
    write_chunks,
)

__all__ = ["INVALID_API_KEYS", "OPENAI_FAULTS", "add_openai_routes"]

OPENAI_FAULTS = ("429", "500", "502", "drop", "stall", "garbage", "slow")
#: Bearer tokens refused with 401 ``invalid_api_key``.
INVALID_API_KEYS = frozenset({"sk-expired", "bad-key"})
RETRY_AFTER_SECONDS = 7
SLOW_CHUNK_DELAY_SECONDS = 0.1
#: ``created`` of every model object (a fixed date keeps ``/v1/models`` byte-stable).
MODELS_CREATED = 1_700_000_000

SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8"
JSON_CONTENT_TYPE = "application/json"
_DONE = b"data: [DONE]\n\n"
_GARBAGE_LINE = b'data: {"choices": [{"delta": oops, this is not JSON\n\n'
_STATUS_FAULTS = ("429", "500", "502")


def _request_id_headers() -> dict[str, str]:
    return {"x-request-id": "req_" + secrets.token_hex(16)}


def _json(status: int, obj: Any, headers: dict[str, str] | None = None) -> web.Response:
    """Compact JSON with ``Content-Type: application/json`` (no charset, like the real API)."""
    data = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    resp = web.Response(
        status=status, body=data, headers={**_request_id_headers(), **(headers or {})}
    )
    resp.headers[hdrs.CONTENT_TYPE] = JSON_CONTENT_TYPE
    return resp


def _error_response(error: OpenAIError) -> web.Response:
    return _json(error.status, error.body(), error.headers)


def _status_fault(fault: str, body: bytes) -> web.Response:
    """The immediate answer of the faults ``429``, ``500`` and ``502``."""
    if fault == "502":
        return web.Response(status=502, text="Bad Gateway", content_type="text/plain")
    if fault == "500":
        return _error_response(
            OpenAIError(
                500,
                "The server had an error while processing your request. Sorry about that!",
                type="server_error",
            )
        )
    model = "gpt-4o-mini"
    try:
        doc = json.loads(body) if body.strip() else None
    except ValueError:
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("model"), str):
        model = doc["model"]
    return _error_response(
        OpenAIError(
            429,
            f"Rate limit reached for {model} in organization org-emulator on requests per min "
            f"(RPM): Limit 3, Used 3, Requested 1. Please try again in {RETRY_AFTER_SECONDS}s. "
            "Visit https://platform.openai.com/account/rate-limits to learn more.",
            type="requests",
            code="rate_limit_exceeded",
            headers={
                "Retry-After": str(RETRY_AFTER_SECONDS),
                "x-ratelimit-limit-requests": "3",
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-requests": f"{RETRY_AFTER_SECONDS}s",
            },
        )
    )


def _check_key(request: web.Request) -> None:
    """Raise the 401 of a missing or refused bearer token."""
    scheme, _, key = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise OpenAIError(401, "Missing bearer authentication in header")
    if key in INVALID_API_KEYS:
        shown = key[:3] + "*" * max(0, len(key) - 7) + key[-4:] if len(key) > 7 else key
        raise OpenAIError(
            401,
            f"Incorrect API key provided: {shown}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            code="invalid_api_key",
        )


class _OpenAIRoutes:
    """The handlers, bound to the emulator's options."""

    def __init__(self, options: EmulatorOptions) -> None:
        self.options = options

    def _fault(self, request: web.Request) -> str | None:
        fault = request.match_info.get("fault") or request.headers.get(FIXTURE_HEADER) or None
        if fault is None:
            return None
        if fault not in OPENAI_FAULTS:
            raise OpenAIError(
                400,
                f"Unknown emulator fault {fault!r}; known faults: {', '.join(OPENAI_FAULTS)}.",
                param=FIXTURE_HEADER,
            )
        record = current_record()
        if record is not None:
            record.fixture = fault
        return fault

    async def _prologue(self, request: web.Request) -> tuple[str | None, float]:
        """The fault and the chunk delay, after the requested stall; raises OpenAIError."""
        fault = self._fault(request)
        try:
            delay = header_seconds(request, DELAY_HEADER)
            stall = header_seconds(request, STALL_HEADER)
        except BadHeader as exc:
            raise OpenAIError(400, str(exc)) from None
        if stall > 0:
            await asyncio.sleep(stall)
        return fault, delay

    async def list_models(self, request: web.Request) -> web.StreamResponse:
        """``GET /v1/models``."""
        try:
            fault, _ = await self._prologue(request)
            if fault in _STATUS_FAULTS:
                return _status_fault(fault or "", await request.read())
            if self.options.require_auth:
                _check_key(request)
        except OpenAIError as error:
            return _error_response(error)
        return _json(200, models_list(self.options.openai_models, MODELS_CREATED))

    async def get_model(self, request: web.Request) -> web.StreamResponse:
        """``GET /v1/models/<id>``."""
        try:
            fault, _ = await self._prologue(request)
            if fault in _STATUS_FAULTS:
                return _status_fault(fault or "", await request.read())
            if self.options.require_auth:
                _check_key(request)
            model = request.match_info["model"]
            if model not in self.options.openai_models:
                raise OpenAIError(
                    404,
                    f"The model '{model}' does not exist",
                    param="model",
                    code="model_not_found",
                )
        except OpenAIError as error:
            return _error_response(error)
        return _json(200, model_object(model, MODELS_CREATED))

    async def chat_completions(self, request: web.Request) -> web.StreamResponse:
        """``POST /v1/chat/completions``."""
        body = await request.read()
        try:
            fault, delay = await self._prologue(request)
            if fault in _STATUS_FAULTS:
                return _status_fault(fault or "", body)
            if self.options.require_auth:
                _check_key(request)
            chat = parse_chat_request(body, self.options.openai_models)
        except OpenAIError as error:
            return _error_response(error)
        completion = complete(chat)
        if fault == "slow":
            delay = SLOW_CHUNK_DELAY_SECONDS
        elif delay <= 0:
            delay = self.options.chunk_delay_ms / 1000.0
        if fault == "stall":
            return await self._stall(request, stream=chat.stream)
        if fault == "garbage":
            return await self._garbage(request, chat)
        if chat.stream:
            return await self._stream(request, chat, completion, delay, drop=fault == "drop")
        return await self._whole(request, chat, completion, delay, drop=fault == "drop")

    async def _stream(
        self,
        request: web.Request,
        chat: ChatRequest,
        completion: Completion,
        delay: float,
        *,
        drop: bool,
    ) -> web.StreamResponse:
        pieces = max(self.options.chunks, 3 if drop else 1)
        objects = stream_objects(new_completion_id(), int(time.time()), chat, completion, pieces)
        events = [sse_bytes(obj) for obj in objects]
        if drop:
            events = events[:3]
        else:
            events.append(_DONE)
        resp = await start_stream(
            request, 200, SSE_CONTENT_TYPE, chunked=True, headers=_request_id_headers()
        )
        await write_chunks(resp, events, delay)
        if drop:
            await reset_connection(request)
            return resp
        await resp.write_eof()
        return resp

    async def _whole(
        self,
        request: web.Request,
        chat: ChatRequest,
        completion: Completion,
        delay: float,
        *,
        drop: bool,
    ) -> web.StreamResponse:
        doc = chat_completion(new_completion_id(), int(time.time()), chat, completion)
        return await self._send_whole(request, doc, delay, drop=drop)

    async def _send_whole(
        self, request: web.Request, doc: dict[str, Any], delay: float, *, drop: bool
    ) -> web.StreamResponse:
        """A JSON answer: at once, paced in pieces (``delay``), or cut off (``drop``)."""
        data = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
        if not drop and delay <= 0:
            return _json(200, doc)
        resp = await start_stream(
            request,
            200,
            JSON_CONTENT_TYPE,
            chunked=False,
            length=len(data),
            headers=_request_id_headers(),
        )
        if drop:
            await resp.write(data[: len(data) // 2])
            await reset_connection(request)
            return resp
        pieces = [p.encode() for p in split_text(data.decode(), self.options.chunks)]
        await write_chunks(resp, pieces, delay)
        await resp.write_eof()
        return resp

    async def embeddings(self, request: web.Request) -> web.StreamResponse:
        """``POST /v1/embeddings`` (faults as for chat; ``garbage`` sends half a JSON body)."""
        body = await request.read()
        try:
            fault, delay = await self._prologue(request)
            if fault in _STATUS_FAULTS:
                return _status_fault(fault or "", body)
            if self.options.require_auth:
                _check_key(request)
            parsed = parse_embeddings_request(body, self.options.openai_models)
        except OpenAIError as error:
            return _error_response(error)
        if fault == "stall":
            return await self._stall(request, stream=False)
        doc = embeddings_response(parsed)
        if fault == "garbage":
            data = json.dumps(doc).encode()
            return web.Response(
                body=data[: len(data) // 2],
                headers=_request_id_headers(),
                content_type=JSON_CONTENT_TYPE,
            )
        if fault == "slow":
            delay = SLOW_CHUNK_DELAY_SECONDS
        return await self._send_whole(request, doc, delay, drop=fault == "drop")

    async def _stall(self, request: web.Request, *, stream: bool) -> web.StreamResponse:
        content_type = SSE_CONTENT_TYPE if stream else JSON_CONTENT_TYPE
        resp = await start_stream(
            request, 200, content_type, chunked=True, headers=_request_id_headers()
        )
        await asyncio.sleep(MAX_STALL_SECONDS)
        await resp.write_eof()
        return resp

    async def _garbage(self, request: web.Request, chat: ChatRequest) -> web.StreamResponse:
        first = completion_chunk(
            new_completion_id(), int(time.time()), chat.model, {"role": "assistant", "content": ""}
        )
        resp = await start_stream(
            request, 200, SSE_CONTENT_TYPE, chunked=True, headers=_request_id_headers()
        )
        await write_chunks(resp, [sse_bytes(first), _GARBAGE_LINE, _DONE], 0)
        await resp.write_eof()
        return resp


def add_openai_routes(app: web.Application, options: EmulatorOptions) -> None:
    """Register the OpenAI-style routes (plain and under ``/openai-faults/<fault>``)."""
    routes = _OpenAIRoutes(options)
    for prefix in ("", "/openai-faults/{fault}"):
        app.router.add_get(f"{prefix}/v1/models", routes.list_models)
        app.router.add_get(f"{prefix}/v1/models/{{model:.+}}", routes.get_model)
        app.router.add_post(f"{prefix}/v1/chat/completions", routes.chat_completions)
        app.router.add_post(f"{prefix}/v1/embeddings", routes.embeddings)
