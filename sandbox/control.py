"""The control API (/api/...): the page, tests and benchmarks act as people through it."""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Blueprint, jsonify, request

from sandbox import telegram_person as tg
from sandbox.world import FAULT_MODES, SERVICES, World

METHOD_FAULTS = ("none", "error", "null")  # one Bot API method: answer 500, or ok with a null result

log = logging.getLogger(__name__)

MAX_EVENTS_WAIT = 30.0


class ControlError(Exception):
    """A control API error: JSON {"error": message} with an HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else dict(request.form.items())


def _field(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ControlError(400, f"{name!r} is required")
    return value


def _phone_arg() -> str:
    phone = request.args.get("phone")
    if not phone:
        raise ControlError(400, "query parameter 'phone' is required")
    return phone


def create_blueprint(world: World) -> Blueprint:
    """The control API routes for this world."""
    bp = Blueprint("control", __name__)

    @bp.errorhandler(ControlError)
    def control_error(err: ControlError):
        return jsonify(error=str(err)), err.status

    @bp.errorhandler(tg.NotFound)
    def not_found(err: tg.NotFound):
        return jsonify(error=str(err)), 404

    @bp.errorhandler(ValueError)
    def bad_value(err: ValueError):
        return jsonify(error=str(err)), 400

    # -- people --------------------------------------------------------------------------------

    @bp.post("/people")
    def add_person():
        body = _body()
        phone = _field(body, "phone")
        if not phone.startswith("+") or not phone[1:].isdigit():
            raise ControlError(400, "'phone' must be E.164, like +15005550006")
        person = world.add_person(phone, (body.get("name") or "").strip() or phone)
        return jsonify(person.as_json()), 201

    @bp.get("/people")
    def list_people():
        with world.lock:
            return jsonify([p.as_json() for p in world.people.values()])

    # -- telegram ------------------------------------------------------------------------------

    @bp.post("/telegram/send")
    def telegram_send():
        body = _body()
        return jsonify(tg.person_writes(world, _field(body, "phone"), _field(body, "text"))), 201

    @bp.post("/telegram/press")
    def telegram_press():
        body = _body()
        return jsonify(tg.person_presses(world, _field(body, "phone"), _field(body, "button"))), 201

    @bp.post("/telegram/share-contact")
    def telegram_share_contact():
        return jsonify(tg.person_shares_contact(world, _field(_body(), "phone"))), 201

    @bp.post("/telegram/change-number")
    def telegram_change_number():
        body = _body()
        phone, new_phone = _field(body, "phone"), _field(body, "new_phone")
        if not new_phone.startswith("+") or not new_phone[1:].isdigit():
            raise ControlError(400, "'new_phone' must be E.164, like +447700900123")
        try:
            holder = world.change_telegram_number(phone, new_phone)
        except KeyError:
            raise ControlError(404, f"no person with phone {phone}") from None
        return jsonify(holder.as_json())

    @bp.post("/telegram/block")
    def telegram_block():
        return jsonify(tg.person_blocks(world, _field(_body(), "phone")).as_json())

    @bp.get("/telegram/messages")
    def telegram_messages():
        return jsonify(tg.bot_messages(world, _phone_arg()))

    @bp.get("/telegram/chat")
    def telegram_chat():
        return jsonify(tg.chat_view(world, _phone_arg()))

    @bp.get("/telegram")
    def telegram_state():
        with world.lock:
            st = world.telegram
            hook = st.webhook
            return jsonify(webhook={"url": hook.url, "has_secret": bool(hook.secret_token),
                                    "last_error_message": hook.last_error_message} if hook else None,
                           pending_updates=len(st.updates), commands=st.commands,
                           limits=st.limits.as_json())

    @bp.post("/telegram/limits")
    def telegram_limits():
        body = _body()
        with world.lock:
            limits = world.telegram.limits
            for name in ("per_chat_per_second", "global_per_second"):
                if name in body:
                    value = body[name]
                    if value is not None and (not isinstance(value, (int, float)) or value <= 0):
                        raise ControlError(400, f"{name!r} must be a positive number or null")
                    setattr(limits, name, value)
            world.touch()
            return jsonify(limits.as_json())

    @bp.post("/telegram/method-fault")
    def telegram_method_fault():
        body = _body()
        method, mode = str(body.get("method", "")), body.get("mode")
        if not method or mode not in METHOD_FAULTS:
            raise ControlError(400, f"give a Bot API 'method' and a 'mode', one of {list(METHOD_FAULTS)}")
        with world.lock:
            faults = world.telegram.method_faults
            if mode == "none":
                faults.pop(method.lower(), None)
            else:
                faults[method.lower()] = mode
            world.touch()
            return jsonify(method_faults=dict(faults))

    # -- sms -----------------------------------------------------------------------------------

    @bp.post("/sms/send")
    def sms_send():
        body = _body()
        sms = world.person_sends_sms(_field(body, "phone"), _field(body, "text"))
        hook = world.on_person_sms
        if hook is None:
            return jsonify(sms=sms.as_json(), delivered=False,
                           error="the Twilio stand-in is not loaded: nobody forwards this SMS"), 202
        try:
            hook(sms)
        except Exception as exc:  # the stand-in failed to post it; the person still sent it
            log.exception("sandbox: forwarding SMS %s failed", sms.sid)
            return jsonify(sms=sms.as_json(), delivered=False, error=repr(exc)), 202
        return jsonify(sms=sms.as_json(), delivered=True), 201

    @bp.get("/sms/inbox")
    def sms_inbox():
        return jsonify([m.as_json() for m in world.inbox(_phone_arg())])

    # -- authenticator -------------------------------------------------------------------------

    def approvals(phone: str | None, only_pending: bool) -> list[dict[str, Any]]:
        with world.lock:
            now = world.clock()
            found = [a for a in world.approvals.values() if phone is None or a.phone == phone]
            return [a.as_json(now) for a in sorted(found, key=lambda a: a.created_at)
                    if not only_pending or a.current_status(now) == "pending"]

    @bp.get("/authenticator/pending")
    def authenticator_pending():
        return jsonify(approvals(request.args.get("phone"), only_pending=True))

    @bp.get("/authenticator/approvals")
    def authenticator_all():
        return jsonify(approvals(request.args.get("phone"), only_pending=False))

    @bp.post("/authenticator/<approval_id>/<decision>")
    def authenticator_decide(approval_id: str, decision: str):
        if decision not in ("approve", "deny"):
            raise ControlError(404, "decision must be approve or deny")
        with world.lock:
            approval = world.approvals.get(approval_id)
            if approval is None:
                raise ControlError(404, f"no approval {approval_id!r}")
            status = approval.current_status(world.clock())
            if status != "pending":
                raise ControlError(409, f"approval {approval_id!r} is already {status}")
            approval.status = "approved" if decision == "approve" else "denied"
            world.touch()
            hook = world.on_decision.get(approval.provider)
            result = approval.as_json(world.clock())
        callback: dict[str, Any] = {"sent": False}
        if hook is None:
            callback["error"] = f"no {approval.provider} stand-in registered to send the callback"
        else:
            try:
                hook(approval)
                callback["sent"] = True
            except Exception as exc:
                log.exception("sandbox: %s decision callback failed", approval.provider)
                callback["error"] = repr(exc)
        return jsonify(approval=result, callback=callback)

    # -- the person's authenticator app (Payfriend's app with the Verify Push SDK) ----------------

    def app_json(phone: str) -> dict[str, Any]:
        with world.lock:
            person = world.people.get(phone)
            if person is None:
                raise ControlError(404, f"no person with phone {phone!r}; add them with POST /api/people")
            return {"phone": person.phone, "installed": person.app_installed,
                    "last_link_status": person.app_link_status}

    @bp.get("/verify/app")
    def verify_app_state():
        return jsonify(app_json(_phone_arg()))

    @bp.post("/verify/app")
    def verify_app_switch():
        body = _body()
        phone, installed = _field(body, "phone"), body.get("installed")
        if not isinstance(installed, bool):
            raise ControlError(400, "'installed' must be true or false")
        if world.set_app_installed(phone, installed) is None:
            raise ControlError(404, f"no person with phone {phone!r}; add them with POST /api/people")
        return jsonify(app_json(phone))

    # -- knobs ---------------------------------------------------------------------------------

    @bp.get("/faults")
    def get_faults():
        with world.lock:
            return jsonify(faults=dict(world.faults), slow_seconds=world.slow_seconds)

    @bp.post("/faults")
    def set_faults():
        body = _body()
        service, mode = body.get("service"), body.get("mode")
        if service not in SERVICES or mode not in FAULT_MODES:
            raise ControlError(400, f"service must be one of {list(SERVICES)}, mode one of {list(FAULT_MODES)}")
        seconds = body.get("slow_seconds")
        if seconds is not None and (not isinstance(seconds, (int, float)) or not 0 <= seconds <= 120):
            raise ControlError(400, "'slow_seconds' must be a number of seconds between 0 and 120")
        world.set_fault(service, mode)
        with world.lock:
            if seconds is not None:
                world.slow_seconds = float(seconds)
            return jsonify(faults=dict(world.faults), slow_seconds=world.slow_seconds)

    @bp.get("/config")
    def get_config():
        with world.lock:
            return jsonify(dict(world.callbacks))

    @bp.post("/config")
    def set_config():
        body = _body()
        unknown = set(body) - set(world.callbacks)
        if unknown:
            raise ControlError(400, f"unknown settings {sorted(unknown)}; known: {sorted(world.callbacks)}")
        for name, url in body.items():
            if url is not None and (not isinstance(url, str) or not url.startswith(("http://", "https://"))):
                raise ControlError(400, f"{name!r} must be an http(s) URL or null")
        with world.lock:
            world.callbacks.update(body)
            world.touch()
            return jsonify(dict(world.callbacks))

    @bp.get("/events")
    def events():
        try:
            since = int(request.args.get("since", "0"))
            wait = min(max(float(request.args.get("timeout", "25")), 0.0), MAX_EVENTS_WAIT)
        except ValueError:
            raise ControlError(400, "'since' must be an integer and 'timeout' a number") from None
        deadline = time.monotonic() + wait
        with world.lock:
            while world.version <= since and not world.telegram.stopping.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                world.changed.wait(remaining)
            return jsonify(version=world.version, changed=world.version > since)

    @bp.post("/reset")
    def reset():
        errors = world.reset()
        if errors:
            return jsonify(ok=False, error="; ".join(errors), version=world.version), 500
        return jsonify(ok=True, version=world.version)

    return bp
