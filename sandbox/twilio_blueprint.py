"""The Twilio stand-in assembled: shared plumbing (twilio_api) plus Messaging and Verify routes, and the
people's Payfriend app (push_app), which enrols through Verify Push.

It lives apart from twilio_api because the product modules import twilio_api: building the blueprint
there made the three modules import each other.
"""

from __future__ import annotations

from flask import Blueprint

from sandbox import twilio_messaging, twilio_verify
from sandbox.push_app import PushApp
from sandbox.twilio_api import TwilioConfig, TwilioSandbox, control_routes
from sandbox.world import World


def create_blueprint(world: World, config: TwilioConfig | None = None) -> Blueprint:
    """The Twilio stand-in for this world; `bp.twilio` is its TwilioSandbox."""
    sandbox = TwilioSandbox(world, config)
    bp = Blueprint("twilio", __name__)
    bp.twilio = sandbox  # type: ignore[attr-defined]
    control_routes(bp, sandbox)
    twilio_messaging.register(bp, sandbox)
    twilio_verify.register(bp, sandbox)
    world.on_reset.append(sandbox.reset)
    world.stand_ins["twilio"] = sandbox
    PushApp(sandbox).register()  # each person's Payfriend app, enrolling through Verify Push
    return bp
