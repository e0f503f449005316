"""Telegram Bot API stand-in at /bot<token>/<method> (what python-telegram-bot 22 calls)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from sandbox.world import World


def create_blueprint(world: World) -> Blueprint:
    """The Bot API routes for this world."""
    bp = Blueprint("telegram_api", __name__)

    @bp.route("/bot<token>/<method>", methods=["GET", "POST"])
    def call(token: str, method: str):
        if token != world.keys.telegram_token:
            return jsonify(ok=False, error_code=401, description="Unauthorized"), 401
        if method == "getMe":
            return jsonify(ok=True, result={"id": int(token.split(":")[0]), "is_bot": True,
                                            "first_name": "Payfriend", "username": "payfriend_bot"})
        return jsonify(ok=False, error_code=404, description="Not Found"), 404

    return bp


def shutdown(world: World) -> None:
    """Wake and end every long poll and webhook worker of this world."""
