"""The WSGI entry point for gunicorn: `gunicorn 'webhooks.wsgi:create()'` builds the app when called."""

from __future__ import annotations

from flask import Flask


def create() -> Flask:
    """Build the web process (webhooks; Telegram in webhook mode) from the environment."""
    from bot.bootstrap import build_and_start
    from bot.settings import load_settings

    container = build_and_start(load_settings(), web=True, worker=False, serve_http=False)
    from webhooks.app import create_app

    return create_app(container)
