"""The WSGI entry point for gunicorn: `gunicorn 'bot.wsgi:create()'` builds the web process when called."""

from __future__ import annotations

from flask import Flask


def create() -> Flask:
    """Build the web process (webhooks; Telegram updates in webhook mode) from the environment."""
    from bot.runtime import start
    from bot.settings import load_settings
    from webhooks.app import create_app

    process = start(load_settings(), web=True, worker=False, serve_http=False)
    return create_app(process.app)
