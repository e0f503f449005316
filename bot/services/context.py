"""What every use case works with: its ports, its settings, and the steps they all share."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from bot.core.commands import ParseResult
from bot.core.entities import Channel, InboundMessage, Payment, User
from bot.core.jobs import Job, JobKind
from bot.core import replies
from bot.core.money import Money
from bot.ports import (
    Authenticator, ButtonSettler, Clock, CodeBinding, DeliveryError, Timers, TypingIndicator, UnitOfWork,
    UnitOfWorkFactory,
)

log = logging.getLogger(__name__)

TYPING_AFTER_SECONDS = 0.3  # a call that answers sooner shows no typing: the answer itself follows at once


@dataclass(frozen=True)
class ServiceConfig:
    """The settings the use cases need."""

    fallback_seconds: float
    expiry_seconds: float
    fingerprint_key: bytes
    authenticator_label: str  # shown to people: "Authy", "Twilio Verify"
    default_currency: str = "USD"
    low_value_exemption: bool = False
    rates_to_eur: dict[str, Decimal] = field(default_factory=dict)
    max_code_attempts: int = 5
    logo_url: str | None = None
    call_timeout_seconds: float = 5.0  # one outside call's deadline: sizes the job leases
    push_limit: int = 3  # unanswered pushes per person within push_window_seconds; past it, codes only
    push_window_seconds: float = 600.0
    lock_seconds: float = 86400.0  # how long 5 failed attempts in a row lock a person
    phone_code_limit: int = 3  # phone verification codes per person per window
    phone_code_window_seconds: float = 3600.0


@dataclass(frozen=True, slots=True)
class ReplyTo:
    """Where an answer to a person's message goes: the chat or number it came from."""

    channel: Channel
    recipient: str  # Telegram chat id or E.164 phone

    @classmethod
    def message(cls, msg: InboundMessage) -> "ReplyTo":
        """Answer on the channel the message came from."""
        if msg.channel is Channel.TELEGRAM and msg.chat_id is not None:
            return cls(msg.channel, str(msg.chat_id))
        return cls(msg.channel, msg.sender)

    def as_payload(self) -> dict[str, str]:
        """Plain values for a job's payload."""
        return {"channel": self.channel.value, "recipient": self.recipient}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> "ReplyTo":
        """The inverse of as_payload."""
        return cls(Channel(payload["channel"]), str(payload["recipient"]))


@dataclass
class Context:
    """The ports and settings of this deployment, as bootstrap wired them."""

    uow: UnitOfWorkFactory
    authenticator: Authenticator
    clock: Clock
    config: ServiceConfig
    parse: Callable[[str, str], ParseResult]  # (text, default currency)
    format_money: Callable[[Money, str], str]  # (money, locale)
    normalize_phone: Callable[[str], str | None]
    new_payment_id: Callable[[], str]
    timers: Timers
    wake: Callable[[], None] = lambda: None  # something was written for the workers (outbox, jobs)
    public_url: Callable[[], str | None] = lambda: None  # where people and services reach our web server
    settler: ButtonSettler | None = None
    typing: TypingIndicator | None = None

    @contextmanager
    def typing_while(self, to: ReplyTo | None) -> Iterator[None]:
        """On Telegram, "typing…" in the chat if the outside call in this block is slow (best effort)."""
        stop: Callable[[], None] = lambda: None  # noqa: E731
        if self.typing is not None and to is not None and to.channel is Channel.TELEGRAM:
            try:
                stop = self.typing.typing_after(int(to.recipient), TYPING_AFTER_SECONDS)
            except DeliveryError as exc:
                log.debug("typing indicator not shown: %s", exc)
        try:
            yield
        finally:
            stop()

    def amount(self, payment: Payment, user: User) -> str:
        """The payment's amount as this person reads money."""
        return self.format_money(payment.amount, user.locale)

    def binding(self, payment: Payment, user: User) -> CodeBinding:
        """What an SMS code for this payment is bound to (dynamic linking)."""
        amount_text = self.amount(payment, user)
        return CodeBinding(payment_id=payment.id, payee=payment.payee, amount_text=amount_text,
                           amount_major=payment.amount.major_str(), currency=payment.amount.currency,
                           message=replies.code_sms_heading(amount_text, payment.payee))

    def enqueue(self, uow: UnitOfWork, kind: JobKind, *, delay: float = 0.0, **payload: Any) -> Job:
        """Write a job for an outside call, due now (or `delay` seconds from now), in the caller's transaction."""
        now = self.clock.now()
        return uow.jobs.add(Job(id=None, kind=kind, payload=payload, run_at=now + timedelta(seconds=delay),
                                created_at=now))

    def done(self, uow: UnitOfWork, job: Job | None) -> None:
        """Mark a job done in the transaction that applies its result (so that a repeat finds it done)."""
        if job is not None and job.id is not None:
            job.done_at = self.clock.now()  # the worker need not mark it again (a rollback raises, and retries)
            uow.jobs.complete(job.id, job.done_at)


def reaches_by_sms(user: User, channel: Channel) -> bool:
    """Whether a notice about a payment on `channel` goes out by SMS (as notify sends it): wording follows."""
    return channel is Channel.SMS or user.telegram_chat_id is None or user.telegram_blocked


def chat_of(user: User, channel: Channel) -> ReplyTo | None:
    """The Telegram chat a notice about a payment on `channel` goes to; None when it goes by SMS."""
    if reaches_by_sms(user, channel) or user.telegram_chat_id is None:
        return None
    return ReplyTo(Channel.TELEGRAM, str(user.telegram_chat_id))


def mask_phone(phone: str) -> str:
    """Show only the last two digits of a phone number."""
    return phone[:2] + "*" * max(0, len(phone) - 4) + phone[-2:] if len(phone) > 4 else "your phone"
