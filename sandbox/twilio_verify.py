"""Twilio Verify v2 stand-in: services, SMS verifications (PSD2 included), checks and Verify Push."""

from __future__ import annotations

import base64
import hmac
import json
import re
import secrets
import uuid
from datetime import datetime, timezone
from typing import Any

from flask import Blueprint, jsonify, request

from sandbox.twilio_api import TwilioError, TwilioSandbox, api_route, iso, not_found
from sandbox.twilio_messaging import E164
from sandbox.world import Approval

BASE = "https://verify.twilio.com/v2"
CHANNELS = {"sms", "call", "email", "whatsapp", "sna", "auto"}
IDENTITY = re.compile(r"^[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*$")
CHALLENGE_EVENTS = {"approved": "challenge.approved", "denied": "challenge.denied"}
ACCESS_TOKEN_TTL = (60, 300)  # seconds: Ttl's range; 60 by default
ACCESS_TOKEN_KEPT = 86400  # an expired access token can still be fetched for a day, then it is gone
# A P-256 public key as the SDK sends it (Binding.PublicKey): DER SubjectPublicKeyInfo, this prefix, then the
# uncompressed point (04, x, y).
_P256_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d030107034200")


def truthy(value: str | None) -> bool:
    """Twilio's form booleans."""
    return (value or "").strip().lower() == "true"


def service_json(sandbox: TwilioSandbox, s: dict[str, Any]) -> dict[str, Any]:
    """The verify.v2.service resource."""
    url = f"{BASE}/Services/{s['sid']}"
    return {"sid": s["sid"], "account_sid": sandbox.keys.twilio_account_sid, "friendly_name": s["friendly_name"],
            "code_length": s["code_length"], "lookup_enabled": False, "psd2_enabled": sandbox.psd2(s),
            "skip_sms_to_landlines": False, "dtmf_input_required": False, "tts_name": None,
            "do_not_share_warning_enabled": False, "custom_code_enabled": False,
            "push": {"include_date": False, "apn_credential_sid": None, "fcm_credential_sid": None},
            "totp": {"issuer": s["friendly_name"], "time_step": 30, "code_length": 6, "skew": 1},
            "default_template_sid": None, "whatsapp": {"msg_service_sid": None, "from": None},
            "passkeys": None, "verify_event_subscription_enabled": False,
            "date_created": iso(s["created"]), "date_updated": iso(s["updated"]), "url": url,
            "links": {name: f"{url}/{name}" for name in ("verification_checks", "verifications", "entities",
                                                          "webhooks", "rate_limits", "messaging_configurations",
                                                          "access_tokens")}}


def get_service(sandbox: TwilioSandbox, sid: str) -> dict[str, Any]:
    """The service, or 404/20404."""
    service = sandbox.services.get(sid)
    if service is None:
        raise not_found(f"/Services/{sid}")
    return service


def verification_json(sandbox: TwilioSandbox, v: dict[str, Any]) -> dict[str, Any]:
    """The verify.v2.service.verification resource."""
    return {"sid": v["sid"], "service_sid": v["service_sid"], "account_sid": sandbox.keys.twilio_account_sid,
            "to": v["to"], "channel": v["channel"], "status": v["status"], "valid": v["status"] == "approved",
            "lookup": {}, "amount": v["amount"], "payee": v["payee"],
            "send_code_attempts": [{"time": iso(t), "channel": "SMS", "attempt_sid": a} for t, a in v["sends"]],
            "date_created": iso(v["created"]), "date_updated": iso(v["updated"]), "sna": None,
            "url": f"{BASE}/Services/{v['service_sid']}/Verifications/{v['sid']}"}


def check_json(sandbox: TwilioSandbox, v: dict[str, Any]) -> dict[str, Any]:
    """The verify.v2.service.verification_check resource."""
    body = verification_json(sandbox, v)
    for key in ("lookup", "send_code_attempts", "sna", "url"):
        body.pop(key)
    body["sna_attempts_error_codes"] = []
    return body


def _psd2_terms(sandbox: TwilioSandbox, service: dict[str, Any], form: Any) -> tuple[str | None, str | None]:
    """Amount and Payee; both are required on a PSD2 service (60206)."""
    amount, payee = form.get("Amount") or None, form.get("Payee") or None
    if sandbox.psd2(service) and not (amount and payee):
        raise TwilioError(400, 60206, "'Amount' & 'Payee' params are required")
    return amount, payee


def _live(sandbox: TwilioSandbox, service_sid: str) -> list[dict[str, Any]]:
    """The service's verifications still alive, oldest first; expired ones are deleted."""
    now, ttl = sandbox.now(), sandbox.config.verification_ttl
    for sid, v in list(sandbox.verifications.items()):
        if now >= v["created"] + ttl:
            del sandbox.verifications[sid]
    return sorted((v for v in sandbox.verifications.values() if v["service_sid"] == service_sid),
                  key=lambda v: v["created"])


def code_text(service: dict[str, Any], v: dict[str, Any]) -> str:
    """The SMS Verify sends; in PSD2 mode it names the amount and the payee."""
    text = f"Your {service['friendly_name']} verification code is: {v['code']}."
    if v["amount"] is not None and v["payee"] is not None:
        text += f" Use it to approve {v['amount']} to {v['payee']}. Don't share this code with anyone."
    return text


def start_verification(sandbox: TwilioSandbox, service_sid: str, form: Any) -> dict[str, Any]:
    """Create a verification (or re-send the pending one for the same To/Amount/Payee)."""
    service = get_service(sandbox, service_sid)
    to, channel = form.get("To", ""), form.get("Channel", "")
    if not to:
        raise TwilioError(400, 60200, "Invalid parameter: To")
    if channel not in CHANNELS:
        raise TwilioError(400, 60200, "Invalid parameter: Channel")
    amount, payee = _psd2_terms(sandbox, service, form)
    if channel == "call" and sandbox.psd2(service):
        raise TwilioError(400, 60214, "Call channel is not supported when PSD2 is enabled")
    if channel not in ("sms", "auto"):
        raise TwilioError(400, 60200, f"Invalid parameter: Channel ({channel} is not offered by the sandbox)")
    if not E164.match(to):
        raise TwilioError(400, 60200, f"Invalid parameter `To`: {to}")
    now = sandbox.now()
    same = [v for v in _live(sandbox, service_sid)
            if v["to"] == to and v["status"] == "pending" and (v["amount"], v["payee"]) == (amount, payee)]
    if same:
        v = same[-1]
        if len(v["sends"]) >= sandbox.config.max_sends:
            raise TwilioError(429, 60203, "Max send attempts reached")
    else:
        code = f"{secrets.randbelow(10 ** service['code_length']):0{service['code_length']}d}"
        v = {"sid": sandbox.new_sid("VE"), "service_sid": service_sid, "to": to, "channel": "sms",
             "amount": amount, "payee": payee, "code": code, "status": "pending", "checks": 0,
             "sends": [], "created": now, "updated": now}
        sandbox.verifications[v["sid"]] = v
    v["sends"].append((now, sandbox.new_sid("VL")))
    v["updated"] = now
    sandbox.world.deliver_sms(to, service["friendly_name"], code_text(service, v))
    return verification_json(sandbox, v)


def _find_for_check(sandbox: TwilioSandbox, service_sid: str, form: Any,
                    terms: tuple[str | None, str | None]) -> dict[str, Any]:
    """The verification a check is about: by VerificationSid, or the newest one to To (same terms first)."""
    live = _live(sandbox, service_sid)
    if form.get("VerificationSid"):
        found = [v for v in live if v["sid"] == form["VerificationSid"]]
    elif form.get("To"):
        mine = [v for v in live if v["to"] == form["To"]]
        found = [v for v in mine if (v["amount"], v["payee"]) == terms] or mine
    else:
        raise TwilioError(400, 60200, "Invalid parameter: To or VerificationSid is required")
    if not found:
        raise not_found(f"/Services/{service_sid}/VerificationCheck")
    return found[-1]


def check_verification(sandbox: TwilioSandbox, service_sid: str, form: Any) -> dict[str, Any]:
    """Check a code: right code and (PSD2) same Amount/Payee approves; 5 wrong checks use it up."""
    service = get_service(sandbox, service_sid)
    code = form.get("Code", "")
    if not code:
        raise TwilioError(400, 60200, "Invalid parameter: Code")
    terms = _psd2_terms(sandbox, service, form)
    v = _find_for_check(sandbox, service_sid, form, terms)
    if v["status"] == "max_attempts_reached":
        del sandbox.verifications[v["sid"]]  # deleted: later checks get 404/20404
        raise TwilioError(429, 60202, "Max check attempts reached")
    v["checks"] += 1
    v["updated"] = sandbox.now()
    same_terms = not sandbox.psd2(service) or (v["amount"], v["payee"]) == terms
    if same_terms and secrets.compare_digest(code, v["code"]):
        v["status"] = "approved"
        del sandbox.verifications[v["sid"]]  # deleted once approved
    elif v["checks"] >= sandbox.config.max_checks:
        v["status"] = "max_attempts_reached"
    body = check_json(sandbox, v)
    if v["status"] == "max_attempts_reached":
        body["status"], body["valid"] = "pending", False
    return body


def update_verification(sandbox: TwilioSandbox, service_sid: str, sid: str, status: str) -> dict[str, Any]:
    """Cancel (or approve) a verification by SID; it is deleted afterwards."""
    get_service(sandbox, service_sid)
    v = next((v for v in _live(sandbox, service_sid) if v["sid"] == sid), None)
    if v is None:
        raise not_found(f"/Services/{service_sid}/Verifications/{sid}")
    if status not in ("canceled", "approved"):
        raise TwilioError(400, 60200, "Invalid parameter: Status")
    v["status"], v["updated"] = status, sandbox.now()
    del sandbox.verifications[sid]
    return verification_json(sandbox, v)


def register(bp: Blueprint, sandbox: TwilioSandbox) -> None:
    """Mount services, verifications and checks, then the Verify Push routes."""
    lock = sandbox.world.lock

    @api_route(bp, sandbox, "verify", "/v2/Services", ["POST"])
    def create_service():
        if not request.form.get("FriendlyName"):
            raise TwilioError(400, 60200, "Invalid parameter: FriendlyName")
        now = sandbox.now()
        service = {"sid": sandbox.new_sid("VA"), "friendly_name": request.form["FriendlyName"],
                   "code_length": int(request.form.get("CodeLength") or 6),
                   "psd2_enabled": truthy(request.form.get("Psd2Enabled")), "created": now, "updated": now}
        with lock:
            sandbox.services[service["sid"]] = service
            return jsonify(service_json(sandbox, service)), 201

    @api_route(bp, sandbox, "verify", "/v2/Services/<sid>", ["GET", "POST"])
    def service(sid: str):
        with lock:
            found = get_service(sandbox, sid)
            if request.method == "POST":
                if "FriendlyName" in request.form:
                    found["friendly_name"] = request.form["FriendlyName"]
                if "Psd2Enabled" in request.form:
                    found["psd2_enabled"] = truthy(request.form["Psd2Enabled"])
                found["updated"] = sandbox.now()
            return jsonify(service_json(sandbox, found))

    @api_route(bp, sandbox, "verify", "/v2/Services/<service_sid>/Verifications", ["POST"])
    def create_verification(service_sid: str):
        with lock:
            return jsonify(start_verification(sandbox, service_sid, request.form)), 201

    @api_route(bp, sandbox, "verify", "/v2/Services/<service_sid>/Verifications/<sid>", ["GET", "POST"])
    def verification(service_sid: str, sid: str):
        with lock:
            if request.method == "POST":
                return jsonify(update_verification(sandbox, service_sid, sid, request.form.get("Status", "")))
            get_service(sandbox, service_sid)
            found = next((v for v in _live(sandbox, service_sid) if v["sid"] == sid), None)
            if found is None:
                raise not_found(f"/Services/{service_sid}/Verifications/{sid}")
            return jsonify(verification_json(sandbox, found))

    @api_route(bp, sandbox, "verify", "/v2/Services/<service_sid>/VerificationCheck", ["POST"])
    def verification_check(service_sid: str):
        with lock:
            return jsonify(check_verification(sandbox, service_sid, request.form)), 200  # live API: 200

    register_push(bp, sandbox)


# ----------------------------------------------------------------------------- Verify Push


def _page(key: str, url: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """A Verify list page with its meta block."""
    page_size = int(request.args.get("PageSize") or 50)
    first = f"{url}?PageSize={page_size}&Page=0"
    return {key: items[:page_size], "meta": {"page": 0, "page_size": page_size, "first_page_url": first,
                                             "previous_page_url": None, "url": first, "next_page_url": None,
                                             "key": key}}


def entity_json(sandbox: TwilioSandbox, e: dict[str, Any]) -> dict[str, Any]:
    """The verify.v2.service.entity resource."""
    url = f"{BASE}/Services/{e['service_sid']}/Entities/{e['identity']}"
    return {"sid": e["sid"], "identity": e["identity"], "account_sid": sandbox.keys.twilio_account_sid,
            "service_sid": e["service_sid"], "date_created": iso(e["created"]), "date_updated": iso(e["created"]),
            "url": url, "links": {"factors": f"{url}/Factors", "new_factors": f"{url}/Factors",
                                  "challenges": f"{url}/Challenges"}}


def factor_json(sandbox: TwilioSandbox, f: dict[str, Any], new: bool = False) -> dict[str, Any]:
    """The verify.v2.service.entity.factor resource (new_factor adds binding and options)."""
    body = {"sid": f["sid"], "account_sid": sandbox.keys.twilio_account_sid, "service_sid": f["service_sid"],
            "entity_sid": f["entity_sid"], "identity": f["identity"], "date_created": iso(f["created"]),
            "date_updated": iso(f["updated"]), "friendly_name": f["friendly_name"], "status": f["status"],
            "factor_type": "push", "config": f["config"], "metadata": f["metadata"],
            "url": f"{BASE}/Services/{f['service_sid']}/Entities/{f['identity']}/Factors/{f['sid']}"}
    if new:
        body.update(binding=f["binding"], options=None)
    return body


def ensure_entity(sandbox: TwilioSandbox, service_sid: str, identity: str) -> dict[str, Any]:
    """The entity with this identity, created if needed (factor creation also creates it)."""
    get_service(sandbox, service_sid)
    if not (8 <= len(identity) <= 64 and IDENTITY.match(identity)):
        raise TwilioError(400, 60200, "Invalid parameter: Identity")
    entity = sandbox.entities.get((service_sid, identity))
    if entity is None:
        entity = {"sid": sandbox.new_sid("YE"), "identity": identity, "service_sid": service_sid,
                  "created": sandbox.now()}
        sandbox.entities[(service_sid, identity)] = entity
    return entity


def get_entity(sandbox: TwilioSandbox, service_sid: str, identity: str) -> dict[str, Any]:
    """The entity, or 404/20404."""
    get_service(sandbox, service_sid)
    entity = sandbox.entities.get((service_sid, identity))
    if entity is None:
        raise not_found(f"/Services/{service_sid}/Entities/{identity}")
    return entity


def _prefixed(form: Any, prefix: str) -> dict[str, str]:
    """Form fields under a dotted prefix ("Config.AppId" -> {"AppId": ...})."""
    return {key[len(prefix):]: form[key] for key in form if key.startswith(prefix)}


def _new_factor(sandbox: TwilioSandbox, entity: dict[str, Any], friendly_name: str, binding: dict[str, str],
                config: dict[str, str], metadata: Any, phone: str | None, status: str) -> dict[str, Any]:
    """Store a push factor bound (in the sandbox) to the phone that runs the authenticator app."""
    now = sandbox.now()
    factor = {"sid": sandbox.new_sid("YF"), "service_sid": entity["service_sid"], "entity_sid": entity["sid"],
              "identity": entity["identity"], "friendly_name": friendly_name, "status": status,
              "binding": binding, "config": config, "metadata": metadata, "phone": phone,
              "created": now, "updated": now}
    sandbox.factors[factor["sid"]] = factor
    return factor


def create_factor(sandbox: TwilioSandbox, service_sid: str, identity: str, form: Any) -> dict[str, Any]:
    """What the Verify Push SDK sends; a Metadata {"phone": ...} binds the factor to a sandbox person."""
    friendly_name, factor_type = form.get("FriendlyName", ""), form.get("FactorType", "")
    if not friendly_name:
        raise TwilioError(400, 60200, "Invalid parameter: FriendlyName")
    if factor_type != "push":
        raise TwilioError(400, 60200, f"Invalid parameter: FactorType ({factor_type or 'missing'}; "
                                      "the sandbox offers push)")
    binding, config = _prefixed(form, "Binding."), _prefixed(form, "Config.")
    required = ["Alg", "PublicKey"], ["AppId", "NotificationPlatform", "SdkVersion"]
    if config.get("NotificationPlatform") != "none":
        required[1].append("NotificationToken")
    missing = [f"Binding.{k}" for k in required[0] if not binding.get(k)] + [
        f"Config.{k}" for k in required[1] if not config.get(k)]
    if missing:
        raise TwilioError(400, 60200, f"Invalid parameter: {', '.join(missing)}")
    try:
        metadata = json.loads(form["Metadata"]) if form.get("Metadata") else None
    except ValueError:
        raise TwilioError(400, 60200, "Invalid parameter: Metadata") from None
    phone = metadata.get("phone") if isinstance(metadata, dict) else None
    entity = ensure_entity(sandbox, service_sid, identity)
    factor = _new_factor(sandbox, entity, friendly_name,
                         {"alg": binding["Alg"], "public_key": binding["PublicKey"]},
                         {"sdk_version": config["SdkVersion"], "app_id": config["AppId"],
                          "notification_platform": config["NotificationPlatform"],
                          "notification_token": config.get("NotificationToken")},
                         metadata, phone if isinstance(phone, str) and E164.match(phone) else None, "unverified")
    return factor_json(sandbox, factor, new=True)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _enrolment_token() -> str:
    """An opaque enrolment token shaped like Verify's (a compact JWE: header..iv.ciphertext.tag)."""
    header = _b64url(json.dumps({"zip": "DEF", "kid": "SAS_S3___KMS_v1", "cty": "twilio-fpa;v=1",
                                 "enc": "A256GCM", "alg": "dir"}, separators=(",", ":")).encode())
    return ".".join([header, "", _b64url(secrets.token_bytes(12)), _b64url(secrets.token_bytes(96)),
                     _b64url(secrets.token_bytes(16))])


def access_token_json(sandbox: TwilioSandbox, t: dict[str, Any]) -> dict[str, Any]:
    """The verify.v2.service.access_token resource."""
    return {"sid": t["sid"], "account_sid": sandbox.keys.twilio_account_sid, "service_sid": t["service_sid"],
            "entity_identity": t["identity"], "factor_type": t["factor_type"],
            "factor_friendly_name": t["friendly_name"], "token": t["token"],
            "url": f"{BASE}/Services/{t['service_sid']}/AccessTokens/{t['sid']}", "ttl": t["ttl"],
            "date_created": iso(t["created"])}


def create_access_token(sandbox: TwilioSandbox, service_sid: str, form: Any) -> dict[str, Any]:
    """An enrolment token for one push factor of the entity: usable once, for Ttl seconds."""
    get_service(sandbox, service_sid)
    identity = form.get("Identity", "")
    if not (8 <= len(identity) <= 64 and IDENTITY.match(identity)):
        raise TwilioError(400, 60200, "Invalid parameter: Identity")
    if form.get("FactorType") != "push":
        raise TwilioError(400, 60200, "Invalid parameter: FactorType")
    friendly_name = form.get("FactorFriendlyName") or None
    if friendly_name is not None and len(friendly_name) > 64:
        raise TwilioError(400, 60200, "Invalid parameter: FactorFriendlyName")
    raw_ttl = form.get("Ttl")
    try:
        ttl = ACCESS_TOKEN_TTL[0] if raw_ttl in (None, "") else int(raw_ttl)
    except ValueError:
        ttl = -1
    if not ACCESS_TOKEN_TTL[0] <= ttl <= ACCESS_TOKEN_TTL[1]:
        raise TwilioError(400, 60200, "Invalid parameter: Ttl")
    now = sandbox.now()
    for sid, old in list(sandbox.access_tokens.items()):
        if now >= old["created"] + old["ttl"] + ACCESS_TOKEN_KEPT:
            del sandbox.access_tokens[sid]
    token = {"sid": sandbox.new_sid("YK"), "service_sid": service_sid, "identity": identity,
             "factor_type": "push", "friendly_name": friendly_name, "token": _enrolment_token(), "ttl": ttl,
             "created": now, "used": None, "factor_sid": None}
    sandbox.access_tokens[token["sid"]] = token
    return access_token_json(sandbox, token)


def get_access_token(sandbox: TwilioSandbox, service_sid: str, sid: str) -> dict[str, Any]:
    """The service's access token, or 404/20404."""
    get_service(sandbox, service_sid)
    token = sandbox.access_tokens.get(sid)
    if token is None or token["service_sid"] != service_sid:
        raise not_found(f"/Services/{service_sid}/AccessTokens/{sid}")
    return token


def remove_phone_factors(sandbox: TwilioSandbox, phone: str, service_sid: str | None = None,
                         identity: str | None = None) -> list[str]:
    """Delete the push factors bound to this phone (of one entity when given); the pending pushes on them
    leave the phone's authenticator (decided ones stay in its history). Returns the deleted SIDs."""
    with sandbox.world.lock:
        gone = [sid for sid, f in sandbox.factors.items() if f["phone"] == phone
                and service_sid in (None, f["service_sid"]) and identity in (None, f["identity"])]
        for sid in gone:
            del sandbox.factors[sid]
        approvals = sandbox.world.approvals
        for approval_id in [a.id for a in approvals.values()
                            if a.provider == "verify" and a.extra.get("factor_sid") in gone
                            and a.current_status(sandbox.now()) == "pending"]:
            del approvals[approval_id]
        if gone:
            sandbox.world.touch()
        return gone


def enrol_with_access_token(sandbox: TwilioSandbox, token: str, service_sid: str, identity: str, phone: str,
                            friendly_name: str | None = None) -> dict[str, Any]:
    """What the Verify Push SDK does with an enrolment token: create the push factor (bound to the phone,
    replacing the phone's earlier factor of that entity), then verify it. The token must exist, be unexpired
    and unused, and name this service, identity and factor type; it is used up. TwilioError otherwise."""
    with sandbox.world.lock:
        now = sandbox.now()
        found = next((t for t in sandbox.access_tokens.values()
                      if hmac.compare_digest(t["token"].encode(), (token or "").encode())), None)
        if found is None:
            raise TwilioError(401, 20003, "unknown access token")
        if found["used"] is not None:
            raise TwilioError(401, 20003, "the access token was already used")
        if now >= found["created"] + found["ttl"]:
            raise TwilioError(401, 20003, "the access token has expired")
        if found["service_sid"] != service_sid:
            raise TwilioError(401, 20003, "the access token is for another service")
        if found["identity"] != identity:
            raise TwilioError(401, 20003, "the access token is for another identity")
        if found["factor_type"] != "push":
            raise TwilioError(401, 20003, "the access token is not for a push factor")
        if not E164.match(phone or ""):
            raise TwilioError(400, 60200, "Invalid parameter: phone")
        entity = ensure_entity(sandbox, service_sid, identity)
        remove_phone_factors(sandbox, phone, service_sid, identity)
        point = b"\x04" + secrets.token_bytes(64)
        factor = _new_factor(sandbox, entity, found["friendly_name"] or friendly_name or "Payfriend app",
                             {"alg": "ES256", "public_key": base64.b64encode(_P256_SPKI_PREFIX + point).decode()},
                             {"sdk_version": "2.0.0", "app_id": "com.payfriend.sandbox",
                              "notification_platform": "none", "notification_token": None},
                             {"os": "sandbox"}, phone, "unverified")
        found.update(used=now, factor_sid=factor["sid"])
        factor.update(status="verified", updated=sandbox.now())  # the SDK's verify step (AuthPayload)
        sandbox.world.touch()
        return factor_json(sandbox, factor)


def install_push_app(sandbox: TwilioSandbox, phone: str, identity: str, service_sid: str | None = None,
                     friendly_name: str = "Sandbox phone") -> dict[str, Any]:
    """Sandbox shortcut for "the person installed the app": a verified push factor on their phone."""
    if not E164.match(phone or ""):
        raise TwilioError(400, 60200, "Invalid parameter: phone")
    with sandbox.world.lock:
        entity = ensure_entity(sandbox, service_sid or sandbox.keys.verify_service_sid, identity)
        factor = _new_factor(sandbox, entity, friendly_name,
                             {"alg": "ES256", "public_key": secrets.token_urlsafe(64)},
                             {"sdk_version": "2.0.0", "app_id": "com.payfriend.sandbox",
                              "notification_platform": "none", "notification_token": None},
                             {"os": "sandbox"}, phone, "verified")
        person = sandbox.world.people.get(phone)
        if person is not None and not person.app_installed:  # installed by the shortcut, without a link
            person.app_installed = True
            sandbox.world.touch()
        return {**factor_json(sandbox, factor), "phone": phone}


def _factor(sandbox: TwilioSandbox, service_sid: str, identity: str, sid: str) -> dict[str, Any]:
    """The entity's factor, or 404/20404."""
    get_entity(sandbox, service_sid, identity)
    factor = sandbox.factors.get(sid)
    if factor is None or (factor["service_sid"], factor["identity"]) != (service_sid, identity):
        raise not_found(f"/Services/{service_sid}/Entities/{identity}/Factors/{sid}")
    return factor


def _expiration(value: str | None, now: float) -> float:
    """ExpirationDate: ISO 8601, in the future, at most 60 minutes away; default 5 minutes."""
    if not value:
        return now + 300
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise TwilioError(400, 60200, "Invalid parameter: ExpirationDate") from None
    ts = (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp()
    if not now < ts <= now + 3600 + 5:
        raise TwilioError(400, 60200, "Invalid parameter: ExpirationDate must be within 60 minutes")
    return ts


def _details(form: Any) -> tuple[str, list[dict[str, str]], dict[str, str]]:
    """Details.Message, Details.Fields and HiddenDetails, with Twilio's documented limits."""
    message = form.get("Details.Message", "")
    if not message or len(message) > 256:
        raise TwilioError(400, 60200, "Invalid parameter: Details.Message (required, up to 256 characters)")
    fields = []
    for raw in form.getlist("Details.Fields"):
        try:
            item = json.loads(raw)
        except ValueError:
            raise TwilioError(400, 60200, "Invalid parameter: Details.Fields") from None
        if not (isinstance(item, dict) and isinstance(item.get("label"), str) and isinstance(item.get("value"), str)
                and len(item["label"]) <= 36 and len(item["value"]) <= 128):
            raise TwilioError(400, 60200, "Invalid parameter: Details.Fields (label <= 36, value <= 128)")
        fields.append({"label": item["label"], "value": item["value"]})
    if len(fields) > 20:
        raise TwilioError(400, 60200, "Invalid parameter: Details.Fields (at most 20)")
    raw_hidden = form.get("HiddenDetails")
    hidden: Any = {}
    if raw_hidden:
        try:
            hidden = json.loads(raw_hidden)
        except ValueError:
            hidden = None
        if (len(raw_hidden) > 1024 or not isinstance(hidden, dict)
                or not all(isinstance(v, str) for v in hidden.values())):
            raise TwilioError(400, 60200, "Invalid parameter: HiddenDetails (JSON of strings, up to 1024)")
    return message, fields, hidden


def create_challenge(sandbox: TwilioSandbox, service_sid: str, identity: str, form: Any) -> dict[str, Any]:
    """A push challenge: stored, and shown as an approval in the factor's phone."""
    entity = get_entity(sandbox, service_sid, identity)
    if not form.get("FactorSid"):
        raise TwilioError(400, 60200, "Invalid parameter: FactorSid")
    factor = _factor(sandbox, service_sid, identity, form["FactorSid"])
    if factor["status"] != "verified":
        raise TwilioError(400, 60200, "Invalid parameter: FactorSid (the factor is not verified)")
    message, fields, hidden = _details(form)
    now = sandbox.now()
    challenge = {"sid": sandbox.new_sid("YC"), "service_sid": service_sid, "entity_sid": entity["sid"],
                 "identity": identity, "factor_sid": factor["sid"], "created": now, "updated": now,
                 "responded": None, "expires": _expiration(form.get("ExpirationDate"), now), "status": "pending",
                 "message": message, "fields": fields, "hidden": hidden}
    sandbox.challenges[challenge["sid"]] = challenge
    if factor["phone"]:
        sandbox.world.add_approval(Approval(
            id=challenge["sid"], provider="verify", phone=factor["phone"], message=message,
            details={f["label"]: f["value"] for f in fields}, hidden_details=dict(hidden), created_at=now,
            expires_at=challenge["expires"],
            extra={"challenge_sid": challenge["sid"], "factor_sid": factor["sid"], "identity": identity,
                   "service_sid": service_sid}))
    return challenge_json(sandbox, challenge)


def challenge_status(sandbox: TwilioSandbox, challenge: dict[str, Any]) -> str:
    """pending, approved, denied or expired: the app's decision, expiry applied lazily."""
    approval = sandbox.world.approvals.get(challenge["sid"])
    if approval is not None:
        return approval.current_status(sandbox.now())
    if challenge["status"] == "pending" and sandbox.now() >= challenge["expires"]:
        challenge["status"] = "expired"
    return challenge["status"]


def challenge_json(sandbox: TwilioSandbox, c: dict[str, Any]) -> dict[str, Any]:
    """The verify.v2.service.entity.challenge resource."""
    url = f"{BASE}/Services/{c['service_sid']}/Entities/{c['identity']}/Challenges/{c['sid']}"
    return {"sid": c["sid"], "account_sid": sandbox.keys.twilio_account_sid, "service_sid": c["service_sid"],
            "entity_sid": c["entity_sid"], "identity": c["identity"], "factor_sid": c["factor_sid"],
            "date_created": iso(c["created"]), "date_updated": iso(c["updated"]),
            "date_responded": iso(c["responded"]), "expiration_date": iso(c["expires"]),
            "status": challenge_status(sandbox, c), "responded_reason": "none",
            "details": {"message": c["message"], "date": iso(c["created"]), "fields": c["fields"]},
            "hidden_details": c["hidden"], "metadata": None, "factor_type": "push", "url": url,
            "links": {"notifications": f"{url}/Notifications"}}


def _challenge(sandbox: TwilioSandbox, service_sid: str, identity: str, sid: str) -> dict[str, Any]:
    """The entity's challenge, or 404/20404."""
    get_entity(sandbox, service_sid, identity)
    challenge = sandbox.challenges.get(sid)
    if challenge is None or (challenge["service_sid"], challenge["identity"]) != (service_sid, identity):
        raise not_found(f"/Services/{service_sid}/Entities/{identity}/Challenges/{sid}")
    return challenge


def webhook_json(sandbox: TwilioSandbox, w: dict[str, Any]) -> dict[str, Any]:
    """The verify.v2.service.webhook resource."""
    return {"sid": w["sid"], "service_sid": w["service_sid"], "account_sid": sandbox.keys.twilio_account_sid,
            "friendly_name": w["friendly_name"], "event_types": w["event_types"], "status": w["status"],
            "version": w["version"], "webhook_url": w["webhook_url"], "webhook_method": "POST",
            "date_created": iso(w["created"]), "date_updated": iso(w["created"]),
            "url": f"{BASE}/Services/{w['service_sid']}/Webhooks/{w['sid']}"}


def create_webhook(sandbox: TwilioSandbox, service_sid: str, form: Any) -> dict[str, Any]:
    """Register a Verify webhook (the console's Webhooks page)."""
    get_service(sandbox, service_sid)
    events = form.getlist("EventTypes")
    if not form.get("FriendlyName") or not events or not form.get("WebhookUrl"):
        raise TwilioError(400, 60200, "Invalid parameter: FriendlyName, EventTypes and WebhookUrl are required")
    webhook = {"sid": sandbox.new_sid("YW"), "service_sid": service_sid, "friendly_name": form["FriendlyName"],
               "event_types": events, "status": form.get("Status") or "enabled",
               "version": form.get("Version") or "v2", "webhook_url": form["WebhookUrl"], "created": sandbox.now()}
    sandbox.webhooks[webhook["sid"]] = webhook
    return webhook_json(sandbox, webhook)


def push_decided(sandbox: TwilioSandbox, approval: Approval) -> int:
    """The person tapped Approve or Deny: record it and POST the signed Verify webhook."""
    with sandbox.world.lock:
        challenge = sandbox.challenges.get(approval.extra.get("challenge_sid", approval.id))
        event = CHALLENGE_EVENTS.get(approval.status)
        if challenge is None or event is None:
            return 0
        now = sandbox.now()
        challenge.update(responded=now, updated=now, status=approval.status)
        params = [("uuid", str(uuid.uuid4())), ("type", event),
                  ("account_sid", sandbox.keys.twilio_account_sid), ("service_sid", challenge["service_sid"]),
                  ("entity_identity", challenge["identity"]), ("factor_sid", challenge["factor_sid"]),
                  ("factor_type", "push"), ("challenge_sid", challenge["sid"])]
        targets = [sandbox.world.callbacks.get("verify")] + [
            w["webhook_url"] for w in sandbox.webhooks.values()
            if w["service_sid"] == challenge["service_sid"] and w["status"] == "enabled"
            and ("*" in w["event_types"] or event in w["event_types"])]
    urls = list(dict.fromkeys(url for url in targets if url))
    if not urls:
        return sandbox.deliver("verify", None, params)

    def on_answer(answer: str) -> None:
        sandbox.world.note_decision_answer(approval, answer)
    return sum(sandbox.deliver("verify", url, params, on_answer) for url in urls)


def register_push(bp: Blueprint, sandbox: TwilioSandbox) -> None:
    """Mount entities, factors, challenges and webhooks; take the world's Verify decision hook."""
    lock = sandbox.world.lock
    entities = "/v2/Services/<service_sid>/Entities"
    entity = entities + "/<identity>"

    @api_route(bp, sandbox, "verify", entities, ["GET", "POST"])
    def entity_list(service_sid: str):
        with lock:
            if request.method == "POST":
                found = ensure_entity(sandbox, service_sid, request.form.get("Identity", ""))
                return jsonify(entity_json(sandbox, found)), 201
            get_service(sandbox, service_sid)
            items = [entity_json(sandbox, e) for (s, _), e in sandbox.entities.items() if s == service_sid]
            return jsonify(_page("entities", f"{BASE}/Services/{service_sid}/Entities", items))

    @api_route(bp, sandbox, "verify", entity, ["GET", "DELETE"])
    def entity_one(service_sid: str, identity: str):
        with lock:
            found = get_entity(sandbox, service_sid, identity)
            if request.method == "GET":
                return jsonify(entity_json(sandbox, found))
            del sandbox.entities[(service_sid, identity)]
            for sid in [s for s, f in sandbox.factors.items() if f["entity_sid"] == found["sid"]]:
                del sandbox.factors[sid]
            return "", 204

    @api_route(bp, sandbox, "verify", entity + "/Factors", ["GET", "POST"])
    def factor_list(service_sid: str, identity: str):
        with lock:
            if request.method == "POST":
                return jsonify(create_factor(sandbox, service_sid, identity, request.form)), 201
            get_entity(sandbox, service_sid, identity)
            items = [factor_json(sandbox, f) for f in sandbox.factors.values()
                     if (f["service_sid"], f["identity"]) == (service_sid, identity)]
            return jsonify(_page("factors", f"{BASE}/Services/{service_sid}/Entities/{identity}/Factors", items))

    @api_route(bp, sandbox, "verify", entity + "/Factors/<sid>", ["GET", "POST"])
    def factor_one(service_sid: str, identity: str, sid: str):
        with lock:
            found = _factor(sandbox, service_sid, identity, sid)
            if request.method == "POST":
                if request.form.get("AuthPayload") and found["status"] == "unverified":
                    found["status"] = "verified"
                if request.form.get("FriendlyName"):
                    found["friendly_name"] = request.form["FriendlyName"]
                found["updated"] = sandbox.now()
            return jsonify(factor_json(sandbox, found))

    @api_route(bp, sandbox, "verify", entity + "/Challenges", ["GET", "POST"])
    def challenge_list(service_sid: str, identity: str):
        with lock:
            if request.method == "POST":
                return jsonify(create_challenge(sandbox, service_sid, identity, request.form)), 201
            get_entity(sandbox, service_sid, identity)
            items = [challenge_json(sandbox, c) for c in sandbox.challenges.values()
                     if (c["service_sid"], c["identity"]) == (service_sid, identity)
                     and request.args.get("FactorSid", c["factor_sid"]) == c["factor_sid"]]
            items = [c for c in items if request.args.get("Status", c["status"]) == c["status"]]
            return jsonify(_page("challenges", f"{BASE}/Services/{service_sid}/Entities/{identity}/Challenges",
                                 items))

    @api_route(bp, sandbox, "verify", entity + "/Challenges/<sid>", ["GET"])
    def challenge_one(service_sid: str, identity: str, sid: str):
        with lock:
            return jsonify(challenge_json(sandbox, _challenge(sandbox, service_sid, identity, sid)))

    @api_route(bp, sandbox, "verify", "/v2/Services/<service_sid>/Webhooks", ["GET", "POST"])
    def webhooks(service_sid: str):
        with lock:
            if request.method == "POST":
                return jsonify(create_webhook(sandbox, service_sid, request.form)), 201
            get_service(sandbox, service_sid)
            items = [webhook_json(sandbox, w) for w in sandbox.webhooks.values() if w["service_sid"] == service_sid]
            return jsonify(_page("webhooks", f"{BASE}/Services/{service_sid}/Webhooks", items))

    @api_route(bp, sandbox, "verify", "/v2/Services/<service_sid>/AccessTokens", ["POST"])
    def access_tokens(service_sid: str):
        with lock:
            return jsonify(create_access_token(sandbox, service_sid, request.form)), 201

    @api_route(bp, sandbox, "verify", "/v2/Services/<service_sid>/AccessTokens/<sid>", ["GET"])
    def access_token(service_sid: str, sid: str):
        with lock:
            return jsonify(access_token_json(sandbox, get_access_token(sandbox, service_sid, sid)))

    @bp.post("/_sandbox/push-factor")
    def push_factor():
        body = request.get_json(silent=True) or {}
        try:
            return jsonify(install_push_app(sandbox, body.get("phone", ""), body.get("identity", ""),
                                            body.get("service_sid"))), 201
        except TwilioError as exc:
            return exc.response()

    sandbox.world.on_decision["verify"] = lambda approval: push_decided(sandbox, approval)
