"""The OpenAPI 3.1 description of every route, served at ``GET /openapi.json``.

The paths are written out by hand (the routes are plain Starlette handlers) and checked by the
tests against the app's route table, so a route cannot be added without being documented. The
``/v1`` request and answer bodies are generated from the typed wire models
(:mod:`chatgpt_api.api.chat_models`), which also validate them: one definition of each
constraint. The seed routes'
contract is encoded as it is: every failure is HTTP 500 ``{"message": ...}``, except the
gateway's own refusals (401 key, 429 rate limit, 503 busy). Every status a route can answer is
listed, and request schemas say what is valid (tests/test_fuzz_api.py fuzzes every operation
against this document and fails on any other status or shape).
"""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.responses import Response

from chatgpt_api import __version__
from chatgpt_api.api.anthropic_models import CountTokensBody, MessagesBody
from chatgpt_api.api.chat_models import openapi_schemas
from chatgpt_api.api.chat_models.base import MESSAGE_ID_PATTERN
from chatgpt_api.api.responses_openapi import responses_schemas, with_responses_paths
from chatgpt_api.http_responses import JSONResponse

_SEED_ERROR = {
    "description": "Any failure (the seed's contract: always 500).",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SeedError"}}},
}
_SEED_UNAUTHORIZED = {
    "description": "Missing or invalid gateway API key (Bearer or api_key field).",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SeedError"}}},
}
_SEED_RATE_LIMITED = {
    "description": "A gateway rate limit refused the request (with Retry-After).",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SeedError"}}},
}
_SEED_UNAVAILABLE = {
    "description": "The gateway cannot take the request now: the upstream account pool is busy "
    "or empty, or the rate limiter's store is down (with Retry-After when known).",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SeedError"}}},
}
#: The seed routes' contract: the gateway's own refusals keep their status, and every other
#: failure is 500 ``{"message": ...}``.
_SEED_FAILURES = {
    "401": _SEED_UNAUTHORIZED,
    "429": _SEED_RATE_LIMITED,
    "500": _SEED_ERROR,
    "503": _SEED_UNAVAILABLE,
}


def _openai_errors(*statuses: int) -> dict[str, Any]:
    return {
        str(status): {
            "description": "OpenAI-style error.",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/OpenAIError"}}
            },
        }
        for status in statuses
    }


def _anthropic_errors(*statuses: int) -> dict[str, Any]:
    error = {
        "type": "object",
        "required": ["type", "error"],
        "properties": {
            "type": {"const": "error"},
            "error": {
                "type": "object",
                "required": ["type", "message"],
                "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    }
    return {
        str(status): {
            "description": "An error in Anthropic's shape.",
            "content": {"application/json": {"schema": error}},
        }
        for status in statuses
    }


def _form_and_json(schema_ref: str) -> dict[str, Any]:
    schema = {"$ref": schema_ref}
    return {
        "required": False,
        "content": {
            "application/x-www-form-urlencoded": {"schema": schema},
            "application/json": {"schema": schema},
            "multipart/form-data": {"schema": schema},
        },
    }


def _json_body(schema_ref: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": {"$ref": schema_ref}}}}


def _json(schema_ref: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": schema_ref}}},
    }


_ID_PARAM = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "Conversation id.",
}

_PATHS: dict[str, Any] = {
    "/openapi.json": {
        "get": {
            "summary": "This document",
            "responses": {
                "200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}}
            },
        }
    },
    "/": {
        "get": {
            "summary": "Status page",
            "responses": {"200": {"description": "HTML", "content": {"text/html": {}}}},
        }
    },
    "/healthz": {
        "get": {
            "summary": "Liveness: 200 while the process serves",
            "responses": {
                "200": {
                    "description": '{"status": "ok"}',
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    },
    "/readyz": {
        "get": {
            "summary": "Readiness: the store and Redis answer",
            "responses": {
                "200": _json("#/components/schemas/Readiness", "Ready (status ready)."),
                "503": _json(
                    "#/components/schemas/Readiness",
                    "A dependency failed (status unavailable; errors gives the reason).",
                ),
            },
        }
    },
    "/metrics": {
        "get": {
            "summary": "Prometheus metrics (text exposition format)",
            "responses": {
                "200": {"description": "Metrics", "content": {"text/plain": {}}},
            },
        }
    },
    "/playground": {
        "get": {
            "summary": "Web playground (HTML; uses /v1 only)",
            "responses": {"200": {"description": "HTML", "content": {"text/html": {}}}},
        }
    },
    "/docs": {
        "get": {
            "summary": "API reference (HTML, generated from this document)",
            "responses": {"200": {"description": "HTML", "content": {"text/html": {}}}},
        }
    },
    "/redoc": {
        "get": {
            "summary": "The API reference's other usual address: a redirect to /docs",
            "responses": {"307": {"description": "Location: /docs"}},
        }
    },
    "/favicon.ico": {
        "get": {
            "summary": "The site icon",
            "responses": {"200": {"description": "Icon", "content": {"image/x-icon": {}}}},
        }
    },
    "/send_message": {
        "post": {
            "summary": "Send one message (the seed's route)",
            "requestBody": _form_and_json("#/components/schemas/SendMessage"),
            "responses": {
                "200": {
                    "description": "The answer, or with stream=true an event stream.",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/SeedAnswer"}},
                        "text/event-stream": {"schema": {"$ref": "#/components/schemas/Event"}},
                    },
                },
                **_SEED_FAILURES,
            },
        }
    },
    "/get_access_token": {
        "post": {
            "summary": "Get a ChatGPT access token (login service or session token)",
            "requestBody": _form_and_json("#/components/schemas/GetAccessToken"),
            "responses": {
                "200": _json("#/components/schemas/AccessToken", "The token."),
                **_SEED_FAILURES,
            },
        }
    },
    "/v1/chat/completions": {
        "post": {
            "summary": "OpenAI-compatible chat completion",
            "requestBody": _json_body("#/components/schemas/ChatCompletionRequest"),
            "responses": {
                "200": {
                    "description": "chat.completion, or chat.completion.chunk events.",
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/ChatCompletion"}
                        },
                        "text/event-stream": {
                            "schema": {"$ref": "#/components/schemas/ChatCompletionEvent"}
                        },
                    },
                },
                **_openai_errors(400, 401, 404, 413, 415, 429, 500, 502, 503, 504),
            },
        }
    },
    "/v1/embeddings": {
        "post": {
            "summary": "OpenAI-compatible embeddings (openai / openai-compatible models only)",
            "requestBody": _json_body("#/components/schemas/EmbeddingRequest"),
            "responses": {
                "200": _json("#/components/schemas/EmbeddingResponse", "The upstream's answer."),
                **_openai_errors(400, 401, 404, 413, 429, 500, 502, 503, 504),
            },
        }
    },
    "/v1/messages": {
        "post": {
            "summary": "Anthropic Messages, on any backend of the registry",
            "description": "The gateway key may come as x-api-key. Errors have Anthropic's "
            "shape. With stream true the answer is Anthropic's event stream.",
            "requestBody": _json_body("#/components/schemas/AnthropicMessagesBody"),
            "responses": {
                "200": {
                    "description": "A message object, or its event stream.",
                    "content": {
                        "application/json": {"schema": {"type": "object"}},
                        "text/event-stream": {"schema": {"type": "string"}},
                    },
                },
                **_anthropic_errors(400, 401, 404, 413, 429, 500, 502, 503, 504),
            },
        }
    },
    "/v1/messages/count_tokens": {
        "post": {
            "summary": "Anthropic token count (an estimate: about four characters a token)",
            "requestBody": _json_body("#/components/schemas/AnthropicCountTokensBody"),
            "responses": {
                "200": {
                    "description": "The estimate.",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["input_tokens"],
                                "properties": {"input_tokens": {"type": "integer"}},
                            }
                        }
                    },
                },
                **_anthropic_errors(400, 401, 404, 413, 429, 500, 503),
            },
        }
    },
    "/v1/models": {
        "get": {
            "summary": "List models",
            "responses": {
                "200": _json("#/components/schemas/ModelList", "Models."),
                **_openai_errors(401, 503),
            },
        }
    },
    "/v1/models/{model}": {
        "get": {
            "summary": "One model",
            "parameters": [
                {
                    "name": "model",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                    "example": "gpt-4o-mini",
                }
            ],
            "responses": {
                "200": _json("#/components/schemas/Model", "The model."),
                **_openai_errors(401, 404, 503),
            },
        }
    },
    "/v1/conversations": {
        "get": {
            "summary": "List conversations, newest first",
            "parameters": [
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 0, "maximum": 100},
                },
                {
                    "name": "offset",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 0, "maximum": 10**9},
                },
            ],
            "responses": {
                "200": _json("#/components/schemas/ConversationList", "A page."),
                **_openai_errors(400, 401, 503),
            },
        }
    },
    "/v1/conversations/{id}": {
        "get": {
            "summary": "A conversation: its message tree and current path",
            "parameters": [_ID_PARAM],
            "responses": {
                "200": _json("#/components/schemas/ConversationTree", "The tree."),
                **_openai_errors(401, 404, 503),
            },
        },
        "patch": {
            "summary": "Rename a conversation",
            "parameters": [_ID_PARAM],
            "requestBody": _json_body("#/components/schemas/Rename"),
            "responses": {
                "200": _json("#/components/schemas/Conversation", "Renamed."),
                **_openai_errors(400, 401, 404, 413, 503),
            },
        },
        "delete": {
            "summary": "Delete a conversation",
            "parameters": [_ID_PARAM],
            "responses": {
                "200": _json("#/components/schemas/Deleted", "Deleted."),
                **_openai_errors(401, 404, 503),
            },
        },
    },
    "/v1/conversations/{id}/export": {
        "get": {
            "summary": "Export a conversation as a JSON download",
            "parameters": [_ID_PARAM],
            "responses": {
                "200": _json("#/components/schemas/ConversationTree", "The tree."),
                **_openai_errors(401, 404, 503),
            },
        }
    },
    "/v1/conversations/{id}/attachments/{sha256}": {
        "get": {
            "summary": "An image or file that a message of the conversation refers to",
            "description": "Messages refer to inline data stored once by content as "
            "`attachment:sha256:<hex>`. Pictures are served inline, anything else as a download "
            "(sandboxed, never run by a browser).",
            "parameters": [
                _ID_PARAM,
                {
                    "name": "sha256",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                },
            ],
            "responses": {
                "200": {
                    "description": "The bytes, with their media type.",
                    "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                },
                **_openai_errors(401, 404, 503),
            },
        }
    },
}

_STRING = {"type": "string"}
_NULLABLE_STRING = {"type": ["string", "null"]}
_NON_EMPTY_STRING = {"type": "string", "minLength": 1}
_MESSAGE_ID = {"type": "string", "pattern": MESSAGE_ID_PATTERN}

_SCHEMAS: dict[str, Any] = {
    "Event": {
        "type": "object",
        "description": "One server-sent event (the schema applies to each event of a stream).",
        "required": ["data"],
        "properties": {
            "data": {**_STRING, "description": "A JSON object, or [DONE] at the end."},
            "event": _STRING,
            "id": _STRING,
            "retry": {"type": "integer"},
        },
    },
    "ChatCompletionEvent": {
        "allOf": [{"$ref": "#/components/schemas/Event"}],
        "description": "One event of a chat completion stream: a chat.completion.chunk, an "
        "error object if the stream fails after it began, and [DONE] last.",
        "properties": {
            "data": {
                "contentMediaType": "application/json",
                "contentSchema": {
                    "anyOf": [
                        {"$ref": "#/components/schemas/ChatCompletionChunk"},
                        {"$ref": "#/components/schemas/OpenAIError"},
                    ]
                },
            }
        },
    },
    "SeedError": {
        "type": "object",
        "required": ["message"],
        "properties": {"message": _STRING, "text": _STRING},
    },
    "Readiness": {
        "type": "object",
        "required": ["status", "checks"],
        "properties": {
            "status": {"type": "string", "enum": ["ready", "unavailable"]},
            "checks": {
                "type": "object",
                "description": "By dependency (store, redis): ok, error or disabled; upstream: "
                "not_configured when no upstream at all is configured (still ready: requests "
                "may bring their own).",
                "additionalProperties": {
                    "type": "string",
                    "enum": ["ok", "error", "disabled", "not_configured"],
                },
            },
            "notes": {
                "type": "object",
                "description": "What to do about a not_configured entry.",
                "additionalProperties": _STRING,
            },
            "errors": {
                "type": "object",
                "description": "A short reason for each failed check.",
                "additionalProperties": _STRING,
            },
        },
    },
    "SendMessage": {
        "type": "object",
        "required": ["prompt"],
        "description": "Anything else is refused with 500 {message}, as the seed did.",
        "properties": {
            "access_token": {
                **_NON_EMPTY_STRING,
                "description": "Required unless upstream accounts are configured.",
            },
            "prompt": _NON_EMPTY_STRING,
            "model": _STRING,
            "timeout": {
                "type": ["string", "number"],
                "minimum": 0,
                "description": "Milliseconds (JavaScript Number() of a string); 0 means none.",
            },
            "conversation_id": {**_MESSAGE_ID, "description": "Given with parent_message_id."},
            "parent_message_id": {**_MESSAGE_ID, "description": "Given with conversation_id."},
            "reverse_proxy": _STRING,
            "stream": {
                "oneOf": [
                    {"type": "boolean"},
                    {"enum": ["true", "false", "1", "0", "yes", "no", "on", "off", ""]},
                ]
            },
            "api_key": {**_STRING, "description": "Gateway API key (or Authorization: Bearer)."},
        },
        "dependentRequired": {
            "conversation_id": ["parent_message_id"],
            "parent_message_id": ["conversation_id"],
        },
        "examples": [{"access_token": "eyJhbGciOi...", "prompt": "Hello"}],
    },
    "SeedAnswer": {
        "type": "object",
        "required": ["text", "parent_message_id"],
        "properties": {"text": _STRING, "conversation_id": _STRING, "parent_message_id": _STRING},
    },
    "GetAccessToken": {
        "type": "object",
        "properties": {
            "email": _STRING,
            "password": _STRING,
            "proxy": _STRING,
            "session_token": _STRING,
            "api_key": {**_STRING, "description": "Gateway API key (or Authorization: Bearer)."},
        },
        "examples": [{"email": "me@example.com", "password": "pw"}, {"session_token": "eyJ..."}],
    },
    "AccessToken": {
        "type": "object",
        "required": ["access_token"],
        "properties": {"access_token": _STRING, "expires": _NULLABLE_STRING},
    },
    "OpenAIError": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["message", "type", "param", "code"],
                "properties": {
                    "message": _STRING,
                    "type": _STRING,
                    "param": _NULLABLE_STRING,
                    "code": _NULLABLE_STRING,
                },
            }
        },
    },
    "Model": {
        "type": "object",
        "required": ["id", "object", "created", "owned_by"],
        "properties": {
            "id": _STRING,
            "object": {"const": "model"},
            "created": {"type": "integer"},
            "owned_by": _STRING,
        },
    },
    "ModelList": {
        "type": "object",
        "properties": {
            "object": {"const": "list"},
            "data": {"type": "array", "items": {"$ref": "#/components/schemas/Model"}},
        },
    },
    "Conversation": {
        "type": "object",
        "required": ["id", "object", "title", "created_at", "updated_at"],
        "properties": {
            "id": _STRING,
            "object": {"const": "conversation"},
            "title": _NULLABLE_STRING,
            "backend": _STRING,
            "model": _STRING,
            "upstream_conversation_id": _NULLABLE_STRING,
            "current_node": _NULLABLE_STRING,
            "created_at": {"type": "integer"},
            "updated_at": {"type": "integer"},
        },
    },
    "ConversationList": {
        "type": "object",
        "properties": {
            "object": {"const": "list"},
            "data": {"type": "array", "items": {"$ref": "#/components/schemas/Conversation"}},
            "total": {"type": "integer"},
            "limit": {"type": "integer"},
            "offset": {"type": "integer"},
            "has_more": {"type": "boolean"},
        },
    },
    "ConversationTree": {
        "allOf": [
            {"$ref": "#/components/schemas/Conversation"},
            {
                "type": "object",
                "properties": {
                    "messages": {"type": "array"},
                    "current_path": {"type": "array", "items": _STRING},
                },
            },
        ]
    },
    "Rename": {
        "type": "object",
        "required": ["title"],
        "properties": {"title": {"type": "string", "pattern": "\\S", "maxLength": 500}},
        "examples": [{"title": "Trip planning"}],
    },
    "Deleted": {
        "type": "object",
        "properties": {
            "id": _STRING,
            "object": {"const": "conversation.deleted"},
            "deleted": {"type": "boolean"},
        },
    },
}


_SECURITY_SCHEMES = {
    "gatewayKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "A gateway API key (chatgpt-api keys create); 401 when missing or invalid.",
    }
}


def _schemas() -> dict[str, Any]:
    """The hand-written schemas of the other routes, and the ``/v1`` wire models' generated
    ones (request and answer bodies of chat completions and embeddings)."""
    generated = {**openapi_schemas(), **_anthropic_schemas(), **responses_schemas()}
    clash = generated.keys() & _SCHEMAS.keys()
    if clash:
        raise RuntimeError(f"schema names defined twice: {sorted(clash)}")
    return {**_SCHEMAS, **generated}


def _anthropic_schemas() -> dict[str, Any]:
    """The Anthropic request models' schemas, each name prefixed with ``Anthropic``."""
    _, document = models_json_schema(
        [(MessagesBody, "validation"), (CountTokensBody, "validation")],
        ref_template="#/components/schemas/Anthropic{model}",
    )
    return {f"Anthropic{name}": schema for name, schema in document["$defs"].items()}


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "chatgpt-api",
            "version": __version__,
            "description": "A drop-in replacement for zhuweiyou/chatgpt-api, plus an "
            "OpenAI-compatible API with server-side conversations.",
        },
        "paths": with_responses_paths(_PATHS),
        "components": {"schemas": _schemas(), "securitySchemes": _SECURITY_SCHEMES},
        # A key is needed once one exists (or with CHATGPT_API_REQUIRE_API_KEY); GET / and
        # /openapi.json never need one.
        "security": [{}, {"gatewayKey": []}],
    }


async def openapi_route(request: Request) -> Response:
    return JSONResponse(openapi_document())
