"""Typed models (pydantic) of the OpenAI Chat Completions and Embeddings wire formats.

The validation layer in front of the lossless ``/v1`` runtime, and the source of its OpenAPI
schemas: :func:`parse_chat_request` / :func:`parse_embedding_request` (bytes to a typed request
or a 400 naming the parameter), :func:`request_dict` / :func:`request_json` (the request exactly
as sent) and :func:`openapi_schemas`. Nested objects are validated typed dicts, plain JSON as
sent; answers are models, lenient about what upstreams add.
"""

from chatgpt_api.api.chat_models.embeddings import EmbeddingRequest, EmbeddingResponse
from chatgpt_api.api.chat_models.messages import ChatMessage
from chatgpt_api.api.chat_models.parsing import (
    parse_body,
    parse_chat_request,
    parse_embedding_request,
    request_dict,
    request_json,
)
from chatgpt_api.api.chat_models.request import ChatCompletionRequest
from chatgpt_api.api.chat_models.response import ChatCompletion, ChatCompletionChunk, Usage
from chatgpt_api.api.chat_models.schema import openapi_schemas

__all__ = [
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatCompletionRequest",
    "ChatMessage",
    "EmbeddingRequest",
    "EmbeddingResponse",
    "Usage",
    "openapi_schemas",
    "parse_body",
    "parse_chat_request",
    "parse_embedding_request",
    "request_dict",
    "request_json",
]
