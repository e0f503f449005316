"""Ids that never repeat across runs: increasing numbers with a wall-clock floor, and random SIDs."""

from __future__ import annotations

import secrets
import time

ID_EPOCH = 1_735_689_600  # 2025-01-01T00:00:00Z
IDS_PER_SECOND = 10  # a run handing out fewer ids than this per second of its life ends below the next run's floor
ID_CEILING = 2**31 - 1  # Telegram and Authy ids fit a signed 32-bit integer
FLOOR_CEILING = ID_CEILING - 2**26  # the floor stops rising here (mid 2031), leaving room to count on
RESTORE_GAP = 1000  # jump after a restore: ids handed out after the last save are never handed out again


def clock_floor(now: float | None = None) -> int:
    """The smallest id a fresh counter may start at now: grows with the wall clock, stays below 2**31."""
    seconds = (time.time() if now is None else now) - ID_EPOCH
    return min(max(int(seconds * IDS_PER_SECOND), 0), FLOOR_CEILING) + 1


class IncreasingIds:
    """A counter that starts at the wall-clock floor (or `minimum`, if larger) and only goes up."""

    def __init__(self, minimum: int = 1) -> None:
        self.last = max(minimum, clock_floor()) - 1

    def next(self) -> int:
        """The next id."""
        self.last += 1
        return self.last

    def snapshot(self) -> int:
        """The last id handed out."""
        return self.last

    def restore(self, last: int) -> None:
        """Continue after a saved counter, with a gap, never going back."""
        self.last = max(self.last, int(last) + RESTORE_GAP)


def twilio_sid(prefix: str) -> str:
    """A Twilio-shaped SID: two letters and 32 random hex digits."""
    return prefix + secrets.token_hex(16)


def telegram_query_id() -> str:
    """A callback query id: a large random number as a string, as Telegram sends it."""
    return str(10**18 + secrets.randbelow(9 * 10**18))
