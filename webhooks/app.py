"""The Flask app factory: every blueprint authenticates first, translates, calls one service, replies."""

from __future__ import annotations

from flask import Flask

from webhooks import app_links, authy, health, telegram, twilio
from webhooks.context import Application


def create_app(container: Application) -> Flask:
    """Build the Flask app around the wired application; nothing here talks to a vendor."""
    app = Flask(__name__)  # serves webhooks/static: the logo shown in push requests
    app.config["MAX_CONTENT_LENGTH"] = 256 * 1024
    app.extensions["payfriend"] = container
    app.register_blueprint(health.blueprint)
    app.register_blueprint(authy.blueprint)
    app.register_blueprint(telegram.blueprint)
    app.register_blueprint(twilio.blueprint)
    app.register_blueprint(app_links.blueprint)
    return app
