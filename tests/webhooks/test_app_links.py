"""POST /app/enrol: the person's app trades its set-up link for a Verify access token, once."""

from __future__ import annotations

import logging

import pytest

from bot.services.app_link import new_link
from tests.webhooks.support import WebApp

BASE = "https://pay.example.org"


@pytest.fixture
def app(start_app) -> WebApp:
    """The app with Twilio Verify as the authenticator, reachable at BASE."""
    app = start_app(authenticator="verify")
    app.container.services.public_url = lambda: BASE
    return app


def link_for(app: WebApp, user_id: int) -> str:
    """A fresh set-up link for this person, as the bot would hand it out; returns its token."""
    services = app.container.services
    with services.uow() as uow:
        user = uow.users.get_for_update(user_id)
        url = new_link(services, user)
        uow.users.save(user)
        uow.commit()
    assert url is not None and url.startswith(BASE + "/app/enrol#")
    return url.split("#", 1)[1]


def test_a_live_link_gets_a_verify_access_token_for_the_persons_entity_once(app: WebApp, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    user = app.ready_user()
    token = link_for(app, user.id)

    first = app.client.post("/app/enrol", json={"token": token})
    second = app.client.post("/app/enrol", json={"token": token})

    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-store"
    body = first.get_json()
    assert body["identity"] == user.authenticator_id
    assert body["service_sid"] == app.sandbox.world.keys.verify_service_sid
    assert body["factor_friendly_name"] == "Payfriend app" and len(body["access_token"]) >= 20
    assert second.status_code == 410 and "Send 'app'" in second.get_json()["error"]
    assert token not in caplog.text and body["access_token"] not in caplog.text


@pytest.mark.parametrize("body", [None, {}, {"token": 5}, ["token"]], ids=["none", "empty", "number", "list"])
def test_a_request_without_a_token_is_refused(app: WebApp, body) -> None:
    response = app.client.post("/app/enrol", json=body) if body is not None else app.client.post("/app/enrol")
    assert response.status_code == 400


def test_an_unknown_link_is_gone(app: WebApp) -> None:
    app.ready_user()
    response = app.client.post("/app/enrol", json={"token": "A" * 43})
    assert response.status_code == 410


def test_a_verify_outage_answers_503_and_leaves_the_link_usable(app: WebApp) -> None:
    user = app.ready_user()
    token = link_for(app, user.id)
    app.set_fault("verify", "down")
    assert app.client.post("/app/enrol", json={"token": token}).status_code == 503
    app.set_fault("verify", "none")
    assert app.client.post("/app/enrol", json={"token": token}).status_code == 200


def test_the_link_opened_in_a_browser_says_where_it_belongs(app: WebApp) -> None:
    response = app.client.get("/app/enrol")
    assert response.status_code == 200 and "Payfriend app" in response.get_data(as_text=True)
