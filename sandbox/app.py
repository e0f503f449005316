"""The sandbox Flask app: every stand-in plus the control API and the phone page."""

from __future__ import annotations

import importlib
import logging

from flask import Flask

from sandbox.world import World

log = logging.getLogger(__name__)

# Stand-ins built alongside this one: (module, URL prefix). Mounted when importable.
_PROVIDER_BLUEPRINTS = (("sandbox.authy_api", "/authy"), ("sandbox.twilio_api", "/twilio"))


def create_app(world: World) -> Flask:
    """Build the sandbox app around one shared World."""
    from sandbox import control, page, telegram_api

    app = Flask(__name__, static_folder=None)
    app.config["WORLD"] = world
    app.register_blueprint(telegram_api.create_blueprint(world))
    app.register_blueprint(control.create_blueprint(world), url_prefix="/api")
    app.register_blueprint(page.create_blueprint(world))
    for module_name, prefix in _PROVIDER_BLUEPRINTS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            log.info("sandbox: %s not available yet, %s not mounted", module_name, prefix)
            continue
        app.register_blueprint(module.create_blueprint(world), url_prefix=prefix)
    return app
