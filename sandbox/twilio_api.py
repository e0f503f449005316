"""The Twilio stand-in: Messaging (api.twilio.com) and Verify v2 (verify.twilio.com) in one blueprint.

Mounted at /twilio, a client maps https://api.twilio.com/<path> to <sandbox>/twilio/api/<path> and
https://verify.twilio.com/<path> to <sandbox>/twilio/verify/<path>. Every product request is checked
for HTTP Basic auth (account SID + auth token), subject to the world's fault modes, and recorded with
its real Twilio URL (GET /twilio/_sandbox/requests) so tests can validate it against the OpenAPI specs.
"""

from __future__ import annotations

import functools
import hmac
import copy
import logging
import time
from collections import deque
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from email.utils import format_datetime
from typing import Any, Callable

import requests
from flask import Blueprint, Response, jsonify, make_response, request

from sandbox.ids import twilio_sid
from sandbox.twilio_signing import signature_headers
from sandbox.world import World

log = logging.getLogger(__name__)

PRODUCT_HOSTS = {"api": "https://api.twilio.com", "verify": "https://verify.twilio.com"}
PRODUCT_SERVICE = {"api": "messaging", "verify": "verify"}  # which fault knob governs a product


class TwilioError(Exception):
    """An error answered in Twilio's JSON shape: code, message, more_info, status."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self) -> Response:
        """The Flask response for this error."""
        body = {"code": self.code, "message": self.message,
                "more_info": f"https://www.twilio.com/docs/errors/{self.code}", "status": self.status}
        resp = jsonify(body)
        resp.status_code = self.status
        if self.status == 401:
            resp.headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
        return resp


def not_found(path: str) -> TwilioError:
    """Twilio's 404 for a resource that does not exist (or no longer does)."""
    return TwilioError(404, 20404, f"The requested resource {path} was not found")


def iso(ts: float | None) -> str | None:
    """ISO 8601 UTC, as Verify writes dates."""
    return None if ts is None else datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc2822(ts: float) -> str:
    """RFC 2822 with +0000, as the 2010 API writes dates."""
    return format_datetime(datetime.fromtimestamp(ts, timezone.utc).replace(microsecond=0))


@dataclass
class TwilioConfig:
    """Knobs of the stand-in, changed through POST /twilio/_sandbox/config."""

    psd2_enabled: bool = True  # of the service named by the world's verify_service_sid
    callback_timeout: float = 5.0  # for the signed webhooks the stand-in sends
    verification_ttl: float = 600.0  # a Verify code lives 10 minutes
    max_checks: int = 5
    max_sends: int = 5


class TwilioSandbox:
    """Twilio's side of the world: messages, opt-outs, Verify resources and the request log."""

    def __init__(self, world: World, config: TwilioConfig | None = None) -> None:
        self.world = world
        self.config = config or TwilioConfig()
        self.requests: deque[dict[str, Any]] = deque(maxlen=10_000)
        self.messages: dict[str, dict[str, Any]] = {}
        self.opted_out: set[str] = set()
        self.services: dict[str, dict[str, Any]] = {}
        self.verifications: dict[str, dict[str, Any]] = {}
        self.entities: dict[tuple[str, str], dict[str, Any]] = {}
        self.factors: dict[str, dict[str, Any]] = {}
        self.challenges: dict[str, dict[str, Any]] = {}
        self.webhooks: dict[str, dict[str, Any]] = {}
        self.access_tokens: dict[str, dict[str, Any]] = {}  # Verify Push enrolment tokens (YK...)
        self.reset()

    @property
    def keys(self):  # noqa: ANN201 - sandbox.world.Keys
        """The credentials and numbers the stand-in accepts."""
        return self.world.keys

    def now(self) -> float:
        """The world's clock."""
        return self.world.clock()

    @staticmethod
    def new_sid(prefix: str) -> str:
        """A Twilio-shaped SID: two letters and 32 hex digits."""
        return twilio_sid(prefix)

    def reset(self) -> None:
        """Forget everything but the configuration; the account's Verify service exists again."""
        with self.world.lock:
            for store in (self.messages, self.services, self.verifications, self.entities, self.factors,
                          self.challenges, self.webhooks, self.access_tokens):
                store.clear()
            self.opted_out.clear()
            self.requests.clear()
            self._account_services()

    def _account_services(self) -> None:
        """The account's two Verify services: payments (PSD2 as configured) and phone checks (plain)."""
        now = self.now()
        self.services.setdefault(self.keys.verify_service_sid, {
            "sid": self.keys.verify_service_sid, "friendly_name": "Payfriend", "code_length": 6,
            "psd2_enabled": None, "created": now, "updated": now})
        self.services.setdefault(self.keys.verify_phone_service_sid, {
            "sid": self.keys.verify_phone_service_sid, "friendly_name": "Payfriend", "code_length": 6,
            "psd2_enabled": False, "created": now, "updated": now})

    def snapshot(self) -> dict[str, Any]:
        """Messages, opt-outs, Verify resources and the knobs as plain JSON data (not the request log)."""
        with self.world.lock:
            return copy.deepcopy({
                "config": asdict(self.config), "messages": self.messages, "opted_out": sorted(self.opted_out),
                "services": self.services, "verifications": self.verifications,
                "entities": list(self.entities.values()), "factors": self.factors,
                "challenges": self.challenges, "webhooks": self.webhooks, "access_tokens": self.access_tokens})

    def restore(self, data: dict[str, Any]) -> None:
        """Take over a snapshot."""
        data = copy.deepcopy(data)
        config = TwilioConfig(**data["config"])
        entities = {(e["service_sid"], e["identity"]): e for e in data["entities"]}
        for v in data["verifications"].values():
            v["sends"] = [tuple(send) for send in v["sends"]]
        with self.world.lock:
            self.config = config
            self.messages, self.services = data["messages"], data["services"]
            self.opted_out = set(data["opted_out"])
            self.verifications, self.entities, self.factors = data["verifications"], entities, data["factors"]
            self.challenges, self.webhooks = data["challenges"], data["webhooks"]
            self.access_tokens = data.get("access_tokens", {})  # absent from files written before them
            self._account_services()  # files written before the phone-check service lack it

    def psd2(self, service: dict[str, Any]) -> bool:
        """Whether a service runs in PSD2 mode (the account's service follows the config)."""
        return self.config.psd2_enabled if service["psd2_enabled"] is None else service["psd2_enabled"]

    def stall(self, service: str) -> None:
        """Stall world.slow_seconds like a slow service; cut short when the fault is cleared."""
        deadline = time.monotonic() + self.world.slow_seconds
        while time.monotonic() < deadline and self.world.fault(service) == "slow":
            time.sleep(0.02)

    def record(self, method: str, url: str, path: str) -> dict[str, Any]:
        """Remember a product request as it arrived (real Twilio URL, raw body, headers); the answer follows."""
        entry = {"method": method, "url": url, "host": "https://" + url.split("/", 3)[2], "path": path,
                 "query": request.query_string.decode("latin-1"), "body": request.get_data(cache=True, as_text=True),
                 "content_type": request.content_type or "", "headers": dict(request.headers),
                 "at": self.now(), "status": None, "response": None}
        with self.world.lock:
            self.requests.append(entry)
        return entry

    def check_auth(self) -> None:
        """HTTP Basic with the account SID and auth token, or 401/20003."""
        auth = request.authorization
        ok = (auth is not None and auth.type == "basic"
              and hmac.compare_digest((auth.username or "").encode(), self.keys.twilio_account_sid.encode())
              and hmac.compare_digest((auth.password or "").encode(), self.keys.twilio_auth_token.encode()))
        if not ok:
            raise TwilioError(401, 20003, "Authenticate")

    def deliver(self, service: str, url: str | None, params: list[tuple[str, str]],
                on_answer: Callable[[str], None] | None = None) -> int:
        """POST a webhook signed with X-Twilio-Signature, as the fault mode allows; returns deliveries.

        `on_answer` gets the body of each answer (a push decision's answer may say it came too late).
        """
        mode = self.world.fault(service)
        if not url or mode == "drop-callback":
            log.info("twilio sandbox: %s callback not sent (url=%s, mode=%s)", service, url, mode)
            return 0
        times = 2 if mode == "duplicate-callback" else 1
        headers = signature_headers(self.keys.twilio_auth_token, url, params)
        for _ in range(times):
            try:
                response = requests.post(url, data=params, headers=headers, timeout=self.config.callback_timeout)
            except requests.RequestException as exc:
                log.warning("twilio sandbox: %s callback to %s failed: %s", service, url, exc)
                continue
            if on_answer is not None:
                on_answer(response.text)
        return times


def api_route(bp: Blueprint, sandbox: TwilioSandbox, product: str, rule: str,
              methods: list[str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a product route: recorded, then faults, then Basic auth, then the view."""
    host, service = PRODUCT_HOSTS[product], PRODUCT_SERVICE[product]
    full_rule = f"/{product}{rule}"

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapped(**kwargs: Any) -> Any:
            prefix = request.url_rule.rule[: -len(full_rule)] if request.url_rule else ""
            path = request.path[len(prefix) + len(product) + 1:]
            query = request.query_string.decode("latin-1")
            entry = sandbox.record(request.method, host + path + (f"?{query}" if query else ""), path)
            try:
                mode = sandbox.world.fault(service)
                if mode == "down":
                    raise TwilioError(503, 20503, "Service Unavailable")
                if mode == "error":
                    raise TwilioError(500, 20500, "An internal server error has occurred")
                if mode == "slow":
                    sandbox.stall(service)
                sandbox.check_auth()
                response = make_response(view(**kwargs))
            except TwilioError as exc:
                response = exc.response()
            entry.update(status=response.status_code, response=response.get_data(as_text=True))
            return response

        bp.add_url_rule(full_rule, f"{product}_{view.__name__}", wrapped, methods=methods)
        return view

    return decorator


def control_routes(bp: Blueprint, sandbox: TwilioSandbox) -> None:
    """Knobs and the request log (no auth, no faults)."""

    @bp.route("/_sandbox/config", methods=["GET", "POST"])
    def config():
        body = request.get_json(silent=True) or {}
        for name in ("psd2_enabled", "callback_timeout", "verification_ttl"):
            if name in body:
                setattr(sandbox.config, name, body[name])
        return jsonify(asdict(sandbox.config))

    @bp.route("/_sandbox/requests", methods=["GET", "DELETE"])
    def request_log():
        with sandbox.world.lock:
            logged = list(sandbox.requests)
            if request.method == "DELETE":
                sandbox.requests.clear()
        return jsonify(logged)
