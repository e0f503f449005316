"""Twilio webhook helpers: X-Twilio-Signature check and parsing of inbound SMS and Verify events."""

from __future__ import annotations

from typing import Any, Mapping

from twilio.request_validator import RequestValidator

VERIFY_DECISIONS = {"challenge.approved": "approved", "challenge.denied": "denied"}


def push_request_id(identity: str, challenge_sid: str) -> str:
    """The Verify push request id the bot stores: '<entity identity>/<challenge sid>'."""
    return f"{identity}/{challenge_sid}"


def split_push_request_id(request_id: str) -> tuple[str, str]:
    """(identity, challenge sid) of a Verify push request id; ValueError if it is not one."""
    identity, sep, sid = request_id.partition("/")
    if not sep or not identity or not sid.startswith("YC"):
        raise ValueError(f"not a Verify push request id: {request_id!r}")
    return identity, sid


class _Pairs:
    """Repeated form fields given as (key, value) pairs, read the way RequestValidator reads a MultiDict."""

    def __init__(self, pairs: Any) -> None:
        self._values: dict[str, list[str]] = {}
        for key, value in pairs:
            self._values.setdefault(str(key), []).append(str(value))

    def __iter__(self):  # noqa: ANN204
        return iter(self._values)

    def __bool__(self) -> bool:
        return bool(self._values)

    def getlist(self, key: str) -> list[str]:
        """Every value of a key."""
        return self._values[key]


def verify_twilio_signature(auth_token: str, url: str, params: Any, signature: str | None, *,
                            algorithm: str | None = None) -> bool:
    """True if `signature` is Twilio's X-Twilio-Signature for the full URL and every form parameter.

    `params`: Flask's request.form (every value of a repeated key counts), a dict, (key, value) pairs,
    or the raw body string of a JSON webhook (URL with bodySHA256). `algorithm`: HMAC_SHA1 (default,
    secret = Auth Token) or HMAC_SHA256 (secret = the SharedKey named in X-Twilio-Webhooks-Signature-Settings).
    """
    if not auth_token or not signature:
        return False
    if params is None:
        params = {}
    elif isinstance(params, Mapping) and not hasattr(params, "getlist"):
        params = _Pairs((k, v) for k, vs in params.items() for v in (vs if isinstance(vs, (list, tuple)) else [vs]))
    elif not isinstance(params, (str, Mapping)) and not hasattr(params, "getlist"):
        params = _Pairs(params)
    return bool(RequestValidator(auth_token).validate(url, params, signature, algorithm=algorithm))


def _get(form: Mapping[str, Any], key: str, default: str = "") -> str:
    value = form.get(key, default)
    return default if value is None else str(value)


def parse_inbound_sms(form: Mapping[str, Any]) -> dict[str, Any]:
    """The fields Payfriend uses from Twilio's inbound SMS webhook; ValueError if it is not one."""
    sid, sender = _get(form, "MessageSid") or _get(form, "SmsMessageSid"), _get(form, "From")
    if not sid or not sender:
        raise ValueError("not a Twilio inbound SMS: MessageSid and From are required")
    num_media = int(_get(form, "NumMedia", "0") or 0)
    return {"message_sid": sid, "account_sid": _get(form, "AccountSid"), "from": sender, "to": _get(form, "To"),
            "body": _get(form, "Body"), "num_media": num_media,
            "media": [{"url": _get(form, f"MediaUrl{i}"), "content_type": _get(form, f"MediaContentType{i}")}
                      for i in range(num_media)],
            "num_segments": int(_get(form, "NumSegments", "1") or 1),
            "messaging_service_sid": _get(form, "MessagingServiceSid") or None,
            "opt_out_type": _get(form, "OptOutType") or None, "dedupe_key": f"sms:{sid}"}


def parse_verify_webhook(form: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a Verify (Push) webhook; `decision` is approved/denied for challenge events, else None."""
    event, uuid = _get(form, "type"), _get(form, "uuid")
    if not event or not uuid:
        raise ValueError("not a Twilio Verify webhook: type and uuid are required")
    identity, challenge_sid = _get(form, "entity_identity"), _get(form, "challenge_sid")
    return {"uuid": uuid, "type": event, "account_sid": _get(form, "account_sid"),
            "service_sid": _get(form, "service_sid"), "entity_identity": identity,
            "factor_sid": _get(form, "factor_sid"), "factor_type": _get(form, "factor_type"),
            "challenge_sid": challenge_sid or None, "decision": VERIFY_DECISIONS.get(event),
            "request_id": push_request_id(identity, challenge_sid) if identity and challenge_sid else None,
            "dedupe_key": f"verify:{uuid}"}
