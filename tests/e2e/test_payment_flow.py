"""Every payment path end to end, on Telegram and on SMS, with Authy and with Twilio Verify (the sandbox)."""

from __future__ import annotations

import time

import pytest
import requests

from tests.e2e.harness import Phone, wait_for

APP = {"authy": "Authy", "verify": "Payfriend"}


def test_approve(flavour, hermione: Phone):
    approval = hermione.start_payment("send $20 to Neville for lunch")
    word = approval["details"].pop("Match word")
    assert approval["details"] == {"Sending to": "Neville", "Amount": "$20.00", "Note": "lunch"}
    assert approval["hidden_details"]["payment_id"].startswith("pay_")
    hermione.wait_chat(f"It shows the word [\u201c\"]{word}[\u201d\"]\\.")  # the push and the chat: one word
    if flavour[1] == "authy":  # the logo is served by Payfriend itself
        (logo,) = approval["logos"]
        assert requests.get(logo["url"], timeout=5).headers["Content-Type"] == "image/png"
    hermione.wait_chat(f"Approve \\$20.00 to Neville in your {APP[flavour[1]]} app")
    hermione.approve(approval["id"])
    hermione.wait_chat("Sent: \\$20.00 to Neville( \u2713|\\.)")


def test_deny(flavour, hermione: Phone):
    approval = hermione.start_payment()
    hermione.deny(approval["id"])
    hermione.wait_chat("Not sent: \\$20.00 to Neville was denied in your authenticator app")


def test_fallback_with_the_right_code(flavour, hermione: Phone):
    _, code = hermione.start_payment_and_wait_for_code()
    hermione.wait_chat("texted a code to .* for \\$20.00 to Neville")
    assert "Neville" in hermione.sms()[-1] and "20.00" in hermione.sms()[-1]  # the code names payee and amount
    hermione.says(code)
    hermione.wait_chat("Sent: \\$20.00 to Neville( \u2713|\\.)")


def test_five_wrong_codes_block_the_payment_and_lock_the_person(flavour, hermione: Phone):
    _, right = hermione.start_payment_and_wait_for_code()
    wrong = "1" * len(right) if right != "1" * len(right) else "2" * len(right)
    for left in (4, 3, 2):
        hermione.says(wrong)
        hermione.wait_chat(f"not right. {left} attempts left")
    hermione.says(wrong)
    hermione.wait_chat("not right. One more failed attempt locks your account for 24 hours")
    hermione.says(wrong)
    hermione.wait_chat("Not sent: \\$20.00 to Neville was blocked after 5 failed attempts in a row")
    hermione.wait_chat("your account is locked for 24 hours")
    locked = "Your account is locked after 5 failed attempts in a row, until "
    hermione.says(right)  # the sixth attempt, right or not, approves nothing
    wait_for(lambda: sum(t.startswith(locked) for t in hermione.chat()) == 1, 10, "the lock named")
    hermione.says("send $5 to Neville")  # and no new payment starts
    wait_for(lambda: sum(t.startswith(locked) for t in hermione.chat()) == 2, 10, "the lock named again")
    assert not any(t.startswith(("Sent:", "Send $5")) for t in hermione.chat())


def test_a_push_after_an_accepted_code_changes_nothing(flavour, hermione: Phone):
    approval, code = hermione.start_payment_and_wait_for_code()
    hermione.says(code)
    hermione.wait_chat("Sent: \\$20.00 to Neville( \u2713|\\.)")
    before = hermione.chat()
    hermione.deny(approval["id"])
    hermione.says("status")
    hermione.wait_chat("^Nothing is waiting for you\\.\nRecent:")
    assert "Neville: sent" in hermione.chat()[-1]
    # the late tap is answered (test_late_tap.py), then the status
    assert hermione.chat()[:len(before)] == before and len(hermione.chat()) == len(before) + 2


def test_cancel(flavour, hermione: Phone):
    hermione.says("send €5 to Ana for coffee")
    hermione.wait_chat("Send €5.00 to Ana")
    hermione.presses("Cancel")
    hermione.wait_chat("Not sent: €5.00 to Ana was cancelled")
    assert hermione.pending() == []


def test_status_and_history_show_only_my_payments(flavour, payfriend, new_person, hermione: Phone):
    ron = new_person("Ron", payfriend)
    ron.register()
    ron.says("send $3 to Dean")
    ron.wait_chat("Send \\$3.00 to Dean")
    hermione.says("send $20 to Neville")
    hermione.wait_chat("Send \\$20.00 to Neville")
    hermione.says("history")
    listing = hermione.wait_chat("Your payments:")
    assert "Neville: waiting for approval" in listing and "Dean" not in listing


def test_forged_or_unsigned_callback_gets_403_and_changes_nothing(flavour, payfriend, hermione: Phone):
    approval = hermione.start_payment()
    if flavour[1] == "authy":
        url = payfriend.web_url + "/webhooks/authy"
        body = {"uuid": approval["id"], "status": "approved", "authy_id": 1,
                "approval_request": {"transaction": {"hidden_details": approval["hidden_details"]}}}
        unsigned = requests.post(url, json=body, timeout=5)
        forged = requests.post(url, json=body, timeout=5, headers={"X-Authy-Signature": "bm90IHNpZ25lZA==",
                                                                   "X-Authy-Signature-Nonce": "1"})
    else:
        url = payfriend.web_url + "/webhooks/twilio/verify"
        form = {"uuid": "EVforged", "type": "challenge.approved", "challenge_sid": approval["id"],
                "entity_identity": "x"}
        unsigned = requests.post(url, data=form, timeout=5)
        forged = requests.post(url, data=form, timeout=5, headers={"X-Twilio-Signature": "bm90IHNpZ25lZA=="})
    assert (unsigned.status_code, forged.status_code) == (403, 403)
    hermione.says("status")
    assert hermione.wait_chat("^Waiting for you: ") == "Waiting for you: $20.00 to Neville"


def test_duplicate_callback_has_one_effect(flavour, sandbox, payfriend, hermione: Phone):
    approval = hermione.start_payment()
    sandbox.world.set_fault(flavour[1], "duplicate-callback")
    hermione.approve(approval["id"])
    hermione.wait_chat("^Sent: ")
    hermione.says("status")
    hermione.wait_chat("^Nothing is waiting for you")
    assert sum(t.startswith("Sent: ") for t in hermione.chat()) == 1


def test_duplicate_inbound_message_has_one_effect(flavour, sandbox, start_payfriend, new_person):
    channel = flavour[0]
    container = start_payfriend(telegram_mode="webhook" if channel == "telegram" else "polling")
    luna = new_person("Luna", container)
    luna.register()
    sandbox.world.set_fault("telegram" if channel == "telegram" else "messaging", "duplicate-callback")
    luna.says("send $4 to Neville")
    luna.wait_chat("Send \\$4.00 to Neville")
    luna.says("history")
    listing = luna.wait_chat("Your payments:")
    assert listing.count("Neville") == 1
    assert sum(t.startswith("Send $4.00") for t in luna.chat()) == 1


def test_authenticator_down_at_push_time_ends_cleanly(flavour, sandbox, payfriend, hermione: Phone):
    sandbox.world.set_fault(flavour[1], "down")
    hermione.says("send $20 to Neville")
    hermione.wait_chat("Send \\$20.00 to Neville")
    hermione.presses("Confirm")
    hermione.wait_chat("Not sent: we couldn't reach the approval service for \\$20.00 to Neville")
    assert hermione.pending() == []


def test_expiry_without_a_decision(flavour, start_payfriend, new_person):
    container = start_payfriend(fallback_seconds=600, payment_expiry_seconds=3)
    ginny = new_person("Ginny", container)
    ginny.register()
    ginny.start_payment()
    ginny.wait_chat("Not sent: \\$20.00 to Neville was not approved in time", timeout=15)


def test_a_lost_approval_callback_still_counts_at_expiry(flavour, sandbox, start_payfriend, new_person):
    container = start_payfriend(fallback_seconds=600, payment_expiry_seconds=3)
    ginny = new_person("Ginny", container)
    ginny.register()
    approval = ginny.start_payment()
    sandbox.world.set_fault(flavour[1], "drop-callback")
    ginny.approve(approval["id"])
    ginny.wait_chat("Sent: \\$20.00 to Neville( \u2713|\\.)", timeout=15)
    assert not any("was not approved in time" in t for t in ginny.chat())  # never also expired


@pytest.mark.slow
def test_fallback_after_the_real_15_second_default(start_payfriend, new_person):
    container = start_payfriend(fallback_seconds=15, payment_expiry_seconds=120)
    neville = new_person("Neville", container)
    neville.register()
    neville.start_payment("send $20 to Hermione")
    confirmed_at = time.monotonic()
    neville.wait_chat(r"in your Authy app\. It shows the word \S+\. No decision within 15 seconds and we'll text "
                      r"you a code instead\.")
    seen = len(neville.sms())
    wait_for(lambda: len(neville.sms()) > seen, timeout=25, what="the fallback SMS")
    waited = time.monotonic() - confirmed_at
    assert waited >= 14.5, f"the code came after {waited:.1f} s, before the 15 s default"
    neville.says(neville.wait_code(after=seen))
    neville.wait_chat("Sent: \\$20.00 to Hermione( \u2713|\\.)")
