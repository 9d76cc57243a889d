"""Parsing upstream JSON with memory in proportion to it.

orjson is the fast parser for the many small documents of a stream, but for one large document
it reserves about twelve times the input while parsing (a 4 MiB event: 52 MiB). Documents from
``LARGE_DOCUMENT`` bytes up — a long legacy ChatGPT event, a non-streamed reply body — go to the
standard library's parser instead, which needs about the size of the result. Either way a
malformed document raises :class:`orjson.JSONDecodeError`.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

LARGE_DOCUMENT = 1024 * 1024


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
