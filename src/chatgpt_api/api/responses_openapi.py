"""The OpenAPI description of the Responses and Conversations API routes, for
:mod:`chatgpt_api.api.openapi` to merge into its document (:func:`with_responses_paths`,
:func:`responses_schemas`).

The request body of ``POST /v1/responses`` is generated from its model
(:class:`~chatgpt_api.api.responses_models.ResponsesRequest`); the answers are described by
their top-level shape (the response object's fields are listed in docs/compatibility.md). The
WebSocket mode of ``/v1/responses`` is not an OpenAPI operation.
"""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from chatgpt_api.api.responses_models import ResponsesRequest

_ERROR = {"$ref": "#/components/schemas/OpenAIError"}
_OBJECT = {"type": "object"}


def _errors(*statuses: int) -> dict[str, Any]:
    return {
        str(status): {
            "description": "OpenAI-style error.",
            "content": {"application/json": {"schema": _ERROR}},
        }
        for status in statuses
    }


def _ok(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema or _OBJECT}},
    }


def _body(schema: dict[str, Any], *, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def _path(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": description,
    }


_LIST_QUERY = [
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": 100},
    },
    {"name": "order", "in": "query", "required": False, "schema": {"enum": ["asc", "desc"]}},
    {"name": "after", "in": "query", "required": False, "schema": {"type": "string"}},
]
_LIST = {
    "type": "object",
    "required": ["object", "data", "first_id", "last_id", "has_more"],
    "properties": {
        "object": {"const": "list"},
        "data": {"type": "array", "items": _OBJECT},
        "first_id": {"type": ["string", "null"]},
        "last_id": {"type": ["string", "null"]},
        "has_more": {"type": "boolean"},
    },
}
_RESPONSE = {
    "type": "object",
    "required": ["id", "object", "created_at", "status", "model", "output"],
    "properties": {"id": {"type": "string"}, "object": {"const": "response"}},
}
_CONVERSATION = {
    "type": "object",
    "required": ["id", "object", "created_at", "metadata"],
    "properties": {"id": {"type": "string"}, "object": {"const": "conversation"}},
}
_METADATA = {"type": "object", "additionalProperties": {"type": "string"}, "maxProperties": 16}
_ITEMS = {"type": "array", "items": _OBJECT, "maxItems": 20}
_COMPACT = {
    "type": "object",
    "required": ["model"],
    "additionalProperties": False,
    "properties": {
        "model": {"type": "string", "minLength": 1},
        "input": {
            "anyOf": [{"type": "string"}, {"type": "array", "items": _OBJECT}, {"type": "null"}]
        },
        "previous_response_id": {"type": ["string", "null"]},
        "instructions": {"type": ["string", "null"]},
        "prompt_cache_key": {"type": ["string", "null"]},
        "prompt_cache_retention": {"type": ["string", "null"]},
        "service_tier": {"type": ["string", "null"]},
    },
}
_TURN_ERRORS = (400, 401, 404, 413, 429, 500, 502, 503, 504)
_RESPONSE_ID = _path("id", "Response id (resp_…).")
_CONVERSATION_ID = _path("id", "Conversation id.")
_ITEM_ID = _path("item_id", "Item id.")

_PATHS: dict[str, dict[str, Any]] = {
    "/v1/responses": {
        "post": {
            "summary": "OpenAI Responses, on any backend of the registry",
            "description": "Bridged through chat completions (or forwarded as is on a route "
            'with responses = "native"); stored in the conversation tree unless store is '
            "false. With stream true the answer is the Responses event stream.",
            "requestBody": _body({"$ref": "#/components/schemas/Responses.ResponsesRequest"}),
            "responses": {
                "200": {
                    "description": "A response object, or its event stream.",
                    "content": {
                        "application/json": {"schema": _RESPONSE},
                        "text/event-stream": {"schema": {"type": "string"}},
                    },
                },
                **_errors(*_TURN_ERRORS),
            },
        }
    },
    "/v1/responses/compact": {
        "post": {
            "summary": "Compact a conversation's input window (a summary by the same backend)",
            "requestBody": _body(_COMPACT),
            "responses": {
                "200": _ok("A response.compaction object."),
                **_errors(*_TURN_ERRORS),
            },
        }
    },
    "/v1/responses/{id}": {
        "get": {
            "summary": "A stored response",
            "parameters": [_RESPONSE_ID],
            "responses": {"200": _ok("The response object.", _RESPONSE), **_errors(401, 404, 503)},
        },
        "delete": {
            "summary": "Delete a stored response (the conversation keeps its messages)",
            "parameters": [_RESPONSE_ID],
            "responses": {"200": _ok("response.deleted"), **_errors(401, 404, 503)},
        },
    },
    "/v1/responses/{id}/input_items": {
        "get": {
            "summary": "A stored response's input items",
            "parameters": [_RESPONSE_ID, *_LIST_QUERY],
            "responses": {"200": _ok("A list of items.", _LIST), **_errors(400, 401, 404, 503)},
        }
    },
    "/v1/conversations": {
        "post": {
            "summary": "Create a conversation (Conversations API), with items and metadata",
            "requestBody": _body(
                {"type": "object", "properties": {"items": _ITEMS, "metadata": _METADATA}},
                required=False,
            ),
            "responses": {
                "200": _ok("The conversation.", _CONVERSATION),
                **_errors(400, 401, 404, 413, 503),
            },
        }
    },
    "/v1/conversations/{id}": {
        "post": {
            "summary": "Replace a conversation's metadata (Conversations API)",
            "parameters": [_CONVERSATION_ID],
            "requestBody": _body(
                {"type": "object", "required": ["metadata"], "properties": {"metadata": _METADATA}}
            ),
            "responses": {
                "200": _ok("The conversation.", _CONVERSATION),
                **_errors(400, 401, 404, 413, 503),
            },
        }
    },
    "/v1/conversations/{id}/items": {
        "get": {
            "summary": "The items of a conversation's current path",
            "parameters": [_CONVERSATION_ID, *_LIST_QUERY],
            "responses": {"200": _ok("A list of items.", _LIST), **_errors(400, 401, 404, 503)},
        },
        "post": {
            "summary": "Append items to a conversation",
            "parameters": [_CONVERSATION_ID],
            "requestBody": _body(
                {"type": "object", "required": ["items"], "properties": {"items": _ITEMS}}
            ),
            "responses": {
                "200": _ok("The added items.", _LIST),
                **_errors(400, 401, 404, 413, 503),
            },
        },
    },
    "/v1/conversations/{id}/items/{item_id}": {
        "get": {
            "summary": "One item of a conversation's current path",
            "parameters": [_CONVERSATION_ID, _ITEM_ID],
            "responses": {"200": _ok("The item."), **_errors(401, 404, 503)},
        },
        "delete": {
            "summary": "Take an item out of a conversation (a new branch without it)",
            "parameters": [_CONVERSATION_ID, _ITEM_ID],
            "responses": {
                "200": _ok("The conversation.", _CONVERSATION),
                **_errors(400, 401, 404, 503),
            },
        },
    },
}


def with_responses_paths(paths: dict[str, Any]) -> dict[str, Any]:
    """``paths`` with the Responses and Conversations API operations added (a path both have,
    ``/v1/conversations/{id}`` for one, gets the methods of both)."""
    merged = {path: dict(item) for path, item in paths.items()}
    for path, item in _PATHS.items():
        existing = merged.setdefault(path, {})
        clash = existing.keys() & item.keys()
        if clash:
            raise RuntimeError(f"{path}: methods defined twice: {sorted(clash)}")
        existing.update(item)
    return merged


def responses_schemas() -> dict[str, Any]:
    """The Responses request model's schemas, named ``Responses.<model>``."""
    _, document = models_json_schema(
        [(ResponsesRequest, "validation")], ref_template="#/components/schemas/Responses.{model}"
    )
    return {f"Responses.{name}": schema for name, schema in document["$defs"].items()}
