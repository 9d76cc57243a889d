"""Images and files of chat messages, as the ChatGPT web backend takes them: checked and decoded.

An ``image_url`` part must be a base64 ``data:`` URL of a PNG, JPEG, GIF or WebP image (an
``http(s)`` URL is refused: fetching it would be SSRF); a ``file`` part carries base64
``file_data`` (a ``file_id`` cannot be resolved). Anything else is a 400 naming the part.
:func:`check_media_part` runs in the request check; :func:`parse_media_part` decodes for the
upload and applies the size limit; :func:`with_media` carries the parts of messages folded into
one web prompt over to that prompt.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import mimetypes
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from chatgpt_api.errors import RequestError
from chatgpt_api.image_size import sniff_image
from chatgpt_api.messages import JSONObject, Message

#: Content part types the ChatGPT web backend uploads.
MEDIA_PART_TYPES: Final = frozenset({"image_url", "file"})

_DATA_URL = re.compile(r"data:([\w.+-]+/[\w.+-]+)?((?:;[^;,]*)*);base64,", re.ASCII)
_IMAGE_KEYS: Final = frozenset({"url", "detail"})
_FILE_KEYS: Final = frozenset({"file_data", "file_id", "filename"})
_MAX_NAME = 200


@dataclass(frozen=True, slots=True)
class MediaInput:
    """One image or file to upload: its bytes, type, name and (images) pixel size."""

    kind: Literal["image", "file"]
    data: bytes
    mime_type: str
    name: str
    width: int | None = None
    height: int | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def media_parts(message: Message) -> list[JSONObject]:
    """The ``image_url`` and ``file`` parts of ``message`` (its chat form), in order."""
    content = message.raw.get("content") if message.raw is not None else None
    if not isinstance(content, list):
        return []
    return [p for p in content if isinstance(p, dict) and p.get("type") in MEDIA_PART_TYPES]


def with_media(prompt: Message, sources: Sequence[Message]) -> Message:
    """``prompt`` (the text sent upstream) carrying every image and file part of ``sources``."""
    parts = [part for message in sources for part in media_parts(message)]
    if not parts:
        return prompt
    raw = {"role": "user", "content": [{"type": "text", "text": prompt.content}, *parts]}
    return Message("user", prompt.content, raw)


def check_media_part(part: JSONObject, param: str, model: str) -> None:
    """Refuse (400, naming the parameter) an image or file part the web backend cannot send."""
    parse_media_part(part, param, model)


def parse_media_part(
    part: JSONObject, param: str, model: str, *, max_size: int | None = None
) -> MediaInput:
    """The image or file ``part`` carries, decoded, or a :class:`RequestError`."""
    kind = part.get("type")
    extra = sorted(set(part) - {"type", kind})
    if extra:
        raise _refused(f"'{extra[0]}' on {kind} parts", f"{param}.{extra[0]}", model)
    if kind == "image_url":
        media = _image(part.get("image_url"), f"{param}.image_url", model)
    else:
        media = _file(part.get("file"), f"{param}.file", model)
    if max_size is not None and len(media.data) > max_size:
        raise RequestError(
            f"this {media.kind} is {len(media.data)} bytes, over the limit of {max_size} bytes "
            "for the chatgpt-web upload (setting web_upload_max_file_size)",
            param=param,
        )
    return media


def _image(value: Any, param: str, model: str) -> MediaInput:
    if not isinstance(value, dict):
        raise RequestError("expected an object with a url", param=param)
    extra = sorted(set(value) - _IMAGE_KEYS)
    if extra:
        raise _refused(f"'image_url.{extra[0]}'", f"{param}.{extra[0]}", model)
    detail = value.get("detail")
    if detail not in (None, "auto"):
        raise _refused(f"image detail '{detail}'", f"{param}.detail", model)
    url = value.get("url")
    if not isinstance(url, str):
        raise RequestError("expected a string", param=f"{param}.url")
    if url[:8].lower().startswith(("http://", "https://")):
        raise RequestError(
            f"image URLs are not fetched on the chatgpt-web backend (model '{model}'): the "
            "gateway does not download from client-given addresses; send the image inline as "
            "a data:image/...;base64, URL (see docs/chatgpt-web-files.md)",
            param=f"{param}.url",
        )
    _, data = _data_url(url, f"{param}.url")
    info = sniff_image(data)
    if info is None:
        raise RequestError(
            "not a PNG, JPEG, GIF or WebP image (the formats ChatGPT web takes)",
            param=f"{param}.url",
        )
    name = f"image-{hashlib.sha256(data).hexdigest()[:12]}{_extension(info.mime_type)}"
    return MediaInput("image", data, info.mime_type, name, info.width, info.height)


def _file(value: Any, param: str, model: str) -> MediaInput:
    if not isinstance(value, dict):
        raise RequestError("expected an object with file_data", param=param)
    extra = sorted(set(value) - _FILE_KEYS)
    if extra:
        raise _refused(f"'file.{extra[0]}'", f"{param}.{extra[0]}", model)
    if value.get("file_id") is not None:
        raise _refused(
            "file ids (OpenAI's Files API)", f"{param}.file_id", model, "send file_data instead"
        )
    raw_name = value.get("filename")
    if raw_name is not None and not isinstance(raw_name, str):
        raise RequestError("expected a string", param=f"{param}.filename")
    file_data = value.get("file_data")
    if not isinstance(file_data, str):
        raise RequestError("a file part needs file_data (base64)", param=f"{param}.file_data")
    mime_type, data = _data_url(file_data, f"{param}.file_data", bare_allowed=True)
    name = _clean_name(raw_name or "")
    info = sniff_image(data)
    if info is not None:
        name = name or f"image{_extension(info.mime_type)}"
        return MediaInput("image", data, info.mime_type, name, info.width, info.height)
    guessed = mimetypes.guess_type(name)[0] if name else None
    mime_type = mime_type or guessed or "application/octet-stream"
    return MediaInput("file", data, mime_type, name or f"file{_extension(mime_type)}")


def _data_url(text: str, param: str, *, bare_allowed: bool = False) -> tuple[str | None, bytes]:
    """The media type and the decoded bytes of a base64 data URL (or bare base64)."""
    match = _DATA_URL.match(text)
    if match is None and not bare_allowed:
        raise RequestError("expected a data:<type>;base64, URL", param=param)
    encoded = text[match.end() :] if match else text
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError("the data is not valid base64", param=param) from None
    if not data:
        raise RequestError("the data is empty", param=param)
    return (match.group(1) if match else None), data


def _clean_name(name: str) -> str:
    """A file name as sent upstream: its last path component, printable, bounded."""
    base = re.split(r"[\\/]", name.strip())[-1]
    cleaned = "".join(c for c in base if c.isprintable())
    return cleaned[:_MAX_NAME]


def _extension(mime_type: str) -> str:
    if mime_type == "image/jpeg":
        return ".jpg"
    return mimetypes.guess_extension(mime_type) or ".bin"


def _refused(what: str, param: str, model: str, hint: str = "remove it") -> RequestError:
    return RequestError(
        f"{what} not supported by the chatgpt-web backend (model '{model}'): {hint}, or use a "
        "model routed to an openai or openai-compatible backend (see docs/compatibility.md).",
        param=param,
    )
