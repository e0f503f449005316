"""Users: the one live link that hands a person's authenticator app its enrolment (stored as a hash);
jobs: the kind that sends such a link.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

OLD_KINDS = ("start_phone_check", "check_phone_code", "register", "send_push", "send_code", "check_code",
             "fetch_decision", "expire", "settle_button")
KINDS = OLD_KINDS + ("offer_app_link",)


def _kinds_check(batch: object, kinds: tuple[str, ...]) -> None:
    """Replace the jobs.kind check with one listing `kinds`."""
    listed = ", ".join(f"'{k}'" for k in kinds)
    batch.drop_constraint(op.f("ck_jobs_kind"), type_="check")  # type: ignore[attr-defined]
    batch.create_check_constraint(op.f("ck_jobs_kind"), f"kind IN ({listed})")  # type: ignore[attr-defined]


def upgrade() -> None:
    """Add the link's hash (unique) and its deadline."""
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("app_link_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("app_link_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_unique_constraint(op.f("uq_users_app_link_hash"), ["app_link_hash"])
    with op.batch_alter_table("jobs") as batch:
        _kinds_check(batch, KINDS)


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table("jobs") as batch:
        _kinds_check(batch, OLD_KINDS)
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("uq_users_app_link_hash"), type_="unique")
        batch.drop_column("app_link_expires_at")
        batch.drop_column("app_link_hash")
