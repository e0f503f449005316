"""POST /webhooks/telegram: the secret token first, then each update handled once."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from werkzeug.test import TestResponse

from bot.core import replies
from bot.core.entities import Channel, OutboxMessage
from bot.core.payment import State, Step
from bot.ports import DeliveryError
from tests.webhooks.support import (TELEGRAM_PATH, TELEGRAM_SECRET_HEADER, WebApp, telegram_message,
                                    telegram_press)

HARRY = 700_000_123  # a Telegram user id


@pytest.fixture
def app(start_app) -> WebApp:
    """The app taking Telegram updates by webhook; its Telegram gateway is built but not started."""
    return start_app(telegram_mode="webhook")


def secret(app: WebApp) -> dict[str, str]:
    """The header Telegram sends with every update to our webhook."""
    token = app.container.telegram_webhook_secret
    assert token
    return {TELEGRAM_SECRET_HEADER: token}


def post_update(app: WebApp, update: Any, headers: dict[str, str] | None = None) -> TestResponse:
    """POST an update as JSON, with the right secret unless other headers are given."""
    return app.client.post(TELEGRAM_PATH, data=json.dumps(update), content_type="application/json",
                           headers=secret(app) if headers is None else headers)


class UnreadableBody(io.BytesIO):
    """A request body of 64 bytes that fails the request if anything reads it."""

    def __init__(self) -> None:
        super().__init__(b"{" * 64)

    def read(self, size: int | None = -1) -> bytes:
        """Reading is what must not happen."""
        raise AssertionError("the body was read before the secret token was checked")

    read1 = readline = read

    def readinto(self, buffer: Any) -> int:
        """Reading is what must not happen."""
        raise AssertionError("the body was read before the secret token was checked")


def test_updates_are_taken_by_a_gateway_that_was_never_started(app: WebApp) -> None:
    gateway = app.container.telegram
    assert gateway is not None and not app.container.polling
    with pytest.raises(DeliveryError, match="not started"):  # it cannot send: build() starts nothing
        gateway.deliver(OutboxMessage(id=None, channel=Channel.TELEGRAM, recipient=str(HARRY), text="hi",
                                      created_at=app.container.services.clock.now()))

    assert post_update(app, telegram_message(1, HARRY, "/start")).status_code == 200
    assert [m.text for m in app.outbox()] == [replies.welcome_telegram()]


@pytest.mark.parametrize("headers", [{}, {TELEGRAM_SECRET_HEADER: ""}, {TELEGRAM_SECRET_HEADER: "not-the-secret"}],
                         ids=["missing", "empty", "wrong"])
def test_an_update_without_the_secret_token_is_refused_and_has_no_effect(app: WebApp,
                                                                         headers: dict[str, str]) -> None:
    response = post_update(app, telegram_message(1, HARRY, "/start"), headers)

    assert response.status_code == 403
    assert app.outbox() == []


def test_the_secret_token_is_checked_before_the_body_is_read(app: WebApp) -> None:
    wrong = {TELEGRAM_SECRET_HEADER: "not-the-secret"}

    not_json = app.client.post(TELEGRAM_PATH, data=b"\x00not json{", content_type="application/json", headers=wrong)
    unreadable = app.client.post(TELEGRAM_PATH, input_stream=UnreadableBody(), content_type="application/json",
                                 headers=wrong)

    assert (not_json.status_code, unreadable.status_code) == (403, 403)


@pytest.mark.parametrize("body", [b"\x00not json{", b"[1, 2]", b'"update"', b'{"not": "an update"}'],
                         ids=["garbage", "list", "string", "no update_id"])
def test_with_the_secret_a_body_that_is_not_an_update_is_a_bad_request(app: WebApp, body: bytes) -> None:
    response = app.client.post(TELEGRAM_PATH, data=body, content_type="application/json", headers=secret(app))

    assert response.status_code == 400
    assert app.outbox() == []


def test_the_same_update_delivered_twice_has_one_effect(app: WebApp) -> None:
    update = telegram_message(1, HARRY, "/start")

    answers = [post_update(app, update) for _ in range(2)]

    assert [(a.status_code, a.get_json()) for a in answers] == [(200, {"ok": True})] * 2
    messages = app.outbox()
    assert [(m.channel, m.recipient, m.text, m.request_contact) for m in messages] == [
        (Channel.TELEGRAM, str(HARRY), replies.welcome_telegram(), True)]

    assert post_update(app, telegram_message(2, HARRY, "/start")).status_code == 200
    assert len(app.outbox()) == 2  # a new update is a new message


def test_a_payment_confirmed_twice_by_a_redelivered_button_press_is_pushed_once(app: WebApp) -> None:
    user = app.ready_user(telegram_id=HARRY)
    assert post_update(app, telegram_message(10, HARRY, "send 20 to Neville")).status_code == 200
    prompt = app.outbox()[-1]
    assert [b.text for b in prompt.buttons[0]] == ["Confirm", "Cancel"]
    confirm = telegram_press(11, HARRY, prompt.buttons[0][0].data)

    answers = [post_update(app, confirm) for _ in range(2)]

    assert [a.status_code for a in answers] == [200, 200]
    with app.container.services.uow() as uow:
        [payment] = uow.payments.for_payer(user.id, 10)
    assert (payment.state, payment.step) == (State.PENDING, Step.PUSH)
    assert [a.id for a in app.sandbox.world.approvals.values()] == [payment.push_request_id]


def test_an_update_from_a_group_is_acknowledged_and_ignored(app: WebApp) -> None:
    response = post_update(app, telegram_message(1, HARRY, "/start", chat_type="group"))

    assert (response.status_code, response.get_json()) == (200, {"ok": True})
    assert app.outbox() == []


def test_a_configured_secret_token_replaces_the_derived_one(start_app) -> None:
    app = start_app(telegram_mode="webhook", telegram_webhook_secret="configured-secret_1")
    derived = start_app(telegram_mode="webhook").container.telegram_webhook_secret
    update = telegram_message(1, HARRY, "/start")

    refused = post_update(app, update, {TELEGRAM_SECRET_HEADER: derived})
    accepted = post_update(app, update, {TELEGRAM_SECRET_HEADER: "configured-secret_1"})

    assert (refused.status_code, accepted.status_code) == (403, 200)
    assert len(app.outbox()) == 1
