"""One failure counter per person (RTS Art. 4(3)(b)): every failed code counts, the 5th in a row locks.

A lock is temporary: after its cool-off the person may try again, with the counter left one short of
the limit, so the next failure locks again at once. A successful authentication resets the counter.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from bot.core.entities import User

MAX_FAILURES = 5


class Strike(StrEnum):
    """What one more failure means for the person."""

    RETRY = "retry"  # attempts are left
    LAST_TRY = "last_try"  # one more failure locks: the person is warned
    LOCKED = "locked"  # this failure locked the person


def is_locked(user: User, now: datetime) -> bool:
    """Whether the person is locked at `now`."""
    return user.locked_until is not None and now < user.locked_until


def count_failure(user: User, now: datetime, cool_off: timedelta) -> Strike:
    """Count one failure on the person (in place) and say what it means; the 5th in a row locks."""
    if user.locked_until is not None and now >= user.locked_until:  # a lock that ran out
        user.locked_until, user.failed_attempts = None, MAX_FAILURES - 1
    user.failed_attempts += 1
    if user.failed_attempts >= MAX_FAILURES:
        user.locked_until = now + cool_off
        return Strike.LOCKED
    return Strike.LAST_TRY if user.failed_attempts == MAX_FAILURES - 1 else Strike.RETRY


def attempts_left(user: User) -> int:
    """How many failures the person may still have before the lock."""
    return max(0, MAX_FAILURES - user.failed_attempts)


def count_success(user: User) -> None:
    """A successful authentication: the counter starts again (in place)."""
    user.failed_attempts, user.locked_until = 0, None
