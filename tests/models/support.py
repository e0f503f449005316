"""Entities to store in repository tests."""

from __future__ import annotations

import itertools
import secrets
import threading
from datetime import datetime, timedelta, timezone

from bot.core.entities import Channel, OutboxMessage, Payment, Registration, User
from bot.core.money import Money
from bot.core.payment import State, Terms, fingerprint

NOW = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)
KEY = b"test-fingerprint-key"
_numbers = itertools.count(1)


def new_user(**overrides: object) -> User:
    """A registered user with unique Telegram id and phone."""
    n = next(_numbers)
    values: dict[str, object] = dict(
        id=None, created_at=NOW, telegram_user_id=7_000_000_000 + n, telegram_chat_id=7_000_000_000 + n,
        phone=f"+1555{n:07d}", phone_verified=True, email=f"user{n}@example.com", authenticator_id=f"authy-{n}",
        registration=Registration.READY,
    )
    values.update(overrides)
    return User(**values)  # type: ignore[arg-type]


def new_payment(payer_id: int, **overrides: object) -> Payment:
    """A pending payment awaiting confirmation, with a random id and a valid fingerprint."""
    payment_id = str(overrides.pop("id", secrets.token_urlsafe(16)))
    payee = str(overrides.pop("payee", "Neville"))
    amount = overrides.pop("amount", Money(2000, "USD"))
    assert isinstance(amount, Money)
    created_at = overrides.pop("created_at", NOW)
    assert isinstance(created_at, datetime)
    values: dict[str, object] = dict(
        id=payment_id, payer_id=payer_id, payee=payee, amount=amount, note="lunch", channel=Channel.TELEGRAM,
        fingerprint=fingerprint(Terms(payment_id, payer_id, payee, amount), KEY), created_at=created_at,
        expires_at=created_at + timedelta(minutes=20), fallback_at=created_at + timedelta(seconds=15),
    )
    if overrides.get("state") is State.APPROVED:
        values["decided_by"] = "push"  # the database takes an approval only with its SCA
    values.update(overrides)
    return Payment(**values)  # type: ignore[arg-type]


_RECIPIENTS = itertools.count(7000000001)


def new_message(**overrides: object) -> OutboxMessage:
    """A Telegram message due now, to a chat of its own unless `recipient` says otherwise."""
    values: dict[str, object] = dict(id=None, channel=Channel.TELEGRAM, recipient=str(next(_RECIPIENTS)),
                                     text="Hello", created_at=NOW)
    values.update(overrides)
    return OutboxMessage(**values)  # type: ignore[arg-type]


def run_threads(target, count: int) -> None:
    """Run `target` (given its thread number if it takes one) in `count` threads; re-raise failures."""
    errors: list[BaseException] = []

    def guarded(*args: object) -> None:
        try:
            target(*args)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    workers = [threading.Thread(target=guarded, args=(n,) if target.__code__.co_argcount else ())
               for n in range(count)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert not errors, errors
