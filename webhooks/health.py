"""Liveness and readiness."""

from __future__ import annotations

from flask import Blueprint, jsonify

from webhooks.context import container

blueprint = Blueprint("health", __name__)


@blueprint.get("/health")
def health():
    """200 when the database answers, 503 otherwise."""
    ok = container().database_ok()
    return jsonify(status="ok" if ok else "database unavailable"), 200 if ok else 503
