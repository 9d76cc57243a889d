"""The hand-written OpenAPI paths of every route but the Responses API's.

Checked by the tests against the app's route table, so a route cannot be added without being
documented. Every status a route can answer is listed; the seed routes keep their contract
(any failure is 500 ``{"message": ...}`` except the gateway's own 401, 429 and 503).
"""

from __future__ import annotations

from typing import Any

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

PATHS: dict[str, Any] = {
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
