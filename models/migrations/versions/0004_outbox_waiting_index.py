"""Outbox: index only the messages still waiting, per recipient (their order stays cheap to check).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

WAITING = sa.text("next_attempt_at IS NOT NULL")


def upgrade() -> None:
    """Replace the index over every outbox row by one over the waiting rows."""
    op.drop_index("ix_outbox_recipient", table_name="outbox")
    op.create_index("ix_outbox_waiting_recipient", "outbox", ["channel", "recipient", "id"],
                    sqlite_where=WAITING, postgresql_where=WAITING)


def downgrade() -> None:
    """Back to the index over every outbox row."""
    op.drop_index("ix_outbox_waiting_recipient", table_name="outbox")
    op.create_index("ix_outbox_recipient", "outbox", ["channel", "recipient", "id"])
