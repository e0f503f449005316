"""Twilio webhooks: inbound SMS and Verify Push events. X-Twilio-Signature first, then one service call."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, jsonify, request

from webhooks.context import container, signed_url

log = logging.getLogger(__name__)
blueprint = Blueprint("twilio", __name__)
SIGNATURE_HEADER = "X-Twilio-Signature"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def _require_signature() -> None:
    """403 unless Twilio signed this request for the URL it was sent to."""
    signature = request.headers.get(SIGNATURE_HEADER)
    if not signature or not container().verify_twilio_signature(signed_url(True), request.form, signature):
        log.warning("Twilio webhook %s with a missing or bad signature refused", request.path)
        abort(403)


@blueprint.post("/webhooks/twilio/sms")
def inbound_sms():
    """A person texted Payfriend's number; replies go out through the outbox, not TwiML, so they retry."""
    _require_signature()
    message = container().inbound_sms(request.form)
    if message is None:
        abort(400)
    container().services.handle_inbound(message)
    return Response(EMPTY_TWIML, mimetype="text/xml")


@blueprint.post("/webhooks/twilio/verify")
def verify_event():
    """A Verify Push challenge changed; a job fetches the challenge again before anything is decided."""
    _require_signature()
    event = container().verify_event(request.form)
    if event is None or event.get("request_id") is None or event.get("decision") is None:
        return jsonify(result="ignored"), 200
    outcome = container().services.accept_push_event(event["request_id"], event["dedupe_key"])
    return jsonify(result=outcome), 200
