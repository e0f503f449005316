"""SMS text rules: carrier keywords, GSM-7, segments; every reply template stays short on SMS."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bot.core import replies
from bot.core.payment import FallbackReason
from bot.core.entities import Channel, Payment
from bot.core.money import Money
from bot.core.payment import State
from bot.core.sms import is_gsm7, keyword, segments, to_gsm7


@pytest.mark.parametrize("text, word", [("STOP", "stop"), (" stop ", "stop"), ("Cancel", "stop"), ("START", "start"),
                                        ("unstop", "start"), ("help", "help"), ("stop it", None), ("send", None)])
def test_carrier_keywords(text, word):
    assert keyword(text) == word


def test_segments_count_gsm7_and_ucs2():
    assert segments("a" * 160) == 1 and segments("a" * 161) == 2 and segments("a" * 306) == 2
    assert segments("€" * 80) == 1 and segments("€" * 81) == 2  # extension characters take two septets
    assert segments("ж" * 70) == 1 and segments("ж" * 71) == 2


def test_typography_becomes_gsm7():
    text = to_gsm7("It\u2019s \u201cdone\u201d \u2014 ok\u2026")
    assert text == 'It\'s "done" - ok...' and is_gsm7(text)


def _payment(state: State) -> Payment:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    return Payment(id="pay_1", payer_id=1, payee="Neville Longbottom", amount=Money(2000, "USD"), note="lunch",
                   channel=Channel.SMS, fingerprint="f", created_at=now, expires_at=now, state=state)


def _lines(count: int) -> list[str]:
    """Listing lines as long as they get: a long payee and a note cut to the listing's length."""
    payment = _payment(State.CANCELLED)
    payment.note = "x" * 140
    payment.payee = "Neville Longbottom-Weasley " * 3  # a payee as long as they come (64 characters)
    return [replies.payment_line(payment, "$1,000.00", "Jan 05")] * count


def _sms_texts() -> list[str]:
    """Every reply as it can go out by SMS."""
    texts = [replies.SMS_HELP, replies.welcome_sms(), replies.ask_email(), replies.registered("Twilio Verify"),
             replies.phone_code_sent("+1********06", sms=True), replies.phone_code_wrong(replies.attempt_failed(3), sms=True),
             replies.finish_registration("phone_code", sms=True), replies.finish_registration("email", sms=True),
             replies.confirm_payment(_payment(State.PENDING), "$20.00", sms=True),
             replies.one_open_payment("$20.00", "Neville Longbottom", sms=True),
             replies.one_open_payment("$20.00", "Neville Longbottom", sms=True, same_payee=True),
             replies.approve_in_app("Twilio Verify", "$20.00", "Neville Longbottom", 15),
             replies.code_sent("$20.00", "Neville Longbottom", "+1********06", FallbackReason.UNREACHABLE, sms=True),
             replies.code_sent("$20.00", "Neville Longbottom", "+1********06", FallbackReason.TIMEOUT, sms=True),
             replies.code_sent("$20.00", "Neville Longbottom", "+1********06", FallbackReason.NO_APP, sms=True),
             replies.code_sent("$20.00", "Neville Longbottom", "+1********06", FallbackReason.PUSH_LIMIT, sms=True),
             replies.attempt_failed(4), replies.attempt_failed_last(24), replies.locked_now(24),
             replies.locked("14:05 UTC on Dec 02"), replies.sms_resubscribed(), replies.service_unavailable(),
             replies.code_sms_heading("$1,000.00", "Neville Longbottom"),
             replies.status(None, []), replies.status("$20.00 to Neville Longbottom", []),
             replies.status(replies.payment_summary(_payment(State.PENDING), "$1,000.00", listed=True), _lines(2)),
             replies.history_page([], 1, more=False), replies.history_page([], 12, more=False),
             replies.history_page(_lines(3), 2, more=True),
             replies.outcome(_payment(State.APPROVED), "$20.00") + replies.exempt_note("low value (RTS Art. 16)")]
    texts += [replies.outcome(_payment(s), "$20.00") for s in State if s is not State.PENDING]
    return texts


def test_every_sms_reply_is_gsm7_and_at_most_two_segments():
    for text in _sms_texts():
        assert is_gsm7(to_gsm7(text)), text
        assert segments(to_gsm7(text)) <= 2, text


def test_sms_replies_ask_for_replies_never_for_typing_or_tapping():
    for text in _sms_texts():
        assert not any(word in text.casefold() for word in ("type", "tap", "below", "/start")), text


def test_telegram_replies_say_type_where_sms_says_reply():
    assert replies.phone_code_sent("+1********06") == "We sent a code by SMS to +1********06. Type the code here."
    assert replies.phone_code_sent("+1********06", sms=True) == (
        "We sent a code by SMS to +1********06. Reply with the code.")
    assert replies.code_sent("$20.00", "Neville", "+1********06", FallbackReason.TIMEOUT).endswith(
        "Type the code here to approve.")
    assert replies.code_sent("$20.00", "Neville", "+1********06", FallbackReason.TIMEOUT, sms=True).endswith(
        "Reply with the code to approve.")
    failed = replies.attempt_failed(2)
    assert "send /start" in replies.phone_code_wrong(failed) and "reply START" in replies.phone_code_wrong(failed, sms=True)


def test_the_check_mark_of_a_sent_payment_becomes_a_full_stop_on_sms():
    sent = replies.outcome(_payment(State.APPROVED), "$20.00")
    assert sent == "Sent: $20.00 to Neville Longbottom \u2713"
    assert to_gsm7(sent) == "Sent: $20.00 to Neville Longbottom."
    assert to_gsm7(sent + replies.exempt_note("low value")) == (
        "Sent: $20.00 to Neville Longbottom. No approval was needed (low value).")
