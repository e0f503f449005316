"""The audit trail: one row per authentication event, appended and never updated.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

FACTORS = ("push", "sms_code", "phone_code", "exemption", "chat")
RESULTS = ("approved", "denied", "passed", "failed", "locked", "refused")


def _listed(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def upgrade() -> None:
    """Create the table, its index and the trigger that refuses updates."""
    op.create_table(
        "auth_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=96), nullable=False),
        sa.Column("factor", sa.String(length=16), nullable=False),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.CheckConstraint(f"factor IN ({_listed(FACTORS)})", name=op.f("ck_auth_events_factor")),
        sa.CheckConstraint(f"result IN ({_listed(RESULTS)})", name=op.f("ck_auth_events_result")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_auth_events_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_events")),
    )
    op.create_index(op.f("ix_auth_events_user_at"), "auth_events", ["user_id", "at"])
    if op.get_bind().dialect.name == "sqlite":
        op.execute("CREATE TRIGGER auth_events_append_only BEFORE UPDATE ON auth_events FOR EACH ROW "
                   "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END")
    else:
        op.execute("CREATE FUNCTION auth_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                   "RAISE EXCEPTION 'the audit trail is append-only' USING ERRCODE = "
                   "'integrity_constraint_violation'; END $$")
        op.execute("CREATE TRIGGER auth_events_append_only BEFORE UPDATE ON auth_events FOR EACH ROW "
                   "EXECUTE FUNCTION auth_events_append_only()")


def downgrade() -> None:
    """Drop the table (and, on PostgreSQL, its trigger function)."""
    op.drop_index(op.f("ix_auth_events_user_at"), table_name="auth_events")
    op.drop_table("auth_events")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS auth_events_append_only()")
