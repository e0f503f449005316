"""The simulated people, in a process of their own, each on a keep-alive HTTP session.

The sandbox stamps what the bot sends (bench/stack.py, Recorder) in the benchmark process; those
stamps are forwarded here over a pipe, in batches. Times are time.perf_counter(), which on Linux is
CLOCK_MONOTONIC: the same clock in both processes, so a flow's start (taken here) and its "Sent:"
(stamped by the sandbox) can be subtracted.

Protocol on the pipe: the child sends "ready"; the parent sends ("go", start, stop) and from then on
lists of events; the child sends ("results", [(start, approve, done)...], [error...]) once `stop` has
passed and every person has finished the flow in hand.
"""

from __future__ import annotations

import threading
import time
from multiprocessing.connection import Connection
from queue import Empty, SimpleQueue
from typing import Any

WAIT_SECONDS = 30.0  # longest wait for one step of one flow before it counts as an error
HTTP_TIMEOUT = 30


class FlowError(Exception):
    """A step of a flow did not happen in time."""


class Driver:
    """Plays one person through send -> Confirm -> approve, over the sandbox's control API."""

    def __init__(self, sandbox_url: str, index: int, phone: str) -> None:
        import requests

        self.url, self.index, self.phone = sandbox_url, index, phone
        self.session = requests.Session()
        self.session.trust_env = False
        self.chat: SimpleQueue = SimpleQueue()
        self.approvals: SimpleQueue = SimpleQueue()

    def _post(self, path: str, **body: Any) -> None:
        response = self.session.post(self.url + path, json=body or None, timeout=HTTP_TIMEOUT)
        response.raise_for_status()

    def _wait_text(self, prefix: str) -> float:
        deadline = time.perf_counter() + WAIT_SECONDS
        while True:
            try:
                at, text = self.chat.get(timeout=max(0.0, deadline - time.perf_counter()))
            except Empty:
                raise FlowError(f"no chat message starting {prefix!r}") from None
            if text.startswith(prefix):
                return at

    def _wait_approval(self) -> str:
        try:
            return self.approvals.get(timeout=WAIT_SECONDS)[1]
        except Empty:
            raise FlowError("no push approval") from None

    def flow(self, n: int) -> tuple[float, float, float]:
        """One payment from the first message to "Sent:"; returns (start, approve call, done) perf times."""
        amount = f"${1 + (self.index + n) % 99}.00"
        started = time.perf_counter()
        self._post("/api/telegram/send", phone=self.phone, text=f"send {amount} to Neville")
        self._wait_text(f"Send {amount} to Neville?")
        self._post("/api/telegram/press", phone=self.phone, button="Confirm")
        approval = self._wait_approval()
        self._wait_text(f"Approve {amount} to Neville")  # the person looks at the app once the bot says so
        approving = time.perf_counter()
        self._post(f"/api/authenticator/{approval}/approve")
        done = self._wait_text(f"Sent: {amount} to Neville")
        return started, approving, done

    def recover(self) -> None:
        """After a failed flow: cancel whatever is open and forget what was queued."""
        try:
            self._post("/api/telegram/send", phone=self.phone, text="cancel")
            time.sleep(1.0)
        except OSError:  # requests' errors are OSErrors
            pass
        for queue in (self.chat, self.approvals):
            while not queue.empty():
                queue.get_nowait()


def _dispatch(conn: Connection, by_chat: dict[int, Driver], by_phone: dict[str, Driver]) -> None:
    """Hand each forwarded stamp to the person it concerns, until the pipe closes."""
    while True:
        try:
            batch = conn.recv()
        except (EOFError, OSError):
            return
        for kind, key, at, value in batch:
            driver = by_chat.get(key) if kind == "chat" else by_phone.get(key)
            if driver is not None:
                (driver.chat if kind == "chat" else driver.approvals).put((at, value))


def _play(driver: Driver, stop_at: float, results: list, errors: list) -> None:
    n = 0
    while time.perf_counter() < stop_at:
        try:
            results.append(driver.flow(n))
        except Exception as exc:  # FlowError or an HTTP error: count it, tidy up, go on
            errors.append(f"{type(exc).__name__}: {exc}")
            driver.recover()
        n += 1


def run(conn: Connection, sandbox_url: str, people: list[tuple[int, str, int]]) -> None:
    """The child process: people are (index, phone, chat id); see the module docstring for the protocol."""
    drivers = [Driver(sandbox_url, index, phone) for index, phone, _ in people]
    by_chat = {chat: d for d, (_, _, chat) in zip(drivers, people)}
    by_phone = {d.phone: d for d in drivers}
    conn.send("ready")
    _, start_at, stop_at = conn.recv()
    threading.Thread(target=_dispatch, args=(conn, by_chat, by_phone), daemon=True).start()
    results: list[tuple[float, float, float]] = []
    errors: list[str] = []
    time.sleep(max(0.0, start_at - time.perf_counter()))
    threads = [threading.Thread(target=_play, args=(d, stop_at, results, errors), daemon=True) for d in drivers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_SECONDS * 4 + max(0.0, stop_at - time.perf_counter()))
    conn.send(("results", list(results), list(errors)))


class DriversProcess:
    """The parent's side: starts the drivers process and forwards the sandbox's stamps to it."""

    def __init__(self, sandbox_url: str, events: SimpleQueue, people: list[tuple[int, str, int]]) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.events = events
        self.process = context.Process(target=run, args=(child, sandbox_url, people), name="bench-drivers",
                                       daemon=True)
        self.process.start()
        child.close()
        self._forwarder: threading.Thread | None = None

    @property
    def pid(self) -> int:
        """The drivers process's id."""
        assert self.process.pid is not None
        return self.process.pid

    def wait_ready(self, timeout: float = 60) -> None:
        """Wait until the process has started and made its people."""
        if not self.conn.poll(timeout) or self.conn.recv() != "ready":
            raise RuntimeError("the drivers process did not start")

    def go(self, start_at: float, stop_at: float) -> None:
        """Let the (ready) people play from `start_at` to `stop_at` (perf_counter times)."""
        self.conn.send(("go", start_at, stop_at))
        self._forwarder = threading.Thread(target=self._forward, name="bench-forwarder", daemon=True)
        self._forwarder.start()

    def _forward(self) -> None:
        while True:
            batch = [self.events.get()]
            while len(batch) < 1000:
                try:
                    batch.append(self.events.get_nowait())
                except Empty:
                    break
            stop = None in batch
            batch = [event for event in batch if event is not None]
            try:
                if batch:
                    self.conn.send(batch)
            except (OSError, ValueError):
                return
            if stop:
                return

    def results(self, timeout: float) -> tuple[list[tuple[float, float, float]], list[str]]:
        """The flows and errors, once the people are done (empty, with an error, if they never say)."""
        if not self.conn.poll(timeout):
            return [], ["the drivers process sent no results"]
        _, results, errors = self.conn.recv()
        return results, errors

    def stop(self) -> None:
        """End the forwarder and the process."""
        self.events.put(None)
        if self._forwarder is not None:
            self._forwarder.join(5)
        self.process.join(10)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)
        self.conn.close()
