"""On Telegram, messages move on: a pressed question shows its outcome, a keyboard that served goes away."""

from __future__ import annotations

from typing import Any

import requests

from tests.e2e.harness import Phone, wait_for

CONFIRMED = "✓ Confirmed: waiting for your approval"
CANCELLED = "✗ Cancelled"


def chat(sandbox_url: str, person: Phone) -> dict[str, Any]:
    """The whole chat as the person's Telegram shows it (edits applied)."""
    response = requests.get(f"{sandbox_url}/api/telegram/chat", params={"phone": person.phone}, timeout=5)
    response.raise_for_status()
    return response.json()


def question(sandbox_url: str, person: Phone, message_id: int) -> dict[str, Any]:
    """One bot message as the chat shows it now."""
    return next(m for m in chat(sandbox_url, person)["messages"] if m["message_id"] == message_id)


def asked(sandbox_url: str, person: Phone, text: str) -> int:
    """Write a payment and return the id of the confirm question the bot asks."""
    person.says(text)
    person.wait_chat(r"^Send .* to ")
    return next(m["message_id"] for m in reversed(chat(sandbox_url, person)["messages"])
                if m["from"] == "bot" and "Confirm" in m["buttons"])


def settled_to(sandbox_url: str, person: Phone, message_id: int, text: str) -> dict[str, Any]:
    return wait_for(lambda: (m := question(sandbox_url, person, message_id))["text"] == text and m,
                    what=f"the question to read {text!r}; it reads "
                         f"{question(sandbox_url, person, message_id)['text']!r}")


def test_confirm_edits_the_question_to_its_outcome(sandbox, hermione: Phone):
    message_id = asked(sandbox.url, hermione, "send $20 to Neville")
    hermione.presses("Confirm")

    shown = settled_to(sandbox.url, hermione, message_id, CONFIRMED)

    assert shown["edited"] and shown["inline_keyboard"] is None and shown["buttons"] == []
    hermione.wait_pending()  # and the payment went on to the push


def test_cancel_edits_the_question_to_its_outcome(sandbox, hermione: Phone):
    message_id = asked(sandbox.url, hermione, "send €5 to Ana")
    hermione.presses("Cancel")

    shown = settled_to(sandbox.url, hermione, message_id, CANCELLED)

    assert shown["edited"] and shown["inline_keyboard"] is None
    assert hermione.pending() == []


def test_the_share_contact_keyboard_goes_once_the_contact_is_shared(sandbox, payfriend, new_person):
    harry = new_person("Harry", payfriend)
    harry.register()

    messages = chat(sandbox.url, harry)["messages"]
    contact = next(i for i, m in enumerate(messages) if m["contact"])
    answer = next(m for m in messages[contact:] if m["from"] == "bot")
    assert answer["remove_keyboard"], f"the answer to the contact keeps the keyboard: {answer['text']!r}"
    assert chat(sandbox.url, harry)["keyboard"] is None
    pressed = requests.post(sandbox.url + "/api/telegram/press",
                            json={"phone": harry.phone, "button": "Share my phone number"}, timeout=5)
    assert pressed.status_code == 404  # nothing offers it any more


def test_a_registered_person_is_not_offered_the_keyboard_again(sandbox, payfriend, hermione: Phone):
    hermione.says("/start")
    hermione.wait_chat("You're all set")
    later = [m for m in chat(sandbox.url, hermione)["messages"] if m["from"] == "bot"]
    assert chat(sandbox.url, hermione)["keyboard"] is None
    assert not any(m["reply_keyboard"] for m in later[-1:])
