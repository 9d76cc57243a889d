"""The ChatGPT web file upload flow: create the file entry, upload the bytes, confirm.

For each image or file of a turn: ``POST {base}/files``, ``PUT <signed upload_url>`` (no
Authorization), ``POST {base}/files/{id}/uploaded``; the :class:`UploadedFile` is then referenced
from the message (:func:`multimodal_content`, :func:`attachment`). A failing step raises at once,
naming it; upstream text is redacted and the signed URL never shown whole (see
docs/chatgpt-web-files.md).
:class:`UploadCache` remembers confirmed uploads per upstream, account and content hash (bounded,
for a limited time), so a follow-up with the same image does not upload it again.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from yarl import URL

from chatgpt_api.backends import _http
from chatgpt_api.errors import (
    ConfigurationError,
    RequestError,
    ServiceError,
    UpstreamStatusError,
    UpstreamUploadError,
)
from chatgpt_api.web_media import MediaInput

UPSTREAM_NAME = "ChatGPT"
#: A file id as it may appear in a URL path (``file-AbC123``, ``file_00000000abc``).
_FILE_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
#: Headers of the PUT to the signed upload URL (an Azure Blob Storage URL on chatgpt.com).
BLOB_HEADERS = {"x-ms-blob-type": "BlockBlob", "x-ms-version": "2020-04-08"}

#: ``(session, url)`` to use for an upload URL the upstream returned (network policy applied).
UploadRoute = Callable[[URL], tuple[aiohttp.ClientSession, URL]]


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A confirmed upload: what the conversation message references."""

    file_id: str
    name: str
    mime_type: str
    size: int
    width: int | None = None
    height: int | None = None

    @property
    def is_image(self) -> bool:
        return self.width is not None and self.height is not None


def files_url(conversation_url: URL) -> URL:
    """``{base}/files`` for a conversation URL ``{base}/conversation`` (or ``.../f/conversation``).

    The query string, if any (some proxies take a key there), is kept.
    """
    path = conversation_url.path.rstrip("/")
    if not path.endswith("/conversation"):
        raise ValueError("the conversation URL's path does not end in /conversation")
    base = path[: -len("/conversation")]
    if base.endswith("/f"):
        base = base[:-2]
    return conversation_url.with_path(f"{base}/files", keep_query=True)


def use_case(media: MediaInput) -> str:
    """``multimodal`` for images (the model sees them), ``my_files`` for other files."""
    return "multimodal" if media.kind == "image" else "my_files"


def asset_pointer(file: UploadedFile) -> dict[str, Any]:
    """The ``image_asset_pointer`` part of a ``multimodal_text`` message for an image."""
    return {
        "content_type": "image_asset_pointer",
        "asset_pointer": f"file-service://{file.file_id}",
        "size_bytes": file.size,
        "width": file.width,
        "height": file.height,
    }


def attachment(file: UploadedFile) -> dict[str, Any]:
    """The ``metadata.attachments`` entry for an uploaded image or file."""
    entry: dict[str, Any] = {
        "id": file.file_id,
        "name": file.name,
        "size": file.size,
        "mime_type": file.mime_type,
    }
    if file.is_image:
        entry["width"], entry["height"] = file.width, file.height
    return entry


def multimodal_content(prompt: str, files: Sequence[UploadedFile]) -> dict[str, Any]:
    """The message ``content``: ``multimodal_text`` with the images' pointers before the text
    when there are images (as the web client sends it), plain ``text`` otherwise."""
    images = [asset_pointer(f) for f in files if f.is_image]
    if not images:
        return {"content_type": "text", "parts": [prompt]}
    return {"content_type": "multimodal_text", "parts": [*images, prompt]}


class UploadCache:
    """Confirmed uploads by (scope, content SHA-256): LRU-bounded, each for ``ttl`` seconds."""

    def __init__(self, max_entries: int, ttl: float) -> None:
        self._max = max_entries
        self._ttl = ttl
        self._entries: OrderedDict[tuple[str, str], tuple[float, UploadedFile]] = OrderedDict()

    @staticmethod
    def scope(files: URL, credential: str) -> str:
        """Who owns an upload: the upstream and the account, hashed (no secret is kept)."""
        return hashlib.sha256(f"{files}\n{credential}".encode()).hexdigest()

    def get(self, scope: str, sha256: str) -> UploadedFile | None:
        key = (scope, sha256)
        found = self._entries.get(key)
        if found is None:
            return None
        expires, file = found
        if expires <= time.monotonic():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return file

    def put(self, scope: str, sha256: str, file: UploadedFile) -> None:
        if self._max <= 0:
            return
        self._entries[(scope, sha256)] = (time.monotonic() + self._ttl, file)
        self._entries.move_to_end((scope, sha256))
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def discard(self, scope: str, sha256: str) -> None:
        self._entries.pop((scope, sha256), None)

    def __len__(self) -> int:
        return len(self._entries)


@dataclass(frozen=True, slots=True)
class UploadTarget:
    """Where and as whom one turn's files are uploaded."""

    session: aiohttp.ClientSession
    files: URL
    credential: str
    secrets: tuple[str, ...]
    #: The session and URL for an upload URL (the network policy of the conversation URL).
    route_upload: UploadRoute


class WebFileUploader:
    """Runs the upload flow for a turn's images and files, reusing cached uploads."""

    def __init__(self, cache: UploadCache) -> None:
        self.cache = cache

    async def upload_all(
        self, media: Sequence[MediaInput], target: UploadTarget
    ) -> list[UploadedFile]:
        scope = UploadCache.scope(target.files, target.credential)
        uploaded: list[UploadedFile] = []
        for item in media:
            sha256 = item.sha256
            file = self.cache.get(scope, sha256)
            if file is None:
                file = await self._upload(item, target)
                self.cache.put(scope, sha256, file)
            uploaded.append(file)
        return uploaded

    def forget(self, media: Sequence[MediaInput], target: UploadTarget) -> None:
        """Drop these uploads from the cache: the upstream refused a turn that referenced them
        (a file it no longer knows must not fail every retry until the entry expires)."""
        scope = UploadCache.scope(target.files, target.credential)
        for item in media:
            self.cache.discard(scope, item.sha256)

    async def _upload(self, media: MediaInput, target: UploadTarget) -> UploadedFile:
        headers = {
            "Authorization": f"Bearer {target.credential}",
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
        created = await _json_step(
            "create",
            target.session,
            target.files,
            headers,
            {"file_name": media.name, "file_size": len(media.data), "use_case": use_case(media)},
            target.secrets,
        )
        file_id = created.get("file_id")
        upload_url = created.get("upload_url")
        if not isinstance(file_id, str) or not _FILE_ID.fullmatch(file_id):
            raise _failed("create", "the reply has no usable file_id", target.secrets)
        if not isinstance(upload_url, str):
            raise _failed("create", "the reply has no upload_url", target.secrets)
        await _put_bytes(media, upload_url, target)
        confirm = target.files.with_path(f"{target.files.path}/{file_id}/uploaded", keep_query=True)
        confirmed = await _json_step(
            "confirm", target.session, confirm, headers, {}, target.secrets
        )
        status = confirmed.get("status")
        if status is not None and status != "success":
            raise _failed("confirm", f"the upload was not accepted ({status!r})", target.secrets)
        return UploadedFile(
            file_id, media.name, media.mime_type, len(media.data), media.width, media.height
        )


async def _json_step(
    step: str,
    session: aiohttp.ClientSession,
    url: URL,
    headers: dict[str, str],
    body: dict[str, Any],
    secrets: tuple[str, ...],
) -> dict[str, Any]:
    """POST ``body`` to a backend-api files endpoint; its JSON object reply, or an error naming
    the step (a non-2xx keeps the upstream's status: 401 and 429 mean the account)."""
    where = f"POST {url.path}"
    try:
        response = await session.post(
            url, data=orjson.dumps(body), headers=headers, allow_redirects=False
        )
    except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
        raise _connect_failed(step, url, exc) from exc
    try:
        raw = await _http.read_limited(response)
    finally:
        response.release()
    text = raw.decode("utf-8", "replace")
    if not 200 <= response.status < 300:
        raise UpstreamStatusError(
            f"{UPSTREAM_NAME} file upload failed at step '{step}' ({where}): "
            f"{UPSTREAM_NAME} error {response.status}: {text}",
            response.status,
            secrets=secrets,
            retry_after=_http.retry_after_seconds(response.headers.get("Retry-After")),
        )
    try:
        reply = orjson.loads(raw)
    except orjson.JSONDecodeError:
        reply = None
    if not isinstance(reply, dict):
        raise _failed(step, f"the reply to {where} is not a JSON object: {text[:200]}", secrets)
    return reply


async def _put_bytes(media: MediaInput, upload_url: str, target: UploadTarget) -> None:
    """PUT the bytes to the signed upload URL: never with the access token."""
    try:
        parsed = _http.parse_upstream_url(upload_url)
    except ServiceError:
        raise _failed("upload", "the upload_url is not an http(s) URL", target.secrets) from None
    try:
        session, url = target.route_upload(parsed)
    except RequestError as exc:  # the network policy refused the host
        raise _failed(
            "upload", f"the upload URL the upstream returned is refused: {exc.message}", ()
        ) from None
    where = f"PUT to {url.host}"
    headers = {"Content-Type": media.mime_type, **BLOB_HEADERS}
    try:
        response = await session.put(url, data=media.data, headers=headers, allow_redirects=False)
    except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
        raise _connect_failed("upload", url, exc) from exc
    try:
        if not 200 <= response.status < 300:
            body = (await _http.read_limited(response, 2048)).decode("utf-8", "replace")
            raise _failed(
                "upload",
                f"{where} answered {response.status}: {body}",
                (*target.secrets, url.query_string),
            )
    finally:
        response.release()


def _failed(step: str, why: str, secrets: Sequence[str]) -> UpstreamUploadError:
    return UpstreamUploadError(
        f"{UPSTREAM_NAME} file upload failed at step '{step}': {why}", secrets=secrets
    )


def _connect_failed(step: str, url: URL, exc: BaseException) -> UpstreamUploadError:
    reason = _http.connect_error(url, exc).message
    return UpstreamUploadError(f"{UPSTREAM_NAME} file upload failed at step '{step}': {reason}")


def files_url_for(conversation_url: URL, *, client_given: bool) -> URL:
    """:func:`files_url`, or the error for a conversation URL it cannot be derived from."""
    try:
        return files_url(conversation_url)
    except ValueError:
        message = (
            "images and files need the ChatGPT web files endpoint, derived from the "
            "conversation URL, whose path must end in /conversation"
        )
        if client_given:
            raise RequestError(message, param="reverse_proxy") from None
        raise ConfigurationError(message) from None
