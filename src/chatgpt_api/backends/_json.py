"""Parsing upstream JSON with memory in proportion to it.

orjson is the fast parser for the many small documents of a stream, but for one large document
it reserves about twelve times the input while parsing (a 4 MiB event: 52 MiB). Documents from
``LARGE_DOCUMENT`` bytes up — a long legacy ChatGPT event, a non-streamed reply body — go to the
standard library's parser instead, which needs about the size of the result. Either way a
malformed document raises :class:`orjson.JSONDecodeError`. :func:`dumps` writes a document
to be held (an upstream request body, kept for the whole stream) at its own size.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

LARGE_DOCUMENT = 1024 * 1024
#: orjson's output buffer starts at this size and its result keeps it, however short.
_ORJSON_RESERVE = 4096


def loads(data: str | bytes) -> Any:
    """The JSON value in ``data``."""
    if len(data) < LARGE_DOCUMENT:
        return orjson.loads(data)
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise orjson.JSONDecodeError(exc.msg, exc.doc, exc.pos) from None
    except (UnicodeDecodeError, RecursionError) as exc:
        raise orjson.JSONDecodeError(str(exc), "", 0) from None


def dumps(value: Any) -> bytes:
    """``orjson.dumps(value)`` in a bytes object of its own length: orjson's result keeps the
    4 KiB it reserved (a 300-byte request body held by every open stream costs 4 KiB)."""
    data = orjson.dumps(value)
    return memoryview(data).tobytes() if len(data) < _ORJSON_RESERVE else data
