"""Sandbox fixtures: a running sandbox server on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.server import RunningSandbox, start_sandbox


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    """A fresh sandbox (new World) listening on 127.0.0.1, stopped after the test."""
    running = start_sandbox()
    try:
        yield running
    finally:
        running.stop()
