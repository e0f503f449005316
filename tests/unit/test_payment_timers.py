"""Per-payment timers on APScheduler: deadlines close together share one timer, none fires before its deadline."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from bot.scheduler import SLOT_MS, PaymentTimers


@pytest.fixture
def timers():
    timers = PaymentTimers()
    timers.start()
    yield timers
    timers.stop()


def slot_start(after: timedelta) -> datetime:
    """The start of a 50 ms slot at least `after` from now, so that deadlines inside it share it."""
    ms = int((datetime.now(timezone.utc) + after).timestamp() * 1000)
    return datetime.fromtimestamp((ms // SLOT_MS + 1) * SLOT_MS / 1000, timezone.utc)


def wait_until(condition, seconds: float = 5.0) -> bool:
    """Poll `condition` until it holds or `seconds` pass."""
    end = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.01)
    return True


def test_deadlines_in_one_slot_share_one_timer_and_others_get_their_own(timers):
    start = slot_start(timedelta(minutes=5))
    for i in range(20):  # twenty payments falling due within the same 50 ms
        timers.schedule("fallback", f"pay_{i}", start + timedelta(milliseconds=1 + i * 2))
    assert timers.pending_jobs() == 1

    timers.schedule("expiry", "pay_0", start + timedelta(minutes=20))
    timers.schedule("fallback", "pay_x", start + timedelta(seconds=1))
    assert timers.pending_jobs() == 3


def test_a_timer_wakes_the_sweep_once_its_deadline_has_passed(timers):
    woken: list[datetime] = []
    fired = threading.Event()

    def due() -> None:
        woken.append(datetime.now(timezone.utc))
        fired.set()

    timers.bind(due)
    deadline = datetime.now(timezone.utc) + timedelta(milliseconds=200)
    timers.schedule("fallback", "pay_1", deadline)
    timers.schedule("fallback", "pay_2", deadline)

    assert fired.wait(10)
    assert woken[0] >= deadline  # never early: the sweep would find nothing due
    assert wait_until(lambda: timers.pending_jobs() == 0)  # APScheduler drops a date job after its run

    fired.clear()  # the slot is free again: a later deadline in another slot arms a new timer
    timers.schedule("fallback", "pay_3", datetime.now(timezone.utc) + timedelta(milliseconds=100))
    assert fired.wait(10) and len(woken) == 2


def test_a_process_without_a_running_scheduler_keeps_no_timer():
    timers = PaymentTimers()
    timers.schedule("fallback", "pay_1", datetime.now(timezone.utc) + timedelta(seconds=1))
    assert timers.pending_jobs() == 0
