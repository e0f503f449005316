"""Contract tests: the real twilio client, unmodified, over HTTP against the sandbox's Twilio stand-in.

Every request the client sends here is recorded by the stand-in (with its real Twilio URL) and, after
each test, validated against Twilio's OpenAPI specs (reference/openapi, read in place), together with
every 2xx answer.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator
from urllib.parse import parse_qsl

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from werkzeug.datastructures import MultiDict

from bot.adapters.twilio_client import make_twilio_client, rewrite_url
from bot.adapters.twilio_sms import TwilioSmsMessenger
from bot.adapters.twilio_verify import NoPushFactor, VerifyAuthenticator, payee_reference
from bot.adapters.twilio_webhooks import (parse_inbound_sms, parse_verify_webhook, split_push_request_id,
                                          verify_twilio_signature)
from bot.core.entities import Channel, OutboxMessage
from bot.ports import AuthenticatorUnavailable, CodeBinding, DeliveryError, PushBinding, PushRequest, PushState
from tests.fixtures_openapi import Specs, recorded_twilio_requests

ALICE, BOB = "+15551230001", "+15551230002"
CODE = re.compile(r"code is: (\d{6})")


# ----------------------------------------------------------------------------- environment


@dataclass
class TwilioEnv:
    """A running sandbox plus clients and adapters pointed at it."""

    sandbox: Any
    validated: list[dict[str, Any]] = field(default_factory=list)

    @property
    def world(self) -> Any:
        return self.sandbox.world

    @property
    def keys(self) -> Any:
        return self.world.keys

    def client(self, timeout: float = 3.0, token: str | None = None) -> Any:
        return make_twilio_client(self.keys.twilio_account_sid, token or self.keys.twilio_auth_token,
                                  base_url=self.sandbox.url, timeout=timeout)

    def verify(self, timeout: float = 3.0) -> Any:
        return self.client(timeout).verify.v2.services(self.keys.verify_service_sid)

    def authenticator(self, timeout: float = 3.0) -> VerifyAuthenticator:
        return VerifyAuthenticator(self.client(timeout), self.keys.verify_service_sid)

    def messenger(self, timeout: float = 3.0) -> TwilioSmsMessenger:
        return TwilioSmsMessenger(self.client(timeout), self.keys.twilio_phone_number)

    def control(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """POST to the sandbox: /api/... is the shared control API, anything else the Twilio stand-in's."""
        url = self.sandbox.url + (path if path.startswith("/api/") else f"/twilio/_sandbox/{path}")
        answer = requests.post(url, json=body or {}, timeout=5)
        assert answer.status_code < 300, answer.text
        return answer.json()

    def fault(self, service: str, mode: str) -> None:
        self.control("/api/faults", {"service": service, "mode": mode})

    def logged(self) -> list[dict[str, Any]]:
        return requests.get(f"{self.sandbox.url}/twilio/_sandbox/requests", timeout=5).json()

    def codes(self, phone: str) -> list[str]:
        return [m.group(1) for m in (CODE.search(s.body) for s in self.world.inbox(phone)) if m]

    def install_app(self, phone: str, identity: str) -> dict[str, Any]:
        return self.control("push-factor", {"phone": phone, "identity": identity})

    def decide(self, approval_id: str, approve: bool) -> None:
        """The person taps Approve or Deny in the authenticator app."""
        answer = self.control(f"/api/authenticator/{approval_id}/{'approve' if approve else 'deny'}")
        assert answer["callback"]["sent"], answer

    def person_texts(self, phone: str, body: str) -> dict[str, Any]:
        """The person sends an SMS to the Payfriend number; returns the SMS as the control API shows it."""
        answer = self.control("/api/sms/send", {"phone": phone, "text": body})
        assert answer["delivered"], answer
        return answer["sms"]


@pytest.fixture
def tw(sandbox: Any, twilio_specs: Specs) -> Iterator[TwilioEnv]:
    """The sandbox with its Twilio stand-in; afterwards every request the twilio client sent is checked."""
    env = TwilioEnv(sandbox)
    env.control("/api/faults", {"service": "verify", "mode": "none", "slow_seconds": 2})
    yield env
    for service in ("messaging", "verify"):
        env.fault(service, "none")  # also releases stalled requests
    env.validated = recorded_twilio_requests(env.sandbox.url)
    problems = [p for entry in env.validated for p in twilio_specs.problems(entry)]
    assert env.validated, "the twilio client sent no request in this test"
    assert not problems, "\n".join(problems)


class Receiver:
    """A tiny local webhook receiver that records every POST it gets."""

    def __init__(self) -> None:
        received: list[dict[str, Any]] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                received.append({"path": self.path, "headers": dict(self.headers), "body": body,
                                 "pairs": parse_qsl(body, keep_blank_values=True)})
                payload = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>"
                self.send_response(200)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on 127.0.0.1, stopped after the test."""
    running = Receiver()
    yield running
    running.stop()


def binding(payment_id: str = "pay-0001", payee: str = "Neville", amount: str = "$20.00") -> CodeBinding:
    return CodeBinding(payment_id=payment_id, payee=payee, amount_text=amount, amount_major=amount.strip("$"),
                       currency="USD", message=f"Pay {payee} {amount}")


def sms_out(to: str, text: str) -> OutboxMessage:
    return OutboxMessage(id=1, channel=Channel.SMS, recipient=to, text=text,
                         created_at=datetime.now(timezone.utc))


def push_request(payment_id: str = "pay-0001") -> PushRequest:
    return PushRequest(payment_id=payment_id, message="Approve $20.00 to Neville?",
                       details={"Sending to": "Neville", "Amount": "$20.00"},
                       hidden={"channel": "sms"}, expires_in_seconds=600)


# ----------------------------------------------------------------------------- client plumbing


def test_client_rewrites_every_product_and_ignores_region(tw: TwilioEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWILIO_REGION", "ie1")
    monkeypatch.setenv("TWILIO_EDGE", "dublin")
    client = tw.client()
    assert client.region is None and client.edge is None
    assert client.http_client.timeout == 3.0
    assert rewrite_url("https://verify.twilio.com/v2/Services", "http://h:1/") == "http://h:1/twilio/verify/v2/Services"
    assert rewrite_url("https://api.twilio.com/x?y=1", None) == "https://api.twilio.com/x?y=1"
    client.messages.create(to=ALICE, from_=tw.keys.twilio_phone_number, body="hello")
    assert client.verify.v2.services(tw.keys.verify_service_sid).fetch().psd2_enabled is True
    hosts = {e["host"] for e in tw.logged()}
    assert hosts == {"https://api.twilio.com", "https://verify.twilio.com"}
    headers = tw.logged()[0]["headers"]
    assert headers["X-Twilio-Client"].startswith("python-") and headers["Authorization"].startswith("Basic ")


def test_wrong_credentials_get_401_20003(tw: TwilioEnv) -> None:
    with pytest.raises(TwilioRestException) as err:
        tw.client(token="not-the-token").messages.create(to=ALICE, from_=tw.keys.twilio_phone_number, body="x")
    assert (err.value.status, err.value.code) == (401, 20003)
    answer = requests.post(f"{tw.sandbox.url}/twilio/verify/v2/Services/{tw.keys.verify_service_sid}/Verifications",
                           data={"To": ALICE, "Channel": "sms"}, timeout=5)
    assert answer.status_code == 401 and answer.json()["code"] == 20003
    assert answer.headers["WWW-Authenticate"].startswith("Basic")


# ----------------------------------------------------------------------------- Messaging


def test_messages_create_lands_in_the_inbox(tw: TwilioEnv) -> None:
    client = tw.client()
    msg = client.messages.create(to=ALICE, from_=tw.keys.twilio_phone_number, body="You sent $20.00 to Neville.")
    assert re.fullmatch(r"SM[0-9a-f]{32}", msg.sid)
    assert (msg.to, msg.from_, msg.status, msg.direction) == (ALICE, tw.keys.twilio_phone_number, "queued",
                                                              "outbound-api")
    assert msg.num_segments == "1" and msg.account_sid == tw.keys.twilio_account_sid
    assert msg.date_created.tzinfo is not None
    [sms] = tw.world.inbox(ALICE)
    assert (sms.sid, sms.body, sms.from_) == (msg.sid, "You sent $20.00 to Neville.", tw.keys.twilio_phone_number)
    assert client.messages(msg.sid).fetch().status == "delivered"
    assert client.messages.create(to=ALICE, from_=tw.keys.twilio_phone_number, body="€" * 80).num_segments == "1"
    assert client.messages.create(to=ALICE, from_=tw.keys.twilio_phone_number, body="✓" * 80).num_segments == "2"


@pytest.mark.parametrize("to, body, code", [
    ("555-0100", "hi", 21211), ("+15005550001", "hi", 21211), ("+15005550009", "hi", 21614),
    (ALICE, "x" * 1601, 21617)])
def test_messages_create_rejects_like_twilio(tw: TwilioEnv, to: str, body: str, code: int) -> None:
    with pytest.raises(TwilioRestException) as err:
        tw.client().messages.create(to=to, from_=tw.keys.twilio_phone_number, body=body)
    assert (err.value.status, err.value.code) == (400, code)
    if len(body) > 1600:  # the messenger shortens what Twilio would refuse
        tw.messenger().deliver(sms_out(to, body))
        assert len(tw.world.inbox(to)[-1].body) == 1600
        return
    with pytest.raises(DeliveryError) as failed:
        tw.messenger().deliver(sms_out(to, body))
    assert failed.value.permanent and not failed.value.blocked


def test_messages_from_a_number_not_ours(tw: TwilioEnv) -> None:
    with pytest.raises(TwilioRestException) as err:
        tw.client().messages.create(to=ALICE, from_="+15551239999", body="hi")
    assert err.value.code == 21606


def test_messenger_delivers_and_stop_blocks_until_start(tw: TwilioEnv, receiver: Receiver) -> None:
    tw.world.callbacks["messaging"] = receiver.url("/webhooks/twilio/sms")
    messenger = tw.messenger()
    messenger.deliver(sms_out(ALICE, "Reply with the code"))
    assert tw.world.inbox(ALICE)[-1].body == "Reply with the code"
    tw.person_texts(ALICE, "stop")
    assert "unsubscribed" in tw.world.inbox(ALICE)[-1].body
    assert dict(receiver.received[-1]["pairs"])["OptOutType"] == "STOP"
    with pytest.raises(DeliveryError) as err:
        messenger.deliver(sms_out(ALICE, "are you there?"))
    assert err.value.blocked and err.value.permanent and "21610" in str(err.value)
    tw.person_texts(ALICE, "START")
    messenger.deliver(sms_out(ALICE, "welcome back"))
    assert tw.world.inbox(ALICE)[-1].body == "welcome back"
    with pytest.raises(DeliveryError) as wrong:
        messenger.deliver(OutboxMessage(id=2, channel=Channel.TELEGRAM, recipient="1", text="x",
                                        created_at=datetime.now(timezone.utc)))
    assert wrong.value.permanent


# ----------------------------------------------------------------------------- inbound SMS webhook


def test_inbound_sms_is_signed_over_the_exact_url(tw: TwilioEnv, receiver: Receiver) -> None:
    url = receiver.url("/webhooks/twilio/sms?tenant=1")
    tw.world.callbacks["messaging"] = url
    tw.messenger().deliver(sms_out(BOB, "warm-up"))  # at least one client request in this test
    sms = tw.person_texts(BOB, "send $20 to Neville")
    [got] = receiver.received
    assert got["path"] == "/webhooks/twilio/sms?tenant=1"
    form = MultiDict(got["pairs"])
    expected = {"MessageSid", "SmsSid", "SmsMessageSid", "AccountSid", "From", "To", "Body", "NumMedia",
                "NumSegments", "ReferralNumMedia", "SmsStatus", "ApiVersion", "FromCity", "FromState", "FromZip",
                "FromCountry", "ToCity", "ToState", "ToZip", "ToCountry"}
    assert expected <= set(form)
    assert (form["MessageSid"], form["From"], form["To"], form["Body"], form["SmsStatus"]) == (
        sms["sid"], BOB, tw.keys.twilio_phone_number, "send $20 to Neville", "received")
    signature = got["headers"]["X-Twilio-Signature"]
    token = tw.keys.twilio_auth_token
    assert verify_twilio_signature(token, url, form, signature)
    assert verify_twilio_signature(token, url, got["pairs"], signature)
    assert verify_twilio_signature(token, url, form.to_dict(), signature)
    tampered = MultiDict(got["pairs"])
    tampered["Body"] = "send $2000 to Mallory"
    assert not verify_twilio_signature(token, url, tampered, signature)
    assert not verify_twilio_signature(token, url.replace("tenant=1", "tenant=2"), form, signature)
    assert not verify_twilio_signature("another-token", url, form, signature)
    assert not verify_twilio_signature(token, url, form, None)
    extra = MultiDict(got["pairs"])
    extra.add("Body", "second value")  # a repeated key: every value is signed
    assert not verify_twilio_signature(token, url, extra, signature)
    parsed = parse_inbound_sms(form)
    assert parsed["dedupe_key"] == f"sms:{sms['sid']}" and parsed["from"] == BOB and parsed["num_media"] == 0
    with pytest.raises(ValueError):
        parse_inbound_sms({"Body": "hi"})


# ----------------------------------------------------------------------------- Verify SMS


def test_verify_sms_plain_phone_verification(tw: TwilioEnv) -> None:
    tw.control("config", {"psd2_enabled": False})
    auth = tw.authenticator()
    assert auth.is_psd2_enabled() is False
    auth.start_phone_verification(ALICE)
    [code] = tw.codes(ALICE)
    assert tw.world.inbox(ALICE)[-1].body == f"Your Payfriend verification code is: {code}."
    assert auth.check_phone_verification(ALICE, "000000" if code != "000000" else "111111") is False
    assert auth.check_phone_verification(ALICE, code) is True
    assert auth.check_phone_verification(ALICE, code) is False  # deleted once approved
    with pytest.raises(TwilioRestException) as err:
        tw.verify().verification_checks.create(to=ALICE, code=code)
    assert (err.value.status, err.value.code) == (404, 20404)


def test_phone_verification_on_a_psd2_service_names_its_purpose(tw: TwilioEnv) -> None:
    auth = tw.authenticator()
    auth.start_phone_verification(ALICE)
    assert "phone check" in tw.world.inbox(ALICE)[-1].body
    assert auth.check_phone_verification(ALICE, tw.codes(ALICE)[-1]) is True


def test_psd2_verification_and_check(tw: TwilioEnv) -> None:
    verify = tw.verify()
    v = verify.verifications.create(to=ALICE, channel="sms", amount="$20.00", payee="Neville")
    assert re.fullmatch(r"VE[0-9a-f]{32}", v.sid)
    assert (v.status, v.amount, v.payee, v.channel, v.valid) == ("pending", "$20.00", "Neville", "sms", False)
    body = tw.world.inbox(ALICE)[-1].body
    assert "$20.00" in body and "Neville" in body
    code = tw.codes(ALICE)[-1]
    other = verify.verification_checks.create(to=ALICE, code=code, amount="$20.00", payee="Mallory")
    assert (other.status, other.valid) == ("pending", False)  # same code, different payee: refused
    changed = verify.verification_checks.create(to=ALICE, code=code, amount="$2000.00", payee="Neville")
    assert changed.status == "pending"
    ok = verify.verification_checks.create(to=ALICE, code=code, amount="$20.00", payee="Neville")
    assert (ok.status, ok.valid, ok.amount, ok.payee) == ("approved", True, "$20.00", "Neville")
    assert [e["status"] for e in tw.logged() if e["path"].endswith("VerificationCheck")] == [200, 200, 200]
    with pytest.raises(TwilioRestException) as err:
        verify.verification_checks.create(to=ALICE, code=code, amount="$20.00", payee="Neville")
    assert (err.value.status, err.value.code) == (404, 20404)
    with pytest.raises(TwilioRestException) as gone:
        verify.verifications(v.sid).fetch()
    assert gone.value.status == 404


def test_psd2_requires_amount_and_payee_and_sms(tw: TwilioEnv) -> None:
    verify = tw.verify()
    for kwargs in ({}, {"amount": "$20.00"}, {"payee": "Neville"}):
        with pytest.raises(TwilioRestException) as err:
            verify.verifications.create(to=ALICE, channel="sms", **kwargs)
        assert (err.value.status, err.value.code) == (400, 60206)
    with pytest.raises(TwilioRestException) as call:
        verify.verifications.create(to=ALICE, channel="call", amount="$20.00", payee="Neville")
    assert call.value.code == 60214
    verify.verifications.create(to=ALICE, channel="sms", amount="$20.00", payee="Neville")
    with pytest.raises(TwilioRestException) as check:
        verify.verification_checks.create(to=ALICE, code=tw.codes(ALICE)[-1])
    assert (check.value.status, check.value.code) == (400, 60206)


def test_five_checks_then_60202_then_404(tw: TwilioEnv) -> None:
    verify = tw.verify()
    verify.verifications.create(to=ALICE, channel="sms", amount="$5.00", payee="Luna")
    code = tw.codes(ALICE)[-1]
    wrong = "123456" if code != "123456" else "654321"
    for _ in range(5):
        assert verify.verification_checks.create(to=ALICE, code=wrong, amount="$5.00", payee="Luna").status == "pending"
    with pytest.raises(TwilioRestException) as err:
        verify.verification_checks.create(to=ALICE, code=code, amount="$5.00", payee="Luna")  # even the right one
    assert (err.value.status, err.value.code) == (429, 60202)
    with pytest.raises(TwilioRestException) as gone:
        verify.verification_checks.create(to=ALICE, code=code, amount="$5.00", payee="Luna")
    assert (gone.value.status, gone.value.code) == (404, 20404)


def test_five_sends_then_60203_same_code(tw: TwilioEnv) -> None:
    verify = tw.verify()
    sids = {verify.verifications.create(to=ALICE, channel="sms", amount="$5.00", payee="Luna").sid for _ in range(5)}
    assert len(sids) == 1
    assert len(set(tw.codes(ALICE))) == 1 and len(tw.codes(ALICE)) == 5  # re-sent, same code
    with pytest.raises(TwilioRestException) as err:
        verify.verifications.create(to=ALICE, channel="sms", amount="$5.00", payee="Luna")
    assert (err.value.status, err.value.code) == (429, 60203)
    other = verify.verifications.create(to=ALICE, channel="sms", amount="$6.00", payee="Luna")
    assert other.sid not in sids and len(other.send_code_attempts) == 1


def test_expired_and_canceled_verifications_are_gone(tw: TwilioEnv) -> None:
    verify = tw.verify()
    v = verify.verifications.create(to=ALICE, channel="sms", amount="$5.00", payee="Luna")
    assert verify.verifications(v.sid).update(status="canceled").status == "canceled"
    with pytest.raises(TwilioRestException) as canceled:
        verify.verification_checks.create(to=ALICE, code=tw.codes(ALICE)[-1], amount="$5.00", payee="Luna")
    assert canceled.value.code == 20404
    tw.control("config", {"verification_ttl": 0.0})
    verify.verifications.create(to=BOB, channel="sms", amount="$5.00", payee="Luna")
    with pytest.raises(TwilioRestException) as expired:
        verify.verification_checks.create(verification_sid=v.sid, code=tw.codes(BOB)[-1], amount="$5.00",
                                          payee="Luna")
    assert expired.value.code == 20404


def test_adapter_codes_are_bound_to_one_payment(tw: TwilioEnv) -> None:
    auth = tw.authenticator()
    x, y = binding("pay-X0000001"), binding("pay-Y0000002")  # same amount, same payee
    auth.send_code("", ALICE, x)
    auth.send_code("", ALICE, y)
    code_x, code_y = tw.codes(ALICE)
    assert payee_reference(x) != payee_reference(y)  # so Verify opens two verifications, not one re-sent
    assert code_x != code_y
    assert payee_reference(x) in tw.world.inbox(ALICE)[0].body and "$20.00" in tw.world.inbox(ALICE)[0].body
    assert payee_reference(y) in tw.world.inbox(ALICE)[1].body
    assert auth.check_code("", ALICE, y, code_x) is False  # X's code does not approve Y
    assert auth.check_code("", ALICE, x, code_x) is True
    assert auth.check_code("", ALICE, x, code_x) is False  # used
    assert auth.check_code("", ALICE, y, code_y) is True


def test_is_psd2_enabled_follows_the_service(tw: TwilioEnv) -> None:
    auth = tw.authenticator()
    assert auth.is_psd2_enabled() is True
    tw.control("config", {"psd2_enabled": False})
    assert auth.is_psd2_enabled() is False
    service = tw.client().verify.v2.services.create(friendly_name="Payfriend phone", psd2_enabled=False)
    assert service.psd2_enabled is False and service.sid.startswith("VA")
    plain = VerifyAuthenticator(tw.client(), tw.keys.verify_service_sid, phone_service_sid=service.sid)
    plain.start_phone_verification(BOB)
    assert tw.world.inbox(BOB)[-1].body.endswith(f"{tw.codes(BOB)[-1]}.")


# ----------------------------------------------------------------------------- Verify Push


def test_push_register_factor_challenge_fetch_and_approve(tw: TwilioEnv, receiver: Receiver) -> None:
    url = receiver.url("/webhooks/twilio/verify")
    tw.world.callbacks["verify"] = url
    auth = tw.authenticator()
    identity = auth.register("alice@example.com", ALICE)
    assert re.fullmatch(r"[A-Za-z0-9]+(-[A-Za-z0-9]+)*", identity) and 8 <= len(identity) <= 64
    assert "alice" not in identity and ALICE[1:] not in identity
    with pytest.raises(NoPushFactor):
        auth.send_push(identity, push_request())  # app not installed yet
    factor = tw.install_app(ALICE, identity)
    assert factor["status"] == "verified" and factor["sid"].startswith("YF")
    request_id = auth.send_push(identity, push_request("pay-0042"))
    assert split_push_request_id(request_id)[0] == identity
    challenge_sid = split_push_request_id(request_id)[1]
    [approval] = [a for a in tw.world.approvals.values() if a.phone == ALICE]
    assert approval.id == challenge_sid and approval.provider == "verify"
    assert approval.message == "Approve $20.00 to Neville?"
    assert approval.details == {"Sending to": "Neville", "Amount": "$20.00"}
    assert approval.hidden_details == {"channel": "sms", "payment_id": "pay-0042"}
    assert 590 <= approval.expires_at - approval.created_at <= 610
    assert auth.push_status(request_id) == "pending"
    fetched = tw.verify().entities(identity).challenges(challenge_sid).fetch()
    assert fetched.details["fields"] == [{"label": "Sending to", "value": "Neville"},
                                         {"label": "Amount", "value": "$20.00"}]
    assert fetched.hidden_details["payment_id"] == "pay-0042" and fetched.factor_sid == factor["sid"]
    assert fetched.expiration_date > datetime.now(timezone.utc) + timedelta(minutes=9)
    tw.decide(challenge_sid, approve=True)
    [hook] = receiver.received
    form = MultiDict(hook["pairs"])
    assert verify_twilio_signature(tw.keys.twilio_auth_token, url, form, hook["headers"]["X-Twilio-Signature"])
    event = parse_verify_webhook(form)
    assert (event["type"], event["decision"], event["challenge_sid"], event["entity_identity"]) == (
        "challenge.approved", "approved", challenge_sid, identity)
    assert event["request_id"] == request_id and event["factor_type"] == "push"
    assert event["dedupe_key"] == f"verify:{form['uuid']}"
    assert auth.push_status(request_id) == "approved"
    assert auth.read_push(request_id) == PushState("approved", PushBinding(identity, "pay-0042"))
    details = auth.fetch_push(request_id)
    assert details["payment_id"] == "pay-0042" and details["date_responded"] is not None


def test_push_deny_sends_challenge_denied(tw: TwilioEnv, receiver: Receiver) -> None:
    tw.world.callbacks["verify"] = receiver.url("/verify")
    auth = tw.authenticator()
    identity = auth.register("bob@example.com", BOB)
    tw.install_app(BOB, identity)
    request_id = auth.send_push(identity, push_request())
    tw.decide(split_push_request_id(request_id)[1], approve=False)
    assert parse_verify_webhook(dict(receiver.received[-1]["pairs"]))["decision"] == "denied"
    assert auth.push_status(request_id) == "denied"


def test_push_expires_without_a_callback(tw: TwilioEnv, receiver: Receiver) -> None:
    tw.world.callbacks["verify"] = receiver.url("/verify")
    auth = tw.authenticator()
    identity = auth.register("c@example.com", ALICE)
    tw.install_app(ALICE, identity)
    request_id = auth.send_push(identity, push_request())
    approval = tw.world.approvals[split_push_request_id(request_id)[1]]
    approval.expires_at = tw.world.clock() - 1
    assert auth.push_status(request_id) == "expired"
    assert receiver.received == []  # Verify has no challenge.expired event


def test_push_sdk_path_entities_factors_challenges(tw: TwilioEnv) -> None:
    verify = tw.verify()
    identity = "user-12345678"
    entity = verify.entities.create(identity=identity)
    assert entity.identity == identity and entity.sid.startswith("YE")
    assert verify.entities(identity).fetch().sid == entity.sid
    factor = verify.entities(identity).new_factors.create(
        friendly_name="Alice's phone", factor_type="push", binding_alg="ES256",
        binding_public_key=base64.b64encode(b"k" * 65).decode(), config_app_id="com.payfriend.app",
        config_notification_platform="fcm", config_notification_token="t" * 40, config_sdk_version="1.0.0",
        metadata={"phone": ALICE})
    assert factor.status == "unverified" and factor.binding["alg"] == "ES256"
    expires = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(minutes=5)
    with pytest.raises(TwilioRestException) as unverified:
        verify.entities(identity).challenges.create(factor_sid=factor.sid, details_message="Pay?",
                                                    expiration_date=expires)
    assert unverified.value.status == 400
    assert verify.entities(identity).factors(factor.sid).update(auth_payload="123456").status == "verified"
    assert [f.sid for f in verify.entities(identity).factors.list()] == [factor.sid]
    created = verify.entities(identity).challenges.create(
        factor_sid=factor.sid, details_message="Pay Neville $20.00?", expiration_date=expires,
        details_fields=[{"label": "Payee", "value": "Neville"}], hidden_details={"payment_id": "pay-42"})
    assert created.status == "pending" and created.details["message"] == "Pay Neville $20.00?"
    assert created.expiration_date == expires
    assert tw.world.approvals[created.sid].phone == ALICE
    assert [c.sid for c in verify.entities(identity).challenges.list(status="pending")] == [created.sid]
    with pytest.raises(TwilioRestException) as missing:
        verify.entities(identity).challenges("YC" + "0" * 32).fetch()
    assert (missing.value.status, missing.value.code) == (404, 20404)


@pytest.mark.parametrize("kwargs", [
    {"details_message": "x" * 257},
    {"details_fields": [{"label": "L" * 37, "value": "v"}]},
    {"details_fields": [{"label": "Payee", "value": "v" * 129}]},
    {"details_fields": [{"label": f"f{i}", "value": "v"} for i in range(21)]},
    {"hidden_details": {"payment_id": 42}},
    {"expires_in": timedelta(minutes=61)},
    {"expires_in": timedelta(minutes=-1)},
])
def test_challenge_limits(tw: TwilioEnv, kwargs: dict[str, Any]) -> None:
    identity = "limits-12345678"
    factor = tw.install_app(ALICE, identity)
    args = {"factor_sid": factor["sid"], "details_message": "Pay?", **kwargs}
    if "expires_in" in args:  # relative to now, not to collection time
        args["expiration_date"] = datetime.now(timezone.utc) + args.pop("expires_in")
    with pytest.raises(TwilioRestException) as err:
        tw.verify().entities(identity).challenges.create(**args)
    assert (err.value.status, err.value.code) == (400, 60200)


def test_registered_verify_webhook_gets_the_event(tw: TwilioEnv, receiver: Receiver) -> None:
    verify = tw.verify()
    hook = verify.webhooks.create(friendly_name="payfriend", event_types=["challenge.approved", "challenge.denied"],
                                  webhook_url=receiver.url("/console-hook"))
    assert hook.status == "enabled" and [w.sid for w in verify.webhooks.list()] == [hook.sid]
    auth = tw.authenticator()
    identity = auth.register("d@example.com", BOB)
    tw.install_app(BOB, identity)
    request_id = auth.send_push(identity, push_request())
    tw.decide(split_push_request_id(request_id)[1], approve=True)
    assert [r["path"] for r in receiver.received] == ["/console-hook"]


# ----------------------------------------------------------------------------- faults


@pytest.mark.parametrize("mode, status", [("down", 503), ("error", 500)])
def test_messaging_down_and_error(tw: TwilioEnv, mode: str, status: int) -> None:
    tw.fault("messaging", mode)
    with pytest.raises(TwilioRestException) as err:
        tw.client().messages.create(to=ALICE, from_=tw.keys.twilio_phone_number, body="hi")
    assert (err.value.status, err.value.code) == (status, {503: 20503, 500: 20500}[status])
    answer = tw.logged()[-1]
    body = json.loads(answer["response"])
    assert set(body) == {"code", "message", "more_info", "status"} and body["status"] == status
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{body['code']}"
    with pytest.raises(DeliveryError) as failed:
        tw.messenger().deliver(sms_out(ALICE, "hi"))
    assert not failed.value.permanent and not failed.value.blocked
    assert tw.world.inbox(ALICE) == []


def test_messaging_slow_times_out(tw: TwilioEnv) -> None:
    tw.fault("messaging", "slow")
    with pytest.raises(DeliveryError) as failed:
        tw.messenger(timeout=0.3).deliver(sms_out(ALICE, "hi"))
    assert not failed.value.permanent and "timeout" in str(failed.value)
    assert [e["path"].endswith("Messages.json") for e in tw.logged()] == [True]  # it did reach Twilio


@pytest.mark.parametrize("mode", ["down", "slow", "error"])
def test_verify_faults_make_the_authenticator_unavailable(tw: TwilioEnv, mode: str) -> None:
    auth = tw.authenticator(timeout=0.3)
    identity = auth.register("e@example.com", ALICE)
    tw.install_app(ALICE, identity)
    request_id = auth.send_push(identity, push_request())
    tw.fault("verify", mode)
    calls = [lambda: auth.is_psd2_enabled(), lambda: auth.register("f@example.com", BOB),
             lambda: auth.send_push(identity, push_request()), lambda: auth.push_status(request_id),
             lambda: auth.send_code(identity, ALICE, binding()),
             lambda: auth.check_code(identity, ALICE, binding(), "123456"),
             lambda: auth.start_phone_verification(ALICE), lambda: auth.check_phone_verification(ALICE, "123456")]
    for call in calls[: 2 if mode == "slow" else None]:  # a stalled call costs a timeout each
        with pytest.raises(AuthenticatorUnavailable):
            call()


@pytest.mark.parametrize("mode, expected", [("drop-callback", 0), ("duplicate-callback", 2), ("none", 1)])
def test_inbound_sms_callback_faults(tw: TwilioEnv, receiver: Receiver, mode: str, expected: int) -> None:
    tw.world.callbacks["messaging"] = receiver.url("/sms")
    tw.messenger().deliver(sms_out(ALICE, "your balance"))
    tw.fault("messaging", mode)
    sms = tw.person_texts(ALICE, "status")
    assert len(receiver.received) == expected
    assert {dict(r["pairs"])["MessageSid"] for r in receiver.received} <= {sms["sid"]}


@pytest.mark.parametrize("mode, expected", [("drop-callback", 0), ("duplicate-callback", 2)])
def test_verify_callback_faults(tw: TwilioEnv, receiver: Receiver, mode: str, expected: int) -> None:
    tw.world.callbacks["verify"] = receiver.url("/verify")
    auth = tw.authenticator()
    identity = auth.register("g@example.com", ALICE)
    tw.install_app(ALICE, identity)
    request_id = auth.send_push(identity, push_request())
    tw.fault("verify", mode)
    tw.decide(split_push_request_id(request_id)[1], approve=True)
    assert len(receiver.received) == expected
    assert len({dict(r["pairs"])["uuid"] for r in receiver.received}) == min(expected, 1)  # a redelivery
    tw.fault("verify", "none")
    assert auth.push_status(request_id) == "approved"  # re-fetching the challenge tells the truth
