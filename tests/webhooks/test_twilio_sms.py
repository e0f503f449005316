"""POST /webhooks/twilio/sms: only what Twilio signed for this URL reaches the bot, each message once."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.core import replies
from bot.core.entities import Channel, Registration
from bot.core.payment import State
from tests.webhooks.support import LOCAL, SMS_PATH, WebApp, new_phone, sms_form, twilio_headers

URL = LOCAL + SMS_PATH
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def signed(app: WebApp, form: dict[str, str], url: str = URL) -> dict[str, str]:
    """The X-Twilio-Signature header Twilio would send with this form to `url`."""
    return twilio_headers(app.twilio_token(), url, form)


def unsigned(app: WebApp, form: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """No X-Twilio-Signature."""
    return form, {}


def empty_signature(app: WebApp, form: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """An empty X-Twilio-Signature."""
    return form, {"X-Twilio-Signature": ""}


def wrong_token(app: WebApp, form: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Signed with an auth token that is not ours."""
    return form, twilio_headers("someone-elses-token", URL, form)


def for_another_url(app: WebApp, form: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Signed for another URL."""
    return form, signed(app, form, "https://elsewhere.example" + SMS_PATH)


def body_rewritten(app: WebApp, form: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Signed, then the text changed."""
    return {**form, "Body": "send 900 to Draco"}, signed(app, form)


def sender_rewritten(app: WebApp, form: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Signed, then the sender changed."""
    return {**form, "From": new_phone()}, signed(app, form)


def field_added(app: WebApp, form: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Signed, then a field added."""
    return {**form, "OptOutType": "STOP"}, signed(app, form)


@pytest.mark.parametrize("forge", [unsigned, empty_signature, wrong_token, for_another_url, body_rewritten,
                                   sender_rewritten, field_added], ids=lambda f: f.__name__)
def test_an_sms_twilio_did_not_sign_is_refused_and_has_no_effect(
        app: WebApp, forge: Callable[[WebApp, dict[str, str]], tuple[dict[str, str], dict[str, str]]]) -> None:
    phone = new_phone()
    form, headers = forge(app, sms_form(phone, "hello"))

    response = app.post_twilio(SMS_PATH, form, headers)

    assert response.status_code == 403
    assert app.user(phone) is None and app.user(form["From"]) is None
    assert app.outbox() == []
    assert app.texts_to(phone) == []


def test_a_signed_sms_from_a_stranger_starts_registration_once_however_often_twilio_retries(app: WebApp) -> None:
    phone = new_phone()
    form = sms_form(phone, "hello")

    answers = [app.post_twilio(SMS_PATH, form, signed(app, form)) for _ in range(3)]

    assert [(a.status_code, a.get_data(as_text=True)) for a in answers] == [(200, EMPTY_TWIML)] * 3
    assert answers[0].mimetype == "text/xml"
    user = app.user(phone)
    assert user is not None and user.registration is Registration.PHONE_CODE
    assert [(m.channel, m.recipient, m.text) for m in app.outbox()] == [(Channel.SMS, phone, replies.welcome_sms())]
    codes = app.texts_to(phone)
    assert len(codes) == 1 and any(ch.isdigit() for ch in codes[0])  # one verification code, not three


def test_another_message_from_the_same_person_is_handled(app: WebApp) -> None:
    phone = new_phone()
    first, second = sms_form(phone, "hello"), sms_form(phone, "help")

    app.post_twilio(SMS_PATH, first, signed(app, first))
    app.post_twilio(SMS_PATH, second, signed(app, second))

    assert [m.text for m in app.outbox()] == [replies.welcome_sms(), replies.SMS_HELP]


def test_a_signed_post_that_is_not_an_sms_is_a_bad_request(app: WebApp) -> None:
    form = {"AccountSid": app.sandbox.world.keys.twilio_account_sid, "Body": "hello"}

    response = app.post_twilio(SMS_PATH, form, signed(app, form))

    assert response.status_code == 400
    assert app.outbox() == []


def test_behind_a_proxy_only_a_signature_over_public_url_is_accepted(start_app) -> None:
    app = start_app(public_url="https://pay.example.com/")
    phone = new_phone()
    form = sms_form(phone, "hello")

    local = app.post_twilio(SMS_PATH, form, signed(app, form, URL))

    assert local.status_code == 403
    assert app.user(phone) is None and app.outbox() == []

    public = app.post_twilio(SMS_PATH, form, signed(app, form, "https://pay.example.com" + SMS_PATH))

    assert public.status_code == 200
    assert app.user(phone) is not None
    assert [m.text for m in app.outbox()] == [replies.welcome_sms()]


def test_behind_a_proxy_the_query_string_is_signed_too(start_app) -> None:
    app = start_app(public_url="https://pay.example.com")
    form = sms_form(new_phone(), "hello")
    public = "https://pay.example.com" + SMS_PATH

    without_query = app.client.post(SMS_PATH + "?tenant=1", data=form, headers=signed(app, form, public))
    with_query = app.client.post(SMS_PATH + "?tenant=1", data=form, headers=signed(app, form, public + "?tenant=1"))

    assert (without_query.status_code, with_query.status_code) == (403, 200)


def test_after_stop_nothing_is_sent_until_start(app: WebApp) -> None:
    user = app.ready_user()
    phone = user.phone
    assert phone is not None

    def texts(body: str) -> None:
        form = sms_form(phone, body)
        assert app.post_twilio(SMS_PATH, form, signed(app, form)).status_code == 200

    texts("send 20 to Neville")
    pending = app.outbox()
    assert len(pending) == 1  # "Send $20.00 to Neville? Reply YES ..."

    texts("STOP")
    stored = app.user(phone)
    assert stored is not None and stored.sms_opted_out
    texts("status")
    texts("help")
    texts("send 5 to Luna")

    assert app.outbox() == pending  # Twilio itself confirms a STOP; Payfriend sends nothing more
    with app.container.services.uow() as uow:
        payments = uow.payments.for_payer(user.id, 10)
    assert [(p.payee, p.state) for p in payments] == [("Neville", State.CANCELLED)]  # no one could confirm it

    texts("START")

    assert [m.text for m in app.outbox()[len(pending):]] == [replies.sms_resubscribed()]
    texts("help")
    assert app.outbox()[-1].text == replies.SMS_HELP
