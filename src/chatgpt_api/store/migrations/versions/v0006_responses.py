"""Stored Responses API responses (each one points at its answer node in the conversation
tree) and the Conversations API's metadata of a conversation.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "responses",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("owner", sa.Text(), nullable=True),
        sa.Column(
            "conversation_id",
            sa.Text(),
            sa.ForeignKey("conversations.id", ondelete="CASCADE", name="fk_responses_conversation"),
            nullable=False,
        ),
        sa.Column("message_id", sa.Text(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("input_items", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_responses_conversation", "responses", ["conversation_id"])
    op.create_table(
        "conversation_metadata",
        sa.Column(
            "conversation_id",
            sa.Text(),
            sa.ForeignKey(
                "conversations.id", ondelete="CASCADE", name="fk_conversation_metadata_conversation"
            ),
            primary_key=True,
        ),
        sa.Column("metadata", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("conversation_metadata")
    op.drop_index("ix_responses_conversation", table_name="responses")
    op.drop_table("responses")
