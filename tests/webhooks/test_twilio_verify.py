"""POST /webhooks/twilio/verify: a signed event only says a challenge changed; Verify says how."""

from __future__ import annotations

import re
import time

import pytest
from werkzeug.test import TestResponse

from bot.core.entities import Payment
from bot.core.jobs import JobKind, retry_delay
from bot.jobs import drain
from bot.core.payment import State, Step
from bot.ports import PushRequest
from tests.webhooks.support import LOCAL, VERIFY_PATH, WebApp, twilio_headers

URL = LOCAL + VERIFY_PATH


@pytest.fixture
def app(start_app) -> WebApp:
    """The app with Twilio Verify as the authenticator."""
    return start_app(authenticator="verify")


@pytest.fixture
def payment(app: WebApp) -> Payment:
    """A payment whose Verify Push challenge waits in the person's app."""
    return app.pushed_payment(app.ready_user())


def challenge_sid(payment: Payment) -> str:
    """The sid of the payment's push challenge (the sandbox's approval id)."""
    assert payment.push_request_id is not None
    return payment.push_request_id.split("/")[1]


def post_signed(app: WebApp, form: dict[str, str]) -> TestResponse:
    """POST the event signed as Twilio signs it."""
    return app.post_twilio(VERIFY_PATH, form, twilio_headers(app.twilio_token(), URL, form))


def still_waiting(app: WebApp, payment: Payment) -> bool:
    """Whether the payment still waits for its push decision."""
    stored = app.payment(payment.id)
    return (stored.state, stored.step, stored.decided_at) == (State.PENDING, Step.PUSH, None)


@pytest.mark.parametrize("headers", [{}, {"X-Twilio-Signature": ""}, {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}],
                         ids=["missing", "empty", "wrong"])
def test_an_event_twilio_did_not_sign_is_refused_and_changes_nothing(app: WebApp, payment: Payment,
                                                                     headers: dict[str, str]) -> None:
    app.decide_in_app(challenge_sid(payment), "approve")
    messages = len(app.outbox())

    response = app.post_twilio(VERIFY_PATH, app.verify_event(payment), headers)

    assert response.status_code == 403
    assert still_waiting(app, payment)
    assert len(app.outbox()) == messages


def test_an_event_signed_for_another_url_is_refused(app: WebApp, payment: Payment) -> None:
    app.decide_in_app(challenge_sid(payment), "approve")
    form = app.verify_event(payment)

    response = app.post_twilio(VERIFY_PATH, form, twilio_headers(app.twilio_token(), "https://x.example/v", form))

    assert response.status_code == 403
    assert still_waiting(app, payment)


def test_an_approval_event_for_a_challenge_verify_still_has_pending_changes_nothing(app: WebApp,
                                                                                    payment: Payment) -> None:
    messages = len(app.outbox())

    response = post_signed(app, app.verify_event(payment, "challenge.approved"))

    assert (response.status_code, response.get_json()) == (200, {"result": "accepted"})
    assert still_waiting(app, payment)
    assert len(app.outbox()) == messages


def test_a_signed_event_applies_what_verify_says_once(app: WebApp, payment: Payment) -> None:
    app.decide_in_app(challenge_sid(payment), "approve")
    messages = len(app.outbox())
    event = app.verify_event(payment, "challenge.approved")

    first = post_signed(app, event)
    replay = post_signed(app, event)

    assert (first.status_code, first.get_json()) == (200, {"result": "accepted"})
    assert (replay.status_code, replay.get_json()) == (200, {"result": "duplicate"})
    stored = app.payment(payment.id)
    assert (stored.state, stored.decided_by) == (State.APPROVED, "push")
    assert [m.text for m in app.outbox()[messages:]] == ["Sent: $20.00 to Neville."]


def test_the_event_type_is_not_trusted_the_fetched_challenge_is(app: WebApp, payment: Payment) -> None:
    app.decide_in_app(challenge_sid(payment), "deny")

    response = post_signed(app, app.verify_event(payment, "challenge.approved"))

    assert (response.status_code, response.get_json()) == (200, {"result": "accepted"})
    assert app.payment(payment.id).state is State.DENIED


def test_a_later_event_does_not_change_a_decided_payment(app: WebApp, payment: Payment) -> None:
    app.decide_in_app(challenge_sid(payment), "approve")
    assert post_signed(app, app.verify_event(payment)).get_json() == {"result": "accepted"}
    assert app.payment(payment.id).state is State.APPROVED
    messages = len(app.outbox())

    response = post_signed(app, app.verify_event(payment, "challenge.denied"))

    assert (response.status_code, response.get_json()) == (200, {"result": "ignored"})
    assert app.payment(payment.id).state is State.APPROVED
    assert len(app.outbox()) == messages


def test_when_verify_cannot_be_asked_the_job_asks_again_later_and_applies(app: WebApp, payment: Payment) -> None:
    app.decide_in_app(challenge_sid(payment), "approve")
    event = app.verify_event(payment)
    app.set_fault("verify", "down")

    accepted = post_signed(app, event)

    assert (accepted.status_code, accepted.get_json()) == (200, {"result": "accepted"})
    assert still_waiting(app, payment)
    with app.container.services.uow() as uow:
        [job] = uow.jobs.waiting(10)
    assert (job.kind, job.attempts) == (JobKind.FETCH_DECISION, 1) and "503" in (job.last_error or "")

    app.set_fault("verify", "none")
    time.sleep(retry_delay(1) + 0.1)  # the retry falls due
    drain(app.container.services)

    assert app.payment(payment.id).state is State.APPROVED
    with app.container.services.uow() as uow:
        assert uow.jobs.waiting(10) == []


@pytest.mark.parametrize("event", ["factor.verified", "challenge.expired"])
def test_a_signed_event_without_a_decision_is_acknowledged_and_ignored(app: WebApp, payment: Payment,
                                                                       event: str) -> None:
    response = post_signed(app, app.verify_event(payment, event))

    assert (response.status_code, response.get_json()) == (200, {"result": "ignored"})
    assert still_waiting(app, payment)


def test_a_signed_event_for_a_challenge_of_no_payment_is_answered_and_changes_nothing(app: WebApp,
                                                                                      payment: Payment) -> None:
    other = app.ready_user()
    assert other.authenticator_id is not None
    request_id = app.container.authenticator.send_push(other.authenticator_id, PushRequest(
        payment_id="pay_not_ours", message="Log in to another app", details={"App": "another"}))
    app.decide_in_app(request_id.split("/")[1], "approve")
    form = {**app.verify_event(payment), "entity_identity": other.authenticator_id,
            "challenge_sid": request_id.split("/")[1]}
    messages = len(app.outbox())

    response = post_signed(app, form)

    assert (response.status_code, response.get_json()) == (200, {"result": "unknown"})
    assert still_waiting(app, payment)
    assert len(app.outbox()) == messages


def test_a_signed_event_for_a_challenge_verify_does_not_know_is_answered_unknown(app: WebApp,
                                                                                 payment: Payment) -> None:
    response = post_signed(app, {**app.verify_event(payment), "challenge_sid": "YC" + "f" * 32})

    assert (response.status_code, response.get_json()) == (200, {"result": "unknown"})
    assert still_waiting(app, payment)


def test_a_signed_event_with_a_malformed_challenge_sid_is_answered_not_a_server_error(app: WebApp,
                                                                                      payment: Payment) -> None:
    response = post_signed(app, {**app.verify_event(payment), "challenge_sid": "XX123"})

    assert (response.status_code, response.get_json()) == (200, {"result": "unknown"})
    assert still_waiting(app, payment)


def test_the_sign_up_code_comes_from_the_plain_service_and_names_no_amount_or_payee(app: WebApp) -> None:
    phone = "+15005550777"
    app.sandbox.world.add_person(phone, "Luna")
    app.container.authenticator.start_phone_verification(phone)
    (body,) = app.texts_to(phone)
    assert re.fullmatch(r"Your Payfriend verification code is: \d{6}\.", body)
    assert "approve" not in body and "$" not in body
