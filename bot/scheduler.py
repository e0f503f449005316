"""Timers and workers: precise per-payment timers (APScheduler), a periodic sweep, the outbox, the jobs.

The payment row (its fallback_at and expires_at columns) is the truth; the in-memory jobs only make
things happen on time. A job that fires twice, or in two processes, acts once: every service it
calls claims its payment with a guarded update. The sweep catches what a restart left behind.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, Callable

from apscheduler.executors.pool import ThreadPoolExecutor as SchedulerPool
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger(__name__)

SWEEP_SECONDS = 2.0
OUTBOX_IDLE_SECONDS = 1.0


class PaymentTimers:
    """The Timers port on an APScheduler BackgroundScheduler with an in-memory job store."""

    def __init__(self, workers: int = 16) -> None:
        self._scheduler = BackgroundScheduler(
            jobstores={"default": MemoryJobStore()},
            executors={"default": SchedulerPool(workers)},
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
            timezone="UTC",
        )
        self._handlers: dict[str, Callable[[str], object]] = {}

    def bind(self, fallback: Callable[[str], object], expiry: Callable[[str], object],
             sweep: Callable[[], object]) -> None:
        """Say what runs for each kind of timer, and what the periodic sweep does."""
        self._handlers = {"fallback": fallback, "expiry": expiry}
        self._scheduler.add_job(_safely(sweep, "sweep"), "interval", seconds=SWEEP_SECONDS, id="sweep",
                                replace_existing=True)

    def schedule(self, kind: str, payment_id: str, when: datetime) -> None:
        """Fire `kind` for the payment at `when` (replacing an earlier timer of the same kind).

        A process that runs no scheduler (the web role) keeps nothing: the worker's sweep finds the deadline.
        """
        if not self._scheduler.running:
            return
        handler = self._handlers[kind]
        self._scheduler.add_job(_safely(handler, kind), "date", run_date=when, args=[payment_id],
                                id=f"{kind}:{payment_id}", replace_existing=True)

    def start(self) -> None:
        """Start firing jobs."""
        self._scheduler.start()

    def stop(self) -> None:
        """Stop firing jobs; running ones finish."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)

    def pending_jobs(self) -> int:
        """How many jobs wait (for benchmarks and tests)."""
        return len(self._scheduler.get_jobs())


def _safely(func: Callable[..., object], name: str) -> Callable[..., None]:
    def run(*args: object) -> None:
        try:
            func(*args)
        except Exception:  # a failed job must not kill the scheduler; the sweep retries it
            log.exception("%s job failed", name)
    return run


class OutboxWorkers:
    """Threads that deliver outbox messages as soon as they are written, and retry the rest."""

    def __init__(self, deliver: Callable[[], int], threads: int = 4) -> None:
        self._deliver = deliver
        self._threads = threads
        self._kick = threading.Event()
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []

    def kick(self) -> None:
        """Wake the workers: something was just written to the outbox."""
        self._kick.set()

    def start(self) -> None:
        """Start the worker threads."""
        for n in range(self._threads):
            worker = threading.Thread(target=self._loop, name=f"outbox-{n}", daemon=True)
            worker.start()
            self._workers.append(worker)

    def stop(self) -> None:
        """Stop the workers after their current message."""
        self._stop.set()
        self._kick.set()
        for worker in self._workers:
            worker.join(10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._kick.wait(OUTBOX_IDLE_SECONDS)
            self._kick.clear()
            try:
                while not self._stop.is_set() and self._deliver() > 0:
                    pass
            except Exception:
                log.exception("outbox delivery failed")


JOBS_IDLE_SECONDS = 1.0


class JobWorkers:
    """One thread claims due jobs as pool threads free up; the pool makes the outside calls side by side.

    A job is claimed only when a thread is free to run it at once, so a lease never runs out while
    its job waits in a queue.
    """

    def __init__(self, claim: Callable[[int], list[Any]], run: Callable[[Any], None], threads: int = 8) -> None:
        self._claim = claim
        self._run = run
        self._threads = threads
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="job")
        self._in_flight = 0
        self._freed = threading.Condition()
        self._kick = threading.Event()
        self._stop = threading.Event()
        self._dispatcher: threading.Thread | None = None

    def kick(self) -> None:
        """Wake the dispatcher: a job was just written."""
        self._kick.set()

    def start(self) -> None:
        """Start the dispatcher thread."""
        self._dispatcher = threading.Thread(target=self._loop, name="jobs", daemon=True)
        self._dispatcher.start()

    def stop(self) -> None:
        """Claim nothing more and wait for the running jobs."""
        self._stop.set()
        self._kick.set()
        with self._freed:
            self._freed.notify_all()
        if self._dispatcher is not None:
            self._dispatcher.join(10)
        self._pool.shutdown(wait=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._kick.wait(JOBS_IDLE_SECONDS)
            self._kick.clear()
            try:
                while not self._stop.is_set() and self._dispatch() > 0:
                    pass
            except Exception:
                log.exception("claiming jobs failed")

    def _dispatch(self) -> int:
        with self._freed:
            while self._in_flight >= self._threads and not self._stop.is_set():
                self._freed.wait(0.5)
            free = self._threads - self._in_flight
        if self._stop.is_set():
            return 0
        batch = self._claim(free)
        for job in batch:
            with self._freed:
                self._in_flight += 1
            self._pool.submit(self._run_one, job)
        return len(batch)

    def _run_one(self, job: Any) -> None:
        try:
            self._run(job)
        except Exception:  # run() handles job errors itself; this is a last guard for the pool thread
            log.exception("job runner failed")
        finally:
            with self._freed:
                self._in_flight -= 1
                self._freed.notify_all()
