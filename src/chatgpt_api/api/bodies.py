"""Request bodies → a flat dict of fields, for form-urlencoded, JSON and multipart bodies.

The seed parsed only forms; JSON objects and multipart forms are taken too, and
:func:`read_form` also returns the files of one named field (``/send_message``'s ``file``).
Every problem is a clear :class:`RequestError`: a body over the size limit (checked before and
while reading), too many fields, a charset other than UTF-8, bad UTF-8 or JSON, a repeated
field, an unknown content type. JSON ``null`` means absent; the routes check each field's type.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

import orjson
from starlette.datastructures import Headers, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from chatgpt_api.errors import BodyTooLarge, RequestError, UnsupportedMediaType

FieldValue = str | int | float | bool | list[object] | dict[str, object]
Fields = dict[str, FieldValue]

MAX_FIELDS = 1000
#: The end of an object key (``"key" :``), whitespace allowed: a cheap over-count of the keys.
_KEY_END = re.compile(rb'"\s*:')


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refusing more than ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge()
    parts: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge()
        parts.append(chunk)
    return b"".join(parts)


@dataclass(frozen=True, slots=True)
class FormFile:
    """A file of a multipart body: its name, declared type and bytes."""

    filename: str
    content_type: str | None
    data: bytes


@dataclass(frozen=True, slots=True)
class FileField:
    """Which multipart field may carry files, and the largest file accepted."""

    name: str
    max_size: int
    setting: str


async def read_form(
    request: Request, limit: int, files: FileField
) -> tuple[Fields, list[FormFile]]:
    """Like :func:`read_fields`, plus the files of the field ``files.name`` (multipart only;
    any other field carrying a file is refused as before)."""
    body = await read_body(request, limit)
    if not body:
        return {}, []
    media_type, _ = _content_type(request.headers.get("content-type", ""))
    if media_type == "multipart/form-data":
        return await _parse_multipart(request.headers, body, files)
    return _parse_fields(request, body), []


async def read_fields(request: Request, limit: int) -> Fields:
    """Parse the body according to its content type."""
    body = await read_body(request, limit)
    if not body:
        return {}
    media_type, _ = _content_type(request.headers.get("content-type", ""))
    if media_type == "multipart/form-data":
        fields, _ = await _parse_multipart(request.headers, body, None)
        return fields
    return _parse_fields(request, body)


def _parse_fields(request: Request, body: bytes) -> Fields:
    media_type, params = _content_type(request.headers.get("content-type", ""))
    charset = params.get("charset", "utf-8").lower()
    if media_type == "application/x-www-form-urlencoded":
        _check_charset(charset)
        return parse_form(body)
    if media_type == "application/json" or media_type.endswith("+json"):
        _check_charset(charset)
        return parse_json(body)
    shown = media_type or "none"
    raise UnsupportedMediaType(
        f'unsupported content type "{shown}": send application/x-www-form-urlencoded '
        "or application/json"
    )


def parse_form(body: bytes) -> Fields:
    """``a=1&b=2`` with ``+`` as space and UTF-8 percent-escapes; keys without ``=`` are ``""``."""
    pairs = body.split(b"&")
    if len(pairs) > MAX_FIELDS:
        raise RequestError("too many parameters")
    fields: Fields = {}
    for pair in pairs:
        if not pair:
            continue
        raw_key, _, raw_value = pair.partition(b"=")
        key = _decode_form_part(raw_key)
        _add_field(fields, key, _decode_form_part(raw_value))
    return fields


def parse_json(body: bytes) -> Fields:
    """A JSON object; a key given twice at the top level is refused like a repeated form field."""
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RequestError(f"invalid JSON body: {exc}") from None
    if not isinstance(obj, dict):
        raise RequestError("invalid JSON body: expected an object")
    if len(obj) > MAX_FIELDS:
        raise RequestError("too many parameters")
    if len(_KEY_END.findall(body)) > len(obj):  # a repeated key, or nested objects: check exactly
        _refuse_repeated_keys(body)
    return {key: value for key, value in obj.items() if value is not None}


def _refuse_repeated_keys(body: bytes) -> None:
    objects: list[list[tuple[str, object]]] = []

    def remember(pairs: list[tuple[str, object]]) -> dict[str, object]:
        objects.append(pairs)
        return dict(pairs)

    try:
        json.loads(body, object_pairs_hook=remember)
    except RecursionError:  # orjson takes 1,024 levels, the json module fewer
        raise RequestError("invalid JSON body: nested too deeply") from None
    seen: set[str] = set()
    for key, _ in objects[-1]:  # the outermost object is the last one completed
        if key in seen:
            raise RequestError(f"invalid [{key}]: given more than once")
        seen.add(key)


def _decode_form_part(raw: bytes) -> str:
    try:
        return unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError("request body is not valid UTF-8") from None


def _add_field(fields: Fields, key: str, value: FieldValue) -> None:
    if key in fields:
        raise RequestError(f"invalid [{key}]: given more than once")
    fields[key] = value


def _content_type(header: str) -> tuple[str, dict[str, str]]:
    media_type, *rest = header.split(";")
    params: dict[str, str] = {}
    for item in rest:
        name, _, value = item.partition("=")
        params[name.strip().lower()] = value.strip().strip('"')
    return media_type.strip().lower(), params


def _check_charset(charset: str) -> None:
    if charset not in ("utf-8", "utf8"):
        raise RequestError(f'unsupported charset "{charset.upper()}"')


async def _parse_multipart(
    headers: Headers, body: bytes, files: FileField | None
) -> tuple[Fields, list[FormFile]]:
    async def stream() -> AsyncGenerator[bytes, None]:
        yield body

    parser = MultiPartParser(headers, stream(), max_files=MAX_FIELDS, max_fields=MAX_FIELDS)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise RequestError(f"invalid multipart body: {exc.message}") from None
    fields: Fields = {}
    found: list[FormFile] = []
    try:
        for key, value in form.multi_items():
            if files is not None and key == files.name:
                found.append(await _form_file(key, value, files))
                continue
            if isinstance(value, UploadFile):
                raise RequestError(f"invalid [{key}]: file uploads are not accepted")
            _add_field(fields, key, value)
    finally:
        await form.close()
    return fields, found


async def _form_file(key: str, value: UploadFile | str, files: FileField) -> FormFile:
    if not isinstance(value, UploadFile):
        raise RequestError(f"invalid [{key}]: expected a file")
    name = value.filename or key
    if value.size is not None and value.size > files.max_size:
        raise RequestError(
            f'invalid [{key}]: "{name}" is {value.size} bytes, over the limit of '
            f"{files.max_size} bytes (setting {files.setting})"
        )
    return FormFile(name, value.content_type, await value.read())
