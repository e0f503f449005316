"""The Telegram payment flow end to end, one test per path, against the sandbox over HTTP."""

from __future__ import annotations

import pytest

from tests.e2e.harness import Phone, wait_for


def test_approve(hermione: Phone):
    approval = hermione.start_payment("send $20 to Neville for lunch")
    assert approval["details"] == {"Sending to": "Neville", "Amount": "$20.00"}
    assert approval["hidden_details"]["payment_id"].startswith("pay_")
    hermione.wait_chat("Approve \\$20.00 to Neville in your Authy app")
    hermione.approve(approval["id"])
    hermione.wait_chat("Done: \\$20.00 to Neville is approved")


def test_deny(hermione: Phone):
    approval = hermione.start_payment()
    hermione.deny(approval["id"])
    hermione.wait_chat("Denied: \\$20.00 to Neville was not sent")


def test_fallback_with_the_right_code(hermione: Phone):
    hermione.start_payment()
    seen = len(hermione.sms())
    hermione.wait_chat("texted a code to .* for \\$20.00 to Neville")
    code = hermione.wait_code(after=seen)
    assert "Neville" in hermione.sms()[-1] and "$20.00" in hermione.sms()[-1]
    hermione.says(code)
    hermione.wait_chat("Done: \\$20.00 to Neville is approved")


def test_five_wrong_codes_block_the_payment(hermione: Phone):
    hermione.start_payment()
    seen = len(hermione.sms())
    hermione.wait_chat("texted a code")
    right = hermione.wait_code(after=seen)
    wrong = "1" * len(right) if right != "1" * len(right) else "2" * len(right)
    for left in (4, 3, 2, 1):
        hermione.says(wrong)
        hermione.wait_chat(f"not right. {left} attempts? left")
    hermione.says(wrong)
    hermione.wait_chat("Blocked: \\$20.00 to Neville was not sent after 5 wrong codes")
    hermione.says(right)  # the sixth attempt, right or not, approves nothing
    hermione.wait_chat("not waiting for a code")
    assert not any("Done:" in t for t in hermione.chat())


def test_a_push_after_an_accepted_code_changes_nothing(hermione: Phone):
    approval = hermione.start_payment()
    seen = len(hermione.sms())
    hermione.wait_chat("texted a code")
    hermione.says(hermione.wait_code(after=seen))
    hermione.wait_chat("Done: \\$20.00 to Neville is approved")
    before = hermione.chat()
    hermione.deny(approval["id"])
    hermione.says("status")
    hermione.wait_chat("Your recent payments")
    assert "Neville: approved" in hermione.chat()[-1]
    assert hermione.chat()[:len(before)] == before and len(hermione.chat()) == len(before) + 1


def test_cancel(hermione: Phone):
    hermione.says("send €5 to Ana for coffee")
    hermione.wait_chat("Send €5.00 to Ana")
    hermione.presses("Cancel")
    hermione.wait_chat("Cancelled: €5.00 to Ana will not be sent")
    assert hermione.pending() == []


def test_status_and_history_show_only_my_payments(sandbox, payfriend, hermione: Phone):
    ron = Phone(sandbox.url, "+15005550007", "Ron")
    ron.register()
    ron.says("send $3 to Dean")
    ron.wait_chat("Send \\$3.00 to Dean")
    hermione.says("send $20 to Neville")
    hermione.wait_chat("Send \\$20.00 to Neville")
    hermione.says("history")
    listing = hermione.wait_chat("Your payments:")
    assert "Neville: waiting for approval" in listing and "Dean" not in listing


def test_forged_or_unsigned_callback_gets_403_and_changes_nothing(sandbox, payfriend, hermione: Phone):
    import requests

    approval = hermione.start_payment()
    body = {"uuid": approval["id"], "status": "approved", "authy_id": 1, "callback_action": "approval_request_status",
            "approval_request": {"transaction": {"hidden_details": approval["hidden_details"]}}}
    url = payfriend.web_url + "/webhooks/authy"
    unsigned = requests.post(url, json=body, timeout=5)
    forged = requests.post(url, json=body, timeout=5,
                           headers={"X-Authy-Signature": "bm90IGEgc2lnbmF0dXJl", "X-Authy-Signature-Nonce": "1"})
    assert (unsigned.status_code, forged.status_code) == (403, 403)
    hermione.says("status")
    assert "Neville: waiting for approval" in hermione.wait_chat("Your recent payments")


def test_duplicate_callback_has_one_effect(sandbox, payfriend, hermione: Phone):
    approval = hermione.start_payment()
    sandbox.world.set_fault("authy", "duplicate-callback")
    hermione.approve(approval["id"])
    hermione.wait_chat("Done: ")
    hermione.says("status")
    hermione.wait_chat("Your recent payments")
    assert sum("Done: " in t for t in hermione.chat()) == 1


def test_authy_down_at_push_time_ends_cleanly(sandbox, payfriend, hermione: Phone):
    sandbox.world.set_fault("authy", "down")
    hermione.says("send $20 to Neville")
    hermione.wait_chat("Send \\$20.00 to Neville")
    hermione.presses("Confirm")
    hermione.wait_chat("Failed: \\$20.00 to Neville was not sent, because we couldn't reach")
    assert hermione.pending() == []


def test_expiry_without_a_decision(sandbox, start_payfriend):
    start_payfriend(fallback_seconds=600, payment_expiry_seconds=3)
    ginny = Phone(sandbox.url, "+15005550008", "Ginny")
    ginny.register()
    ginny.start_payment()
    ginny.wait_chat("Expired: \\$20.00 to Neville was not sent", timeout=15)


def test_a_lost_approval_callback_still_counts_at_expiry(sandbox, start_payfriend):
    start_payfriend(fallback_seconds=600, payment_expiry_seconds=3)
    ginny = Phone(sandbox.url, "+15005550008", "Ginny")
    ginny.register()
    approval = ginny.start_payment()
    sandbox.world.set_fault("authy", "drop-callback")
    ginny.approve(approval["id"])
    ginny.wait_chat("Done: \\$20.00 to Neville is approved", timeout=15)
    assert not any("Expired" in t for t in ginny.chat())


def test_duplicate_update_in_webhook_mode_has_one_effect(sandbox, start_payfriend):
    start_payfriend(telegram_mode="webhook")
    luna = Phone(sandbox.url, "+15005550009", "Luna")
    luna.register()
    sandbox.world.set_fault("telegram", "duplicate-callback")
    luna.says("send $4 to Neville")
    luna.wait_chat("Send \\$4.00 to Neville")
    luna.says("history")
    listing = luna.wait_chat("Your payments:")
    assert listing.count("Neville") == 1
    assert sum(t.startswith("Send $4.00") for t in luna.chat()) == 1


@pytest.mark.slow
def test_fallback_after_the_real_15_second_default(sandbox, start_payfriend):
    import time

    start_payfriend(fallback_seconds=15, payment_expiry_seconds=120)
    neville = Phone(sandbox.url, "+15005550010", "Neville")
    neville.register()
    neville.start_payment("send $20 to Hermione")
    confirmed_at = time.monotonic()
    neville.wait_chat("in your Authy app. If it doesn't arrive within 15 seconds")
    seen = len(neville.sms())
    wait_for(lambda: len(neville.sms()) > seen, timeout=25, what="the fallback SMS")
    waited = time.monotonic() - confirmed_at
    assert waited >= 14.5, f"the code came after {waited:.1f} s, before the 15 s default"
    neville.says(neville.wait_code(after=seen))
    neville.wait_chat("Done: \\$20.00 to Hermione is approved")
