"""Image, audio and file content parts: their validation, and the emulator's description of them.

The emulator never fetches anything. It describes what a user message carried, so a test can
see that a part arrived intact:

* a ``data:`` URL (image, ``file_data``) → media type, decoded size and the first 12 hex digits
  of the SHA-256 of the decoded bytes: ``image/png, 68 bytes, sha256 0f1e2d3c4b5a…``;
* an ``http(s)`` image URL → the URL itself; a ``file_id`` → the id;
* ``input_audio`` → its format, size and hash.

An image's ``detail`` is shown when given: ``(detail high)``. The whole description reads
``I see 1 image: …. I hear 1 audio clip: …. I read 1 file: ….`` (only the kinds present).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import urllib.parse
from dataclasses import dataclass
from typing import Any

from .openai_errors import OpenAIError, invalid_type, invalid_value, missing

__all__ = ["DataURL", "check_part", "describe_media", "parse_data_url"]

PART_TYPES = ("text", "image_url", "input_audio", "file", "refusal")
DETAILS = ("auto", "low", "high")
AUDIO_FORMATS = ("wav", "mp3")
HASH_DIGITS = 12


@dataclass(frozen=True)
class DataURL:
    """A decoded ``data:`` URL."""

    media_type: str
    data: bytes

    def describe(self) -> str:
        return f"{self.media_type}, {describe_bytes(self.data)}"


def describe_bytes(data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()[:HASH_DIGITS]
    return f"{len(data)} bytes, sha256 {digest}…"


def parse_data_url(url: str) -> DataURL | None:
    """``url`` decoded if it is a ``data:`` URL; None if it is not one or is malformed."""
    if not url.startswith("data:") or "," not in url:
        return None
    header, payload = url[5:].split(",", 1)
    params = header.split(";")
    media_type = params[0] or "text/plain"
    if "base64" in params[1:]:
        try:
            data = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            return None
    else:
        data = urllib.parse.unquote_to_bytes(payload)
    return DataURL(media_type, data)


def _b64(param: str, value: Any) -> bytes:
    if not isinstance(value, str):
        raise invalid_type(param, "a string", value)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise invalid_value(param, f"Invalid '{param}': expected base64-encoded data.") from None


def check_part(param: str, part: dict[str, Any]) -> None:
    """Validate one content part (its ``type`` is present); raises :class:`OpenAIError`."""
    kind = part["type"]
    if kind not in PART_TYPES:
        allowed = ", ".join(f"'{t}'" for t in PART_TYPES)
        raise invalid_value(
            f"{param}.type", f"Invalid value: '{kind}'. Supported values are: {allowed}."
        )
    if kind == "text" and not isinstance(part.get("text"), str):
        raise missing(f"{param}.text")
    if kind == "image_url":
        image = part.get("image_url")
        if not isinstance(image, dict):
            raise missing(f"{param}.image_url")
        url = image.get("url")
        if not isinstance(url, str):
            raise missing(f"{param}.image_url.url")
        if url.startswith("data:"):
            if parse_data_url(url) is None:
                raise OpenAIError(
                    400,
                    "Invalid image data URL: expected data:<media type>;base64,<data>.",
                    param=f"{param}.image_url.url",
                    code="invalid_image_url",
                )
        elif not url.startswith(("http://", "https://")):
            raise OpenAIError(
                400,
                "Invalid image URL: expected an http(s) URL or a base64 data URL.",
                param=f"{param}.image_url.url",
                code="invalid_image_url",
            )
        detail = image.get("detail")
        if detail is not None and detail not in DETAILS:
            raise invalid_value(
                f"{param}.image_url.detail",
                f"Invalid value: {detail!r}. Supported values are: 'auto', 'low' and 'high'.",
            )
    if kind == "input_audio":
        audio = part.get("input_audio")
        if not isinstance(audio, dict):
            raise missing(f"{param}.input_audio")
        _b64(f"{param}.input_audio.data", audio.get("data"))
        if audio.get("format") not in AUDIO_FORMATS:
            raise invalid_value(
                f"{param}.input_audio.format",
                "Invalid value for 'input_audio.format': supported values are 'wav' and 'mp3'.",
            )
    if kind == "file":
        file = part.get("file")
        if not isinstance(file, dict):
            raise missing(f"{param}.file")
        data = file.get("file_data")
        if data is None and not isinstance(file.get("file_id"), str):
            raise missing(f"{param}.file.file_data")
        if data is not None and (not isinstance(data, str) or _file_bytes(data) is None):
            raise invalid_value(
                f"{param}.file.file_data", "Invalid file data: expected a base64 data URL."
            )


def _file_bytes(file_data: str) -> DataURL | None:
    if file_data.startswith("data:"):
        return parse_data_url(file_data)
    try:
        return DataURL("application/octet-stream", base64.b64decode(file_data, validate=True))
    except (binascii.Error, ValueError):
        return None


def _image(part: dict[str, Any]) -> str:
    image = part["image_url"]
    url = image["url"]
    decoded = parse_data_url(url)
    shown = decoded.describe() if decoded is not None else url
    detail = image.get("detail")
    return f"{shown} (detail {detail})" if detail else shown


def _audio(part: dict[str, Any]) -> str:
    audio = part["input_audio"]
    return f"{audio['format']}, {describe_bytes(base64.b64decode(audio['data']))}"


def _file(part: dict[str, Any]) -> str:
    file = part["file"]
    data = file.get("file_data")
    if not isinstance(data, str):
        return str(file.get("file_id"))
    decoded = _file_bytes(data)
    shown = decoded.describe() if decoded is not None else "unreadable data"
    name = file.get("filename")
    return f"{name}, {shown}" if isinstance(name, str) and name else shown


def _sentence(verb: str, noun: str, plural: str, items: list[str]) -> str:
    word = noun if len(items) == 1 else plural
    return f"I {verb} {len(items)} {word}: {'; '.join(items)}."


def describe_media(content: Any) -> str:
    """The description of the non-text parts of a (validated) message content; "" if none."""
    if not isinstance(content, list):
        return ""
    parts = [p for p in content if isinstance(p, dict)]
    images = [_image(p) for p in parts if p.get("type") == "image_url"]
    audio = [_audio(p) for p in parts if p.get("type") == "input_audio"]
    files = [_file(p) for p in parts if p.get("type") == "file"]
    sentences = []
    if images:
        sentences.append(_sentence("see", "image", "images", images))
    if audio:
        sentences.append(_sentence("hear", "audio clip", "audio clips", audio))
    if files:
        sentences.append(_sentence("read", "file", "files", files))
    return " ".join(sentences)
