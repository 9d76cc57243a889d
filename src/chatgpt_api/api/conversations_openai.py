"""The Conversations API in OpenAI's shapes, on the same conversations as ``/v1/conversations``.

Create with ``items`` and ``metadata``, replace ``metadata``, list, read, append and delete the
items of the current path (:mod:`.conversation_items`); ``GET`` / ``DELETE`` are the existing
routes (:mod:`.conversations`). The tree keeps every message ever written, so deleting an item
makes a new branch: the messages after it are copied under its parent and the tip moves there.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chatgpt_api.api.conversation_items import (
    function_call_id,
    new_messages,
    path_items,
    resolved_path,
)
from chatgpt_api.api.conversations import conversation_object
from chatgpt_api.api.openai_compat import read_json_object
from chatgpt_api.api.responses_input import item_messages, normalized_items
from chatgpt_api.api.responses_models import check_metadata
from chatgpt_api.api.state import AppState
from chatgpt_api.errors import NotFound, RequestError
from chatgpt_api.http_responses import JSONResponse
from chatgpt_api.keys.gate import authenticate
from chatgpt_api.store import Conversation, ConversationStore, NewMessage, StoredMessage

if TYPE_CHECKING:
    from chatgpt_api.store.responses import ResponseStore

MAX_ITEMS = 20
MAX_PAGE = 100


def conversations_api_routes() -> list[Route]:
    return [
        Route("/v1/conversations", create_conversation, methods=["POST"]),
        Route("/v1/conversations/{id}", update_conversation, methods=["POST"]),
        Route("/v1/conversations/{id}/items", list_items, methods=["GET"]),
        Route("/v1/conversations/{id}/items", add_items, methods=["POST"]),
        Route("/v1/conversations/{id}/items/{item_id}", get_item, methods=["GET"]),
        Route("/v1/conversations/{id}/items/{item_id}", delete_item, methods=["DELETE"]),
    ]


def _stores(request: Request) -> tuple[AppState, ConversationStore, ResponseStore]:
    state: AppState = request.app.state.chatgpt
    if state.store is None or state.responses is None:
        raise NotFound("conversation not found (the conversation store is turned off)")
    return state, state.store, state.responses


async def _owned(request: Request) -> tuple[ConversationStore, ResponseStore, Conversation]:
    owner = (await authenticate(request)).owner
    _, store, records = _stores(request)
    conversation = await store.get_conversation(request.path_params["id"], owner=owner)
    if conversation is None:
        raise NotFound("conversation not found", param="id")
    return store, records, conversation


async def openai_conversation(records: ResponseStore, conversation: Conversation) -> dict[str, Any]:
    """The conversation object: OpenAI's fields (``metadata`` included) and ours."""
    return {
        **conversation_object(conversation),
        **_metadata(await records.metadata(conversation.id)),
    }


def _metadata(value: dict[str, str]) -> dict[str, Any]:
    return {"metadata": value}


def _metadata_param(body: dict[str, Any]) -> dict[str, str] | None:
    value = body.get("metadata")
    if value is None:
        return None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise RequestError("Invalid 'metadata': expected an object of strings.", param="metadata")
    check_metadata(value)
    return value


def _items_param(body: dict[str, Any], *, required: bool) -> list[dict[str, Any]]:
    raw = body.get("items")
    if raw is None and not required:
        return []
    if not isinstance(raw, list) or (required and not raw):
        raise RequestError("'items' must be a non-empty array of items.", param="items")
    if len(raw) > MAX_ITEMS:
        raise RequestError(f"At most {MAX_ITEMS} items can be added at once.", param="items")
    return normalized_items(raw, "items")


async def _path(store: ConversationStore, conversation: Conversation) -> list[StoredMessage]:
    """The current path, attachments put back inline."""
    return await resolved_path(store, conversation.id, conversation.current_node)


async def _append(
    store: ConversationStore, conversation: Conversation, messages: list[NewMessage]
) -> list[StoredMessage]:
    return await store.add_turn(
        conversation.id, parent_id=conversation.current_node, messages=messages
    )


async def create_conversation(request: Request) -> Response:
    owner = (await authenticate(request)).owner
    state, store, records = _stores(request)
    body = await read_json_object(request, state.settings.max_body_size)
    metadata = _metadata_param(body) or {}
    messages = new_messages(item_messages(_items_param(body, required=False), "items"))
    conversation = await store.create_conversation(
        backend="", model="", owner=owner, title=_title(messages)
    )
    if messages:
        await _append(store, conversation, messages)
    await records.set_metadata(conversation.id, metadata)
    conversation = await store.get_conversation(conversation.id, owner=owner) or conversation
    obj = await openai_conversation(records, conversation)
    return JSONResponse(obj)


def _title(messages: list[NewMessage]) -> str | None:
    for message in messages:
        if message.role == "user" and message.content.strip():
            text = " ".join(message.content.split())
            return text[:77] + "…" if len(text) > 80 else text
    return None


async def update_conversation(request: Request) -> Response:
    _, records, conversation = await _owned(request)
    state: AppState = request.app.state.chatgpt
    body = await read_json_object(request, state.settings.max_body_size)
    metadata = _metadata_param(body)
    if metadata is None:
        raise RequestError("'metadata' is required.", param="metadata")
    await records.set_metadata(conversation.id, metadata)
    obj = await openai_conversation(records, conversation)
    return JSONResponse(obj)


def _page(request: Request, items: list[dict[str, Any]]) -> dict[str, Any]:
    raw = request.query_params.get("limit", "20")
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw[:4]) <= MAX_PAGE:
        raise RequestError(
            f"Invalid 'limit': expected an integer from 1 to {MAX_PAGE}.", param="limit"
        )
    limit = int(raw)
    order = request.query_params.get("order", "desc")
    if order not in ("asc", "desc"):
        raise RequestError("Invalid 'order': expected asc or desc.", param="order")
    if order == "desc":
        items = items[::-1]
    after = request.query_params.get("after")
    if after is not None:
        ids = [item["id"] for item in items]
        if after not in ids:
            raise RequestError(f"Invalid 'after': no item '{after}'.", param="after")
        items = items[ids.index(after) + 1 :]
    page = items[:limit]
    return {
        "object": "list",
        "data": page,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
        "has_more": len(items) > limit,
    }


async def list_items(request: Request) -> Response:
    store, _, conversation = await _owned(request)
    page = _page(request, path_items(await _path(store, conversation)))
    return JSONResponse(page)


async def add_items(request: Request) -> Response:
    store, _, conversation = await _owned(request)
    state: AppState = request.app.state.chatgpt
    body = await read_json_object(request, state.settings.max_body_size)
    messages = new_messages(item_messages(_items_param(body, required=True), "items"))
    added = path_items(await _append(store, conversation, messages))
    return JSONResponse(
        {
            "object": "list",
            "data": added,
            "first_id": added[0]["id"] if added else None,
            "last_id": added[-1]["id"] if added else None,
            "has_more": False,
        }
    )


async def get_item(request: Request) -> Response:
    store, _, conversation = await _owned(request)
    item_id = request.path_params["item_id"]
    items = path_items(await _path(store, conversation))
    found = next((item for item in items if item["id"] == item_id), None)
    if found is None:
        raise NotFound(f"Item with id '{item_id}' not found.", param="item_id")
    return JSONResponse(found)


async def delete_item(request: Request) -> Response:
    store, records, conversation = await _owned(request)
    item_id = request.path_params["item_id"]
    path = await store.path_to(conversation.current_node or "", conversation_id=conversation.id)
    await _branch_without(store, conversation, path, item_id)
    updated = await store.get_conversation(conversation.id, owner=conversation.owner)
    obj = await openai_conversation(records, updated or conversation)
    return JSONResponse(obj)


async def _branch_without(
    store: ConversationStore, conversation: Conversation, path: list[StoredMessage], item_id: str
) -> None:
    """Move the tip to a new branch whose path lacks the item (see the module docstring)."""
    for index, message in enumerate(path):
        calls = (message.payload or {}).get("tool_calls") or []
        call_ids = [function_call_id(message.id, i) for i in range(len(calls))]
        if message.id == item_id:
            kept: list[StoredMessage] = []
        elif item_id in call_ids:
            kept = [_without_call(message, call_ids.index(item_id))]
        else:
            continue
        rest = [*kept, *path[index + 1 :]]
        if not rest:
            if message.parent_id is None:
                raise RequestError(
                    "The only item of a conversation cannot be deleted: delete the "
                    "conversation instead.",
                    param="item_id",
                )
            await store.set_current_node(conversation.id, message.parent_id)
            return
        copies = [
            NewMessage(
                role=m.role,
                content=m.content,
                model=m.model,
                status=m.status,
                error=m.error,
                upstream_message_id=m.upstream_message_id,
                usage=m.usage,
                latency_ms=m.latency_ms,
                payload=m.payload,
            )
            for m in rest
        ]
        await store.add_turn(conversation.id, parent_id=message.parent_id, messages=copies)
        return
    raise NotFound(f"Item with id '{item_id}' not found.", param="item_id")


def _without_call(message: StoredMessage, index: int) -> StoredMessage:
    payload = dict(message.payload or {})
    calls = list(payload.get("tool_calls") or [])
    del calls[index]
    if calls:
        payload["tool_calls"] = calls
    else:
        payload.pop("tool_calls", None)
    return replace(message, payload=payload or None)
