"""Branching a conversation's first turn: the explicit root parent.

A follow-up names the message to answer after (``parent_message_id``); the first message of a
conversation has none, so it could not be regenerated or edited as a branch. The nil UUID,
:data:`ROOT_PARENT`, names the conversation's root instead: the new user message is stored
beside the first one (a sibling at the root), with no history before it.

On ChatGPT web the upstream must be told its own root node: the ``parent_message_id`` sent with
the conversation's first turn (any fresh id becomes the root there). The service derives that
id from the first user message's id (:func:`upstream_root_for`), so it can find it again later
(:func:`upstream_root_of`): random-looking, a version-4 UUID like the seed's, never stored.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Final

from chatgpt_api.store import ConversationStore

#: ``parent_message_id`` meaning "the conversation's root": branch the first turn.
ROOT_PARENT: Final = "00000000-0000-0000-0000-000000000000"


def upstream_root_for(first_user_message_id: str) -> str:
    """The upstream root node id of a web conversation whose first user message has this id."""
    digest = hashlib.sha256(b"chatgpt-api conversation root " + first_user_message_id.encode())
    return str(uuid.UUID(bytes=digest.digest()[:16], version=4))


async def upstream_root_of(store: ConversationStore, conversation_id: str) -> str | None:
    """The upstream root of a stored web conversation (from its earliest first message)."""
    messages = await store.messages_of(conversation_id)
    roots = [m for m in messages if m.parent_id is None and m.role == "user"]
    if not roots:
        return None
    return upstream_root_for(min(roots, key=lambda m: m.created_at).id)
