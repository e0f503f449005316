"""The records the services work with: people, payments and messages waiting to go out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from bot.core.money import Money
from bot.core.payment import State, Step, Terms


class Channel(StrEnum):
    """Where a person talks to the bot."""

    TELEGRAM = "telegram"
    SMS = "sms"


class Registration(StrEnum):
    """How far a person has come in registering."""

    CONTACT = "contact"  # waiting for the shared phone number (Telegram)
    PHONE_CODE = "phone_code"  # waiting for the SMS code that proves the phone
    EMAIL = "email"  # waiting for an email address
    READY = "ready"  # registered with the authenticator


@dataclass(slots=True)
class User:
    """A person with their channels and their authenticator registration."""

    id: int | None
    created_at: datetime
    telegram_user_id: int | None = None
    telegram_chat_id: int | None = None
    phone: str | None = None  # E.164
    phone_verified: bool = False
    email: str | None = None
    authenticator_id: str | None = None
    registration: Registration = Registration.CONTACT
    default_currency: str = "USD"
    locale: str = "en_US"
    telegram_blocked: bool = False
    sms_opted_out: bool = False
    # RTS Art. 16 counters since the last successful SCA (EUR minor units).
    exempt_count: int = 0
    exempt_total_eur_minor: int = 0
    # The one live link that hands the person's authenticator app its enrolment (SHA-256 of it only).
    app_link_hash: str | None = None
    app_link_expires_at: datetime | None = None
    # Failed authentication attempts in a row, over every payment and code (RTS Art. 4(3)(b)), and
    # the end of the lock the last of them caused.
    failed_attempts: int = 0
    locked_until: datetime | None = None
    # Phone verification codes sent in the window that started at phone_codes_since (a re-send limit).
    phone_codes_sent: int = 0
    phone_codes_since: datetime | None = None


@dataclass(slots=True)
class Payment:
    """One payment; its terms never change after creation."""

    id: str
    payer_id: int
    payee: str
    amount: Money
    note: str | None
    channel: Channel
    fingerprint: str
    created_at: datetime
    expires_at: datetime
    state: State = State.PENDING
    step: Step = Step.CONFIRMATION
    sca: str = "challenge"  # "challenge" or "exempt"
    sca_reason: str = ""
    push_request_id: str | None = None
    fallback_at: datetime | None = None
    code_sent_at: datetime | None = None
    code_attempts: int = 0
    decided_at: datetime | None = None
    decided_by: str | None = None  # push, code, payer, system, exemption
    reason: str | None = None  # why it ended the way it did

    @property
    def terms(self) -> Terms:
        """The frozen terms the fingerprint binds."""
        return Terms(self.id, self.payer_id, self.payee, self.amount)


@dataclass(frozen=True, slots=True)
class Button:
    """A reply button: what it says and what pressing it sends back."""

    text: str
    data: str


@dataclass(slots=True)
class OutboxMessage:
    """A message to a person, written in the transaction that caused it."""

    id: int | None
    channel: Channel
    recipient: str  # Telegram chat id or E.164 phone
    text: str
    created_at: datetime
    buttons: list[list[Button]] = field(default_factory=list)
    request_contact: bool = False  # show a "share my phone number" button
    remove_keyboard: bool = False  # take that button away again
    secret: bool = False  # carries a credential (a set-up link): its text is blanked once it is sent
    attempts: int = 0
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    failed_at: datetime | None = None
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One message from a person, whatever the channel; `dedupe_key` makes redelivery harmless."""

    channel: Channel
    sender: str  # Telegram user id or E.164 phone
    dedupe_key: str
    text: str = ""
    chat_id: int | None = None  # Telegram private chat
    contact_phone: str | None = None  # a shared contact's number (Telegram)
    contact_user_id: int | None = None  # whose contact it is
    button: str | None = None  # callback data of a pressed inline button
    callback_id: str | None = None  # the press to answer (Telegram callback query id)
    message_id: int | None = None  # the message whose button was pressed
    keyword: str | None = None  # stop/start/help, when the SMS provider already recognised one


SECRET_BLANKED = "[a one-time link, removed once sent]"  # what a secret outbox message keeps of its text

AUTH_FACTORS = ("push", "sms_code", "phone_code", "exemption", "chat")
AUTH_RESULTS = ("approved", "denied", "passed", "failed", "locked", "refused")


@dataclass(frozen=True, slots=True)
class AuthEvent:
    """One line of the audit trail: who, for which action, with which factor, what came of it, when."""

    id: int | None
    at: datetime
    user_id: int | None
    action: str  # "payment <id>", "phone check", "phone change", ...
    factor: str  # one of AUTH_FACTORS ("chat": a request made in the chat, no factor)
    result: str  # one of AUTH_RESULTS
    detail: str | None = None
