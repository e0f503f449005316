"""Initial schema: users, payments (terms frozen by a trigger), outbox, receipts.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)

FROZEN = ("id", "payer_id", "payee", "amount_minor", "currency", "digits", "note", "channel", "fingerprint",
          "created_at")


def upgrade() -> None:
    """Create the four tables, their indexes and the payment-terms trigger."""
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("telegram_user_id", sa.BigInteger(), nullable=True),
        sa.Column("telegram_chat_id", sa.BigInteger(), nullable=True),
        sa.Column("phone", sa.String(length=16), nullable=True),
        sa.Column("phone_verified", sa.Boolean(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("authenticator_id", sa.String(length=64), nullable=True),
        sa.Column("registration", sa.String(length=16), nullable=False),
        sa.Column("default_currency", sa.String(length=3), nullable=False),
        sa.Column("locale", sa.String(length=35), nullable=False),
        sa.Column("telegram_blocked", sa.Boolean(), nullable=False),
        sa.Column("sms_opted_out", sa.Boolean(), nullable=False),
        sa.Column("exempt_count", sa.Integer(), nullable=False),
        sa.Column("exempt_total_eur_minor", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("registration IN ('contact', 'phone_code', 'email', 'ready')",
                           name=op.f("ck_users_registration")),
        sa.CheckConstraint("exempt_count >= 0 AND exempt_total_eur_minor >= 0", name=op.f("ck_users_exempt_counters")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("telegram_user_id", name=op.f("uq_users_telegram_user_id")),
        sa.UniqueConstraint("phone", name=op.f("uq_users_phone")),
    )
    op.create_table(
        "payments",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("payer_id", sa.Integer(), nullable=False),
        sa.Column("payee", sa.Text(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("digits", sa.SmallInteger(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("sca", sa.String(length=16), nullable=False),
        sa.Column("sca_reason", sa.Text(), nullable=False),
        sa.Column("push_request_id", sa.String(length=128), nullable=True),
        sa.Column("fallback_at", UTC_DATETIME, nullable=True),
        sa.Column("code_sent_at", UTC_DATETIME, nullable=True),
        sa.Column("code_attempts", sa.Integer(), nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
        sa.Column("decided_at", UTC_DATETIME, nullable=True),
        sa.Column("decided_by", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_payments_amount_positive")),
        sa.CheckConstraint("digits >= 0 AND digits <= 4", name=op.f("ck_payments_digits")),
        sa.CheckConstraint("channel IN ('telegram', 'sms')", name=op.f("ck_payments_channel")),
        sa.CheckConstraint("state IN ('pending', 'approved', 'denied', 'expired', 'cancelled', 'blocked', 'failed')",
                           name=op.f("ck_payments_state")),
        sa.CheckConstraint("step IN ('confirmation', 'push', 'code', 'done')", name=op.f("ck_payments_step")),
        sa.CheckConstraint("(state = 'pending') = (step <> 'done')", name=op.f("ck_payments_final_is_done")),
        sa.CheckConstraint("sca IN ('challenge', 'exempt')", name=op.f("ck_payments_sca")),
        sa.CheckConstraint("code_attempts >= 0", name=op.f("ck_payments_code_attempts")),
        sa.ForeignKeyConstraint(["payer_id"], ["users.id"], name=op.f("fk_payments_payer_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("push_request_id", name=op.f("uq_payments_push_request_id")),
    )
    op.create_index("ix_payments_payer_created", "payments", ["payer_id", "created_at"])
    op.create_index("ix_payments_due_fallback", "payments", ["state", "step", "fallback_at"])
    op.create_index("ix_payments_due_expiry", "payments", ["state", "expires_at"])
    _create_frozen_trigger()
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("recipient", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("buttons", sa.JSON(), nullable=False),
        sa.Column("request_contact", sa.Boolean(), nullable=False),
        sa.Column("remove_keyboard", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("next_attempt_at", UTC_DATETIME, nullable=True),
        sa.Column("leased_until", UTC_DATETIME, nullable=True),
        sa.Column("delivered_at", UTC_DATETIME, nullable=True),
        sa.Column("failed_at", UTC_DATETIME, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint("channel IN ('telegram', 'sms')", name=op.f("ck_outbox_channel")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index("ix_outbox_due", "outbox", ["next_attempt_at"])
    op.create_table(
        "receipts",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("seen_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_receipts")),
    )
    op.create_index("ix_receipts_seen_at", "receipts", ["seen_at"])


def downgrade() -> None:
    """Drop everything this revision created."""
    op.drop_index("ix_receipts_seen_at", table_name="receipts")
    op.drop_table("receipts")
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.drop_table("outbox")
    op.drop_index("ix_payments_due_expiry", table_name="payments")
    op.drop_index("ix_payments_due_fallback", table_name="payments")
    op.drop_index("ix_payments_payer_created", table_name="payments")
    op.drop_table("payments")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS payments_terms_frozen()")
    op.drop_table("users")


def _create_frozen_trigger() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in FROZEN)
        op.execute(
            "CREATE TRIGGER payments_terms_frozen BEFORE UPDATE ON payments FOR EACH ROW "
            f"WHEN {changed} BEGIN SELECT RAISE(ABORT, 'payment terms are frozen'); END"
        )
    elif dialect == "postgresql":
        changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in FROZEN)
        op.execute(
            "CREATE FUNCTION payments_terms_frozen() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF {changed} THEN RAISE EXCEPTION 'payment terms are frozen' "
            "USING ERRCODE = 'integrity_constraint_violation'; END IF; RETURN NEW; END $$"
        )
        op.execute(
            "CREATE TRIGGER payments_terms_frozen BEFORE UPDATE ON payments FOR EACH ROW "
            "EXECUTE FUNCTION payments_terms_frozen()"
        )
