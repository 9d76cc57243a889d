"""``POST /v1/embeddings``: the request and the answer, as OpenAI documents them.

``input`` is a string, an array of strings, an array of token ids or an array of such arrays
(at most 2048 inputs). ``model`` may be absent: the gateway's default applies.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeAlias

from pydantic import Field

from chatgpt_api.api.chat_models.base import NonEmptyString, WireModel, integer

MAX_EMBEDDING_INPUTS = 2048

TokenIds: TypeAlias = Annotated[list[int], Field(min_length=1)]
EmbeddingInput: TypeAlias = (
    str
    | Annotated[list[str], Field(min_length=1, max_length=MAX_EMBEDDING_INPUTS)]
    | TokenIds
    | Annotated[list[TokenIds], Field(min_length=1, max_length=MAX_EMBEDDING_INPUTS)]
)


class EmbeddingRequest(WireModel):
    input: EmbeddingInput
    model: NonEmptyString | None = Field(
        None, description="Absent or null: the gateway's default model."
    )
    encoding_format: Literal["float", "base64"] | None = None
    dimensions: Annotated[int | float, integer(1, None)] | None = None
    user: str | None = None


class Embedding(WireModel):
    object: Literal["embedding"]
    index: int
    embedding: list[float] | str = Field(description="Floats, or base64 of float32s.")


class EmbeddingUsage(WireModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingResponse(WireModel):
    object: Literal["list"]
    data: list[Embedding]
    model: str
    usage: EmbeddingUsage
