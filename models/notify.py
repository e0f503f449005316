"""Wake-ups across processes: PostgreSQL LISTEN/NOTIFY on one channel for "workers have work"."""

from __future__ import annotations

import logging
import threading
from typing import Callable

import psycopg

from models.engine import normalize_url

log = logging.getLogger(__name__)

WORK_CHANNEL = "payfriend_work"
RECONNECT_SECONDS = 2.0


class WorkListener:
    """A thread that calls `wake` whenever any process commits outbox messages or jobs (PostgreSQL only)."""

    def __init__(self, database_url: str, wake: Callable[[], None]) -> None:
        url = normalize_url(database_url).set(drivername="postgresql")
        self._conninfo = url.render_as_string(hide_password=False)
        self._wake = wake
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start listening in a daemon thread."""
        self._thread = threading.Thread(target=self._loop, name="listen", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop listening (within about a second)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True, connect_timeout=5) as connection:
                    connection.execute(f"LISTEN {WORK_CHANNEL}")
                    self._wake()  # whatever was written while nobody listened
                    while not self._stop.is_set():
                        for _ in connection.notifies(timeout=1.0):
                            self._wake()
            except psycopg.Error as exc:
                log.warning("listening for work failed (%s); the workers poll until it is back", exc)
                self._stop.wait(RECONNECT_SECONDS)
