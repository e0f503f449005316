"""The person's authenticator app redeems its set-up link here (the token is the credential)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from bot.ports import AuthenticatorUnavailable
from webhooks.context import container

blueprint = Blueprint("app_links", __name__)

GONE = "This link has expired or was used already. Send 'app' to Payfriend for a new one."
OPEN_ON_PHONE = ("<!doctype html><title>Payfriend</title><p>Open this link on your phone, where the "
                 "Payfriend app is installed: the app sets itself up from it.</p>")


@blueprint.post("/app/enrol")
def redeem():
    """The app posts the link's token ({"token": ...}); it gets its enrolment token once, or 410."""
    body = request.get_json(silent=True)
    token = body.get("token") if isinstance(body, dict) else None
    if not isinstance(token, str):
        return _no_store(jsonify(error="a JSON body with the link's token is required"), 400)
    try:
        access = container().services.redeem_app_link(token)
    except AuthenticatorUnavailable:
        return _no_store(jsonify(error="the approval service is unavailable; try again in a minute"), 503)
    if access is None:
        return _no_store(jsonify(error=GONE), 410)
    return _no_store(jsonify(identity=access.identity, service_sid=access.service_sid, access_token=access.token,
                             factor_friendly_name=access.factor_friendly_name), 200)


@blueprint.get("/app/enrol")
def opened_in_a_browser():
    """A browser that opens the link learns where it belongs; the token (in the fragment) never arrives."""
    return OPEN_ON_PHONE, 200, {"Content-Type": "text/html; charset=utf-8"}


def _no_store(response, status: int):
    """Nothing a cache may keep: the answer carries a credential."""
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response
