"""The schema: users, payments, the outbox, jobs and inbound receipts (SQLAlchemy Core tables)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DDL,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
    false,
    text,
)

from bot.core.entities import AUTH_FACTORS, AUTH_RESULTS
from models.types import UtcDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

STATES = ("pending", "approved", "denied", "expired", "cancelled", "blocked", "failed")
STEPS = ("confirmation", "push", "code", "done")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    listed = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({listed})"


users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("telegram_user_id", BigInteger, nullable=True),
    Column("telegram_chat_id", BigInteger, nullable=True),
    Column("phone", String(16), nullable=True),
    Column("phone_verified", Boolean, nullable=False, default=False),
    Column("email", String(254), nullable=True),
    Column("authenticator_id", String(64), nullable=True),
    Column("registration", String(16), nullable=False),
    Column("default_currency", String(3), nullable=False),
    Column("locale", String(35), nullable=False),
    Column("telegram_blocked", Boolean, nullable=False, default=False),
    Column("sms_opted_out", Boolean, nullable=False, default=False),
    Column("exempt_count", Integer, nullable=False, default=0),
    Column("exempt_total_eur_minor", BigInteger, nullable=False, default=0),
    Column("app_link_hash", String(64), nullable=True),
    Column("app_link_expires_at", UtcDateTime, nullable=True),
    Column("failed_attempts", Integer, nullable=False, default=0, server_default="0"),
    Column("locked_until", UtcDateTime, nullable=True),
    Column("phone_codes_sent", Integer, nullable=False, default=0, server_default="0"),
    Column("phone_codes_since", UtcDateTime, nullable=True),
    UniqueConstraint("telegram_user_id"),
    UniqueConstraint("phone"),
    UniqueConstraint("app_link_hash"),
    CheckConstraint(_one_of("registration", ("contact", "phone_code", "email", "ready")), name="registration"),
    CheckConstraint("exempt_count >= 0 AND exempt_total_eur_minor >= 0", name="exempt_counters"),
    CheckConstraint("failed_attempts >= 0", name="failed_attempts"),
)

# PSD2 Art. 97: an approved payment was authenticated (a push decision or a code bound to it), or an
# exemption was applied and its reason recorded. The services never do otherwise; this makes it so.
APPROVED_BY_SCA = ("state <> 'approved' "
                   "OR (sca = 'challenge' AND COALESCE(decided_by, '') IN ('push', 'code')) "
                   "OR (sca = 'exempt' AND COALESCE(decided_by, '') = 'exemption' AND sca_reason <> '')")

payments = Table(
    "payments",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("payer_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("payee", Text, nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("digits", SmallInteger, nullable=False),
    Column("note", Text, nullable=True),
    Column("channel", String(16), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("step", String(16), nullable=False),
    Column("sca", String(16), nullable=False),
    Column("sca_reason", Text, nullable=False),
    Column("push_request_id", String(128), nullable=True),
    Column("fallback_at", UtcDateTime, nullable=True),
    Column("code_sent_at", UtcDateTime, nullable=True),
    Column("code_attempts", Integer, nullable=False, default=0),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("decided_at", UtcDateTime, nullable=True),
    Column("decided_by", String(16), nullable=True),
    Column("reason", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("push_request_id"),
    CheckConstraint("amount_minor > 0", name="amount_positive"),
    CheckConstraint("digits >= 0 AND digits <= 4", name="digits"),
    CheckConstraint(_one_of("channel", ("telegram", "sms")), name="channel"),
    CheckConstraint(_one_of("state", STATES), name="state"),
    CheckConstraint(_one_of("step", STEPS), name="step"),
    CheckConstraint("(state = 'pending') = (step <> 'done')", name="final_is_done"),
    CheckConstraint(_one_of("sca", ("challenge", "exempt")), name="sca"),
    CheckConstraint(APPROVED_BY_SCA, name="approved_by_sca"),
    CheckConstraint("code_attempts >= 0", name="code_attempts"),
    Index("ix_payments_payer_created", "payer_id", "created_at"),
    Index("ix_payments_due_fallback", "state", "step", "fallback_at"),
    Index("ix_payments_due_expiry", "state", "expires_at"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel", String(16), nullable=False),
    Column("recipient", String(64), nullable=False),
    Column("text", Text, nullable=False),
    Column("buttons", JSON, nullable=False),
    Column("request_contact", Boolean, nullable=False, default=False),
    Column("remove_keyboard", Boolean, nullable=False, default=False),
    Column("secret", Boolean, nullable=False, default=False, server_default=false()),
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", UtcDateTime, nullable=False),
    # Set while the message still has to go out, NULL once delivered or failed.
    Column("next_attempt_at", UtcDateTime, nullable=True),
    # A worker that claimed the message owns it until then (guarded claim).
    Column("leased_until", UtcDateTime, nullable=True),
    Column("delivered_at", UtcDateTime, nullable=True),
    Column("failed_at", UtcDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    CheckConstraint(_one_of("channel", ("telegram", "sms")), name="channel"),
    Index("ix_outbox_due", "next_attempt_at"),
    # Only waiting messages: finding a recipient's earlier undelivered message stays cheap however
    # many delivered ones the table keeps.
    Index("ix_outbox_waiting_recipient", "channel", "recipient", "id",
          sqlite_where=text("next_attempt_at IS NOT NULL"), postgresql_where=text("next_attempt_at IS NOT NULL")),
)

JOB_KINDS = ("start_phone_check", "check_phone_code", "register", "send_push", "send_code", "check_code",
             "fetch_decision", "expire", "settle_button", "offer_app_link")

jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", UtcDateTime, nullable=False),
    # Set while the job still has to run, NULL once done or given up (as in the outbox).
    Column("run_at", UtcDateTime, nullable=True),
    Column("leased_until", UtcDateTime, nullable=True),
    Column("done_at", UtcDateTime, nullable=True),
    Column("failed_at", UtcDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    CheckConstraint(_one_of("kind", JOB_KINDS), name="kind"),
    Index("ix_jobs_due", "run_at"),
)

receipts = Table(
    "receipts",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("seen_at", UtcDateTime, nullable=False),
    Index("ix_receipts_seen_at", "seen_at"),
)

auth_events = Table(
    "auth_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=True),
    Column("action", String(96), nullable=False),
    Column("factor", String(16), nullable=False),
    Column("result", String(16), nullable=False),
    Column("detail", Text, nullable=True),
    CheckConstraint(_one_of("factor", AUTH_FACTORS), name="factor"),
    CheckConstraint(_one_of("result", AUTH_RESULTS), name="result"),
    Index("ix_auth_events_user_at", "user_id", "at"),
)

# The audit trail is appended to, never rewritten: the database refuses an UPDATE of it.
SQLITE_EVENTS_APPEND_ONLY = (
    "CREATE TRIGGER auth_events_append_only BEFORE UPDATE ON auth_events FOR EACH ROW "
    "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END"
)
POSTGRESQL_EVENTS_FUNCTION = (
    "CREATE FUNCTION auth_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "RAISE EXCEPTION 'the audit trail is append-only' USING ERRCODE = 'integrity_constraint_violation'; "
    "END $$"
)
POSTGRESQL_EVENTS_TRIGGER = (
    "CREATE TRIGGER auth_events_append_only BEFORE UPDATE ON auth_events FOR EACH ROW "
    "EXECUTE FUNCTION auth_events_append_only()"
)
event.listen(auth_events, "after_create", DDL(SQLITE_EVENTS_APPEND_ONLY).execute_if(dialect="sqlite"))
event.listen(auth_events, "after_create", DDL(POSTGRESQL_EVENTS_FUNCTION).execute_if(dialect="postgresql"))
event.listen(auth_events, "after_create", DDL(POSTGRESQL_EVENTS_TRIGGER).execute_if(dialect="postgresql"))
event.listen(auth_events, "after_drop",
             DDL("DROP FUNCTION IF EXISTS auth_events_append_only()").execute_if(dialect="postgresql"))

# Payment terms can never be rewritten, whatever code runs: the database refuses the UPDATE.
FROZEN_PAYMENT_COLUMNS = (
    "id", "payer_id", "payee", "amount_minor", "currency", "digits", "note", "channel", "fingerprint",
    "created_at",
)
_CHANGED = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in FROZEN_PAYMENT_COLUMNS)

SQLITE_FROZEN_TRIGGER = (
    "CREATE TRIGGER payments_terms_frozen BEFORE UPDATE ON payments FOR EACH ROW "
    f"WHEN {_CHANGED.replace('IS DISTINCT FROM', 'IS NOT')} "
    "BEGIN SELECT RAISE(ABORT, 'payment terms are frozen'); END"
)
POSTGRESQL_FROZEN_FUNCTION = (
    "CREATE FUNCTION payments_terms_frozen() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    f"IF {_CHANGED} THEN RAISE EXCEPTION 'payment terms are frozen' "
    "USING ERRCODE = 'integrity_constraint_violation'; END IF; RETURN NEW; END $$"
)
POSTGRESQL_FROZEN_TRIGGER = (
    "CREATE TRIGGER payments_terms_frozen BEFORE UPDATE ON payments FOR EACH ROW "
    "EXECUTE FUNCTION payments_terms_frozen()"
)

event.listen(payments, "after_create", DDL(SQLITE_FROZEN_TRIGGER).execute_if(dialect="sqlite"))
event.listen(payments, "after_create", DDL(POSTGRESQL_FROZEN_FUNCTION).execute_if(dialect="postgresql"))
event.listen(payments, "after_create", DDL(POSTGRESQL_FROZEN_TRIGGER).execute_if(dialect="postgresql"))
event.listen(payments, "after_drop",
             DDL("DROP FUNCTION IF EXISTS payments_terms_frozen()").execute_if(dialect="postgresql"))
