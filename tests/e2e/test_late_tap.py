"""A tap in the authenticator app after the payment ended: nothing changes, and the chat says so once.

Neither Authy nor Verify can withdraw a push, so the push of a payment approved with the SMS code, or
cancelled, stays in the app until it expires with the payment. A tap on it is answered in the chat,
and the sandbox's app shows the request as no longer needed.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
import requests

from bot.core.payment import State
from bot.core.replies import late_tap
from bot.core.sms import to_gsm7
from bot.runtime import Process
from tests.e2e.harness import Phone, wait_for

EXPIRY_SECONDS = 60  # long enough for the code and the tap to come well before the push expires


def payment_of(payfriend: Process, person: Phone) -> Any:
    """The person's latest payment as Payfriend stored it."""
    with payfriend.services.uow() as uow:
        user = uow.users.by_phone(person.phone)
        assert user is not None and user.id is not None
        return uow.payments.for_payer(user.id, 1)[0]


def quiet(payfriend: Process) -> None:
    """Wait until every message is delivered and no job waits: the chat shows all there is to show."""
    def settled() -> bool:
        with payfriend.services.uow() as uow:
            return not uow.outbox.undelivered(10) and not uow.jobs.waiting(10)
    wait_for(settled, timeout=15, what="Payfriend's outbox and jobs to settle")


def ended(payfriend: Process, person: Phone, state: State) -> Any:
    """Wait until the person's payment is in `state` and its outcome was delivered; return it."""
    wait_for(lambda: payment_of(payfriend, person).state is state, what=f"the payment to be {state.value}")
    quiet(payfriend)
    return payment_of(payfriend, person)


def approval(sandbox_url: str, person: Phone, approval_id: str) -> dict[str, Any]:
    """The approval as the person's authenticator app shows it now."""
    found = requests.get(f"{sandbox_url}/api/authenticator/approvals", params={"phone": person.phone},
                         timeout=5).json()
    return next(a for a in found if a["id"] == approval_id)


def late_text(person: Phone, state: State) -> str:
    """The late-tap notice as it reaches this person (GSM-7 by SMS)."""
    text = late_tap(state)
    return to_gsm7(text) if person.channel == "sms" else text


def cancel(person: Phone) -> None:
    """Cancel the waiting payment by writing (on SMS "NO": "CANCEL" is a carrier opt-out word)."""
    person.says("NO" if person.channel == "sms" else "/cancel")


def assert_only_the_late_text(payfriend: Process, person: Phone, before: list[str], state: State) -> None:
    text = late_text(person, state)
    person.wait_chat(re.escape(text))
    time.sleep(0.5)  # a second notice, if any, would come right after the first
    quiet(payfriend)
    assert person.chat() == before + [text]


@pytest.fixture
def slow_expiry(start_payfriend) -> Process:
    return start_payfriend(payment_expiry_seconds=EXPIRY_SECONDS)


def test_a_deny_after_the_code_approved_the_payment_changes_nothing(flavour, sandbox, slow_expiry, new_person):
    ginny = new_person("Ginny", slow_expiry)
    ginny.register()
    pushed, code = ginny.start_payment_and_wait_for_code()
    ginny.says(code)
    payment = ended(slow_expiry, ginny, State.APPROVED)
    before, codes = ginny.chat(), ginny.sms()

    ginny.deny(pushed["id"])

    assert_only_the_late_text(slow_expiry, ginny, before, State.APPROVED)
    after = payment_of(slow_expiry, ginny)
    assert (after.state, after.decided_by, after.decided_at) == (State.APPROVED, "code", payment.decided_at)
    assert ginny.sms() == codes
    shown = approval(sandbox.url, ginny, pushed["id"])
    assert (shown["status"], shown["late"]) == ("denied", True)


@pytest.mark.parametrize("tap", ["approve", "deny"])
def test_a_tap_after_a_cancel_changes_nothing_and_is_answered_once(flavour, sandbox, slow_expiry, new_person,
                                                                   tap):
    luna = new_person("Luna", slow_expiry)
    luna.register()
    pushed = luna.start_payment()
    cancel(luna)
    payment = ended(slow_expiry, luna, State.CANCELLED)
    before = luna.chat()
    sandbox.world.set_fault(flavour[1], "duplicate-callback")  # the same tap reported twice: one answer

    getattr(luna, tap)(pushed["id"])

    assert_only_the_late_text(slow_expiry, luna, before, State.CANCELLED)
    after = payment_of(slow_expiry, luna)
    assert (after.state, after.decided_by, after.decided_at) == (State.CANCELLED, "payer", payment.decided_at)
    assert approval(sandbox.url, luna, pushed["id"])["late"] is True


def test_the_push_expires_with_the_payment(flavour, slow_expiry, new_person):
    neville = new_person("Neville", slow_expiry)
    neville.register()
    pushed = neville.start_payment()
    deadline = payment_of(slow_expiry, neville).expires_at.timestamp()
    assert deadline <= pushed["expires_at"] <= deadline + 2  # never the vendor's default, never before


def test_a_tap_that_decides_the_payment_is_not_late(flavour, sandbox, slow_expiry, new_person):
    dean = new_person("Dean", slow_expiry)
    dean.register()
    pushed = dean.start_payment()
    dean.approve(pushed["id"])
    ended(slow_expiry, dean, State.APPROVED)
    assert approval(sandbox.url, dean, pushed["id"])["late"] is False
    assert not any(late_text(dean, s) in dean.chat() for s in State if s is not State.PENDING)
