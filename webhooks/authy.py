"""Authy OneTouch decisions: signature first, then one service call."""

from __future__ import annotations

import logging

from flask import Blueprint, abort, jsonify, request

from bot.ports import PushBinding
from webhooks.context import container, signed_url

log = logging.getLogger(__name__)
blueprint = Blueprint("authy", __name__)


@blueprint.post("/webhooks/authy")
def onetouch_callback():
    """Record an approve or deny from the Authy app; 403 unless Authy signed it."""
    c = container()
    body = request.get_json(silent=True)
    nonce = request.headers.get("X-Authy-Signature-Nonce", "")
    signature = request.headers.get("X-Authy-Signature", "")
    if not isinstance(body, dict) or not c.verify_authy_callback(signed_url(False), "POST", nonce, signature, body):
        log.warning("Authy callback with a missing or bad signature refused")
        abort(403)
    decision = c.parse_authy_callback(body)
    if decision is None:
        return jsonify(result="ignored"), 200
    if not decision.get("authy_id") or not decision.get("payment_id"):
        log.warning("Authy callback without its Authy id or payment id refused")
        abort(403)  # a decision must name whose push it answers (the console's test callback does not)
    claimed = PushBinding(decision.get("authy_id"), decision.get("payment_id"))
    outcome = c.services.record_decision(decision["uuid"], decision["status"],
                                         f"authy:{decision['uuid']}:{decision['status']}", claimed)
    if outcome == "mismatch":
        abort(403)  # signed, but bound to someone else's push: logged by the service, no effect
    return jsonify(result=outcome), 200
