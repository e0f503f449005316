"""What the bot says: one reason per outcome, the word "code", notes and payees as typed, lists."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bot.core import replies
from bot.core.payment import FallbackReason
from bot.core.entities import Channel, Payment
from bot.core.money import Money
from bot.core.payment import State
from bot.core.text import payee_key, same_payee


def _payment(state: State = State.PENDING, note: str | None = None, payee: str = "Neville") -> Payment:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    return Payment(id="pay_1", payer_id=1, payee=payee, amount=Money(2000, "USD"), note=note,
                   channel=Channel.TELEGRAM, fingerprint="f", created_at=now, expires_at=now, state=state)


OUTCOMES = {
    State.APPROVED: "Sent: $20.00 to Neville \u2713",
    State.DENIED: "Not sent: $20.00 to Neville was denied in your authenticator app.",
    State.EXPIRED: "Not sent: $20.00 to Neville was not approved in time.",
    State.CANCELLED: "Not sent: $20.00 to Neville was cancelled.",
    State.BLOCKED: "Not sent: $20.00 to Neville was blocked after 5 failed attempts in a row.",
    State.FAILED: "Not sent: we couldn't reach the approval service for $20.00 to Neville. Please try again later.",
}


@pytest.mark.parametrize("state", list(OUTCOMES))
def test_each_outcome_says_sent_or_not_and_one_reason(state):
    text = replies.outcome(_payment(state), "$20.00")
    assert text == OUTCOMES[state]
    assert text.casefold().count("sent") == 1  # never "was not sent, because it was ..."
    assert "because" not in text and "approved." not in text.casefold().replace("not approved", "")


def test_replies_say_code_never_token():
    texts = [replies.HELP, replies.SMS_HELP, replies.welcome_sms(), replies.phone_code_sent("x"),
             replies.phone_code_wrong(replies.attempt_failed(1)), replies.finish_registration("phone_code"),
             replies.attempt_failed(1),
             replies.code_sent("$1.00", "Ana", "x", FallbackReason.UNREACHABLE), replies.waiting_for_app("Authy"),
             replies.no_code_expected(), replies.code_sms_heading("$1.00", "Ana"),
             replies.approve_in_app("Authy", "$1.00", "Ana", 15)]
    assert all("token" not in t.casefold() for t in texts)
    assert all("code" in t for t in texts[2:])


def test_the_note_is_shown_in_the_confirmation_and_cut_in_list_lines():
    assert replies.confirm_payment(_payment(note="pizza"), "$20.00", sms=False) == (
        'Send $20.00 to Neville for "pizza"? Confirm or cancel below.')
    line = replies.payment_line(_payment(State.APPROVED, note="pizza"), "$20.00", "Jan 01")
    assert line == 'Jan 01 $20.00 to Neville for "pizza": sent'
    long = replies.payment_line(_payment(note="a very long note about the trip to Paris", payee="N" * 64),
                                "$20.00", "Jan 01")
    assert long == f'Jan 01 $20.00 to {"N" * 21}... for "a very lo...": waiting for approval'
    assert replies.payment_line(_payment(), "$20.00", "Jan 01") == "Jan 01 $20.00 to Neville: waiting for approval"
    assert replies.payment_summary(_payment(note="a very long note about the trip to Paris"), "$20.00") == (
        '$20.00 to Neville for "a very long note about the trip to Paris"')


def test_status_and_history_differ_and_hint_only_at_a_next_page():
    assert replies.status(None, []) != replies.history_page([], 1, more=False)
    assert replies.status("$20.00 to Neville", []) == "Waiting for you: $20.00 to Neville"
    assert replies.status(None, ["a"]) == "Nothing is waiting for you.\nRecent:\na"
    assert replies.history_page(["a", "b"], 1, more=True) == "Your payments:\na\nb\nOlder: history 2"
    assert replies.history_page(["c"], 2, more=False) == "Your payments, page 2:\nc"
    assert "no page 3" in replies.history_page([], 3, more=False)


@pytest.mark.parametrize(("first", "second", "same"), [
    ("Neville", "neville", True), ("NEVILLE", "Neville", True), (" Neville ", "neville", True),
    ("Zoë", "ZOË", True), ("Straße", "STRASSE", True), ("@Neville", "@neville", True),
    ("Neville", "Nevil", False), ("Neville Longbottom", "Neville", False),
])
def test_payees_are_compared_without_regard_to_case(first, second, same):
    assert same_payee(first, second) is same
    assert (payee_key(first) == payee_key(second)) is same
