"""Recording fakes of the ports, for testing the use cases without a network or a database."""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone

from bot.core.entities import SECRET_BLANKED, AuthEvent, OutboxMessage, Payment, User
from bot.core.jobs import Job, JobKind
from bot.core.payment import TRANSITIONS, IllegalTransition, State, Step
from bot.ports import (
    AppAccess, AuthenticatorUnavailable, CodeBinding, NoAuthenticatorApp, PushBinding, PushRequest, PushState,
)

# Payment attributes a transition may set alongside state and step, as models/repositories.py allows;
# the repository contract suite holds both to the same list.
TRANSITION_FIELDS = frozenset({
    "push_request_id", "fallback_at", "code_sent_at", "decided_at", "decided_by", "reason",
    "expires_at", "sca", "sca_reason",
})


class FakeClock:
    """A clock that moves only when told."""

    def __init__(self) -> None:
        self.current = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


@dataclass
class Store:
    """What the fake database holds; a unit of work copies it and writes back on commit."""

    users: dict[int, User] = field(default_factory=dict)
    payments: dict[str, Payment] = field(default_factory=dict)
    outbox: dict[int, OutboxMessage] = field(default_factory=dict)
    receipts: set[str] = field(default_factory=set)
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    jobs: dict[int, Job] = field(default_factory=dict)
    outbox_leases: dict[int, datetime] = field(default_factory=dict)  # message id -> leased until
    events: list[AuthEvent] = field(default_factory=list)  # the audit trail, oldest first

    def copy(self) -> "Store":
        """A working copy for one unit of work; ids keep counting across copies, as a sequence does."""
        return Store(copy.deepcopy(self.users), copy.deepcopy(self.payments), copy.deepcopy(self.outbox),
                     set(self.receipts), self.ids, copy.deepcopy(self.jobs), dict(self.outbox_leases),
                     list(self.events))


class _Users:
    def __init__(self, s: Store) -> None:
        self.s = s

    def get(self, user_id: int) -> User | None:
        return copy.copy(self.s.users.get(user_id))

    get_for_update = get  # one fake transaction at a time: nothing to lock

    def by_telegram(self, telegram_user_id: int) -> User | None:
        return next((copy.copy(u) for u in self.s.users.values() if u.telegram_user_id == telegram_user_id), None)

    def by_phone(self, phone: str) -> User | None:
        return next((copy.copy(u) for u in self.s.users.values() if u.phone == phone), None)

    def by_app_link(self, link_hash: str) -> User | None:
        return next((copy.copy(u) for u in self.s.users.values() if u.app_link_hash == link_hash), None)

    def use_app_link(self, user_id: int, link_hash: str) -> bool:
        user = self.s.users.get(user_id)
        if user is None or user.app_link_hash != link_hash:
            return False
        user.app_link_hash, user.app_link_expires_at = None, None
        return True

    def add(self, user: User) -> User:
        user.id = next(self.s.ids)
        self.s.users[user.id] = copy.copy(user)
        return user

    def save(self, user: User) -> None:
        if user.id is None or user.id not in self.s.users:
            raise LookupError(f"no user {user.id}")
        self.s.users[user.id] = copy.copy(user)


class _Payments:
    def __init__(self, s: Store) -> None:
        self.s = s

    def add(self, payment: Payment) -> None:
        self.s.payments[payment.id] = copy.copy(payment)

    def get(self, payment_id: str) -> Payment | None:
        return copy.copy(self.s.payments.get(payment_id))

    def by_push_request(self, request_id: str) -> Payment | None:
        return next((copy.copy(p) for p in self.s.payments.values() if p.push_request_id == request_id), None)

    def for_payer(self, payer_id: int, limit: int) -> list[Payment]:
        mine = sorted((p for p in self.s.payments.values() if p.payer_id == payer_id), key=lambda p: p.id)
        return [copy.copy(p) for p in sorted(mine, key=lambda p: p.created_at, reverse=True)[:limit]]

    def pending_for_payer(self, payer_id: int) -> list[Payment]:
        return [p for p in self.for_payer(payer_id, 10_000) if p.state is State.PENDING]

    def transition(self, payment_id: str, from_state: State, from_step: Step, to_state: State, to_step: Step,
                   **fields: object) -> bool:
        _check_move(from_state, from_step, to_state, to_step)
        unknown = set(fields) - TRANSITION_FIELDS
        if unknown:
            raise ValueError(f"a transition cannot set {', '.join(sorted(unknown))}")
        p = self.s.payments.get(payment_id)
        if p is None or p.state is not from_state or p.step is not from_step:
            return False
        self.s.payments[payment_id] = replace(p, state=to_state, step=to_step, **fields)
        return True

    def store_push_request(self, payment_id: str, request_id: str) -> bool:
        p = self.s.payments.get(payment_id)
        if p is None or p.state is not State.PENDING or p.step not in (Step.PUSH, Step.CODE) or p.push_request_id:
            return False
        self.s.payments[payment_id] = replace(p, push_request_id=request_id)
        return True

    def add_code_failure(self, payment_id: str) -> int | None:
        p = self.s.payments.get(payment_id)
        if p is None or p.state is not State.PENDING or p.step is not Step.CODE:
            return None
        p.code_attempts += 1
        return p.code_attempts

    def due_fallbacks(self, now: datetime, limit: int) -> list[Payment]:
        due = [p for p in self.s.payments.values() if p.state is State.PENDING
               and p.step is Step.PUSH and p.fallback_at is not None and p.fallback_at <= now]
        return [copy.copy(p) for p in sorted(due, key=lambda p: (p.fallback_at, p.id))[:limit]]

    def claim_due_fallbacks(self, now: datetime, limit: int) -> list[str]:
        claimed = [p.id for p in self.due_fallbacks(now, limit)]
        for payment_id in claimed:
            self.s.payments[payment_id] = replace(self.s.payments[payment_id], step=Step.CODE, code_sent_at=now)
        return claimed

    def due_expiries(self, now: datetime, limit: int) -> list[Payment]:
        due = [p for p in self.s.payments.values() if p.state is State.PENDING and p.expires_at <= now]
        return [copy.copy(p) for p in sorted(due, key=lambda p: (p.expires_at, p.id))[:limit]]

    def pending_deadlines(self) -> list[tuple[str, datetime | None, datetime]]:
        pending = sorted((p for p in self.s.payments.values() if p.state is State.PENDING),
                         key=lambda p: (p.expires_at, p.id))
        return [(p.id, p.fallback_at if p.step is Step.PUSH else None, p.expires_at) for p in pending]


def _check_move(from_state: State, from_step: Step, to_state: State, to_step: Step) -> None:
    """Raise IllegalTransition unless the move is in the table, or stays in place on a pending payment."""
    if (from_state, from_step) == (to_state, to_step) and from_state is State.PENDING:
        return
    if (to_state, to_step) not in {target for (state, step, _), target in TRANSITIONS.items()
                                   if (state, step) == (from_state, from_step)}:
        raise IllegalTransition(f"no transition from {from_state.value}/{from_step.value} "
                                f"to {to_state.value}/{to_step.value}")


class _Outbox:
    """Like the SQL outbox: next_attempt_at is None once a message is finished; leases live beside it."""

    def __init__(self, s: Store) -> None:
        self.s = s

    def add(self, message: OutboxMessage) -> OutboxMessage:
        message.id = next(self.s.ids)
        stored = copy.copy(message)
        done = message.delivered_at is not None or message.failed_at is not None
        stored.next_attempt_at = None if done else (message.next_attempt_at or message.created_at)
        self.s.outbox[message.id] = stored
        return message

    def undelivered(self, limit: int) -> list[OutboxMessage]:
        return [copy.copy(m) for m in sorted(self._waiting(), key=lambda m: m.id or 0)][:limit]

    def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> list[OutboxMessage]:
        due = sorted((m for m in self._waiting() if self._due(m, now)), key=lambda m: (m.next_attempt_at, m.id))
        for m in due[:limit]:
            self.s.outbox_leases[m.id] = lease_until
        return [copy.copy(m) for m in sorted(due[:limit], key=lambda m: m.id or 0)]

    def mark_delivered(self, message_id: int, now: datetime) -> None:
        self._finish(message_id, delivered_at=now)

    def mark_delivered_many(self, message_ids: list[int], now: datetime) -> None:
        for message_id in message_ids:
            self._finish(message_id, delivered_at=now)

    def mark_retry(self, message_id: int, error: str, next_attempt_at: datetime) -> None:
        m = self.s.outbox[message_id]
        if m.next_attempt_at is not None:
            m.attempts += 1
            m.last_error = error
            m.next_attempt_at = next_attempt_at
            self.s.outbox_leases.pop(message_id, None)

    def mark_failed(self, message_id: int, error: str, now: datetime) -> None:
        m = self.s.outbox[message_id]
        if m.next_attempt_at is not None:
            m.attempts += 1
        self._finish(message_id, failed_at=now, last_error=error)

    def _waiting(self) -> list[OutboxMessage]:
        return [m for m in self.s.outbox.values() if m.next_attempt_at is not None]

    def _due(self, m: OutboxMessage, now: datetime) -> bool:
        """Due, not leased, and no earlier message to the same recipient still waiting (their order)."""
        lease = self.s.outbox_leases.get(m.id or 0)
        earlier_waiting = any(o.channel == m.channel and o.recipient == m.recipient and (o.id or 0) < (m.id or 0)
                              for o in self._waiting())
        return m.next_attempt_at <= now and (lease is None or lease <= now) and not earlier_waiting

    def _finish(self, message_id: int, **values: object) -> None:
        m = self.s.outbox[message_id]
        if m.next_attempt_at is None:
            return
        for name, value in values.items():
            setattr(m, name, value)
        if m.secret:
            m.text = SECRET_BLANKED
        m.next_attempt_at = None
        self.s.outbox_leases.pop(message_id, None)


class _Jobs:
    def __init__(self, s: Store) -> None:
        self.s = s

    def add(self, job: Job) -> Job:
        job.id = next(self.s.ids)
        self.s.jobs[job.id] = copy.deepcopy(job)
        return job

    def waiting(self, limit: int) -> list[Job]:
        return [copy.deepcopy(j) for j in sorted(self.s.jobs.values(), key=lambda j: j.id or 0)
                if j.run_at is not None][:limit]

    def claim_due(self, now: datetime, leases: dict[JobKind, datetime], limit: int) -> list[Job]:
        due = sorted((j for j in self.s.jobs.values()
                      if j.run_at is not None and j.run_at <= now and (j.leased_until is None or j.leased_until <= now)),
                     key=lambda j: (j.run_at, j.id or 0))
        for j in due[:limit]:
            j.leased_until, j.attempts = leases.get(j.kind, max(leases.values())), j.attempts + 1
        return [copy.deepcopy(j) for j in sorted(due[:limit], key=lambda j: j.id or 0)]

    def complete(self, job_id: int, now: datetime) -> bool:
        return self._end(job_id, done_at=now)

    def retry(self, job_id: int, attempts: int, error: str, run_at: datetime) -> None:
        j = self.s.jobs.get(job_id)
        if j is not None and j.run_at is not None and j.attempts == attempts:
            j.run_at, j.leased_until, j.last_error = run_at, None, error

    def give_up(self, job_id: int, attempts: int, error: str, now: datetime) -> bool:
        j = self.s.jobs.get(job_id)
        if j is None or j.attempts != attempts:
            return False
        return self._end(job_id, failed_at=now, last_error=error)

    def _end(self, job_id: int, **values: object) -> bool:
        j = self.s.jobs.get(job_id)
        if j is None or j.run_at is None:
            return False
        self.s.jobs[job_id] = replace(j, run_at=None, leased_until=None, payload={}, **values)
        return True


class _Receipts:
    def __init__(self, s: Store) -> None:
        self.s = s

    def first_time(self, key: str, now: datetime) -> bool:
        if key in self.s.receipts:
            return False
        self.s.receipts.add(key)
        return True


class _Events:
    def __init__(self, s: Store) -> None:
        self.s = s

    def add(self, event: AuthEvent) -> None:
        self.s.events.append(replace(event, id=next(self.s.ids)))

    def for_user(self, user_id: int, limit: int) -> list[AuthEvent]:
        mine = [e for e in self.s.events if e.user_id == user_id]
        return sorted(mine, key=lambda e: (e.at, e.id or 0), reverse=True)[:limit]


class FakeUnitOfWork:
    """A transaction over a copy of the store: commit() writes it back, leaving without it discards it."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def __enter__(self) -> "FakeUnitOfWork":
        self.work = self.store.copy()
        self.users, self.payments = _Users(self.work), _Payments(self.work)
        self.outbox, self.receipts = _Outbox(self.work), _Receipts(self.work)
        self.jobs, self.events = _Jobs(self.work), _Events(self.work)
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def commit(self) -> None:
        self.store.users, self.store.payments = self.work.users, self.work.payments
        self.store.outbox, self.store.receipts = self.work.outbox, self.work.receipts
        self.store.jobs, self.store.outbox_leases = self.work.jobs, self.work.outbox_leases
        self.store.events = self.work.events
        self.__enter__()


class FakeAuthenticator:
    """Records every call; answers as configured. Codes: the right one is '123456' unless changed."""

    name = "fake"
    enrols_app = True

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple]] = []
        self.without_app: set[str] = set()  # authenticator ids whose app is not set up: no push reaches them
        self.down = False
        self.phone_code = "654321"
        self.payment_code = "123456"
        self.statuses: dict[str, str] = {}
        self.bindings: dict[str, PushBinding] = {}  # what each push was created for
        self._ids = itertools.count(1)

    def _record(self, name: str, *args: object) -> None:
        self.calls.append((name, args))
        if self.down:
            raise AuthenticatorUnavailable(f"{name}: down")

    def called(self, name: str) -> list[tuple]:
        return [args for n, args in self.calls if n == name]

    def start_phone_verification(self, phone: str) -> None:
        self._record("start_phone_verification", phone)

    def check_phone_verification(self, phone: str, code: str) -> bool:
        self._record("check_phone_verification", phone, code)
        return code == self.phone_code

    def register(self, email: str, phone: str) -> str:
        self._record("register", email, phone)
        return f"auth-{next(self._ids)}"

    def send_push(self, authenticator_id: str, request: PushRequest) -> str:
        self._record("send_push", authenticator_id, request)
        if authenticator_id in self.without_app:
            raise NoAuthenticatorApp(f"no app for {authenticator_id}")
        request_id = f"req-{next(self._ids)}"
        self.statuses[request_id] = "pending"
        self.bindings[request_id] = PushBinding(authenticator_id, request.payment_id)
        return request_id

    def push_status(self, request_id: str) -> str:
        self._record("push_status", request_id)
        return self.statuses.get(request_id, "pending")

    def read_push(self, request_id: str) -> PushState:
        self._record("read_push", request_id)
        return PushState(self.statuses.get(request_id, "pending"),
                         self.bindings.get(request_id, PushBinding(None, None)))

    def send_code(self, authenticator_id: str, phone: str, binding: CodeBinding) -> None:
        self._record("send_code", authenticator_id, phone, binding)

    def check_code(self, authenticator_id: str, phone: str, binding: CodeBinding, code: str) -> bool:
        self._record("check_code", authenticator_id, phone, binding, code)
        return code == self.payment_code

    def has_app(self, authenticator_id: str) -> bool:
        self._record("has_app", authenticator_id)
        return authenticator_id not in self.without_app

    def app_access(self, authenticator_id: str) -> AppAccess:
        self._record("app_access", authenticator_id)
        return AppAccess(identity=authenticator_id, service_sid="VA-fake", token=f"token-{authenticator_id}",
                         factor_friendly_name="Payfriend app")


class FakeTimers:
    """Records the timers the services ask for."""

    def __init__(self) -> None:
        self.scheduled: list[tuple[str, str, datetime]] = []

    def schedule(self, kind: str, payment_id: str, when: datetime) -> None:
        self.scheduled.append((kind, payment_id, when))


class RecordingMessenger:
    """Keeps what it was asked to deliver; can be told to fail."""

    def __init__(self) -> None:
        self.sent: list[OutboxMessage] = []
        self.error: Exception | None = None

    def deliver(self, message: OutboxMessage) -> None:
        if self.error is not None:
            raise self.error
        self.sent.append(message)
