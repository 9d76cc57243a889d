"""The ChatGPT web backend: one turn on the ``backend-api/conversation`` protocol.

The request is the seed's (``action: next``, one user message, ``parent_message_id``,
``conversation_id`` on follow-ups), POSTed verbatim to the reverse proxy URL with the access
token; images and files are uploaded first (:mod:`.web_files`). The answer is read by
:class:`~chatgpt_api.backends.web_answer.WebAnswerReader` and charged to an
:class:`~chatgpt_api.backends.budget.AnswerBudget`; a 2xx JSON body is an error at once. Errors
carrying upstream text are redacted against the request's secrets.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Sequence
from typing import Any

import aiohttp
import orjson
from yarl import URL

from chatgpt_api.backends import _http, _json
from chatgpt_api.backends.budget import AnswerBudget
from chatgpt_api.backends.web_answer import WebAnswerReader
from chatgpt_api.backends.web_files import (
    UploadCache,
    UploadedFile,
    UploadTarget,
    WebFileUploader,
    attachment,
    files_url_for,
    multimodal_content,
)
from chatgpt_api.errors import (
    ConfigurationError,
    UpstreamProtocolError,
    UpstreamStatusError,
    UpstreamTerminated,
)
from chatgpt_api.messages import ChatEvent, ChatRequest
from chatgpt_api.netpolicy.session import RequestUpstreams, pinned
from chatgpt_api.sse import EventTooLarge, SSEDecoder
from chatgpt_api.web_media import MediaInput, media_parts, parse_media_part

UPSTREAM_NAME = "ChatGPT"


def build_conversation_body(request: ChatRequest, files: Sequence[UploadedFile] = ()) -> bytes:
    """The upstream JSON body for one "next" turn, compact, keys in the seed's order.

    Uploaded ``files`` are referenced from the message: images as ``image_asset_pointer``
    parts of a ``multimodal_text`` content, every file in ``metadata.attachments``.
    """
    message: dict[str, Any] = {
        "id": request.user_message_id or str(uuid.uuid4()),
        "author": {"role": "user"},
        "role": "user",
        "content": multimodal_content(request.prompt, files),
    }
    if files:
        message["metadata"] = {"attachments": [attachment(f) for f in files]}
    body: dict[str, Any] = {
        "action": "next",
        "messages": [message],
        "model": request.model,
        "parent_message_id": request.parent_message_id or str(uuid.uuid4()),
    }
    if request.conversation_id:
        body["conversation_id"] = request.conversation_id
    return _json.dumps(body)


class ChatGPTWebBackend:
    """Talks to the ChatGPT web conversation endpoint through a configurable URL."""

    name = "chatgpt-web"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        default_url: str | None,
        max_event_size: int,
        request_upstreams: RequestUpstreams | None = None,
        missing_url_message: str = "no upstream configured",
        max_answer_size: int = 2 * 1024 * 1024,
        upload_cache: UploadCache | None = None,
        max_file_size: int = 20 * 1024 * 1024,
    ) -> None:
        self._session = session
        self._uploader = WebFileUploader(upload_cache or UploadCache(1024, 86400.0))
        self._max_file_size = max_file_size
        self._max_answer_size = max_answer_size
        self._default_url = default_url
        self._missing_url_message = missing_url_message
        self._max_event_size = max_event_size
        self._request_upstreams = request_upstreams

    async def stream_chat(self, request: ChatRequest) -> AsyncGenerator[ChatEvent, None]:
        configured = request.upstream_url
        if configured is None:
            if not self._default_url:
                raise ConfigurationError(self._missing_url_message)
            configured = self._default_url
        session, url = self._session, _http.parse_upstream_url(configured)
        if request.upstream_url is not None:  # a client's URL: network policy, pinned session
            session, url = pinned(self._request_upstreams, url)
        headers = {
            "Authorization": f"Bearer {request.credential}",
            "Accept": "text/event-stream",
            "Content-Type": "application/json",
        }
        secrets = _http.request_secrets(request.credential, url)
        files: list[UploadedFile] = []
        media = _request_media(request, self._max_file_size)
        target = self._upload_target(request, session, url, secrets) if media else None
        if target is not None:
            files = await self._uploader.upload_all(media, target)
        body = build_conversation_body(request, files)
        response = await _http.open_stream(session, url, headers, body)
        budget = AnswerBudget(self._max_answer_size)
        reader = WebAnswerReader(request.conversation_id, secrets=secrets, budget=budget)
        decoder = SSEDecoder(self._max_event_size)
        try:
            try:
                await _http.raise_for_status(response, UPSTREAM_NAME, secrets)
            except UpstreamStatusError:
                if target is not None:  # a cached file the upstream lost: upload it next time
                    self._uploader.forget(media, target)
                raise
            started = False
            async for chunk in response.content.iter_any():
                if not started:
                    if chunk.lstrip()[:1] in (b"{", b"["):
                        await _raise_json_reply(response, chunk, secrets)
                    started = bool(chunk.strip())
                for sse in decoder.feed(chunk):
                    for event in reader.feed(sse.data):
                        yield budget.observe(event)
                    if reader.done:
                        yield reader.finish()
                        return
            for sse in decoder.close():
                for event in reader.feed(sse.data):
                    yield budget.observe(event)
            yield reader.finish()
        except _http.BODY_ERRORS:
            raise UpstreamTerminated(reader.text) from None
        except EventTooLarge as exc:
            raise UpstreamProtocolError(
                f"{UPSTREAM_NAME} sent an event larger than {exc.limit} bytes"
            ) from None
        finally:
            _http.finish(response, answered=reader.done)

    def _upload_target(
        self,
        request: ChatRequest,
        session: aiohttp.ClientSession,
        url: URL,
        secrets: tuple[str, ...],
    ) -> UploadTarget:
        """Where the turn's images and files go: under the conversation URL's base. The upload
        URL the upstream returns is used under the same network policy as the conversation
        URL: checked and pinned for a client's ``reverse_proxy``, trusted for a configured one."""
        client_given = request.upstream_url is not None
        upstreams = self._request_upstreams

        def route_upload(upload_url: URL) -> tuple[aiohttp.ClientSession, URL]:
            if client_given:
                return pinned(upstreams, upload_url)
            return self._session, upload_url

        return UploadTarget(
            session=session,
            files=files_url_for(url, client_given=client_given),
            credential=request.credential,
            secrets=secrets,
            route_upload=route_upload,
        )


def _request_media(request: ChatRequest, max_size: int) -> list[MediaInput]:
    """The images and files the new message carries (see :mod:`chatgpt_api.web_media`)."""
    if not request.messages:
        return []
    parts = media_parts(request.messages[-1])
    return [
        parse_media_part(part, f"content[{index}]", request.model, max_size=max_size)
        for index, part in enumerate(parts)
    ]


async def _raise_json_reply(
    response: aiohttp.ClientResponse, first: bytes, secrets: tuple[str, ...]
) -> None:
    """A 2xx JSON body where an event stream was expected: report it as an upstream error."""
    rest = await _http.read_limited(response, max(0, _http.ERROR_BODY_LIMIT - len(first)))
    text = (first + rest).decode("utf-8", "replace")
    message = f"{UPSTREAM_NAME} error {response.status}: {text}"
    try:
        detail = orjson.loads(text).get("detail")
    except (orjson.JSONDecodeError, AttributeError):
        detail = None
    if isinstance(detail, dict) and detail.get("type") == "invalid_request_error":
        message = (
            f"{UPSTREAM_NAME} error {detail.get('message')}: {detail.get('code')} "
            "(invalid_request_error)"
        )
    raise UpstreamStatusError(message, response.status, secrets=secrets)
