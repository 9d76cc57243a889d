"""``POST /v1/embeddings`` as the emulator plays it: validation, vectors, the response object.

Embedding models are the emulator's models whose id contains ``embedding``
(``text-embedding-3-small``: 1536 dimensions, ``text-embedding-3-large``: 3072, others 1536).
``input`` is a string, a list of strings, a token array or a list of token arrays (at most
2048 inputs, none empty). Each vector is deterministic: SHA-256 blocks of the input (its text,
or its tokens joined by commas) read as numbers in [-1, 1], normalised to length 1. With
``dimensions`` (``text-embedding-3-*`` only) the full vector is cut to that many numbers and
normalised again, as OpenAI's shortened embeddings are. Numbers are float32 values;
``encoding_format: "base64"`` sends them as base64 of little-endian float32s. Usage counts
words of strings and tokens of token arrays.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from dataclasses import dataclass
from typing import Any

from .openai_chat_request import EMBEDDING_MODEL_MARK, parse_json_object
from .openai_errors import OpenAIError, below_min, invalid_type, invalid_value, missing

__all__ = ["EmbeddingsRequest", "embed", "embeddings_response", "parse_embeddings_request"]

MAX_INPUTS = 2048
DEFAULT_DIMENSIONS = 1536
MODEL_DIMENSIONS = {"text-embedding-3-large": 3072}
ENCODINGS = ("float", "base64")


@dataclass(frozen=True)
class EmbeddingsRequest:
    """A validated ``POST /v1/embeddings`` body."""

    model: str
    #: Each input as the text its vector derives from, and its token count.
    inputs: tuple[tuple[str, int], ...]
    dimensions: int
    encoding_format: str = "float"


def native_dimensions(model: str) -> int:
    return MODEL_DIMENSIONS.get(model, DEFAULT_DIMENSIONS)


def _is_tokens(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(t, int) and not isinstance(t, bool) for t in value
    )


def _inputs(value: Any) -> tuple[tuple[str, int], ...]:
    if value is None:
        raise missing("input")
    items: list[Any]
    if isinstance(value, str) or (_is_tokens(value) and value):
        items = [value]
    elif isinstance(value, list):
        items = value
    else:
        raise invalid_type("input", "a string or an array", value)
    if not items:
        raise invalid_value("input", "'input' must be a non-empty string or array.")
    if len(items) > MAX_INPUTS:
        raise invalid_value("input", f"'input' must have at most {MAX_INPUTS} items.")
    out = []
    for index, item in enumerate(items):
        if isinstance(item, str) and item:
            out.append((item, len(item.split())))
        elif _is_tokens(item) and item:
            out.append((",".join(str(t) for t in item), len(item)))
        else:
            raise invalid_value(
                f"input[{index}]" if len(items) > 1 or not isinstance(value, str) else "input",
                "'$.input' is invalid: every input must be a non-empty string or token array.",
            )
    return tuple(out)


def parse_embeddings_request(body: bytes, models: tuple[str, ...]) -> EmbeddingsRequest:
    """Validate a request body like the real API; raises :class:`OpenAIError` (400 / 404)."""
    doc = parse_json_object(body)
    model = doc.get("model")
    if model is None:
        raise missing("model")
    if not isinstance(model, str):
        raise invalid_type("model", "a string", model)
    inputs = _inputs(doc.get("input"))
    encoding = doc.get("encoding_format", "float")
    if encoding not in ENCODINGS:
        raise invalid_value(
            "encoding_format",
            f"Invalid value: {encoding!r}. Supported values are: 'float' and 'base64'.",
        )
    if model not in models or EMBEDDING_MODEL_MARK not in model:
        raise OpenAIError(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            param="model",
            code="model_not_found",
        )
    native = native_dimensions(model)
    dimensions = doc.get("dimensions")
    if dimensions is not None:
        if isinstance(dimensions, bool) or not isinstance(dimensions, int):
            raise invalid_type("dimensions", "an integer", dimensions)
        if dimensions < 1:
            raise below_min("dimensions", 1, dimensions)
        if not model.startswith("text-embedding-3"):
            raise OpenAIError(
                400,
                "This model does not support specifying dimensions.",
                param="dimensions",
            )
        if dimensions > native:
            raise invalid_value(
                "dimensions",
                f"Invalid 'dimensions': this model has at most {native} dimensions.",
            )
    return EmbeddingsRequest(model, inputs, dimensions or native, str(encoding))


def embed(text: str, model: str, dimensions: int) -> list[float]:
    """The vector of ``text``: unit length, float32 values (see the module docstring)."""
    native = native_dimensions(model)
    raw: list[float] = []
    block = 0
    while len(raw) < native:
        digest = hashlib.sha256(f"{model}\0{block}\0{text}".encode()).digest()
        raw.extend(v / 32767.5 - 1 for v in struct.unpack(">16H", digest))
        block += 1
    vector = raw[:dimensions]
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    packed = struct.pack(f"<{dimensions}f", *(v / norm for v in vector))
    return list(struct.unpack(f"<{dimensions}f", packed))


def _encoded(vector: list[float], encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return vector


def embeddings_response(request: EmbeddingsRequest) -> dict[str, Any]:
    """The ``list`` of ``embedding`` objects, with the usage."""
    tokens = sum(count for _, count in request.inputs)
    return {
        "object": "list",
        "data": [
            {
                "object": "embedding",
                "index": index,
                "embedding": _encoded(
                    embed(text, request.model, request.dimensions), request.encoding_format
                ),
            }
            for index, (text, _) in enumerate(request.inputs)
        ],
        "model": request.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
