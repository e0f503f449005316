"""The webhook app as bootstrap builds it: real adapters on a running sandbox, a migrated database, no server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bot.bootstrap import Container, build
from models.migrate import upgrade
from sandbox.server import RunningSandbox
from tests.jobs_inline import run_jobs_now
from tests.webhooks.support import WebApp, webhook_settings
from webhooks.app import create_app


@pytest.fixture
def start_app(database_url: str, sandbox: RunningSandbox) -> Iterator[Callable[..., WebApp]]:
    """Build the app with settings overrides on the test's database and sandbox; stopped after the test."""
    upgrade(database_url)
    built: list[Container] = []

    def start(**overrides: Any) -> WebApp:
        container = build(webhook_settings(database_url, sandbox.url, **overrides), sandbox_url=sandbox.url)
        container.services.wake = run_jobs_now(container.services)  # what the worker would do, before the answer
        built.append(container)
        return WebApp(container, create_app(container).test_client(), sandbox)

    yield start
    for container in reversed(built):
        container.close()


@pytest.fixture
def app(start_app: Callable[..., WebApp]) -> WebApp:
    """The app with Authy as the authenticator."""
    return start_app()
