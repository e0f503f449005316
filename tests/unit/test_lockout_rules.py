"""The failure counter's arithmetic: warn at the 4th failure in a row, lock at the 5th, re-lock after a lock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from bot.core.entities import User
from bot.core.lockout import Strike, attempts_left, count_failure, count_success, is_locked

NOW = datetime(2026, 12, 1, 12, tzinfo=timezone.utc)
DAY = timedelta(hours=24)


def person() -> User:
    return User(id=1, created_at=NOW)


def test_four_warns_five_locks_for_the_cool_off():
    user = person()
    strikes = [count_failure(user, NOW, DAY) for _ in range(5)]
    assert strikes == [Strike.RETRY] * 3 + [Strike.LAST_TRY, Strike.LOCKED]
    assert user.locked_until == NOW + DAY and attempts_left(user) == 0
    assert is_locked(user, NOW + DAY - timedelta(seconds=1)) and not is_locked(user, NOW + DAY)


def test_after_a_lock_one_failure_locks_again_and_a_success_clears_everything():
    user = person()
    for _ in range(5):
        count_failure(user, NOW, DAY)
    later = NOW + DAY
    assert count_failure(user, later, DAY) is Strike.LOCKED and user.locked_until == later + DAY
    count_success(user)
    assert (user.failed_attempts, user.locked_until, attempts_left(user)) == (0, None, 5)
