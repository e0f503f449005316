"""Outbox: an index to find a recipient's earlier undelivered message (delivery in order).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Index outbox rows by channel, recipient and id."""
    op.create_index("ix_outbox_recipient", "outbox", ["channel", "recipient", "id"])


def downgrade() -> None:
    """Drop the index."""
    op.drop_index("ix_outbox_recipient", table_name="outbox")
