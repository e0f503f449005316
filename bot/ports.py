"""The ports the services depend on; adapters and models implement them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Protocol

from bot.core.entities import AuthEvent, OutboxMessage, Payment, User
from bot.core.jobs import Job, JobKind
from bot.core.payment import State, Step


class Clock(Protocol):
    """The current time, timezone-aware UTC."""

    def now(self) -> datetime: ...


# ----------------------------------------------------------------------------- storage


class UserRepository(Protocol):
    """People and their channels."""

    def get(self, user_id: int) -> User | None: ...

    def get_for_update(self, user_id: int) -> User | None:
        """The user, locked until the unit of work ends (one payer's counters change one at a time)."""
        ...

    def by_telegram(self, telegram_user_id: int) -> User | None: ...

    def by_phone(self, phone: str) -> User | None: ...

    def by_app_link(self, link_hash: str) -> User | None:
        """The user whose live app link has this hash."""
        ...

    def use_app_link(self, user_id: int, link_hash: str) -> bool:
        """Spend the user's app link if it is still this one; True for exactly one caller."""
        ...

    def add(self, user: User) -> User:
        """Insert and return the user with its id set."""
        ...

    def save(self, user: User) -> None:
        """Write every field of an existing user."""
        ...


class PaymentRepository(Protocol):
    """Payments, changed only through guarded transitions."""

    def add(self, payment: Payment) -> None: ...

    def get(self, payment_id: str) -> Payment | None: ...

    def by_push_request(self, request_id: str) -> Payment | None: ...

    def for_payer(self, payer_id: int, limit: int) -> list[Payment]:
        """The payer's payments, newest first."""
        ...

    def pending_for_payer(self, payer_id: int) -> list[Payment]:
        """The payer's pending payments, newest first."""
        ...

    def transition(
        self, payment_id: str, from_state: State, from_step: Step, to_state: State, to_step: Step, **fields: object
    ) -> bool:
        """UPDATE ... WHERE id = ? AND state = from_state AND step = from_step; True if it applied.

        `fields` names Payment attributes to set in the same statement (push_request_id,
        fallback_at, code_sent_at, decided_at, decided_by, reason).
        """
        ...

    def store_push_request(self, payment_id: str, request_id: str) -> bool:
        """Record the push request of a pending payment in step push or code that has none yet."""
        ...

    def add_code_failure(self, payment_id: str) -> int | None:
        """Atomically count one wrong code on a pending payment waiting for a code.

        Returns the new count, or None when the payment is no longer pending in step CODE.
        """
        ...

    def due_fallbacks(self, now: datetime, limit: int) -> list[Payment]:
        """Pending payments in step PUSH whose fallback_at has passed, oldest first."""
        ...

    def claim_due_fallbacks(self, now: datetime, limit: int) -> list[str]:
        """Move due payments from step PUSH to CODE in one guarded statement; their ids."""
        ...

    def due_expiries(self, now: datetime, limit: int) -> list[Payment]:
        """Pending payments whose expires_at has passed, oldest first."""
        ...

    def pending_deadlines(self) -> list[tuple[str, datetime | None, datetime]]:
        """(id, fallback_at, expires_at) of every pending payment: re-arms timers after a restart."""
        ...


class OutboxRepository(Protocol):
    """Messages to people, delivered once with retries."""

    def add(self, message: OutboxMessage) -> OutboxMessage: ...

    def undelivered(self, limit: int) -> list[OutboxMessage]:
        """Messages not yet delivered nor given up, oldest first (for operators and tests)."""
        ...

    def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> list[OutboxMessage]:
        """Claim undelivered messages due by `now` (guarded update) so that one worker sends each."""
        ...

    def mark_delivered(self, message_id: int, now: datetime) -> None: ...

    def mark_delivered_many(self, message_ids: list[int], now: datetime) -> None:
        """Record the delivery of several messages in one statement."""
        ...

    def mark_retry(self, message_id: int, error: str, next_attempt_at: datetime) -> None: ...

    def mark_failed(self, message_id: int, error: str, now: datetime) -> None: ...


class JobRepository(Protocol):
    """Outside calls to make, each claimed by one worker at a time through a lease."""

    def add(self, job: Job) -> Job: ...

    def waiting(self, limit: int) -> list[Job]:
        """Jobs not yet done nor given up, oldest first (for operators and tests)."""
        ...

    def claim_due(self, now: datetime, leases: dict[JobKind, datetime], limit: int) -> list[Job]:
        """Lease due jobs (guarded update); a job of kind K is held until leases[K]."""
        ...

    def complete(self, job_id: int, now: datetime) -> bool:
        """Mark the job done and drop its payload; False if it had already ended."""
        ...

    def retry(self, job_id: int, attempts: int, error: str, run_at: datetime) -> None:
        """Make the job due again, if claim number `attempts` still holds it (a stale worker changes nothing)."""
        ...

    def give_up(self, job_id: int, attempts: int, error: str, now: datetime) -> bool:
        """End the job without success, if claim number `attempts` still holds it."""
        ...


class ReceiptRepository(Protocol):
    """Dedupe keys of inbound messages and callbacks already handled."""

    def first_time(self, key: str, now: datetime) -> bool:
        """Record `key`; True if it was new, False if it was seen before (in a committed transaction)."""
        ...


class AuthEventRepository(Protocol):
    """The audit trail of authentication: rows are appended, never changed."""

    def add(self, event: AuthEvent) -> None: ...

    def for_user(self, user_id: int, limit: int) -> list[AuthEvent]:
        """The person's events, newest first."""
        ...


class UnitOfWork(Protocol):
    """One transaction over every repository; leaving without commit() rolls back."""

    @property
    def users(self) -> UserRepository: ...

    @property
    def payments(self) -> PaymentRepository: ...

    @property
    def outbox(self) -> OutboxRepository: ...

    @property
    def jobs(self) -> JobRepository: ...

    @property
    def receipts(self) -> ReceiptRepository: ...

    @property
    def events(self) -> AuthEventRepository: ...

    def __enter__(self) -> "UnitOfWork": ...

    def __exit__(self, *exc: object) -> None: ...

    def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    """Opens a new unit of work."""

    def __call__(self) -> UnitOfWork: ...


# ----------------------------------------------------------------------------- outside services


class DeliveryError(Exception):
    """A message could not be delivered."""

    def __init__(self, message: str, *, permanent: bool = False, blocked: bool = False,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.blocked = blocked  # the person blocked the bot (Telegram 403)
        self.retry_after = retry_after


class Messenger(Protocol):
    """Sends one outbox message on its channel; raises DeliveryError."""

    def deliver(self, message: OutboxMessage) -> None: ...


class TypingIndicator(Protocol):
    """Shows that an answer is on its way in a chat (Telegram's "typing…"); raises DeliveryError."""

    def typing_after(self, chat_id: int, delay: float) -> Callable[[], None]:
        """Show "typing…" in `delay` seconds unless the returned function was called by then."""
        ...


class ButtonSettler(Protocol):
    """Answers a pressed inline button and takes the buttons away (Telegram); raises DeliveryError.

    With a `text`, the pressed message is edited to it (what the press did), without its buttons.
    """

    def settle_button(self, callback_id: str, chat_id: int, message_id: int | None,
                      text: str | None = None) -> None: ...


class AuthenticatorUnavailable(Exception):
    """The authenticator service is down, slow past its deadline, or answered with an error."""


class NoAuthenticatorApp(AuthenticatorUnavailable):
    """The person has no authenticator app set up: a push cannot reach them."""


@dataclass(frozen=True, slots=True)
class PushRequest:
    """A push approval request rendered from the frozen payment."""

    payment_id: str
    message: str
    details: dict[str, str]  # shown in the app, in order ("Sending to", "Amount")
    hidden: dict[str, str] = field(default_factory=dict)  # payment id, channel
    expires_in_seconds: int = 1200
    logo_url: str | None = None  # shown beside the request where the app supports logos


@dataclass(frozen=True, slots=True)
class CodeBinding:
    """What an SMS one-time code is bound to (dynamic linking)."""

    payment_id: str
    payee: str
    amount_text: str  # "$20.00", rendered from the frozen payment
    amount_major: str  # "20.00"
    currency: str
    message: str  # the action message naming payee and amount


@dataclass(frozen=True, slots=True)
class PushBinding:
    """Whose push a decision claims to answer: the authenticator identity and our hidden payment id."""

    authenticator_id: str | None
    payment_id: str | None


@dataclass(frozen=True, slots=True)
class PushState:
    """A push request as the authenticator has it: its status and what it is bound to."""

    status: str  # pending, approved, denied or expired
    binding: PushBinding


@dataclass(frozen=True, slots=True)
class AppAccess:
    """What the person's authenticator app needs to enrol its push factor (a short-lived vendor token)."""

    identity: str
    service_sid: str
    token: str
    factor_friendly_name: str


class Authenticator(Protocol):
    """Registration, push approvals and payment-bound SMS codes (Authy or Twilio Verify)."""

    name: str
    enrols_app: bool  # True: our own app enrols its push factor from a link we hand out (Verify)

    def start_phone_verification(self, phone: str) -> None: ...

    def check_phone_verification(self, phone: str, code: str) -> bool: ...

    def register(self, email: str, phone: str) -> str:
        """Register the person; returns their authenticator id."""
        ...

    def send_push(self, authenticator_id: str, request: PushRequest) -> str:
        """Create a push approval request; returns its id."""
        ...

    def push_status(self, request_id: str) -> str:
        """pending, approved, denied or expired."""
        ...

    def read_push(self, request_id: str) -> PushState:
        """The request's status with the identity and payment id it was created for."""
        ...

    def send_code(self, authenticator_id: str, phone: str, binding: CodeBinding) -> None: ...

    def check_code(self, authenticator_id: str, phone: str, binding: CodeBinding, code: str) -> bool: ...

    def has_app(self, authenticator_id: str) -> bool:
        """Whether the person's authenticator app is enrolled (a push can reach it)."""
        ...

    def app_access(self, authenticator_id: str) -> AppAccess:
        """A short-lived token with which the person's app enrols its push factor (apps that enrol only)."""
        ...


class Timers(Protocol):
    """Fires a payment's deadline job at (or soon after) `when`; the database row stays the truth."""

    def schedule(self, kind: str, payment_id: str, when: datetime) -> None:
        """kind is "fallback" or "expiry"."""
        ...
