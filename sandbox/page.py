"""The phone page at /: a person's Telegram chat, SMS inbox and authenticator app."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, send_from_directory

from sandbox.world import World

STATIC = Path(__file__).parent / "static"


def create_blueprint(world: World) -> Blueprint:
    """The page and its static files."""
    bp = Blueprint("page", __name__)

    @bp.get("/")
    def index():
        return send_from_directory(STATIC, "index.html")

    @bp.get("/static/<path:name>")
    def static(name: str):
        return send_from_directory(STATIC, name)

    return bp
