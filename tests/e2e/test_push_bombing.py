"""Push bombing: the 4th push within 10 minutes, after 3 went unanswered, is not sent; a code goes instead."""

from __future__ import annotations

from tests.e2e.harness import Phone


def test_the_fourth_unanswered_push_is_not_sent(flavour, hermione: Phone):
    cancel = "NO" if hermione.channel == "sms" else "cancel"
    for dollars in (1, 2, 3):
        hermione.says(f"send ${dollars} to Neville")
        hermione.wait_chat(f"^Send \\${dollars}\\.00 to Neville")
        hermione.presses("Confirm")
        hermione.wait_chat(f"^Approve \\${dollars}\\.00 to Neville")  # the push is out ...
        hermione.says(cancel)  # ... and goes unanswered
        hermione.wait_chat(f"Not sent: \\${dollars}\\.00 to Neville was cancelled")
    seen = len(hermione.sms())

    hermione.says("send $4 to Neville")
    hermione.wait_chat(r"^Send \$4\.00 to Neville")
    hermione.presses("Confirm")

    hermione.wait_chat(r"^3 approval requests to your app went unanswered in the last 10 minutes, so instead of "
                       r"another one we texted a code to \+1\*+\d\d for \$4\.00 to Neville")
    assert not any(a["details"].get("Amount") == "$4.00" for a in hermione.pending())
    hermione.says(hermione.wait_code(after=seen))
    hermione.wait_chat("^Sent: \\$4\\.00 to Neville")
