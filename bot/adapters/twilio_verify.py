"""Authenticator port on Twilio Verify v2: Verify SMS (PSD2 Amount/Payee) and Verify Push challenges.

- Phone verification: a Verify SMS to the phone. A PSD2 service demands Amount and Payee on every
  verification (60206), so on such a service the phone check names "0" to "<app> phone check";
  give `phone_service_sid` (a plain service) to avoid that.
- register: creates the Verify Push entity; its identity (random, no PII) is the authenticator id.
  The person's Verify Push app then enrols a push factor for that identity.
- send_push: a challenge on the entity's verified push factor; request ids are "<identity>/<YC sid>"
  (a challenge is read through its entity); see push_request_id / split_push_request_id.
- send_code / check_code: Verify SMS on the PSD2 service. The code is bound to To + Amount + Payee, and
  Twilio re-sends the same code for the same combination within 10 minutes, so Payee carries a short
  payment reference: two payments with the same amount and payee never share a code.
Transport failures, timeouts, 5xx and unexpected answers raise AuthenticatorUnavailable; a wrong,
expired or used-up code is False.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, TypeVar

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from bot.adapters.twilio_webhooks import push_request_id, split_push_request_id
from bot.ports import (
    AppAccess, AuthenticatorUnavailable, CodeBinding, NoAuthenticatorApp, PushBinding, PushRequest, PushState,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
PUSH_STATES = ("pending", "approved", "denied", "expired")
PAYMENT_ID_KEY = "payment_id"  # hidden detail naming the payment
MAX_CHALLENGE_SECONDS = 3600  # Verify Push: expiration at most 60 minutes away
ACCESS_TOKEN_SECONDS = 300  # Verify access tokens live 60 to 300 seconds: the app redeems one at once
_NO_CODE = {20404, 60202, 60200}  # nothing pending (approved, expired, used up), too many checks, bad code


class NoPushFactor(NoAuthenticatorApp):
    """The person has no verified Verify Push factor (the app is not installed): use the SMS code."""


def payee_reference(binding: CodeBinding) -> str:
    """The Payee sent to Verify: the payee plus a short payment reference (per-payment codes)."""
    return f"{binding.payee} (ref {binding.payment_id[-8:]})"


def _fields(details: dict[str, str]) -> list[dict[str, str]]:
    """Details.Fields within Verify's limits: 20 fields, label <= 36, value <= 128 characters."""
    return [{"label": str(k)[:36], "value": str(v)[:128]} for k, v in list(details.items())[:20]]


class VerifyAuthenticator:
    """Twilio Verify behind the Authenticator port."""

    name = "verify"
    enrols_app = True

    def __init__(self, client: Client, service_sid: str, *, phone_service_sid: str | None = None,
                 app_name: str = "Payfriend") -> None:
        self._client = client
        self.service_sid = service_sid
        self.phone_service_sid = phone_service_sid
        self.app_name = app_name
        self._psd2: dict[str, bool] = {}

    # --------------------------------------------------------------------- plumbing

    def _service(self, sid: str | None = None) -> Any:
        """The Verify service resource (the PSD2 one unless `sid` names another)."""
        return self._client.verify.v2.services(sid or self.service_sid)

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        """Run a Verify call; anything but an answer becomes AuthenticatorUnavailable."""
        try:
            return fn()
        except TwilioRestException as exc:
            raise AuthenticatorUnavailable(f"verify {what}: HTTP {exc.status} code {exc.code}") from exc
        except requests.RequestException as exc:
            raise AuthenticatorUnavailable(f"verify {what}: {exc.__class__.__name__}") from exc
        except TwilioException as exc:
            raise AuthenticatorUnavailable(f"verify {what}: {exc}") from exc

    def _check(self, what: str, fn: Callable[[], Any]) -> bool:
        """Run a VerificationCheck: approved -> True; wrong/expired/used-up code -> False."""
        try:
            return self._call(what, fn).status == "approved"
        except AuthenticatorUnavailable as exc:
            cause = exc.__cause__
            if isinstance(cause, TwilioRestException) and (cause.code in _NO_CODE or cause.status == 404):
                log.info("verify %s: code refused (%s %s)", what, cause.status, cause.code)
                return False
            raise

    def _service_psd2(self, sid: str) -> bool:
        """A service's PSD2 flag, fetched once."""
        if sid not in self._psd2:
            self._psd2[sid] = bool(self._call("service fetch", lambda: self._service(sid).fetch()).psd2_enabled)
        return self._psd2[sid]

    def is_psd2_enabled(self) -> bool:
        """Whether the Verify service runs in PSD2 mode (the bot refuses to run otherwise)."""
        self._psd2.pop(self.service_sid, None)
        return self._service_psd2(self.service_sid)

    # --------------------------------------------------------------------- phone verification

    def _phone_terms(self) -> tuple[str, dict[str, str]]:
        """The service for phone checks, and the Amount/Payee a PSD2 service demands."""
        sid = self.phone_service_sid or self.service_sid
        terms = {"amount": "0", "payee": f"{self.app_name} phone check"} if self._service_psd2(sid) else {}
        return sid, terms

    def start_phone_verification(self, phone: str) -> None:
        """Send a Verify SMS code to prove the phone."""
        sid, terms = self._phone_terms()
        self._call("phone verification", lambda: self._service(sid).verifications.create(
            to=phone, channel="sms", **terms))

    def check_phone_verification(self, phone: str, code: str) -> bool:
        """True if `code` is the phone's pending Verify code."""
        sid, terms = self._phone_terms()
        return self._check("phone check", lambda: self._service(sid).verification_checks.create(
            to=phone, code=code, **terms))

    # --------------------------------------------------------------------- push

    def register(self, email: str, phone: str) -> str:
        """Create the person's Verify Push entity; returns its identity (random, no PII)."""
        identity = f"pf-{uuid.uuid4().hex}"
        entity = self._call("entity create", lambda: self._service().entities.create(identity=identity))
        return entity.identity

    def push_factor_sid(self, identity: str) -> str:
        """The sid of the entity's verified push factor; NoPushFactor if there is none."""
        factors = self._call("factor list", lambda: self._service().entities(identity).factors.list(limit=20))
        for factor in factors:
            if factor.factor_type == "push" and factor.status == "verified":
                return factor.sid
        raise NoPushFactor(f"no verified push factor for entity {identity}")

    def has_app(self, authenticator_id: str) -> bool:
        """Whether the person's entity has a verified push factor."""
        try:
            self.push_factor_sid(authenticator_id)
        except NoPushFactor:
            return False
        return True

    def app_access(self, authenticator_id: str) -> AppAccess:
        """A Verify access token with which the person's app enrols a push factor for their entity."""
        name = f"{self.app_name} app"
        token = self._call("access token", lambda: self._service().access_tokens.create(
            identity=authenticator_id, factor_type="push", factor_friendly_name=name, ttl=ACCESS_TOKEN_SECONDS))
        return AppAccess(identity=authenticator_id, service_sid=self.service_sid, token=token.token,
                         factor_friendly_name=name)

    def send_push(self, authenticator_id: str, request: PushRequest) -> str:
        """Create a Verify Push challenge showing payee and amount; returns '<identity>/<YC sid>'."""
        factor_sid = self.push_factor_sid(authenticator_id)
        seconds = max(1, min(int(request.expires_in_seconds), MAX_CHALLENGE_SECONDS))
        # Sent in whole seconds: rounded up, so the challenge never ends before the payment does.
        expires = (datetime.now(timezone.utc) + timedelta(seconds=seconds + 1)).replace(microsecond=0)
        hidden = {str(k): str(v) for k, v in request.hidden.items()}
        hidden[PAYMENT_ID_KEY] = request.payment_id
        challenge = self._call("challenge create", lambda: self._service().entities(authenticator_id).challenges.create(
            factor_sid=factor_sid, expiration_date=expires, details_message=request.message[:256],
            details_fields=_fields(request.details), hidden_details=hidden))
        return push_request_id(authenticator_id, challenge.sid)

    def fetch_push(self, request_id: str) -> dict[str, Any]:
        """The challenge as Verify has it: status, payment id (hidden details), details, dates."""
        identity, sid = split_push_request_id(request_id)
        c = self._call("challenge fetch", lambda: self._service().entities(identity).challenges(sid).fetch())
        return {"status": c.status, "payment_id": (c.hidden_details or {}).get(PAYMENT_ID_KEY),
                "details": c.details, "hidden_details": c.hidden_details, "identity": c.identity,
                "challenge_sid": c.sid, "expiration_date": c.expiration_date, "date_responded": c.date_responded}

    def push_status(self, request_id: str) -> str:
        """pending, approved, denied or expired (re-read from Verify)."""
        return self.read_push(request_id).status

    def read_push(self, request_id: str) -> PushState:
        """The challenge's status, entity identity and hidden payment id (re-read from Verify)."""
        challenge = self.fetch_push(request_id)
        if challenge["status"] not in PUSH_STATES:
            raise AuthenticatorUnavailable(f"verify challenge: unexpected status {challenge['status']!r}")
        return PushState(challenge["status"], PushBinding(challenge["identity"], challenge["payment_id"]))

    # --------------------------------------------------------------------- payment-bound SMS codes

    def send_code(self, authenticator_id: str, phone: str, binding: CodeBinding) -> None:
        """Verify SMS in PSD2 mode: the code is bound to Amount and Payee (with the payment reference)."""
        self._call("code send", lambda: self._service().verifications.create(
            to=phone, channel="sms", amount=binding.amount_text, payee=payee_reference(binding)))

    def check_code(self, authenticator_id: str, phone: str, binding: CodeBinding, code: str) -> bool:
        """True if `code` approves this payment (Amount and Payee repeated exactly)."""
        return self._check("code check", lambda: self._service().verification_checks.create(
            to=phone, code=code, amount=binding.amount_text, payee=payee_reference(binding)))
