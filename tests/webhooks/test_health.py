"""GET /health: 200 while the database answers, 503 when it does not."""

from __future__ import annotations

from bot.bootstrap import build
from tests.webhooks.support import WebApp, webhook_settings
from webhooks.app import create_app


def test_health_is_ok_when_the_database_answers(app: WebApp) -> None:
    response = app.client.get("/health")

    assert (response.status_code, response.get_json()) == (200, {"status": "ok"})


def test_health_is_unavailable_when_the_database_does_not_answer(sandbox, tmp_path) -> None:
    unreachable = f"sqlite:///{tmp_path / 'no such directory' / 'payfriend.db'}"
    container = build(webhook_settings(unreachable, sandbox.url), sandbox_url=sandbox.url)
    try:
        response = create_app(container).test_client().get("/health")
    finally:
        container.close()

    assert (response.status_code, response.get_json()) == (503, {"status": "database unavailable"})
