"""Telegram updates in webhook mode: the secret token is checked before the body is read."""

from __future__ import annotations

import hmac
import logging

from flask import Blueprint, abort, jsonify, request

from webhooks.context import container

log = logging.getLogger(__name__)
blueprint = Blueprint("telegram", __name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@blueprint.post("/webhooks/telegram")
def update():
    """Hand one update to the same service polling uses; 403 without the right secret token."""
    c = container()
    expected = c.telegram_webhook_secret
    given = request.headers.get(SECRET_HEADER, "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        abort(403)
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not c.handle_telegram_update(data):
        abort(400)
    return jsonify(ok=True), 200
