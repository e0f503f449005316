"""A Telegram takeover with a number change gets no payment through: the old number keeps the SMS factor."""

from __future__ import annotations

import re

import pytest
import requests

from tests.e2e.harness import Phone, wait_for

VICTIM, ATTACKER = "+15005550431", "+15005559431"


@pytest.mark.parametrize("authenticator", ["authy", "verify"])
def test_a_takeover_with_a_number_change_is_refused_and_the_old_number_told(sandbox, start_payfriend, authenticator):
    start_payfriend(authenticator=authenticator)
    hermione = Phone(sandbox.url, VICTIM, "Hermione", "telegram",
                     on_registered=Phone.wait_app_linked if authenticator == "verify" else None)
    hermione.register()

    # Someone holding Hermione's Telegram account moves it to their own number and shares it.
    requests.post(sandbox.url + "/api/telegram/change-number", json={"phone": VICTIM, "new_phone": ATTACKER},
                  timeout=5).raise_for_status()
    mallory = Phone(sandbox.url, ATTACKER, "Hermione", "telegram")  # the same Telegram account, new SIM
    mallory.shares_contact()
    mallory.wait_chat("Your Payfriend number was not changed to ")
    wait_for(lambda: any("someone asked in your Telegram chat to move your account" in t
                         for t in hermione.texts_from_payfriend()), 10, "the notice to the old number")

    seen = len(hermione.sms())
    mallory.says("send $900 to Draco")
    mallory.wait_chat(r"^Send \$900\.00 to Draco")
    mallory.presses("Confirm")
    note = mallory.wait_chat("we texted a code to")
    assert re.search(r"\+1\*+31 for \$900\.00 to Draco", note), note  # Hermione's number, not Mallory's
    code = hermione.wait_code(after=seen)  # the code reached Hermione's SIM ...
    assert not any(code in t for t in mallory.sms() + mallory.texts_from_payfriend() + mallory.chat())

    mallory.says("1234567" if code != "1234567" else "7654321")
    mallory.wait_chat("That code is not right")
    mallory.says("status")
    mallory.wait_chat(r"Waiting for you: \$900\.00 to Draco")
    assert not any(t.startswith("Sent:") for t in mallory.chat())
