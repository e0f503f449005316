"""The workers' blocking Bot API client against the sandbox's Telegram over HTTP: what lands, and each failure's class."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bot.adapters.telegram_api import BotApi, api_error
from bot.core.entities import Button, Channel, OutboxMessage
from tests.adapters.test_telegram_contract import PHONE, add_person, api


def outbox_message(chat_id: int, text: str, **fields) -> OutboxMessage:
    """An outbox message for a Telegram chat."""
    return OutboxMessage(id=1, channel=Channel.TELEGRAM, recipient=str(chat_id), text=text, created_at=datetime.now(timezone.utc),
                         **fields)


def client(sandbox, token: str | None = None) -> BotApi:
    """A client pointed at the sandbox, with the sandbox's token unless another is given."""
    return BotApi(token or sandbox.world.keys.telegram_token, sandbox.url, 5)


def chat(sandbox) -> list[dict]:
    """The person's chat as the control API shows it."""
    return api(sandbox, "GET", "/telegram/messages", params={"phone": PHONE})


def test_a_message_with_buttons_lands_and_a_press_can_be_settled(sandbox):
    person = add_person(sandbox)
    bot = client(sandbox)
    bot.send(outbox_message(person["chat_id"], "Send $20.00 to Neville?",
                            buttons=[[Button("Confirm", "confirm:p1"), Button("Cancel", "cancel:p1")]]))
    (shown,) = chat(sandbox)
    assert shown["text"] == "Send $20.00 to Neville?" and shown["buttons"] == ["Confirm", "Cancel"]

    bot.call("editMessageReplyMarkup", {"chat_id": person["chat_id"], "message_id": shown["message_id"]})
    assert chat(sandbox)[0]["buttons"] == []
    bot.call("editMessageText", {"chat_id": person["chat_id"], "message_id": shown["message_id"],
                                 "text": "Confirmed"})
    assert chat(sandbox)[0]["text"] == "Confirmed"


def test_the_share_contact_keyboard_and_its_removal(sandbox):
    person = add_person(sandbox)
    bot = client(sandbox)
    bot.send(outbox_message(person["chat_id"], "Share your number", request_contact=True))
    keyboard = api(sandbox, "GET", "/telegram/chat", params={"phone": PHONE})["keyboard"]
    assert keyboard == [[{"text": "Share my phone number", "request_contact": True}]]
    bot.send(outbox_message(person["chat_id"], "Thanks", remove_keyboard=True))
    assert api(sandbox, "GET", "/telegram/chat", params={"phone": PHONE})["keyboard"] is None
    assert [m["text"] for m in chat(sandbox)] == ["Share your number", "Thanks"]


def test_a_blocked_bot_is_permanent_and_blocked(sandbox):
    person = add_person(sandbox)
    api(sandbox, "POST", "/telegram/block", json={"phone": PHONE})
    with pytest.raises(Exception) as raised:
        client(sandbox).send(outbox_message(person["chat_id"], "still there?"))
    assert raised.value.permanent and raised.value.blocked


def test_flood_control_says_when_to_come_back(sandbox):
    person = add_person(sandbox)
    api(sandbox, "POST", "/telegram/limits", json={"per_chat_per_second": 1})
    bot = client(sandbox)
    bot.send(outbox_message(person["chat_id"], "one"))
    with pytest.raises(Exception) as raised:
        bot.send(outbox_message(person["chat_id"], "two"))
    assert raised.value.retry_after >= 1 and not raised.value.permanent


def test_a_wrong_token_is_permanent_and_never_quoted(sandbox):
    person = add_person(sandbox)
    with pytest.raises(Exception) as raised:
        client(sandbox, token="123:not-the-token").send(outbox_message(person["chat_id"], "hello"))
    assert raised.value.permanent and "not-the-token" not in str(raised.value)


@pytest.mark.parametrize("mode", ["down", "error"])
def test_telegram_down_is_worth_a_retry(sandbox, mode):
    person = add_person(sandbox)
    api(sandbox, "POST", "/faults", json={"service": "telegram", "mode": mode})
    with pytest.raises(Exception) as raised:
        client(sandbox).send(outbox_message(person["chat_id"], "hello"))
    assert not raised.value.permanent and raised.value.retry_after is None


def test_a_network_failure_keeps_the_token_out_of_the_error():
    bot = BotApi("123:secret-token", "http://127.0.0.1:9", 1)  # nothing listens on the discard port
    with pytest.raises(Exception) as raised:
        bot.call("sendMessage", {"chat_id": 1, "text": "x"})
    assert "secret-token" not in str(raised.value) and not raised.value.permanent


@pytest.mark.parametrize("status, body, permanent, blocked, retry_after", [
    (429, {"ok": False, "error_code": 429, "parameters": {"retry_after": 7}}, False, False, 7.0),
    (403, {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}, True, True, None),
    (400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}, True, False, None),
    (502, None, False, False, None),
    (500, "<html>oops</html>", False, False, None),
])
def test_api_errors_are_classified(status, body, permanent, blocked, retry_after):
    error = api_error(status, body)
    assert (error.permanent, error.blocked, error.retry_after) == (permanent, blocked, retry_after)
