"""Jobs: the outside calls a use case needs, claimed by workers with a lease.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)
KINDS = ("start_phone_check", "check_phone_code", "register", "send_push", "send_code", "check_code",
         "fetch_decision", "expire", "settle_button")


def upgrade() -> None:
    """Create the jobs table and its due index."""
    listed = ", ".join(f"'{k}'" for k in KINDS)
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("run_at", UTC_DATETIME, nullable=True),
        sa.Column("leased_until", UTC_DATETIME, nullable=True),
        sa.Column("done_at", UTC_DATETIME, nullable=True),
        sa.Column("failed_at", UTC_DATETIME, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint(f"kind IN ({listed})", name=op.f("ck_jobs_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index(op.f("ix_jobs_due"), "jobs", ["run_at"])


def downgrade() -> None:
    """Drop the jobs table."""
    op.drop_index("ix_jobs_due", table_name="jobs")
    op.drop_table("jobs")
