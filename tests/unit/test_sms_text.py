"""SMS text rules: carrier keywords, GSM-7, segments; every reply template stays short on SMS."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bot.core import replies
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


def test_every_sms_reply_is_gsm7_and_at_most_two_segments():
    texts = [replies.SMS_HELP, replies.welcome_sms(), replies.ask_email(), replies.registered("Twilio Verify"),
             replies.confirm_payment(_payment(State.PENDING), "$20.00", sms=True),
             replies.approve_in_app("Twilio Verify", "$20.00", "Neville Longbottom", 15),
             replies.code_sent("$20.00", "Neville Longbottom", "+1********06", push_failed=True),
             replies.code_wrong(4), replies.sms_resubscribed()]
    texts += [replies.outcome(_payment(s), "$20.00") for s in State if s is not State.PENDING]
    for text in texts:
        assert is_gsm7(to_gsm7(text)), text
        assert segments(to_gsm7(text)) <= 2, text
