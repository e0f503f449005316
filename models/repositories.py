"""Repositories over one SQLAlchemy connection: rows in, bot.core entities out."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from functools import cache

from sqlalchemy import Connection, Row, and_, bindparam, case, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from bot.core.entities import SECRET_BLANKED, AuthEvent, Button, Channel, OutboxMessage, Payment, Registration, User
from bot.core.jobs import Job, JobKind
from bot.core.money import Money
from bot.core.payment import TRANSITIONS, IllegalTransition, State, Step
from models.tables import auth_events, jobs, outbox, payments, receipts, users

# The statements every flow runs are built once and executed with parameters: building a statement
# and computing its cache key cost more CPU than SQLite takes to run it.


@cache
def _select_by(table: Any, column: str) -> Any:
    return select(table).where(table.c[column] == bindparam("w_value"))


@cache
def _insert(table: Any) -> Any:
    return insert(table)


@cache
def _update_by_id(table: Any) -> Any:
    return update(table).where(table.c.id == bindparam("w_id"))


# Payment attributes a transition may set alongside state and step. Terms are not among them.
TRANSITION_FIELDS = frozenset({
    "push_request_id", "fallback_at", "code_sent_at", "decided_at", "decided_by", "reason",
    "expires_at", "sca", "sca_reason",
})


class SqlUserRepository:
    """People and their channels."""

    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def get(self, user_id: int) -> User | None:
        """The user with this id, or None."""
        return self._one("id", user_id)

    def get_for_update(self, user_id: int) -> User | None:
        """The user, locked until the unit of work ends: read-modify-save of counters serializes."""
        if self._c.dialect.name == "postgresql":
            row = self._c.execute(select(users).where(users.c.id == user_id).with_for_update()).first()
            return None if row is None else _user_from(row)
        # SQLite locks the whole database for writing; a no-op UPDATE takes that lock now.
        self._c.execute(_update_by_id(users).values(id=users.c.id), {"w_id": user_id})
        return self.get(user_id)

    def by_telegram(self, telegram_user_id: int) -> User | None:
        """The user with this Telegram user id, or None."""
        return self._one("telegram_user_id", telegram_user_id)

    def by_phone(self, phone: str) -> User | None:
        """The user with this E.164 phone number, or None."""
        return self._one("phone", phone)

    def by_app_link(self, link_hash: str) -> User | None:
        """The user whose live app link has this hash, or None."""
        return self._one("app_link_hash", link_hash)

    def use_app_link(self, user_id: int, link_hash: str) -> bool:
        """Spend the user's app link if it is still this one: True for exactly one caller."""
        guarded = update(users).where(users.c.id == user_id, users.c.app_link_hash == link_hash)
        return self._c.execute(guarded.values(app_link_hash=None, app_link_expires_at=None)).rowcount == 1

    def add(self, user: User) -> User:
        """Insert the user; sets and returns it with its id."""
        values = _user_values(user)
        values.pop("id")
        user.id = self._c.execute(_insert(users), values).inserted_primary_key[0]  # type: ignore[index]
        return user

    def save(self, user: User) -> None:
        """Write every field of an existing user; LookupError if there is none."""
        if user.id is None:
            raise LookupError("cannot save a user that was never added")
        values = _user_values(user)
        values.pop("id")
        if self._c.execute(_update_by_id(users), {"w_id": user.id, **values}).rowcount != 1:
            raise LookupError(f"no user {user.id}")

    def _one(self, column: str, value: object) -> User | None:
        row = self._c.execute(_select_by(users, column), {"w_value": value}).first()
        return None if row is None else _user_from(row)


class SqlPaymentRepository:
    """Payments: inserted once, then changed only through guarded transitions."""

    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(self, payment: Payment) -> None:
        """Insert a new payment with its frozen terms."""
        self._c.execute(_insert(payments), _payment_values(payment))

    def get(self, payment_id: str) -> Payment | None:
        """The payment with this id, or None."""
        return self._first("id", payment_id)

    def by_push_request(self, request_id: str) -> Payment | None:
        """The payment a push approval request belongs to, or None."""
        return self._first("push_request_id", request_id)

    def for_payer(self, payer_id: int, limit: int) -> list[Payment]:
        """The payer's payments, newest first."""
        rows = self._c.execute(_PAYER_RECENT, {"w_payer": payer_id, "w_limit": limit})
        return [_payment_from(r) for r in rows]

    def pending_for_payer(self, payer_id: int) -> list[Payment]:
        """The payer's pending payments, newest first."""
        return [_payment_from(r) for r in self._c.execute(_PAYER_PENDING, {"w_payer": payer_id})]

    def transition(self, payment_id: str, from_state: State, from_step: Step, to_state: State, to_step: Step,
                   **fields: object) -> bool:
        """UPDATE ... WHERE id = ? AND state = from_state AND step = from_step; True if it applied.

        The move must be in the transition table, or stay in place on a pending payment (a guarded
        update of `fields` only). `fields` may name only TRANSITION_FIELDS; terms never change.
        """
        _check_move(State(from_state), Step(from_step), State(to_state), Step(to_step))
        unknown = set(fields) - TRANSITION_FIELDS
        if unknown:
            raise ValueError(f"a transition cannot set {', '.join(sorted(unknown))}")
        values = {"w_id": payment_id, "w_state": State(from_state).value, "w_step": Step(from_step).value,
                  "state": State(to_state).value, "step": Step(to_step).value, **fields}
        return self._c.execute(_GUARDED_MOVE, values).rowcount == 1

    def store_push_request(self, payment_id: str, request_id: str) -> bool:
        """Record the push request of a pending payment (step push or code) that has none yet; True if stored."""
        return self._c.execute(_STORE_PUSH, {"w_id": payment_id, "push_request_id": request_id}).rowcount == 1

    def add_code_failure(self, payment_id: str) -> int | None:
        """Atomically count one wrong code; the new count, or None unless pending in step CODE."""
        statement = (
            update(payments)
            .where(payments.c.id == payment_id, payments.c.state == State.PENDING.value,
                   payments.c.step == Step.CODE.value)
            .values(code_attempts=payments.c.code_attempts + 1)
            .returning(payments.c.code_attempts)
        )
        return self._c.execute(statement).scalar_one_or_none()

    def due_fallbacks(self, now: datetime, limit: int) -> list[Payment]:
        """Pending payments in step PUSH whose fallback_at has passed, oldest first."""
        query = (select(payments)
                 .where(payments.c.state == State.PENDING.value, payments.c.step == Step.PUSH.value,
                        payments.c.fallback_at <= now)
                 .order_by(payments.c.fallback_at, payments.c.id).limit(limit))
        return [_payment_from(r) for r in self._c.execute(query)]

    def claim_due_fallbacks(self, now: datetime, limit: int) -> list[str]:
        """Move up to `limit` payments whose push got no decision in time to step CODE, in one statement.

        Guarded like every transition (pending, step push, fallback_at passed; SKIP LOCKED on
        PostgreSQL), so a payment is claimed once whichever process sweeps. Returns their ids.
        """
        due = and_(payments.c.state == State.PENDING.value, payments.c.step == Step.PUSH.value,
                   payments.c.fallback_at <= now)
        if not _any(self._c, select(payments.c.id).where(due).limit(1)):
            return []
        candidates = select(payments.c.id).where(due).order_by(payments.c.fallback_at, payments.c.id).limit(limit)
        if self._c.dialect.name == "postgresql":
            candidates = candidates.with_for_update(skip_locked=True)
        statement = (update(payments).where(payments.c.id.in_(candidates), due)
                     .values(step=Step.CODE.value, code_sent_at=now).returning(payments.c.id))
        return [row[0] for row in self._c.execute(statement)]

    def due_expiries(self, now: datetime, limit: int) -> list[Payment]:
        """Pending payments whose expires_at has passed, oldest first."""
        query = (select(payments)
                 .where(payments.c.state == State.PENDING.value, payments.c.expires_at <= now)
                 .order_by(payments.c.expires_at, payments.c.id).limit(limit))
        return [_payment_from(r) for r in self._c.execute(query)]

    def pending_deadlines(self) -> list[tuple[str, datetime | None, datetime]]:
        """(id, fallback_at, expires_at) of every pending payment; fallback_at only while in step PUSH."""
        query = (select(payments.c.id, payments.c.step, payments.c.fallback_at, payments.c.expires_at)
                 .where(payments.c.state == State.PENDING.value).order_by(payments.c.expires_at))
        return [(r.id, r.fallback_at if r.step == Step.PUSH.value else None, r.expires_at)
                for r in self._c.execute(query)]

    def _first(self, column: str, value: object) -> Payment | None:
        row = self._c.execute(_select_by(payments, column), {"w_value": value}).first()
        return None if row is None else _payment_from(row)


class SqlOutboxRepository:
    """Messages to people, claimed by one worker at a time through a lease."""

    def __init__(self, connection: Connection, wrote: Callable[[], None] = lambda: None) -> None:
        self._c = connection
        self._wrote = wrote  # tells the unit of work that workers have something new to do

    def add(self, message: OutboxMessage) -> OutboxMessage:
        """Insert the message; sets and returns it with its id."""
        values = _outbox_values(message)
        values.pop("id")
        message.id = self._c.execute(_insert(outbox), values).inserted_primary_key[0]  # type: ignore[index]
        self._wrote()
        return message

    def undelivered(self, limit: int) -> list[OutboxMessage]:
        """Messages not yet delivered nor given up, oldest first."""
        rows = self._c.execute(select(outbox).where(outbox.c.next_attempt_at.is_not(None))
                               .order_by(outbox.c.id).limit(limit)).all()
        return [_outbox_from(r) for r in rows]

    def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> list[OutboxMessage]:
        """Lease up to `limit` due messages until `lease_until` so that one worker sends each.

        One guarded UPDATE ... RETURNING (FOR UPDATE SKIP LOCKED on PostgreSQL): two workers never
        hold the same message. Commit the unit of work before sending so that the lease is visible.
        A message waits while an earlier one to the same recipient is undelivered: people read
        them in the order they were written, even when one had to be retried.
        """
        probe, claim = _outbox_claim(self._c.dialect.name)
        if self._c.execute(probe, {"now": now}).first() is None:
            return []  # nothing due: no write, so an idle poll takes no write lock
        rows = self._c.execute(claim, {"now": now, "lease_until": lease_until, "limit": limit}).all()
        return sorted((_outbox_from(r) for r in rows), key=lambda m: m.id or 0)

    def mark_delivered(self, message_id: int, now: datetime) -> None:
        """Record delivery; the message is never claimed again."""
        self.mark_delivered_many([message_id], now)

    def mark_delivered_many(self, message_ids: list[int], now: datetime) -> None:
        """Record the delivery of several messages in one statement."""
        self._c.execute(_MARK_DELIVERED, {"ids": message_ids, "delivered_at": now})

    def mark_retry(self, message_id: int, error: str, next_attempt_at: datetime) -> None:
        """Count a failed attempt, release the lease and make the message due again at `next_attempt_at`."""
        self._c.execute(update(outbox).where(outbox.c.id == message_id, outbox.c.next_attempt_at.is_not(None))
                        .values(next_attempt_at=next_attempt_at, leased_until=None, last_error=error,
                                attempts=outbox.c.attempts + 1))

    def mark_failed(self, message_id: int, error: str, now: datetime) -> None:
        """Count a failed attempt and give up on the message for good."""
        self._finish(message_id, failed_at=now, last_error=error, attempts=outbox.c.attempts + 1)

    def _finish(self, message_id: int, **values: object) -> None:
        self._c.execute(update(outbox).where(outbox.c.id == message_id, outbox.c.next_attempt_at.is_not(None))
                        .values(next_attempt_at=None, leased_until=None, text=_BLANKED_IF_SECRET, **values))


# A message that carried a credential keeps no copy of it once it is sent or given up.
_BLANKED_IF_SECRET = case((outbox.c.secret, SECRET_BLANKED), else_=outbox.c.text)

_MARK_DELIVERED = (update(outbox).where(outbox.c.id.in_(bindparam("ids", expanding=True)),
                                        outbox.c.next_attempt_at.is_not(None))
                   .values(next_attempt_at=None, leased_until=None, text=_BLANKED_IF_SECRET))


@cache
def _outbox_claim(dialect: str) -> tuple[Any, Any]:
    """(probe, claim) for SqlOutboxRepository.claim_due on this dialect, parameters now, lease_until, limit."""
    now: Any = bindparam("now")
    earlier = outbox.alias("earlier")
    earlier_pending = (select(earlier.c.id)
                       .where(earlier.c.channel == outbox.c.channel, earlier.c.recipient == outbox.c.recipient,
                              earlier.c.id < outbox.c.id, earlier.c.next_attempt_at.is_not(None))
                       .exists())
    due = and_(outbox.c.next_attempt_at <= now,
               or_(outbox.c.leased_until.is_(None), outbox.c.leased_until <= now), ~earlier_pending)
    candidates = (select(outbox.c.id).where(due).order_by(outbox.c.next_attempt_at, outbox.c.id)
                  .limit(bindparam("limit")))
    if dialect == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    claim = (update(outbox).where(outbox.c.id.in_(candidates), due)
             .values(leased_until=bindparam("lease_until")).returning(*outbox.c))
    return select(outbox.c.id).where(due).limit(1), claim


class SqlJobRepository:
    """Outside calls to make, claimed by one worker at a time through a lease."""

    def __init__(self, connection: Connection, wrote: Callable[[], None] = lambda: None) -> None:
        self._c = connection
        self._wrote = wrote

    def add(self, job: Job) -> Job:
        """Insert the job; sets and returns it with its id."""
        values = {"kind": JobKind(job.kind).value, "payload": job.payload, "attempts": job.attempts,
                  "created_at": job.created_at, "run_at": job.run_at}
        job.id = self._c.execute(_insert(jobs), values).inserted_primary_key[0]  # type: ignore[index]
        self._wrote()
        return job

    def waiting(self, limit: int) -> list[Job]:
        """Jobs not yet done nor given up, oldest first (for operators and tests)."""
        rows = self._c.execute(select(jobs).where(jobs.c.run_at.is_not(None)).order_by(jobs.c.id).limit(limit)).all()
        return [_job_from(r) for r in rows]

    def claim_due(self, now: datetime, leases: dict[JobKind, datetime], limit: int) -> list[Job]:
        """Lease up to `limit` due jobs in one statement; each kind's lease ends at leases[kind].

        One guarded UPDATE ... RETURNING (FOR UPDATE SKIP LOCKED on PostgreSQL): two workers never
        hold the same job. Commit before running the jobs so that the leases are visible.
        """
        probe, claim = _job_claim(self._c.dialect.name)
        if self._c.execute(probe, {"now": now}).first() is None:
            return []  # nothing due: no write, so an idle poll takes no write lock
        params: dict[str, Any] = {"now": now, "limit": limit, "longest": max(leases.values())}
        params.update({f"lease_{kind.value}": leases.get(kind, params["longest"]) for kind in JobKind})
        rows = self._c.execute(claim, params).all()
        return sorted((_job_from(r) for r in rows), key=lambda j: j.id or 0)

    def complete(self, job_id: int, now: datetime) -> bool:
        """Mark the job done and forget its payload (it may hold a typed code); False if it already ended."""
        result = self._c.execute(_COMPLETE_JOB, {"w_id": job_id, "done_at": now})
        return result.rowcount == 1

    def retry(self, job_id: int, attempts: int, error: str, run_at: datetime) -> None:
        """Release the lease and make the job due again at `run_at`, if claim number `attempts` still holds it."""
        self._c.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.run_at.is_not(None),
                                           jobs.c.attempts == attempts)
                        .values(run_at=run_at, leased_until=None, last_error=error))

    def give_up(self, job_id: int, attempts: int, error: str, now: datetime) -> bool:
        """End the job for good without success, if claim number `attempts` still holds it."""
        return self._end(job_id, jobs.c.attempts == attempts, failed_at=now, last_error=error)

    def _end(self, job_id: int, *guards: Any, **values: object) -> bool:
        result = self._c.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.run_at.is_not(None), *guards)
                                 .values(run_at=None, leased_until=None, payload={}, **values))
        return result.rowcount == 1


_COMPLETE_JOB = (update(jobs).where(jobs.c.id == bindparam("w_id"), jobs.c.run_at.is_not(None))
                 .values(run_at=None, leased_until=None, payload={}))


@cache
def _job_claim(dialect: str) -> tuple[Any, Any]:
    """(probe, claim) for SqlJobRepository.claim_due: parameters now, limit, lease_<kind>, longest."""
    now: Any = bindparam("now")
    due = and_(jobs.c.run_at <= now, or_(jobs.c.leased_until.is_(None), jobs.c.leased_until <= now))
    candidates = select(jobs.c.id).where(due).order_by(jobs.c.run_at, jobs.c.id).limit(bindparam("limit"))
    if dialect == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    lease = case(*((jobs.c.kind == kind.value, bindparam(f"lease_{kind.value}", type_=jobs.c.leased_until.type))
                   for kind in JobKind),
                 else_=bindparam("longest", type_=jobs.c.leased_until.type))
    claim = (update(jobs).where(jobs.c.id.in_(candidates), due)
             .values(leased_until=lease, attempts=jobs.c.attempts + 1).returning(*jobs.c))
    return select(jobs.c.id).where(due).limit(1), claim


class SqlReceiptRepository:
    """Dedupe keys of inbound messages and callbacks already handled."""

    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def first_time(self, key: str, now: datetime) -> bool:
        """Record `key`; True only for the first transaction that inserts it (ON CONFLICT DO NOTHING)."""
        statement = _first_receipt(self._c.dialect.name)
        return self._c.execute(statement, {"key": key, "seen_at": now}).first() is not None


@cache
def _first_receipt(dialect: str) -> Any:
    insert_into = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert_into(receipts).on_conflict_do_nothing().returning(receipts.c.key)


class SqlAuthEventRepository:
    """The audit trail: appended to, never updated (the database refuses)."""

    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(self, event: AuthEvent) -> None:
        """Append one event."""
        self._c.execute(_insert(auth_events), {
            "at": event.at, "user_id": event.user_id, "action": event.action[:96], "factor": event.factor,
            "result": event.result, "detail": event.detail})

    def for_user(self, user_id: int, limit: int) -> list[AuthEvent]:
        """The person's events, newest first."""
        rows = self._c.execute(select(auth_events).where(auth_events.c.user_id == user_id)
                               .order_by(auth_events.c.at.desc(), auth_events.c.id.desc()).limit(limit))
        return [AuthEvent(id=r.id, at=r.at, user_id=r.user_id, action=r.action, factor=r.factor, result=r.result,
                          detail=r.detail) for r in rows]


def _any(connection: Connection, query: Any) -> bool:
    return connection.execute(query).first() is not None


_PAYER_RECENT = (select(payments).where(payments.c.payer_id == bindparam("w_payer"))
                 .order_by(payments.c.created_at.desc(), payments.c.id).limit(bindparam("w_limit")))
_PAYER_PENDING = (select(payments)
                  .where(payments.c.payer_id == bindparam("w_payer"), payments.c.state == State.PENDING.value)
                  .order_by(payments.c.created_at.desc(), payments.c.id))
_STORE_PUSH = update(payments).where(payments.c.id == bindparam("w_id"), payments.c.state == State.PENDING.value,
                                     payments.c.step.in_([Step.PUSH.value, Step.CODE.value]),
                                     payments.c.push_request_id.is_(None))
_GUARDED_MOVE = update(payments).where(payments.c.id == bindparam("w_id"), payments.c.state == bindparam("w_state"),
                                      payments.c.step == bindparam("w_step"))


def _check_move(from_state: State, from_step: Step, to_state: State, to_step: Step) -> None:
    if (from_state, from_step) == (to_state, to_step) and from_state is State.PENDING:
        return
    targets = {target for (state, step, _), target in TRANSITIONS.items() if (state, step) == (from_state, from_step)}
    if (to_state, to_step) not in targets:
        raise IllegalTransition(f"no transition from {from_state.value}/{from_step.value} "
                                f"to {to_state.value}/{to_step.value}")


def _user_values(user: User) -> dict[str, Any]:
    return {
        "id": user.id, "created_at": user.created_at, "telegram_user_id": user.telegram_user_id,
        "telegram_chat_id": user.telegram_chat_id, "phone": user.phone, "phone_verified": user.phone_verified,
        "email": user.email, "authenticator_id": user.authenticator_id,
        "registration": Registration(user.registration).value, "default_currency": user.default_currency,
        "locale": user.locale, "telegram_blocked": user.telegram_blocked, "sms_opted_out": user.sms_opted_out,
        "exempt_count": user.exempt_count, "exempt_total_eur_minor": user.exempt_total_eur_minor,
        "app_link_hash": user.app_link_hash, "app_link_expires_at": user.app_link_expires_at,
        "failed_attempts": user.failed_attempts, "locked_until": user.locked_until,
        "phone_codes_sent": user.phone_codes_sent, "phone_codes_since": user.phone_codes_since,
    }


def _user_from(row: Row[Any]) -> User:
    m = row._mapping
    return User(
        id=m["id"], created_at=m["created_at"], telegram_user_id=m["telegram_user_id"],
        telegram_chat_id=m["telegram_chat_id"], phone=m["phone"], phone_verified=bool(m["phone_verified"]),
        email=m["email"], authenticator_id=m["authenticator_id"], registration=Registration(m["registration"]),
        default_currency=m["default_currency"], locale=m["locale"], telegram_blocked=bool(m["telegram_blocked"]),
        sms_opted_out=bool(m["sms_opted_out"]), exempt_count=m["exempt_count"],
        exempt_total_eur_minor=m["exempt_total_eur_minor"], app_link_hash=m["app_link_hash"],
        app_link_expires_at=m["app_link_expires_at"], failed_attempts=m["failed_attempts"],
        locked_until=m["locked_until"], phone_codes_sent=m["phone_codes_sent"],
        phone_codes_since=m["phone_codes_since"],
    )


def _payment_values(p: Payment) -> dict[str, Any]:
    return {
        "id": p.id, "payer_id": p.payer_id, "payee": p.payee, "amount_minor": p.amount.minor,
        "currency": p.amount.currency, "digits": p.amount.digits, "note": p.note, "channel": Channel(p.channel).value,
        "fingerprint": p.fingerprint, "state": State(p.state).value, "step": Step(p.step).value, "sca": p.sca,
        "sca_reason": p.sca_reason, "push_request_id": p.push_request_id, "fallback_at": p.fallback_at,
        "code_sent_at": p.code_sent_at, "code_attempts": p.code_attempts, "expires_at": p.expires_at,
        "decided_at": p.decided_at, "decided_by": p.decided_by, "reason": p.reason, "created_at": p.created_at,
    }


def _payment_from(row: Row[Any]) -> Payment:
    m = row._mapping
    return Payment(
        id=m["id"], payer_id=m["payer_id"], payee=m["payee"],
        amount=Money(m["amount_minor"], m["currency"], m["digits"]), note=m["note"], channel=Channel(m["channel"]),
        fingerprint=m["fingerprint"], created_at=m["created_at"], expires_at=m["expires_at"],
        state=State(m["state"]), step=Step(m["step"]), sca=m["sca"], sca_reason=m["sca_reason"],
        push_request_id=m["push_request_id"], fallback_at=m["fallback_at"], code_sent_at=m["code_sent_at"],
        code_attempts=m["code_attempts"], decided_at=m["decided_at"], decided_by=m["decided_by"], reason=m["reason"],
    )


def _outbox_values(msg: OutboxMessage) -> dict[str, Any]:
    done = msg.delivered_at is not None or msg.failed_at is not None
    return {
        "id": msg.id, "channel": Channel(msg.channel).value, "recipient": msg.recipient, "text": msg.text,
        "buttons": [[{"text": b.text, "data": b.data} for b in row] for row in msg.buttons],
        "request_contact": msg.request_contact, "remove_keyboard": msg.remove_keyboard, "secret": msg.secret,
        "attempts": msg.attempts,
        "created_at": msg.created_at,
        "next_attempt_at": None if done else (msg.next_attempt_at or msg.created_at), "leased_until": None,
        "delivered_at": msg.delivered_at, "failed_at": msg.failed_at, "last_error": msg.last_error,
    }


def _outbox_from(row: Row[Any]) -> OutboxMessage:
    m = row._mapping
    return OutboxMessage(
        id=m["id"], channel=Channel(m["channel"]), recipient=m["recipient"], text=m["text"],
        created_at=m["created_at"],
        buttons=[[Button(b["text"], b["data"]) for b in line] for line in m["buttons"]],
        request_contact=bool(m["request_contact"]), remove_keyboard=bool(m["remove_keyboard"]),
        secret=bool(m["secret"]), attempts=m["attempts"], next_attempt_at=m["next_attempt_at"],
        delivered_at=m["delivered_at"], failed_at=m["failed_at"], last_error=m["last_error"],
    )


def _job_from(row: Row[Any]) -> Job:
    m = row._mapping
    return Job(id=m["id"], kind=JobKind(m["kind"]), payload=dict(m["payload"] or {}), run_at=m["run_at"],
               created_at=m["created_at"], attempts=m["attempts"], leased_until=m["leased_until"],
               done_at=m["done_at"], failed_at=m["failed_at"], last_error=m["last_error"])
