"""Run the jobs a use case writes before it returns, as a worker would: for tests without worker threads."""

from __future__ import annotations

from typing import Callable

from bot.jobs import drain
from bot.services import Services


def run_jobs_now(services: Services) -> Callable[[], None]:
    """A wake-up that drains the due jobs on the caller's thread (nested wake-ups join the running drain)."""
    draining = [False]

    def wake() -> None:
        if draining[0]:
            return  # the drain already running picks the new jobs up
        draining[0] = True
        try:
            drain(services)
        finally:
            draining[0] = False
    return wake
