"""Durable jobs: every outside call a use case needs is written as a job in the use case's transaction.

A worker claims a due job with a lease, makes the call with its timeout and applies the result in a
new transaction. A job whose worker died runs again once its lease has passed, so every kind must be
safe to repeat; DESIGN.md says, kind by kind, what a repeat can cause.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class JobKind(StrEnum):
    """What a job does; each kind has one handler in bot.jobs."""

    START_PHONE_CHECK = "start_phone_check"  # text a phone verification code
    CHECK_PHONE_CODE = "check_phone_code"  # check the code the person typed
    REGISTER = "register"  # register the person with the authenticator
    SEND_PUSH = "send_push"  # create the push approval request of a confirmed payment
    SEND_CODE = "send_code"  # text the one-time code bound to a payment (the fallback)
    CHECK_CODE = "check_code"  # check a payment code the person typed
    FETCH_DECISION = "fetch_decision"  # ask the authenticator for a push decision (Verify webhooks)
    EXPIRE = "expire"  # one last look at the push status, then expire the payment
    SETTLE_BUTTON = "settle_button"  # answer a button press and take the buttons away (Telegram)
    OFFER_APP_LINK = "offer_app_link"  # send a link that sets up the person's authenticator app


# How many timeouts each kind's outside calls can take at worst: its lease is that many plus a
# margin. An HTTP call can take two (connect, then read), a Telegram call included; Verify's push
# makes two calls (factor list, challenge), and so does settling a button (answer, edit).
TIMEOUTS = {JobKind.START_PHONE_CHECK: 2, JobKind.CHECK_PHONE_CODE: 2, JobKind.REGISTER: 4,
            JobKind.SEND_PUSH: 4, JobKind.SEND_CODE: 2, JobKind.CHECK_CODE: 2, JobKind.FETCH_DECISION: 2,
            JobKind.EXPIRE: 2, JobKind.SETTLE_BUTTON: 4, JobKind.OFFER_APP_LINK: 2}
LEASE_MARGIN_SECONDS = 5.0
MAX_ATTEMPTS = 5


def lease_seconds(kind: JobKind, call_timeout: float) -> float:
    """How long a claimed job of this kind belongs to its worker: its calls' worst case plus a margin."""
    return TIMEOUTS[kind] * call_timeout + LEASE_MARGIN_SECONDS


def retry_delay(attempts: int) -> float:
    """Seconds before the next attempt after `attempts` failed ones (1, 2, 4, ... capped at 60)."""
    return min(60.0, 2.0 ** max(0, attempts - 1))


@dataclass(slots=True)
class Job:
    """One outside call to make, with what it needs to know; `payload` holds plain JSON values."""

    id: int | None
    kind: JobKind
    payload: dict[str, Any]
    run_at: datetime
    created_at: datetime
    attempts: int = 0
    leased_until: datetime | None = None
    done_at: datetime | None = None
    failed_at: datetime | None = None
    last_error: str | None = None
