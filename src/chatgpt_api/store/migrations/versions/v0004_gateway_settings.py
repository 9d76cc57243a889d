"""Gateway settings kept in the database: the ``gateway_settings`` table (name → value).

Its first row is ``require_api_key`` (``on`` / ``off``): written ``on`` when the first gateway
key is created, changed only by ``chatgpt-api keys require on|off``, so revoking every key does
not open the service again.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "gateway_settings",
        sa.Column("name", sa.Text(), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("gateway_settings")
