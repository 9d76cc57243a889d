"""The tables as the running code sees them (SQLAlchemy Core), shared by SQLite and PostgreSQL.

The DDL history lives in ``migrations/`` (tests check a migrated database matches). Column
types :class:`UTCDateTime` (aware UTC datetimes on both databases) and :class:`UsageJSON`
(:class:`~chatgpt_api.messages.Usage` as JSON) smooth over the differences.
``messages.position`` orders a conversation's messages; ``(conversation_id, parent_id)``
references ``(conversation_id, id)``, so a parent from another conversation is refused by the
database. ``conversations.current_node`` is deliberately not a foreign key.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

from chatgpt_api.messages import Usage
from chatgpt_api.store.values import usage_from_json

metadata = MetaData()


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime, stored as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store: use timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class UsageJSON(TypeDecorator[Usage]):
    """Token usage as a JSON object."""

    impl = JSON(none_as_null=True)
    cache_ok = True

    def process_bind_param(self, value: Usage | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return {"prompt_tokens": value.prompt_tokens, "completion_tokens": value.completion_tokens}

    def process_result_value(self, value: Any, dialect: Dialect) -> Usage | None:
        if not isinstance(value, dict):
            return None
        return usage_from_json(value)


conversations = Table(
    "conversations",
    metadata,
    Column("id", Text, primary_key=True),
    Column("title", Text, nullable=True),
    Column("owner", Text, nullable=True),
    Column("backend", Text, nullable=False),
    Column("model", Text, nullable=False),
    Column("upstream_conversation_id", Text, nullable=True),
    Column("current_node", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_conversations_owner_updated_at", "owner", "updated_at"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", Text, primary_key=True),
    Column(
        "conversation_id",
        Text,
        ForeignKey("conversations.id", ondelete="CASCADE", name="fk_messages_conversation"),
        nullable=False,
    ),
    Column("parent_id", Text, nullable=True),
    Column("position", Integer, nullable=False),
    Column("role", Text, nullable=False),
    Column("content", Text, nullable=False),
    Column("model", Text, nullable=True),
    Column("status", Text, nullable=False),
    Column("error", Text, nullable=True),
    Column("upstream_message_id", Text, nullable=True),
    Column("usage", UsageJSON, nullable=True),
    Column("latency_ms", Integer, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("payload", JSON(none_as_null=True), nullable=True),
    UniqueConstraint("conversation_id", "id", name="uq_messages_conversation_id_id"),
    UniqueConstraint("conversation_id", "position", name="uq_messages_conversation_position"),
    ForeignKeyConstraint(
        ["conversation_id", "parent_id"],
        ["messages.conversation_id", "messages.id"],
        ondelete="CASCADE",
        name="fk_messages_parent",
    ),
    CheckConstraint(
        "role IN ('system', 'developer', 'user', 'assistant', 'tool')", name="ck_messages_role"
    ),
    CheckConstraint("status IN ('complete', 'partial', 'error')", name="ck_messages_status"),
    Index("ix_messages_conversation_parent", "conversation_id", "parent_id"),
)

# Images, audio and files of stored messages, once each by content (store/attachments.py).
attachments = Table(
    "attachments",
    metadata,
    Column("sha256", Text, primary_key=True),
    Column("media_type", Text, nullable=False),
    Column("size", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# Gateway API keys (see chatgpt_api.keys): only the SHA-256 of a key is kept, never the key.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("prefix", Text, nullable=False),
    Column("hash", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
    Column("last_used_at", UTCDateTime, nullable=True),
    UniqueConstraint("name", name="uq_api_keys_name"),
    UniqueConstraint("hash", name="uq_api_keys_hash"),
    Index("ix_api_keys_prefix", "prefix"),
)

# Upstream accounts (chatgpt_api.accounts): secrets are Fernet-encrypted, never stored in clear.
upstream_accounts = Table(
    "upstream_accounts",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("backend", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("access_secret", Text, nullable=True),
    Column("session_secret", Text, nullable=True),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("status", Text, nullable=False),
    Column("reason", Text, nullable=True),
    Column("cooldown_until", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint(
        "kind IN ('access_token', 'session_token', 'api_key')", name="ck_upstream_accounts_kind"
    ),
    CheckConstraint("status IN ('healthy', 'unhealthy')", name="ck_upstream_accounts_status"),
)

# Which account holds a ChatGPT web conversation (follow-ups must go to the same account).
conversation_accounts = Table(
    "conversation_accounts",
    metadata,
    Column("conversation_id", Text, primary_key=True),
    Column("account_id", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# Settings an operator changes at run time for every instance (chatgpt_api.keys.keystore):
# ``require_api_key`` = ``on`` / ``off``.
gateway_settings = Table(
    "gateway_settings",
    metadata,
    Column("name", Text, primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Responses API responses (chatgpt_api.api.responses_api): the response object as returned and
# its input items; ``message_id`` is the answer's node in the conversation tree, where a
# ``previous_response_id`` continues from.
responses = Table(
    "responses",
    metadata,
    Column("id", Text, primary_key=True),
    Column("owner", Text, nullable=True),
    Column(
        "conversation_id",
        Text,
        ForeignKey("conversations.id", ondelete="CASCADE", name="fk_responses_conversation"),
        nullable=False,
    ),
    Column("message_id", Text, nullable=False),
    Column("body", JSON, nullable=False),
    Column("input_items", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_responses_conversation", "conversation_id"),
)

# The Conversations API's ``metadata`` of a conversation (up to 16 string pairs).
conversation_metadata = Table(
    "conversation_metadata",
    metadata,
    Column(
        "conversation_id",
        Text,
        ForeignKey(
            "conversations.id", ondelete="CASCADE", name="fk_conversation_metadata_conversation"
        ),
        primary_key=True,
    ),
    Column("metadata", JSON, nullable=False),
)
