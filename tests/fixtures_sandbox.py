"""Sandbox fixtures: a running sandbox server on a free loopback port."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from sandbox.server import RunningSandbox, start_sandbox
from sandbox.world import World


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    """A fresh sandbox (new World) listening on 127.0.0.1, stopped after the test."""
    running = start_sandbox()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def sandbox_factory() -> Iterator[Callable[..., RunningSandbox]]:
    """Start sandboxes with a given World (keys, clock ...); every one is stopped after the test."""
    started: list[RunningSandbox] = []

    def start(world: World | None = None) -> RunningSandbox:
        running = start_sandbox(world=world)
        started.append(running)
        return running

    try:
        yield start
    finally:
        for running in reversed(started):
            running.stop()
