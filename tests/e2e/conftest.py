"""Run the whole of Payfriend in this process against a sandbox over HTTP: no mocks."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any, Callable

import pytest

from bot import runtime
from bot.runtime import Process
from bot.settings import Settings
from tests.e2e.harness import Phone
from tests.fixtures_openapi import recorded_twilio_requests

FAST = {"fallback_seconds": 1.5, "payment_expiry_seconds": 6}
FLAVOURS = [("telegram", "authy"), ("sms", "authy"), ("telegram", "verify"), ("sms", "verify")]
_numbers = itertools.count(100)


def e2e_settings(database_url: str, sandbox_url: str, **overrides: Any) -> Settings:
    """Settings for a test: no credentials (so: the sandbox), a free port, no .env file."""
    values: dict[str, Any] = {"database_url": database_url, "sandbox_url": sandbox_url, "port": 0,
                              "http_timeout_seconds": 2, **FAST}
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture(autouse=True)
def twilio_requests_match_openapi(sandbox, twilio_specs_if_present) -> Iterator[None]:
    """After each test, every request Payfriend's twilio client sent must match Twilio's OpenAPI specs."""
    yield
    if twilio_specs_if_present is None:
        return  # the contract tests skip and say why
    problems = [p for entry in recorded_twilio_requests(sandbox.url) for p in twilio_specs_if_present.problems(entry)]
    assert not problems, "\n".join(problems)


@pytest.fixture(params=FLAVOURS, ids=[f"{c}-{a}" for c, a in FLAVOURS])
def flavour(request) -> tuple[str, str]:
    """(channel, authenticator): every payment path runs on each."""
    return request.param


@pytest.fixture
def start_payfriend(database_url: str, sandbox, request) -> Iterator[Callable[..., Process]]:
    """Start Payfriend (web + worker + Telegram) with settings overrides; stopped after the test."""
    started: list[Process] = []
    authenticator = request.getfixturevalue("flavour")[1] if "flavour" in request.fixturenames else "authy"

    def start(**overrides: Any) -> Process:
        overrides.setdefault("authenticator", authenticator)
        container = runtime.start(e2e_settings(database_url, sandbox.url, **overrides), web=True, worker=True,
                                    migrate=True)
        started.append(container)
        return container

    yield start
    for container in reversed(started):
        container.stop()


@pytest.fixture
def payfriend(start_payfriend) -> Process:
    """Payfriend with short timers."""
    return start_payfriend()


@pytest.fixture
def new_person(sandbox, request) -> Callable[..., Phone]:
    """Make a person on the test's channel; call .register() to sign them up."""
    channel, authenticator = (request.getfixturevalue("flavour") if "flavour" in request.fixturenames
                              else ("telegram", "authy"))

    def make(name: str, container: Process | None = None) -> Phone:
        # With Verify the person's app sets itself up from the bot's link, as it would on a real phone.
        hook = Phone.wait_app_linked if authenticator == "verify" else None
        return Phone(sandbox.url, f"+1500555{next(_numbers):04d}", name, channel, on_registered=hook)

    return make


@pytest.fixture
def hermione(payfriend, new_person) -> Phone:
    """A registered person."""
    person = new_person("Hermione", payfriend)
    person.register()
    return person
