"""The sandbox Flask app: every stand-in plus the control API and the phone page."""

from __future__ import annotations

import importlib
import logging

from flask import Flask, send_from_directory

from sandbox.world import World

log = logging.getLogger(__name__)

# Stand-ins built alongside this one: (module, URL prefix). Mounted when importable.
_PROVIDER_BLUEPRINTS = (("sandbox.authy_api", "/authy"), ("sandbox.twilio_blueprint", "/twilio"))


def create_app(world: World) -> Flask:
    """Build the sandbox app around one shared World."""
    from sandbox import control, page, telegram_api

    app = Flask(__name__, static_folder=None)
    app.config["WORLD"] = world
    app.json.sort_keys = False  # type: ignore[attr-defined] # keep details (payee, amount ...) in the order the provider gave them
    app.register_blueprint(telegram_api.create_blueprint(world))
    app.register_blueprint(control.create_blueprint(world), url_prefix="/api")
    app.register_blueprint(page.create_blueprint(world))

    @app.get("/favicon.ico")
    def favicon():  # browsers ask for it whatever the page links; the phone page's icon is an SVG
        return send_from_directory(page.STATIC, "favicon.svg", mimetype="image/svg+xml", max_age=3600)

    for module_name, prefix in _PROVIDER_BLUEPRINTS:
        try:
            blueprint = importlib.import_module(module_name).create_blueprint(world)
        except ImportError as exc:  # that stand-in (or a module it needs) is not there yet
            missing = isinstance(exc, ModuleNotFoundError) and exc.name == module_name
            log.log(logging.INFO if missing else logging.WARNING, "sandbox: %s not mounted at %s: %s",
                    module_name, prefix, exc, exc_info=not missing)
            continue
        app.register_blueprint(blueprint, url_prefix=prefix)
    return app
