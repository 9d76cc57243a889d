"""The hand-written OpenAPI component schemas (seed routes, errors, conversations, models).

The ``/v1`` request and answer bodies are generated from the wire models instead
(:mod:`chatgpt_api.api.chat_models`), so each constraint is defined once.
"""

from __future__ import annotations

from typing import Any

from chatgpt_api.api.chat_models.base import MESSAGE_ID_PATTERN

_STRING = {"type": "string"}
_NULLABLE_STRING = {"type": ["string", "null"]}
_NON_EMPTY_STRING = {"type": "string", "minLength": 1}
_MESSAGE_ID = {"type": "string", "pattern": MESSAGE_ID_PATTERN}

SCHEMAS: dict[str, Any] = {
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


SECURITY_SCHEMES = {
    "gatewayKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "A gateway API key (chatgpt-api keys create); 401 when missing or invalid.",
    }
}
