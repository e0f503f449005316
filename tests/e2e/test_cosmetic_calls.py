"""Cosmetic Telegram calls (the command menu, answering a press, clearing its buttons) never cost the main effect."""

from __future__ import annotations

import requests

from tests.e2e.harness import wait_for

HTTP = 5


def method_fault(sandbox_url: str, method: str, mode: str) -> None:
    """Make one Bot API method of the sandbox fail ("error": 500; "null": ok with a null result)."""
    response = requests.post(sandbox_url + "/api/telegram/method-fault", json={"method": method, "mode": mode},
                             timeout=HTTP)
    response.raise_for_status()


def test_a_command_menu_that_cannot_be_published_does_not_stop_the_start(sandbox, start_payfriend, new_person):
    method_fault(sandbox.url, "setMyCommands", "error")
    payfriend = start_payfriend()

    person = new_person("Hermione", payfriend)
    person.register()
    person.says("/start")

    assert person.wait_chat("You're all set")
    commands = requests.get(sandbox.url + "/api/telegram", timeout=HTTP).json().get("commands")
    assert not commands  # never published, and nothing else suffered


def test_a_press_is_handled_when_clearing_its_buttons_returns_a_null_result(sandbox, payfriend, hermione):
    method_fault(sandbox.url, "editMessageReplyMarkup", "null")
    method_fault(sandbox.url, "editMessageText", "null")  # a press that did something edits the text
    method_fault(sandbox.url, "answerCallbackQuery", "error")

    approval = hermione.start_payment()  # Confirm pressed: the push must still go out

    assert approval["details"]["Amount"] == "$20.00"
    hermione.approve(approval["id"])
    hermione.wait_chat("^Sent: \\$20.00 to Neville \u2713")

    def settle_jobs_ended() -> bool:
        with payfriend.services.uow() as uow:
            return not [j for j in uow.jobs.waiting(100) if j.kind.value == "settle_button"]
    assert wait_for(settle_jobs_ended, timeout=40, what="the button jobs to give up or end")
