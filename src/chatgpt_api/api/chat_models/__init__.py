"""Typed models (pydantic v2) of the OpenAI Chat Completions and Embeddings wire formats.

The validation layer in front of the lossless ``/v1`` runtime, and the source of the ``/v1``
schemas of ``/openapi.json``:

* :func:`parse_chat_request` / :func:`parse_embedding_request`: body bytes to a typed request,
  or a 400 :class:`~chatgpt_api.errors.RequestError` naming the parameter;
* :func:`request_dict` / :func:`request_json`: the request exactly as the client sent it;
* :func:`openapi_schemas`: the JSON schemas of every model, for ``components/schemas``.

A request is a model (typed attributes; ``model_extra`` holds its unknown fields) whose nested
objects (messages, parts, tools, ...) are validated typed dicts: plain JSON values, exactly as
sent. Answers (``ChatCompletion``, ``ChatCompletionChunk``, ``EmbeddingResponse``) are models
throughout; they document what the routes send and are lenient about what upstreams add.
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
