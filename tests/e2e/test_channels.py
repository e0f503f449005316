"""One person on both channels, SMS opt-out, a blocked bot, a Verify service without PSD2, no push app."""

from __future__ import annotations

import time

import pytest
import requests

from bot.bootstrap import StartupError
from tests.e2e.harness import Phone


def test_one_person_on_both_channels_is_answered_where_each_payment_started(sandbox, payfriend):
    on_telegram = Phone(sandbox.url, "+15005550301", "Harry", "telegram")
    on_telegram.register()
    on_sms = Phone(sandbox.url, "+15005550301", "Harry", "sms")  # the same person, texting
    on_sms.says("send $5 to Ana")
    on_sms.wait_chat("Send \\$5.00 to Ana\\? Reply YES to confirm or NO to cancel")
    on_sms.presses("Confirm")
    on_sms.approve(on_sms.wait_pending()["id"])
    on_sms.wait_chat("Sent: \\$5.00 to Ana\\.$")
    assert not any("Ana" in t for t in on_telegram.chat())  # answered on SMS only

    on_telegram.start_payment("send $7 to Bo")
    on_telegram.approve(on_telegram.wait_pending()["id"])
    on_telegram.wait_chat("Sent: \\$7.00 to Bo \u2713")
    assert not any("Bo" in t for t in on_sms.chat())
    on_telegram.says("history")
    listing = on_telegram.wait_chat("Your payments:")
    assert "Ana: sent" in listing and "Bo: sent" in listing


def test_stop_silences_sms_until_start(sandbox, payfriend):
    ron = Phone(sandbox.url, "+15005550302", "Ron", "sms")
    ron.register()
    ron.says("STOP")
    ron.wait_chat("unsubscribed")  # the carrier's own confirmation
    before = len(ron.chat())
    ron.says("status")
    ron.says("help")
    time.sleep(1.5)  # time enough for a reply, were one sent
    assert len(ron.chat()) == before  # Payfriend sent nothing
    ron.says("START")
    ron.wait_chat("you will get our texts again")
    ron.says("status")
    ron.wait_chat("^Nothing is waiting and you have no payments yet")


def test_a_blocked_bot_is_noticed_and_the_person_told_by_sms(sandbox, payfriend):
    ginny = Phone(sandbox.url, "+15005550303", "Ginny", "telegram")
    ginny.register()
    approval = ginny.start_payment()
    requests.post(sandbox.url + "/api/telegram/block", json={"phone": ginny.phone}, timeout=5).raise_for_status()
    ginny.approve(approval["id"])  # the outcome cannot reach Telegram: 403
    sms = Phone(sandbox.url, ginny.phone, "Ginny", "sms")
    sms.wait_chat("can't reach you on Telegram because the bot is blocked")
    with payfriend.services.uow() as uow:
        assert uow.users.by_phone(ginny.phone).telegram_blocked


def test_a_verify_service_without_psd2_is_refused_at_start(sandbox, start_payfriend):
    requests.post(sandbox.url + "/twilio/_sandbox/config", json={"psd2_enabled": False},
                  timeout=5).raise_for_status()
    with pytest.raises(StartupError, match="not PSD2-enabled"):
        start_payfriend(authenticator="verify")


def test_without_the_push_app_the_code_comes_at_once(sandbox, start_payfriend):
    start_payfriend(authenticator="verify", fallback_seconds=600)
    luna = Phone(sandbox.url, "+15005550304", "Luna", "telegram")
    luna.installs_app(False)  # she never installs the app: its set-up link goes unused
    luna.register()
    seen = len(luna.sms())
    luna.says("send $20 to Neville")
    luna.wait_chat("Send \\$20.00 to Neville")
    luna.presses("Confirm")
    luna.wait_chat("You have no authenticator app set up yet, so we texted a code")
    luna.says(luna.wait_code(after=seen))
    luna.wait_chat("Sent: \\$20.00 to Neville \u2713")


@pytest.mark.parametrize("mode", ["slow", "error"])
def test_a_slow_or_failing_authenticator_ends_the_payment_cleanly(sandbox, payfriend, mode):
    neville = Phone(sandbox.url, "+15005550305", "Neville", "telegram")
    neville.register()
    neville.says("send $20 to Hermione")
    neville.wait_chat("Send \\$20.00 to Hermione")
    sandbox.world.set_fault("authy", mode)
    neville.presses("Confirm")
    neville.wait_chat("Not sent: we couldn't reach the approval service for \\$20.00 to Hermione", timeout=20)
    with payfriend.services.uow() as uow:
        (payment,) = uow.payments.for_payer(uow.users.by_phone(neville.phone).id, 5)
    assert payment.state.value == "failed"


def test_flood_control_delays_messages_but_loses_none(sandbox, payfriend):
    requests.post(sandbox.url + "/api/telegram/limits", json={"per_chat_per_second": 1},
                  timeout=5).raise_for_status()
    fred = Phone(sandbox.url, "+15005550306", "Fred", "telegram")
    fred.register()
    for text in ("status", "history", "help"):
        fred.says(text)
    fred.wait_chat("Payfriend sends money from a chat", timeout=20)  # the help text, after 429s and retries
    chat = fred.chat()
    assert len(chat) == 7  # four while registering, three answers: each once, in the order they were written
    assert chat[-3].startswith("Nothing is waiting and you have no payments yet")  # status
    assert chat[-2].startswith("Your history is empty")  # history
    assert chat[-1].startswith("Payfriend sends money")
