"""The emulator's ChatGPT web file upload flow (see docs/chatgpt-web-files.md).

``POST {base}/files`` (→ a signed upload URL on the emulator), ``PUT /blob/<id>?sig=...`` (the
bytes, like Azure Blob Storage) and ``POST {base}/files/<id>/uploaded``, under every conversation
base. Files belong to the bearer token that created them; :meth:`FileStore.referenced` refuses a
turn referring to an unknown, foreign or unconfirmed file (400 ``file_not_found``). Under
``/upload-faults/<step>/backend-api`` a step fails: ``create``, ``upload``, ``confirm``, or
``elsewhere`` (the upload URL names ``127.0.0.2``, for the network-policy tests).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from aiohttp import hdrs, web

__all__ = ["FileStore", "StoredFile", "add_file_routes", "describe"]

_USE_CASES = frozenset({"multimodal", "my_files", "ace_upload"})
_POINTER_PREFIXES = ("file-service://", "sediment://")
_BASES = ("/backend-api", "/api", "", "/upload-faults/{fault}/backend-api")


@dataclass
class StoredFile:
    """One file entry of the emulated files service."""

    id: str
    name: str
    size: int
    use_case: str
    owner: str
    fault: str | None = None
    mime_type: str | None = None
    data: bytes | None = None
    confirmed: bool = False


class FileStore:
    """The emulated files service: entries by id, upload signatures."""

    def __init__(self) -> None:
        self.files: dict[str, StoredFile] = {}
        self._key = secrets.token_bytes(16)

    def signature(self, file_id: str) -> str:
        return hmac.new(self._key, file_id.encode(), hashlib.sha256).hexdigest()[:32]

    def referenced(self, data: dict[str, Any], owner: str) -> list[StoredFile] | str:
        """The files a conversation request's message references, or why it cannot be sent."""
        messages = data.get("messages")
        message = messages[0] if isinstance(messages, list) and messages else None
        if not isinstance(message, dict):
            return []
        ids: list[str] = []
        content = message.get("content")
        parts = content.get("parts") if isinstance(content, dict) else None
        for part in parts if isinstance(parts, list) else []:
            if not isinstance(part, dict):
                continue
            pointer = part.get("asset_pointer")
            if part.get("content_type") != "image_asset_pointer" or not isinstance(pointer, str):
                return f"Unsupported content part: {part.get('content_type')!r}"
            prefix = next((p for p in _POINTER_PREFIXES if pointer.startswith(p)), None)
            if prefix is None:
                return f"Invalid asset pointer {pointer!r}"
            file_id = pointer[len(prefix) :]
            problem = self._check(file_id, owner, part.get("size_bytes"))
            if problem:
                return problem
            if not isinstance(part.get("width"), int) or not isinstance(part.get("height"), int):
                return f"Image {file_id} needs width and height"
            ids.append(file_id)
        metadata = message.get("metadata")
        attachments = metadata.get("attachments") if isinstance(metadata, dict) else None
        for entry in attachments if isinstance(attachments, list) else []:
            attached = entry.get("id") if isinstance(entry, dict) else None
            if not isinstance(attached, str):
                return "Every attachment needs an id"
            problem = self._check(attached, owner, entry.get("size"))
            if problem:
                return problem
            if attached not in ids:
                ids.append(attached)
        return [self.files[file_id] for file_id in ids]

    def _check(self, file_id: str, owner: str, size: object) -> str | None:
        file = self.files.get(file_id)
        if file is None or file.owner != owner:
            return f"File {file_id} not found"
        if file.data is None or not file.confirmed:
            return f"File {file_id} was not uploaded (the upload was not confirmed)"
        if size is not None and size != file.size:
            return f"File {file_id} is {file.size} bytes, not {size}"
        return None


def describe(files: list[StoredFile]) -> str:
    """What the demo says it received: `` I see 1 image: image/png 1x1.`` and so on."""
    images = [f for f in files if f.use_case == "multimodal"]
    others = [f for f in files if f.use_case != "multimodal"]
    out = ""
    if images:
        shown = ", ".join(f"{f.mime_type} {_size(f)}" for f in images)
        out += f" I see {len(images)} image{'s' if len(images) > 1 else ''}: {shown}."
    if others:
        shown = ", ".join(f"{f.name} ({f.mime_type}, {f.size} bytes)" for f in others)
        out += f" I see {len(others)} file{'s' if len(others) > 1 else ''}: {shown}."
    return out


def _size(file: StoredFile) -> str:
    from chatgpt_api.image_size import sniff_image

    info = sniff_image(file.data or b"")
    return f"{info.width}x{info.height}" if info else "?x?"


def owner_of(request: web.Request) -> str:
    """The bearer token a request carries ("" without one)."""
    scheme, _, token = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _quoting_failure(request: web.Request) -> web.Response:
    """A 500 that quotes the credential back, as a careless proxy's error page does (the
    gateway must redact it)."""
    quoted = request.headers.get(hdrs.AUTHORIZATION, "")
    return web.Response(status=500, text=f"Internal Server Error (request had {quoted})")


def _detail(status: int, message: str, code: str) -> web.Response:
    return web.json_response({"detail": {"message": message, "code": code}}, status=status)


def _store(request: web.Request) -> FileStore:
    from .emulator import STATE

    return request.app[STATE].files


async def create_file(request: web.Request) -> web.Response:
    fault = request.match_info.get("fault")
    if fault == "create":
        return _quoting_failure(request)
    owner = owner_of(request)
    if not owner:
        return _detail(401, "Unauthorized - Access token is missing", "missing_token")
    try:
        body = await request.json()
    except ValueError:
        return _detail(400, "Invalid JSON body", "invalid_request")
    name, size, use_case = (body.get(k) for k in ("file_name", "file_size", "use_case"))
    if not isinstance(name, str) or not name or not isinstance(size, int) or size <= 0:
        return _detail(422, "file_name and a positive file_size are required", "invalid_request")
    if use_case not in _USE_CASES:
        return _detail(422, f"Unknown use_case {use_case!r}", "invalid_request")
    store = _store(request)
    file_id = "file-" + secrets.token_hex(12)
    store.files[file_id] = StoredFile(file_id, name, size, use_case, owner, fault)
    origin = request.url.origin()
    if fault == "elsewhere":
        origin = origin.with_host("127.0.0.2")
    upload_url = f"{origin}/blob/{file_id}?sig={store.signature(file_id)}"
    return web.json_response({"status": "success", "file_id": file_id, "upload_url": upload_url})


async def upload_blob(request: web.Request) -> web.Response:
    store = _store(request)
    file_id = request.match_info["file_id"]
    file = store.files.get(file_id)
    if file is None or not hmac.compare_digest(
        request.query.get("sig", ""), store.signature(file_id)
    ):
        return web.Response(status=403, text="AuthenticationFailed: signature mismatch")
    if hdrs.AUTHORIZATION in request.headers:
        return web.Response(
            status=400, text="InvalidAuthenticationInfo: a signed URL takes no Authorization"
        )
    if request.headers.get("x-ms-blob-type") != "BlockBlob":
        return web.Response(status=400, text="MissingRequiredHeader: x-ms-blob-type")
    if file.fault == "upload":
        return web.Response(status=500, text="ServerBusy")
    data = await request.read()
    if len(data) != file.size:
        return web.Response(status=400, text=f"size {len(data)} is not the announced {file.size}")
    file.data = data
    file.mime_type = request.headers.get(hdrs.CONTENT_TYPE, "application/octet-stream")
    return web.Response(status=201)


async def confirm_upload(request: web.Request) -> web.Response:
    if request.match_info.get("fault") == "confirm":
        return _quoting_failure(request)
    store = _store(request)
    file_id = request.match_info["file_id"]
    file = store.files.get(file_id)
    if file is None or file.owner != owner_of(request):
        return _detail(404, f"File {file_id} not found", "file_not_found")
    if file.data is None:
        return _detail(400, f"File {file_id} has no uploaded content", "upload_incomplete")
    file.confirmed = True
    url = f"{request.url.origin()}/blob/{file_id}?sig={store.signature(file_id)}"
    return web.json_response({"status": "success", "download_url": url})


def add_file_routes(app: web.Application) -> None:
    for base in _BASES:
        app.router.add_post(f"{base}/files", create_file)
        app.router.add_post(f"{base}/files/{{file_id}}/uploaded", confirm_upload)
    app.router.add_put("/blob/{file_id}", upload_blob)
