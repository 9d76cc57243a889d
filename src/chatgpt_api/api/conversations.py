"""The conversation API: list, read (tree + current path), rename, delete, export, attachments.

Routes under ``/v1/conversations``. A message's ``message`` field is its OpenAI chat form when
it has more than text; inline images and files appear as ``attachment:sha256:<hex>``
references, served by the attachments route. A missing conversation and another owner's answer
the same 404; the owner is the caller's gateway key (None for anonymous callers).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from chatgpt_api.api.openai_compat import read_json_object
from chatgpt_api.api.state import AppState
from chatgpt_api.errors import NotFound, RequestError
from chatgpt_api.http_responses import JSONResponse
from chatgpt_api.keys.gate import authenticate
from chatgpt_api.store import Conversation, ConversationStore, StoredMessage
from chatgpt_api.store.attachments import references

#: Attachments a browser may show inline (pictures that cannot carry scripts).
INLINE_MEDIA_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
MAX_PAGE = 100
MAX_TITLE = 500


def conversation_object(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "object": "conversation",
        "title": conversation.title,
        "backend": conversation.backend,
        "model": conversation.model,
        "upstream_conversation_id": conversation.upstream_conversation_id,
        "current_node": conversation.current_node,
        "created_at": int(conversation.created_at.timestamp()),
        "updated_at": int(conversation.updated_at.timestamp()),
    }


def message_object(message: StoredMessage, children: list[str]) -> dict[str, Any]:
    return {
        "id": message.id,
        "object": "conversation.message",
        "parent_id": message.parent_id,
        "children": children,
        "role": message.role,
        "content": message.content,
        "model": message.model,
        "status": message.status,
        "error": message.error,
        "usage": message.usage,
        "latency_ms": message.latency_ms,
        "created_at": int(message.created_at.timestamp()),
        "message": message.payload,
    }


def _tree(conversation: Conversation, messages: list[StoredMessage]) -> dict[str, Any]:
    children: dict[str | None, list[str]] = {}
    by_id = {m.id: m for m in messages}
    for message in messages:
        children.setdefault(message.parent_id, []).append(message.id)
    path: list[str] = []
    node = conversation.current_node
    while node is not None and node in by_id and len(path) <= len(messages):
        path.append(node)
        node = by_id[node].parent_id
    path.reverse()
    return {
        **conversation_object(conversation),
        "messages": [message_object(m, children.get(m.id, [])) for m in messages],
        "current_path": path,
    }


def _store(request: Request) -> tuple[AppState, ConversationStore]:
    state: AppState = request.app.state.chatgpt
    if state.store is None:
        raise NotFound("conversation not found (the conversation store is turned off)")
    return state, state.store


def _int(request: Request, name: str, default: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    # ASCII digits only ("²".isdigit() is True but int() refuses it), and no more of them than
    # ``high`` has (int() refuses over 4,300 digits): either would be an unexpected 500.
    digits = raw.lstrip("0") or "0"
    if not (raw.isascii() and raw.isdigit()) or len(digits) > len(str(high)) or int(digits) > high:
        raise RequestError(f"Invalid '{name}': expected an integer from 0 to {high}.", param=name)
    return int(digits)


async def _owner(request: Request) -> str | None:
    return (await authenticate(request)).owner


async def _owned(request: Request, owner: str | None) -> tuple[ConversationStore, Conversation]:
    _, store = _store(request)
    conversation = await store.get_conversation(request.path_params["id"], owner=owner)
    if conversation is None:
        raise NotFound("conversation not found", param="id")
    return store, conversation


async def list_conversations(request: Request) -> Response:
    owner = await _owner(request)
    limit = _int(request, "limit", 20, MAX_PAGE)
    offset = _int(request, "offset", 0, 10**9)
    state: AppState = request.app.state.chatgpt
    if state.store is None:
        items: list[Conversation] = []
        total = 0
    else:
        items = await state.store.list_conversations(owner=owner, limit=limit, offset=offset)
        total = await state.store.count_conversations(owner=owner)
    return JSONResponse(
        {
            "object": "list",
            "data": [conversation_object(c) for c in items],
            "total": total,
            "limit": limit,
            "offset": offset,
            "has_more": offset + len(items) < total,
        }
    )


async def get_conversation(request: Request) -> Response:
    store, conversation = await _owned(request, await _owner(request))
    messages = await store.messages_of(conversation.id)
    tree = _tree(conversation, messages)
    responses = request.app.state.chatgpt.responses
    # The Conversations API's field (chatgpt_api.api.conversations_openai).
    tree["metadata"] = await responses.metadata(conversation.id) if responses else {}
    return JSONResponse(tree)


async def export_conversation(request: Request) -> Response:
    store, conversation = await _owned(request, await _owner(request))
    messages = await store.messages_of(conversation.id)
    filename = f"conversation-{conversation.id}.json"
    return JSONResponse(
        _tree(conversation, messages),
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def get_attachment(request: Request) -> Response:
    """An attachment that a message of the caller's conversation refers to."""
    store, conversation = await _owned(request, await _owner(request))
    sha = request.path_params["sha256"]
    messages = await store.messages_of(conversation.id)
    if not any(m.payload is not None and sha in references(m.payload) for m in messages):
        raise NotFound("attachment not found in this conversation", param="sha256")
    found = (await store.attachments([sha])).get(sha)
    if found is None:
        raise NotFound("attachment not found in this conversation", param="sha256")
    # The media type is the client's word: never let the browser run it on our origin.
    headers = {
        "Cache-Control": "private, max-age=31536000, immutable",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox; default-src 'none'",
    }
    if found.media_type not in INLINE_MEDIA_TYPES:
        headers["Content-Disposition"] = f'attachment; filename="{sha}"'
    return Response(found.data, media_type=found.media_type, headers=headers)


async def rename_conversation(request: Request) -> Response:
    owner = await _owner(request)
    state, store = _store(request)
    body = await read_json_object(request, state.settings.max_body_size)
    title = body.get("title")
    if not isinstance(title, str) or not title.strip() or len(title) > MAX_TITLE:
        raise RequestError(
            f"Invalid 'title': expected a non-empty string of at most {MAX_TITLE} characters.",
            param="title",
        )
    if not await store.rename(request.path_params["id"], title.strip(), owner=owner):
        raise NotFound("conversation not found", param="id")
    _, conversation = await _owned(request, owner)
    return JSONResponse(conversation_object(conversation))


async def delete_conversation(request: Request) -> Response:
    owner = await _owner(request)
    _, store = _store(request)
    conversation_id = request.path_params["id"]
    if not await store.delete_conversation(conversation_id, owner=owner):
        raise NotFound("conversation not found", param="id")
    return JSONResponse({"id": conversation_id, "object": "conversation.deleted", "deleted": True})
