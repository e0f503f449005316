"""Users: one counter of failed authentication attempts in a row, and the lock it causes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the counter (0 for everyone) and the lock's end."""
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("failed_attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
        batch.create_check_constraint(op.f("ck_users_failed_attempts"), "failed_attempts >= 0")


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("ck_users_failed_attempts"), type_="check")
        batch.drop_column("locked_until")
        batch.drop_column("failed_attempts")
