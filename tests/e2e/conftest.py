"""Run the whole of Payfriend in this process against a sandbox over HTTP: no mocks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Callable

import pytest

from bot.bootstrap import Container, build_and_start
from bot.settings import Settings
from tests.e2e.harness import Phone

FAST = {"fallback_seconds": 1.5, "payment_expiry_seconds": 6}


def e2e_settings(database_url: str, sandbox_url: str, **overrides: Any) -> Settings:
    """Settings for a test: no credentials (so: the sandbox), a free port, no .env file."""
    values: dict[str, Any] = {"database_url": database_url, "sandbox_url": sandbox_url, "port": 0,
                              "http_timeout_seconds": 2, **FAST}
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture
def start_payfriend(database_url: str, sandbox) -> Iterator[Callable[..., Container]]:
    """Start Payfriend (web + worker + Telegram) with settings overrides; stopped after the test."""
    started: list[Container] = []

    def start(**overrides: Any) -> Container:
        container = build_and_start(e2e_settings(database_url, sandbox.url, **overrides), web=True, worker=True,
                                    migrate=True)
        started.append(container)
        return container

    yield start
    for container in reversed(started):
        container.stop()


@pytest.fixture
def payfriend(start_payfriend) -> Container:
    """Payfriend with short timers."""
    return start_payfriend()


@pytest.fixture
def hermione(sandbox, payfriend) -> Phone:
    """A registered person."""
    phone = Phone(sandbox.url, "+15005550006", "Hermione")
    phone.register()
    return phone
