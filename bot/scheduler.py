"""Timers and workers: precise per-payment timers (APScheduler), the deadline sweep, the outbox, the jobs.

The payment row (its fallback_at and expires_at columns) is the truth; the in-memory timers only
make things happen on time. A timer that falls due wakes the one sweep thread, which claims every
due deadline in one statement per kind; a claim is a guarded update, so a deadline claimed twice,
or in two processes, acts once. The sweep also runs every 2 s: it catches what a restart left
behind or another process armed.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any, Callable

from apscheduler.executors.pool import ThreadPoolExecutor as SchedulerPool
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger(__name__)

SWEEP_SECONDS = 2.0
SLOT_MS = 50  # deadlines this close together share one timer


class PaymentTimers:
    """The Timers port on an APScheduler BackgroundScheduler with an in-memory job store.

    Every timer only wakes the sweep, which claims whatever is due, so deadlines that fall in the
    same 50 ms share one APScheduler job, armed at the end of that slot: arming a job wakes the
    scheduler's thread, and with one job per payment that cost more CPU than the payment's own SQL.
    """

    def __init__(self, workers: int = 4) -> None:
        self._scheduler = BackgroundScheduler(
            jobstores={"default": MemoryJobStore()},
            executors={"default": SchedulerPool(workers)},
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
            timezone="UTC",
        )
        self._due: Callable[[], object] = lambda: None
        self._armed: set[int] = set()  # slots (multiples of SLOT_MS since the epoch) with a job
        self._lock = threading.Lock()

    def bind(self, due: Callable[[], object]) -> None:
        """Say what a timer that falls due does (wake the sweep)."""
        self._due = due

    def schedule(self, kind: str, payment_id: str, when: datetime) -> None:
        """Wake the sweep at `when` (or up to one slot later) to handle `kind` for the payment.

        A process that runs no scheduler (the web role) keeps nothing: the worker's sweep finds the deadline.
        """
        if not self._scheduler.running:
            return
        slot = -(-int(when.timestamp() * 1000) // SLOT_MS)  # rounded up: never before the deadline
        with self._lock:
            if slot in self._armed:
                return
            self._armed.add(slot)
        self._scheduler.add_job(_safely(self._fire, kind), "date", args=[slot],
                                run_date=datetime.fromtimestamp(slot * SLOT_MS / 1000, timezone.utc),
                                id=f"due:{slot}", replace_existing=True)

    def _fire(self, slot: int) -> None:
        with self._lock:
            self._armed.discard(slot)
        self._due()

    def start(self) -> None:
        """Start firing jobs."""
        self._scheduler.start()

    def stop(self) -> None:
        """Stop firing jobs; running ones finish."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        with self._lock:
            self._armed.clear()

    def pending_jobs(self) -> int:
        """How many APScheduler jobs wait (for benchmarks and tests)."""
        return len(self._scheduler.get_jobs())


def _safely(func: Callable[..., object], name: str) -> Callable[..., None]:
    def run(*args: object) -> None:
        try:
            func(*args)
        except Exception:  # a failed job must not kill the scheduler; the sweep retries it
            log.exception("%s job failed", name)
    return run


class Ticker:
    """One thread runs `tick` as soon as it is kicked, and every `interval` seconds anyway (the sweep)."""

    def __init__(self, name: str, tick: Callable[[], object], interval: float = SWEEP_SECONDS) -> None:
        self._name = name
        self._tick = tick
        self._interval = interval
        self._kick = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def kick(self) -> None:
        """Run the tick now (kicks while it runs coalesce into one more run)."""
        self._kick.set()

    def start(self) -> None:
        """Start the thread."""
        self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the current tick."""
        self._stop.set()
        self._kick.set()
        if self._thread is not None:
            self._thread.join(10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._kick.wait(self._interval)
            self._kick.clear()
            if not self._stop.is_set():
                _safely(self._tick, self._name)()


IDLE_SECONDS = 1.0  # the safety-net poll when no wake-up comes


class Dispatcher:
    """One thread claims due work (jobs, outbox messages) as pool threads free up; the pool runs it side by side.

    Work is claimed only when a thread is free to run it at once, so a lease never runs out while
    its work waits in a queue. What `run` returns (other than None) is handed to `flush` in one
    batch before the next claim: the outbox marks the messages it sent delivered in one transaction.
    """

    def __init__(self, name: str, claim: Callable[[int], list[Any]], run: Callable[[Any], Any],
                 threads: int = 8, flush: Callable[[list[Any]], None] | None = None) -> None:
        self._name = name
        self._claim = claim
        self._run = run
        self._flush = flush
        self._finished: list[Any] = []
        self._threads = threads
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix=name)
        self._in_flight = 0
        self._freed = threading.Condition()
        self._kick = threading.Event()
        self._stop = threading.Event()
        self._dispatcher: threading.Thread | None = None

    def kick(self) -> None:
        """Wake the dispatcher: work was just written."""
        self._kick.set()

    def start(self) -> None:
        """Start the dispatcher thread."""
        self._dispatcher = threading.Thread(target=self._loop, name=self._name, daemon=True)
        self._dispatcher.start()

    def stop(self) -> None:
        """Claim nothing more and wait for the running work."""
        self._stop.set()
        self._kick.set()
        with self._freed:
            self._freed.notify_all()
        if self._dispatcher is not None:
            self._dispatcher.join(10)
        self._pool.shutdown(wait=True)
        self._flush_finished()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._kick.wait(IDLE_SECONDS)
            self._kick.clear()
            try:
                while not self._stop.is_set() and self._dispatch() > 0:
                    pass
                self._flush_finished()
            except Exception:
                log.exception("%s: claiming work failed", self._name)

    def _dispatch(self) -> int:
        with self._freed:
            while self._in_flight >= self._threads and not self._stop.is_set():
                self._freed.wait(0.5)
            free = self._threads - self._in_flight
        if self._stop.is_set():
            return 0
        self._flush_finished()
        batch = self._claim(free)
        for job in batch:
            with self._freed:
                self._in_flight += 1
            self._pool.submit(self._run_one, job)
        return len(batch)

    def _run_one(self, item: Any) -> None:
        result = None
        try:
            result = self._run(item)
        except Exception:  # run() handles its errors itself; this is a last guard for the pool thread
            log.exception("%s: runner failed", self._name)
        finally:
            with self._freed:
                self._in_flight -= 1  # a dispatcher waiting for a free thread is woken by the notify
                if result is not None and self._flush is not None:
                    self._finished.append(result)
                self._freed.notify_all()
            if result is not None:
                self._kick.set()  # flush it: the recipient's next message may go now

    def _flush_finished(self) -> None:
        if self._flush is None:
            return
        with self._freed:
            finished, self._finished = self._finished, []
        if finished:
            self._flush(finished)
