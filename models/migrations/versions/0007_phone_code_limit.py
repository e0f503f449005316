"""Users: how many phone verification codes went out in the current window (a re-send limit).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the count and the window's start."""
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("phone_codes_sent", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("phone_codes_since", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table("users") as batch:
        batch.drop_column("phone_codes_since")
        batch.drop_column("phone_codes_sent")
