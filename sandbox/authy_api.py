"""The Authy stand-in: the REST endpoints Payfriend uses, and signed OneTouch callbacks.

Mounted by the sandbox app (usually at /authy); a client points `api_uri` at that prefix. It speaks
the contract in the Authy reference, quirks included: compact JSON (the client looks for the literal
`"token":"is valid"`), HTTP 200 for every success, errors with `errors.message` and a string
`error_code`, `force` accepted as True/true/1.

Knobs read from the world at request time (so a test can change them on a running sandbox):
`world.slow_seconds` (how long the "slow" fault stalls a request; world.stall() is used when the
world has it, and 10 s is the fallback) and `world.callback_timeout_seconds` (timeout of each
callback POST, default 5 s).
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import re
import secrets
import threading
import time
import uuid as uuidlib
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

import requests
from flask import Blueprint, Response, request

from sandbox import authy_signing
from sandbox.world import Approval, World

log = logging.getLogger(__name__)

SERVICE = "authy"
APP_NAME = "Payfriend"  # the application's name in the Authy console
SMS_SENDER = "Authy"
DEFAULT_SLOW_SECONDS = 10.0
DEFAULT_CALLBACK_TIMEOUT_SECONDS = 5.0
DEFAULT_APPROVAL_SECONDS = 86400
SMS_TOKEN_DIGITS = 7
SMS_TOKEN_SECONDS = 600
PHONE_CODE_SECONDS = 600
PHONE_CODE_MAX_ATTEMPTS = 5
MAX_DETAIL_KEY = 20
LOGO_RESOLUTIONS = ("default", "low", "med", "high")
TRUTHY_FORCE = ("True", "true", "1")


@dataclass
class AuthyUser:
    """A user registered through users/new."""

    authy_id: int
    email: str
    country_code: int
    cellphone: str  # national number, digits only
    confirmed: bool = False

    @property
    def phone(self) -> str:
        """The E.164 number."""
        return f"+{self.country_code}{self.cellphone}"


@dataclass
class _PhoneCode:
    """A pending phone verification (Verify v1)."""

    code: str
    expires_at: float
    attempts: int = 0


@dataclass
class _State:
    """What the Authy stand-in remembers beyond the shared world."""

    users: dict[int, AuthyUser] = field(default_factory=dict)
    by_phone: dict[str, int] = field(default_factory=dict)
    tokens: dict[tuple[int, str], tuple[str, float]] = field(default_factory=dict)  # (id, action)
    phone_codes: dict[str, _PhoneCode] = field(default_factory=dict)
    last_nonce: float = 0.0
    nonce_lock: threading.Lock = field(default_factory=threading.Lock)

    def snapshot(self) -> dict[str, Any]:
        """Users, pending codes and the last nonce as plain JSON data."""
        return {"users": [asdict(u) for u in self.users.values()],
                "tokens": [[authy_id, action, code, expires] for (authy_id, action), (code, expires)
                           in self.tokens.items()],
                "phone_codes": {phone: asdict(c) for phone, c in self.phone_codes.items()},
                "last_nonce": self.last_nonce}

    def restore(self, data: dict[str, Any]) -> None:
        """Take over a snapshot."""
        users = {u["authy_id"]: AuthyUser(**u) for u in data["users"]}
        tokens = {(authy_id, action): (code, expires) for authy_id, action, code, expires in data["tokens"]}
        phone_codes = {phone: _PhoneCode(**c) for phone, c in data["phone_codes"].items()}
        self.users, self.tokens, self.phone_codes = users, tokens, phone_codes
        self.by_phone = {u.phone: u.authy_id for u in users.values()}
        self.last_nonce = max(self.last_nonce, float(data["last_nonce"]))


# ----------------------------------------------------------------------------- responses


def _json(payload: dict[str, Any], status: int = 200) -> Response:
    """A compact JSON response, as Authy sends them."""
    return Response(json.dumps(payload, separators=(",", ":")), status=status, mimetype="application/json")


def _ok(**fields: Any) -> Response:
    """HTTP 200 with `success: true`."""
    return _json({**fields, "success": True})


def _error(status: int, code: str, message: str, **fields: Any) -> Response:
    """An Authy error body: message, errors.message (always filled) and a string error_code."""
    body = {"message": message, "success": False, "errors": {"message": message, **fields},
            "error_code": code, **fields}
    return _json(body, status)


def _user_not_found() -> Response:
    """404 for an Authy id this application does not know."""
    return _error(404, "60000", "User not found.")


def _iso(ts: float | None) -> str | None:
    """A timestamp as ISO 8601 UTC with milliseconds, or None."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _digits(value: Any) -> str | None:
    """An int or a phone-like string as its digits; None if it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value) if value >= 0 else None
    if isinstance(value, str):
        text = re.sub(r"[\s().-]", "", value).lstrip("+")
        return text if text.isascii() and text.isdigit() else None
    return None


def _masked(user: AuthyUser) -> str:
    """The cellphone as Authy shows it back: +1-XXX-XXX-XX67."""
    return f"+{user.country_code}-XXX-XXX-XX{user.cellphone[-2:]}"


def _new_code(digits: int) -> str:
    """A random numeric code with this many digits."""
    return "".join(secrets.choice("0123456789") for _ in range(digits))


def _stall(world: World) -> None:
    """Stall like a slow service: world.stall() when the world has it, else sleep slow_seconds."""
    stall = getattr(world, "stall", None)
    if callable(stall):
        stall()
    else:
        time.sleep(float(getattr(world, "slow_seconds", DEFAULT_SLOW_SECONDS)))


def _forget_codes(world: World, state: _State) -> None:
    """On a world reset: drop pending codes (registrations stay, like the Authy account's users)."""
    with world.lock:
        state.tokens.clear()
        state.phone_codes.clear()


# ----------------------------------------------------------------------------- the blueprint


def create_blueprint(world: World) -> Blueprint:
    """The Authy endpoints over `world`; also registers world.on_decision["authy"] (callbacks)."""
    state = _State()
    bp = Blueprint("authy", __name__)
    world.on_decision[SERVICE] = lambda approval: _on_decision(world, state, approval)
    world.stand_ins[SERVICE] = state
    if isinstance(getattr(world, "on_reset", None), list):
        world.on_reset.append(lambda: _forget_codes(world, state))

    @bp.before_request
    def _faults_and_key() -> Response | None:
        mode = world.fault(SERVICE)
        if mode == "down":
            return _error(503, "60000", "Service unavailable")
        if mode == "error":
            return _error(500, "60000", "An error occurred")
        if mode == "slow":
            _stall(world)
        given = request.headers.get("X-Authy-API-Key", "")
        if not hmac.compare_digest(given.encode("utf-8"), world.keys.authy_api_key.encode("utf-8")):
            return _error(401, "60001", "Invalid API key")
        return None

    def find_user(authy_id: str) -> AuthyUser | None:
        return state.users.get(int(authy_id)) if authy_id.isascii() and authy_id.isdigit() else None

    def has_app(user: AuthyUser) -> bool:
        return user.phone in world.people  # every sandbox person carries the authenticator app

    @bp.post("/protected/json/users/new")
    def users_new() -> Response:
        body = request.get_json(silent=True)
        user = body.get("user") if isinstance(body, dict) else None
        if not isinstance(user, dict):
            return _error(400, "60002", "Invalid request")
        email = user.get("email")
        cellphone, country = _digits(user.get("cellphone")), _digits(user.get("country_code"))
        problems = {}
        if not isinstance(email, str) or not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
            problems["email"] = "is invalid"
        if not cellphone or not 4 <= len(cellphone) <= 14:
            problems["cellphone"] = "is invalid"
        if not country or not 1 <= len(country) <= 3 or (cellphone and len(country + cellphone) > 15):
            problems["country_code"] = "is invalid"
        if problems:
            return _error(400, "60027", "User was not valid", **problems)
        with world.lock:
            phone = f"+{int(country)}{cellphone}"
            authy_id = state.by_phone.get(phone)
            if authy_id is None:
                authy_id = 100_000 + world.next_id()
                state.by_phone[phone] = authy_id
                state.users[authy_id] = AuthyUser(authy_id, email, int(country), cellphone)
            else:
                state.users[authy_id].email = email
            if body.get("send_install_link_via_sms") is True:
                world.deliver_sms(phone, SMS_SENDER, "Install the Authy app to protect your account.")
        return _json({"message": "User created successfully.", "user": {"id": authy_id}, "success": True})

    @bp.get("/protected/json/users/<authy_id>/status")
    def users_status(authy_id: str) -> Response:
        with world.lock:
            user = find_user(authy_id)
            if user is None:
                return _user_not_found()
            app = has_app(user)
            status = {"authy_id": user.authy_id, "confirmed": user.confirmed, "registered": app,
                      "country_code": user.country_code, "phone_number": f"XXX-XXX-{user.cellphone[-4:]}",
                      "devices": ["iphone"] if app else [], "has_hard_token": False}
        return _json({"status": status, "message": "User status.", "success": True})

    @bp.get("/protected/json/sms/<authy_id>")
    def sms(authy_id: str) -> Response:
        force = request.args.get("force", "") in TRUTHY_FORCE
        action = request.args.get("action", "")
        action_message = request.args.get("action_message", "")
        with world.lock:
            user = find_user(authy_id)
            if user is None:
                return _user_not_found()
            if not force and has_app(user):
                return _json({"success": True, "ignored": True, "device": "iphone", "cellphone": _masked(user),
                              "message": "Ignored: SMS is not needed for smartphones. "
                                         "Pass force=true if you want to actually send it anyway."})
            now = world.clock()
            code, expires_at = state.tokens.get((user.authy_id, action), ("", 0.0))
            if expires_at <= now:
                code = _new_code(SMS_TOKEN_DIGITS)
            state.tokens[(user.authy_id, action)] = (code, now + SMS_TOKEN_SECONDS)
            text = f"Your {APP_NAME} token is {code}"
            if action_message:
                text = f"{action_message}\n{text} (valid for this request only)"
            world.deliver_sms(user.phone, SMS_SENDER, text)
        return _ok(message="SMS token was sent", cellphone=_masked(user))

    @bp.get("/protected/json/verify/<token>/<authy_id>")
    def verify(token: str, authy_id: str) -> Response:
        action = request.args.get("action", "")
        with world.lock:
            user = find_user(authy_id)
            if user is None:
                return _user_not_found()
            code, expires_at = state.tokens.get((user.authy_id, action), ("", 0.0))
            valid = bool(code) and expires_at > world.clock() and hmac.compare_digest(
                code.encode("utf-8"), token.encode("utf-8"))
            if valid:
                user.confirmed = True
        if not valid:
            return _json({"message": "Token is invalid", "token": "is invalid", "success": False,
                          "errors": {"message": "Token is invalid"}, "error_code": "60020"}, 401)
        return _json({"message": "Token is valid.", "token": "is valid", "success": True})

    @bp.post("/onetouch/json/users/<authy_id>/approval_requests")
    def approval_create(authy_id: str) -> Response:
        body = request.get_json(silent=True)
        problem = _approval_problem(body)
        if problem:
            return _error(400, "60002", problem)
        with world.lock:
            user = find_user(authy_id)
            if user is None:
                return _user_not_found()
            now = world.clock()
            seconds = body.get("seconds_to_expire")
            seconds = DEFAULT_APPROVAL_SECONDS if seconds is None else seconds
            approval = Approval(
                id=str(uuidlib.uuid4()), provider=SERVICE, phone=user.phone, message=body["message"],
                details=dict(body.get("details") or {}), hidden_details=dict(body.get("hidden_details") or {}),
                created_at=now, expires_at=None if seconds == 0 else now + seconds,
                logos=list(body.get("logos") or []),
                extra={"authy_id": user.authy_id, "email": user.email, "updated_at": now, "processed_at": None,
                       "transaction_uuid": str(uuidlib.uuid4()), "device_uuid": str(uuidlib.uuid5(
                           uuidlib.NAMESPACE_URL, f"authy-device:{user.authy_id}"))})
            world.add_approval(approval)
        return _json({"approval_request": {"uuid": approval.id}, "success": True})

    @bp.get("/onetouch/json/approval_requests/<uuid>")
    def approval_status(uuid: str) -> Response:
        with world.lock:
            approval = world.approvals.get(uuid)
            if approval is None or approval.provider != SERVICE:
                return _error(404, "60000", f"Approval request not found: {uuid}")
            before = approval.status
            status = approval.current_status(world.clock())
            if status != before:
                approval.extra["updated_at"] = world.clock()
                world.touch()
            extra = approval.extra
            payload = {"status": status, "uuid": approval.id, "created_at": _iso(approval.created_at),
                       "updated_at": _iso(extra.get("updated_at")), "processed_at": _iso(extra.get("processed_at")),
                       "notified": False, "user_id": f"{extra['authy_id']:024x}", "app_id": "0" * 24,
                       "_authy_id": str(extra["authy_id"]), "_user_email": extra["email"],
                       "_app_name": APP_NAME, "_app_serial_id": "1", "_id": uuidlib.UUID(approval.id).hex[:24]}
        return _json({"approval_request": payload, "success": True})

    @bp.post("/protected/json/phones/verification/start")
    def phone_start() -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return _error(400, "60002", "Invalid request")
        phone, problem = _phone_from(body.get("phone_number"), body.get("country_code"))
        if problem:
            return problem
        via = body.get("via", "sms")
        if via not in ("sms", "call"):
            return _error(400, "60004", "Invalid parameter: via - must be sms or call")
        length_text = _digits(body.get("code_length", 4))
        if not length_text or not 4 <= int(length_text) <= 10:
            return _error(400, "60004", "Invalid parameter: code_length - must be from 4 to 10")
        length = int(length_text)
        with world.lock:
            code = _new_code(length)
            state.phone_codes[phone] = _PhoneCode(code, world.clock() + PHONE_CODE_SECONDS)
            prefix = "(voice call) " if via == "call" else ""
            world.deliver_sms(phone, SMS_SENDER, f"{prefix}Your {APP_NAME} verification code is: {code}")
        what = "Call to" if via == "call" else "Text message sent to"
        return _json({"carrier": "Sandbox Mobile", "is_cellphone": True, "message": f"{what} {phone}.",
                      "seconds_to_expire": PHONE_CODE_SECONDS - 1, "uuid": str(uuidlib.uuid4()), "success": True})

    @bp.get("/protected/json/phones/verification/check")
    def phone_check() -> Response:
        phone, problem = _phone_from(request.args.get("phone_number"), request.args.get("country_code"))
        if problem:
            return problem
        given = request.args.get("verification_code")
        if not given:
            return _error(400, "60004", "Invalid parameter: verification_code - Parameter is required")
        with world.lock:
            pending = state.phone_codes.get(phone)
            if pending is None or pending.expires_at <= world.clock():
                state.phone_codes.pop(phone, None)
                return _error(404, "60023", f"No pending verifications for {phone} found.")
            if not hmac.compare_digest(pending.code.encode("utf-8"), given.encode("utf-8")):
                pending.attempts += 1
                if pending.attempts >= PHONE_CODE_MAX_ATTEMPTS:
                    del state.phone_codes[phone]
                return _error(401, "60022", "Verification code is incorrect")
            del state.phone_codes[phone]
        return _ok(message="Verification code is correct.")

    return bp


def _phone_from(number: Any, country: Any) -> tuple[str, Response | None]:
    """The E.164 number from phone_number + country_code, or an Authy error response."""
    if number in (None, ""):
        return "", _error(400, "60004", "Invalid parameter: phone_number - Parameter is required")
    if country in (None, ""):
        return "", _error(400, "60004", "Invalid parameter: country_code - Parameter is required")
    national, cc = _digits(number), _digits(country)
    if cc is None or not 1 <= len(cc) <= 3:
        return "", _error(400, "60004", f"Invalid parameter: country_code - '{country}' is not a valid Integer")
    if national is None or not 4 <= len(national) <= 14 or len(cc + national) > 15:
        return "", _error(400, "60033", "Phone number is invalid")
    return f"+{int(cc)}{national}", None


def _approval_problem(body: Any) -> str | None:
    """Why an approval request body is unacceptable, or None."""
    if not isinstance(body, dict):
        return "Invalid request"
    message = body.get("message")
    if not isinstance(message, str) or not message.strip():
        return "Invalid parameter: message - Parameter is required"
    seconds = body.get("seconds_to_expire")
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0):
        return "Invalid parameter: seconds_to_expire - must be a whole number of seconds, 0 or more"
    for name in ("details", "hidden_details"):
        problem = _details_problem(name, body.get(name))
        if problem:
            return problem
    logos = body.get("logos")
    if logos is not None:
        if not isinstance(logos, list):
            return "Invalid parameter: logos - must be a list"
        for logo in logos:
            if (not isinstance(logo, dict) or set(logo) - {"res", "url"} or not all(isinstance(v, str) for v in logo.values())
                    or logo.get("res", "default") not in LOGO_RESOLUTIONS):
                return "Invalid parameter: logos - each logo is {res, url} with res default, low, med or high"
    return None


def _details_problem(name: str, details: Any) -> str | None:
    """Why details / hidden_details are unacceptable: strings (or nested objects of strings) only."""
    if details is None:
        return None
    if not isinstance(details, dict):
        return f"Invalid parameter: {name} - must be an object"
    for key, value in details.items():
        if name == "details" and len(key) > MAX_DETAIL_KEY:
            return f"Invalid parameter: details - key '{key}' is longer than {MAX_DETAIL_KEY} characters"
        if isinstance(value, dict):
            problem = _details_problem(name, value)
            if problem:
                return problem
        elif not isinstance(value, str):
            return f"Invalid parameter: {name} - the value of '{key}' must be a string"
    return None


# ----------------------------------------------------------------------------- callbacks


def _next_nonce(state: _State, now: float) -> str:
    """A fresh nonce: the time with microseconds, strictly increasing."""
    with state.nonce_lock:
        state.last_nonce = max(now, state.last_nonce + 0.000001)
        return f"{state.last_nonce:.6f}"


def callback_body(approval: Approval, now: float) -> dict[str, Any]:
    """The JSON body Authy POSTs when a person approves or denies (the §4 field set)."""
    extra = approval.extra
    transaction = {
        "created_at_time": int(approval.created_at), "customer_uuid": str(uuidlib.uuid5(
            uuidlib.NAMESPACE_URL, f"authy-customer:{APP_NAME}")),
        "details": approval.details, "device_details": None, "device_geolocation": None,
        "device_signing_time": int(now), "encrypted": False, "flagged": False,
        "hidden_details": approval.hidden_details, "message": approval.message, "reason": None,
        "requester_details": None, "status": approval.status, "uuid": extra["transaction_uuid"],
    }
    expires = None if approval.expires_at is None else int(approval.expires_at)
    return {
        "authy_id": extra["authy_id"], "callback_action": "approval_request_status",
        "device_uuid": extra["device_uuid"], "uuid": approval.id, "status": approval.status,
        "signature": _device_signature(),
        "approval_request": {"expiration_timestamp": expires, "logos": approval.logos or None,
                             "transaction": transaction},
    }


def _device_signature() -> str:
    """A stand-in for the long base64 signature the device makes."""
    return base64.b64encode(secrets.token_bytes(256)).decode("ascii")


def _on_decision(world: World, state: _State, approval: Approval) -> None:
    """Record the decision time and POST the signed callback (none, once or twice per the fault)."""
    if approval.provider != SERVICE or approval.status not in ("approved", "denied"):
        return
    with world.lock:
        now = world.clock()
        approval.extra["processed_at"] = approval.extra["updated_at"] = now
        url = world.callbacks.get(SERVICE)
        mode = world.faults[SERVICE]
        body = callback_body(approval, now)
    if mode == "drop-callback":
        log.info("authy: dropping the callback for %s (fault)", approval.id)
        return
    if not url:
        log.warning("authy: no callback URL configured; decision on %s not sent", approval.id)
        return
    for _ in range(2 if mode == "duplicate-callback" else 1):
        send_callback(world, state, url, body, approval)


def send_callback(world: World, state: _State, url: str, body: dict[str, Any],
                  approval: Approval | None = None) -> int | None:
    """POST one signed callback; returns the HTTP status, or None if it could not be delivered.

    Payfriend's answer is shown on the approval: {"result": "ignored"} means it came too late.
    """
    nonce = _next_nonce(state, world.clock())
    signature = authy_signing.sign(world.keys.authy_api_key, nonce, "POST", url, body)
    timeout = float(getattr(world, "callback_timeout_seconds", DEFAULT_CALLBACK_TIMEOUT_SECONDS))
    headers = {"Content-Type": "application/json", "X-Authy-Signature": signature,
               "X-Authy-Signature-Nonce": nonce, "User-Agent": "AuthyCallback (sandbox)"}
    try:
        with requests.Session() as session:
            session.trust_env = False  # the sandbox calls the app directly, never through a proxy
            response = session.post(url, data=json.dumps(body, separators=(",", ":")), headers=headers,
                                    timeout=timeout)
    except requests.RequestException as exc:
        log.warning("authy: callback to %s failed: %s", url, exc.__class__.__name__)
        return None
    log.info("authy: callback %s %s -> %s", body["uuid"], body["status"], response.status_code)
    if approval is not None:
        world.note_decision_answer(approval, response.text)
    return response.status_code
