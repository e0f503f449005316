"""The control API (/api/...): the page, tests and benchmarks act as people through it."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from sandbox.world import World


def create_blueprint(world: World) -> Blueprint:
    """The control API routes for this world."""
    bp = Blueprint("control", __name__)

    @bp.post("/people")
    def add_person():
        body = request.get_json(silent=True) or {}
        person = world.add_person(body["phone"], body.get("name") or body["phone"])
        return jsonify(person.as_json()), 201

    @bp.get("/people")
    def list_people():
        with world.lock:
            return jsonify([p.as_json() for p in world.people.values()])

    return bp
