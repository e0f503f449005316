"""Payments: an approved payment carries its SCA (push or code) or a recorded exemption (PSD2 Art. 97).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

APPROVED_BY_SCA = ("state <> 'approved' "
                   "OR (sca = 'challenge' AND COALESCE(decided_by, '') IN ('push', 'code')) "
                   "OR (sca = 'exempt' AND COALESCE(decided_by, '') = 'exemption' AND sca_reason <> '')")
FROZEN = ("id", "payer_id", "payee", "amount_minor", "currency", "digits", "note", "channel", "fingerprint",
          "created_at")


def upgrade() -> None:
    """Add the check; SQLite rebuilds the table for it, so its terms trigger is made again."""
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("payments", recreate="always") as batch:
            batch.create_check_constraint(op.f("ck_payments_approved_by_sca"), APPROVED_BY_SCA)
        _sqlite_frozen_trigger()
    else:
        op.create_check_constraint(op.f("ck_payments_approved_by_sca"), "payments", APPROVED_BY_SCA)


def downgrade() -> None:
    """Drop the check (SQLite rebuilds the table again, and its trigger)."""
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("payments", recreate="always") as batch:
            batch.drop_constraint(op.f("ck_payments_approved_by_sca"), type_="check")
        _sqlite_frozen_trigger()
    else:
        op.drop_constraint(op.f("ck_payments_approved_by_sca"), "payments", type_="check")


def _sqlite_frozen_trigger() -> None:
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in FROZEN)
    op.execute("DROP TRIGGER IF EXISTS payments_terms_frozen")
    op.execute("CREATE TRIGGER payments_terms_frozen BEFORE UPDATE ON payments FOR EACH ROW "
               f"WHEN {changed} BEGIN SELECT RAISE(ABORT, 'payment terms are frozen'); END")
