"""The webhook app under test and what the tests need around it: people, payments, signed requests."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any

import requests
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from bot.bootstrap import Container
from bot.core.entities import Channel, InboundMessage, OutboxMessage, Payment, Registration, User
from bot.core.payment import Step
from bot.settings import Settings
from sandbox import authy_signing
from sandbox.authy_api import callback_body
from sandbox.server import RunningSandbox
from sandbox.twilio_signing import compute_signature
from sandbox.world import Keys

LOCAL = "http://localhost"  # where Flask's test client sends requests
AUTHY_PATH = "/webhooks/authy"
SMS_PATH = "/webhooks/twilio/sms"
VERIFY_PATH = "/webhooks/twilio/verify"
TELEGRAM_PATH = "/webhooks/telegram"
TELEGRAM_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
HTTP = 5  # seconds: timeout of the tests' own calls to the sandbox

_numbers = itertools.count(1)


def new_phone() -> str:
    """A phone number no other person in this test run has."""
    return f"+1500555{next(_numbers):04d}"


def new_sid(prefix: str = "SM") -> str:
    """A fresh Twilio-style sid."""
    return f"{prefix}{next(_numbers):032x}"


def webhook_settings(database_url: str, sandbox_url: str, **overrides: Any) -> Settings:
    """Settings for a test: no credentials (so: the sandbox's), no .env file."""
    values: dict[str, Any] = {"database_url": database_url, "sandbox_url": sandbox_url, "port": 0,
                              "http_timeout_seconds": 5, **overrides}
    return Settings(_env_file=None, **values)


@dataclass
class WebApp:
    """Payfriend's webhook app built by bootstrap on a sandbox, with a Flask test client in front."""

    container: Container
    client: FlaskClient
    sandbox: RunningSandbox

    # ------------------------------------------------------------ what Payfriend stored

    def outbox(self) -> list[OutboxMessage]:
        """Every message waiting to go out, oldest first (nothing sends them in these tests)."""
        with self.container.services.uow() as uow:
            return uow.outbox.undelivered(10_000)

    def user(self, phone: str) -> User | None:
        """The person with this phone number, as stored."""
        with self.container.services.uow() as uow:
            return uow.users.by_phone(phone)

    def payment(self, payment_id: str) -> Payment:
        """The payment as stored."""
        with self.container.services.uow() as uow:
            payment = uow.payments.get(payment_id)
        assert payment is not None
        return payment

    def texts_to(self, phone: str) -> list[str]:
        """The SMS the sandbox delivered to this phone (codes from the authenticator included)."""
        return [m.body for m in self.sandbox.world.inbox(phone) if m.direction == "inbound"]

    # ------------------------------------------------------------ people and payments

    def ready_user(self, phone: str | None = None, telegram_id: int | None = None) -> User:
        """A registered person (on Telegram too, given an id): known to the authenticator, its app installed."""
        phone = phone or new_phone()
        self.sandbox.world.add_person(phone, "Hermione")
        email = f"hermione{phone[-4:]}@example.com"
        authenticator_id = self.container.authenticator.register(email, phone)
        if self.container.settings.authenticator == "verify":
            response = requests.post(self.sandbox.url + "/twilio/_sandbox/push-factor",
                                     json={"phone": phone, "identity": authenticator_id}, timeout=HTTP)
            response.raise_for_status()
        with self.container.services.uow() as uow:
            user = uow.users.add(User(id=None, created_at=self.container.services.clock.now(), phone=phone,
                                      phone_verified=True, email=email, authenticator_id=authenticator_id,
                                      registration=Registration.READY, telegram_user_id=telegram_id,
                                      telegram_chat_id=telegram_id))
            uow.commit()
        return user

    def says_by_sms(self, phone: str, text: str) -> None:
        """The person's SMS reaches the services directly (not through a webhook)."""
        self.container.services.handle_inbound(InboundMessage(Channel.SMS, phone, f"sms:{new_sid()}", text=text))

    def pushed_payment(self, user: User) -> Payment:
        """The person sends $20 to Neville by SMS and confirms; the push waits in their authenticator app."""
        assert user.phone is not None and user.id is not None
        self.says_by_sms(user.phone, "send 20 to Neville")
        self.says_by_sms(user.phone, "yes")
        with self.container.services.uow() as uow:
            payment = uow.payments.for_payer(user.id, 1)[0]
        assert payment.step is Step.PUSH and payment.push_request_id is not None
        return payment

    def decide_in_app(self, approval_id: str, decision: str) -> None:
        """The person taps approve or deny in the sandbox's authenticator app (no callback URL is set)."""
        response = requests.post(f"{self.sandbox.url}/api/authenticator/{approval_id}/{decision}", timeout=HTTP)
        response.raise_for_status()

    def set_fault(self, service: str, mode: str) -> None:
        """Make a sandbox service fail (or work again with mode 'none')."""
        response = requests.post(self.sandbox.url + "/api/faults", json={"service": service, "mode": mode},
                                 timeout=HTTP)
        response.raise_for_status()

    # ------------------------------------------------------------ Authy callbacks

    def authy_callback(self, uuid: str) -> dict[str, Any]:
        """The JSON body Authy sends for the sandbox approval `uuid`, as it stands now."""
        with self.sandbox.world.lock:
            return callback_body(self.sandbox.world.approvals[uuid], self.sandbox.world.clock())

    def post_authy(self, body: Any, headers: dict[str, str]) -> TestResponse:
        """POST a callback body (a dict is sent as JSON, a str as it is) to the Authy webhook."""
        data = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
        return self.client.post(AUTHY_PATH, data=data, headers=headers, content_type="application/json")

    # ------------------------------------------------------------ Twilio webhooks

    def post_twilio(self, path: str, form: dict[str, str], headers: dict[str, str]) -> TestResponse:
        """POST a form to a Twilio webhook."""
        return self.client.post(path, data=form, headers=headers)

    def twilio_token(self) -> str:
        """The auth token Twilio signs webhooks with."""
        return self.sandbox.world.keys.twilio_auth_token

    def verify_event(self, payment: Payment, event: str = "challenge.approved") -> dict[str, str]:
        """The form of a Verify webhook about the payment's push challenge."""
        assert payment.push_request_id is not None
        identity, challenge_sid = payment.push_request_id.split("/")
        keys = self.sandbox.world.keys
        return {"uuid": new_sid("EV"), "type": event, "account_sid": keys.twilio_account_sid,
                "service_sid": keys.verify_service_sid, "entity_identity": identity,
                "factor_sid": new_sid("YF"), "factor_type": "push", "challenge_sid": challenge_sid}


def authy_headers(api_key: str, body: dict[str, Any], url: str = LOCAL + AUTHY_PATH,
                  nonce: str = "1700000000.000001") -> dict[str, str]:
    """X-Authy-Signature and its nonce, as Authy signs `body` for `url`."""
    return {"X-Authy-Signature": authy_signing.sign(api_key, nonce, "POST", url, body),
            "X-Authy-Signature-Nonce": nonce}


def twilio_headers(auth_token: str, url: str, form: dict[str, str]) -> dict[str, str]:
    """X-Twilio-Signature as Twilio computes it for a form POST to `url`."""
    return {"X-Twilio-Signature": compute_signature(auth_token, url, form)}


def sms_form(phone: str, body: str, sid: str | None = None) -> dict[str, str]:
    """The fields of Twilio's inbound SMS webhook for a text from `phone`."""
    sid, keys = sid or new_sid(), Keys()
    form = {"ToCountry": "US", "SmsMessageSid": sid, "NumMedia": "0", "SmsSid": sid, "SmsStatus": "received",
            "Body": body, "FromCountry": "US", "To": keys.twilio_phone_number, "NumSegments": "1",
            "MessageSid": sid, "AccountSid": keys.twilio_account_sid, "From": phone, "ApiVersion": "2010-04-01"}
    keyword = body.strip().upper()
    if keyword in ("STOP", "START", "HELP"):
        form["OptOutType"] = keyword
    return form


def telegram_message(update_id: int, user_id: int, text: str, chat_type: str = "private") -> dict[str, Any]:
    """A Telegram update: a text message from the person (in their private chat with the bot by default)."""
    person = {"id": user_id, "is_bot": False, "first_name": "Harry"}
    chat_id = user_id if chat_type == "private" else -user_id
    return {"update_id": update_id,
            "message": {"message_id": update_id, "date": 1_700_000_000, "text": text, "from": person,
                        "chat": {"id": chat_id, "type": chat_type, "title": "Gryffindor"}}}


def telegram_press(update_id: int, user_id: int, data: str) -> dict[str, Any]:
    """A Telegram update: the person pressed an inline button carrying `data` under a bot message."""
    person = {"id": user_id, "is_bot": False, "first_name": "Harry"}
    bot = {"id": 1_000_000_001, "is_bot": True, "first_name": "Payfriend"}
    return {"update_id": update_id,
            "callback_query": {"id": f"cq{update_id}", "from": person, "chat_instance": "1", "data": data,
                               "message": {"message_id": 1, "date": 1_700_000_000, "text": "Send?", "from": bot,
                                           "chat": {"id": user_id, "type": "private", "first_name": "Harry"}}}}
