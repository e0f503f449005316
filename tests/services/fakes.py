"""Recording fakes of the ports, for testing the use cases without a network or a database."""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone

from bot.core.entities import OutboxMessage, Payment, User
from bot.core.jobs import Job, JobKind
from bot.core.payment import State, Step
from bot.ports import AuthenticatorUnavailable, CodeBinding, PushRequest


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

    def add(self, user: User) -> User:
        user.id = next(self.s.ids)
        self.s.users[user.id] = copy.copy(user)
        return user

    def save(self, user: User) -> None:
        assert user.id in self.s.users
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
        mine = [p for p in self.s.payments.values() if p.payer_id == payer_id]
        return [copy.copy(p) for p in sorted(mine, key=lambda p: p.created_at, reverse=True)[:limit]]

    def pending_for_payer(self, payer_id: int) -> list[Payment]:
        return [p for p in self.for_payer(payer_id, 10_000) if p.state is State.PENDING]

    def transition(self, payment_id: str, from_state: State, from_step: Step, to_state: State, to_step: Step,
                   **fields: object) -> bool:
        p = self.s.payments.get(payment_id)
        if p is None or p.state is not from_state or p.step is not from_step:
            return False
        self.s.payments[payment_id] = replace(p, state=to_state, step=to_step, **fields)
        return True

    def add_code_failure(self, payment_id: str) -> int | None:
        p = self.s.payments.get(payment_id)
        if p is None or p.state is not State.PENDING or p.step is not Step.CODE:
            return None
        p.code_attempts += 1
        return p.code_attempts

    def due_fallbacks(self, now: datetime, limit: int) -> list[Payment]:
        return [copy.copy(p) for p in self.s.payments.values() if p.state is State.PENDING
                and p.step is Step.PUSH and p.fallback_at is not None and p.fallback_at <= now][:limit]

    def due_expiries(self, now: datetime, limit: int) -> list[Payment]:
        return [copy.copy(p) for p in self.s.payments.values()
                if p.state is State.PENDING and p.expires_at <= now][:limit]

    def pending_deadlines(self) -> list[tuple[str, datetime | None, datetime]]:
        return [(p.id, p.fallback_at, p.expires_at) for p in self.s.payments.values() if p.state is State.PENDING]


class _Outbox:
    def __init__(self, s: Store) -> None:
        self.s = s

    def add(self, message: OutboxMessage) -> OutboxMessage:
        message.id = next(self.s.ids)
        self.s.outbox[message.id] = copy.copy(message)
        return message

    def undelivered(self, limit: int) -> list[OutboxMessage]:
        return [copy.copy(m) for m in self.s.outbox.values() if m.delivered_at is None and m.failed_at is None][:limit]

    def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> list[OutboxMessage]:
        due = [m for m in self.s.outbox.values() if m.delivered_at is None and m.failed_at is None
               and (m.next_attempt_at is None or m.next_attempt_at <= now)][:limit]
        for m in due:
            m.next_attempt_at = lease_until
        return [copy.copy(m) for m in due]

    def mark_delivered(self, message_id: int, now: datetime) -> None:
        self.s.outbox[message_id].delivered_at = now

    def mark_retry(self, message_id: int, error: str, next_attempt_at: datetime) -> None:
        m = self.s.outbox[message_id]
        m.attempts += 1
        m.last_error = error
        m.next_attempt_at = next_attempt_at

    def mark_failed(self, message_id: int, error: str, now: datetime) -> None:
        m = self.s.outbox[message_id]
        m.attempts += 1
        m.last_error = error
        m.failed_at = now


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
            j.leased_until, j.attempts = leases[j.kind], j.attempts + 1
        return [copy.deepcopy(j) for j in due[:limit]]

    def complete(self, job_id: int, now: datetime) -> bool:
        return self._end(job_id, done_at=now)

    def retry(self, job_id: int, error: str, run_at: datetime) -> None:
        j = self.s.jobs[job_id]
        if j.run_at is not None:
            j.run_at, j.leased_until, j.last_error = run_at, None, error

    def give_up(self, job_id: int, error: str, now: datetime) -> bool:
        return self._end(job_id, failed_at=now, last_error=error)

    def _end(self, job_id: int, **values: object) -> bool:
        j = self.s.jobs[job_id]
        if j.run_at is None:
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


class FakeUnitOfWork:
    """A transaction over a copy of the store: commit() writes it back, leaving without it discards it."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def __enter__(self) -> "FakeUnitOfWork":
        self.work = Store(copy.deepcopy(self.store.users), copy.deepcopy(self.store.payments),
                          copy.deepcopy(self.store.outbox), set(self.store.receipts), self.store.ids,
                          copy.deepcopy(self.store.jobs))
        self.users, self.payments = _Users(self.work), _Payments(self.work)
        self.outbox, self.receipts = _Outbox(self.work), _Receipts(self.work)
        self.jobs = _Jobs(self.work)
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def commit(self) -> None:
        self.store.users, self.store.payments = self.work.users, self.work.payments
        self.store.outbox, self.store.receipts = self.work.outbox, self.work.receipts
        self.store.jobs = self.work.jobs
        self.__enter__()


class FakeAuthenticator:
    """Records every call; answers as configured. Codes: the right one is '123456' unless changed."""

    name = "fake"

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple]] = []
        self.down = False
        self.phone_code = "654321"
        self.payment_code = "123456"
        self.statuses: dict[str, str] = {}
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
        request_id = f"req-{next(self._ids)}"
        self.statuses[request_id] = "pending"
        return request_id

    def push_status(self, request_id: str) -> str:
        self._record("push_status", request_id)
        return self.statuses.get(request_id, "pending")

    def send_code(self, authenticator_id: str, phone: str, binding: CodeBinding) -> None:
        self._record("send_code", authenticator_id, phone, binding)

    def check_code(self, authenticator_id: str, phone: str, binding: CodeBinding, code: str) -> bool:
        self._record("check_code", authenticator_id, phone, binding, code)
        return code == self.payment_code


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
