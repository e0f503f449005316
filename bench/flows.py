"""Payfriend under load, through the sandbox: flows per second, notification latency, fallback lateness, RSS.

    python -m bench.flows --people 50 --seconds 20 --pending 1000,10000 --runs 3

Prints one JSON object (see bench/README.md for what each figure means). Everything listens on
127.0.0.1; every server and process started here is stopped before it returns.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from queue import Empty, SimpleQueue
from typing import Any

import requests

from bench.stack import (HTTP_TIMEOUT, PayfriendProcess, Person, RecordingWorld, cpu_seconds, fallback_rows,
                         machine_busy_seconds, prepare_database, seed_pending_payments, seed_people, set_fallback_deadlines,
                         start_recording_sandbox)
from bench.stats import machine_facts, median_of, summary_ms

TARGETS = {"flows_per_s": 200.0, "notification_p99_ms": 50.0, "fallback_lateness_p99_ms": 250.0,
           "peak_rss_mb": 300.0}
WAIT_SECONDS = 30.0  # longest wait for one step of one flow before it counts as an error
SEEDED = ("People are seeded, not registered through the chat: each is a sandbox person who wrote one "
          "Telegram message to open the chat (made in-process with the functions behind POST /api/people "
          "and /api/telegram/send), an Authy user from the sandbox's users/new over HTTP, and a "
          "Payfriend users row in state ready (phone verified, email, authenticator id) written through "
          "the repositories. The queued first messages are dropped (deleteWebhook with "
          "drop_pending_updates) before Payfriend starts. Fallback runs also seed one payment per person "
          "through the repositories, as Confirm leaves it: pending, step push, fallback_at spread evenly "
          "over the window (no push request id); Payfriend arms their timers at start-up "
          "(rearm_timers), as after a restart.")


class FlowError(Exception):
    """A step of a flow did not happen in time."""


# ----------------------------------------------------------------------------- one simulated person


class Driver:
    """Plays one person through send -> Confirm -> approve, over the sandbox's control API."""

    def __init__(self, sandbox_url: str, world: RecordingWorld, person: Person) -> None:
        self.url, self.person = sandbox_url, person
        self.session = requests.Session()
        self.session.trust_env = False
        self.chat: SimpleQueue = SimpleQueue()
        self.approvals: SimpleQueue = SimpleQueue()
        world.recorder.chat_queues[person.chat_id] = self.chat
        world.recorder.approval_queues[person.phone] = self.approvals

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
        """One payment from the first message to "Done:"; returns (start, approve call, done) perf times."""
        amount = f"${1 + (self.person.index + n) % 99}.00"
        started = time.perf_counter()
        self._post("/api/telegram/send", phone=self.person.phone, text=f"send {amount} to Neville")
        self._wait_text(f"Send {amount} to Neville?")
        self._post("/api/telegram/press", phone=self.person.phone, button="Confirm")
        approval = self._wait_approval()
        self._wait_text(f"Approve {amount} to Neville")  # the person looks at the app once the bot says so
        approving = time.perf_counter()
        self._post(f"/api/authenticator/{approval}/approve")
        done = self._wait_text(f"Done: {amount} to Neville")
        return started, approving, done

    def recover(self) -> None:
        """After a failed flow: cancel whatever is open and forget what was queued."""
        try:
            self._post("/api/telegram/send", phone=self.person.phone, text="cancel")
            time.sleep(1.0)
        except requests.RequestException:
            pass
        for queue in (self.chat, self.approvals):
            while not queue.empty():
                queue.get_nowait()


# ----------------------------------------------------------------------------- the benchmarks


def _payfriend(workdir: Path, database_url: str, sandbox_url: str, args: argparse.Namespace,
               **settings: Any) -> PayfriendProcess:
    return PayfriendProcess(workdir, database_url, sandbox_url, log_level=args.log_level, **settings)


def _profile(args: argparse.Namespace, pid: int, name: str, seconds: float) -> subprocess.Popen | None:
    """Start py-spy on Payfriend for `seconds` when --py-spy DIR was given."""
    if not args.py_spy:
        return None
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    out = Path(args.py_spy) / f"{name}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([py_spy, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds))),
                             "--rate", "200", "--format", "raw", "--output", str(out), "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run_flows(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """N people each doing payments back to back for --seconds; flows/s and latencies."""
    sandbox = start_recording_sandbox()
    try:
        assert isinstance(sandbox.world, RecordingWorld)
        database_url = prepare_database(args.database_url, workdir)
        people = seed_people(sandbox, database_url, args.people)
        payfriend = _payfriend(workdir, database_url, sandbox.url, args)
        startup = payfriend.start()
        try:
            drivers = [Driver(sandbox.url, sandbox.world, p) for p in people]
            results: list[tuple[float, float, float]] = []
            errors: list[str] = []
            begin = time.perf_counter()
            window_start, stop_at = begin + args.warmup, begin + args.warmup + args.seconds

            def play(driver: Driver) -> None:
                n = 0
                while time.perf_counter() < stop_at:
                    try:
                        results.append(driver.flow(n))
                    except (FlowError, requests.RequestException) as exc:
                        errors.append(f"{type(exc).__name__}: {exc}")
                        driver.recover()
                    n += 1

            threads = [threading.Thread(target=play, args=(d,), daemon=True) for d in drivers]
            for thread in threads:
                thread.start()
            time.sleep(max(0.0, window_start - time.perf_counter()))
            cpu0, own0, all0, t0 = (payfriend.cpu_seconds(), cpu_seconds(os.getpid()), machine_busy_seconds(),
                                    time.time())
            profiler = _profile(args, payfriend.pid, "flows", args.seconds)
            time.sleep(max(0.0, stop_at - time.perf_counter()))
            cpu1, own1, all1 = payfriend.cpu_seconds(), cpu_seconds(os.getpid()), machine_busy_seconds()
            for thread in threads:
                thread.join(WAIT_SECONDS * 4)
            if profiler is not None:
                profiler.wait(60)
            counted = [r for r in results if window_start <= r[2] <= stop_at]
            return {
                "people": args.people,
                "completed_flows_per_s": round(len(counted) / args.seconds, 1),
                "flows_counted": len(counted),
                "errors": len(errors),
                "first_errors": sorted(set(errors))[:3],
                "flow_duration": summary_ms([done - start for start, _, done in counted]),
                "notification_latency": summary_ms([done - approve for _, approve, done in counted]),
                "payfriend_cpu_cores": round((cpu1 - cpu0) / args.seconds, 2),
                "payfriend_cpu_ms_per_flow": round((cpu1 - cpu0) * 1000 / max(1, len(counted)), 2),
                "sandbox_and_drivers_cpu_cores": round((own1 - own0) / args.seconds, 2),
                "other_processes_cpu_cores": round(((all1 - all0) - (cpu1 - cpu0) - (own1 - own0)) / args.seconds, 2),
                "payfriend_startup_s": round(startup, 2),
                "payfriend_peak_rss_mb": round(payfriend.peak_rss_mb(), 1),
                "payfriend_log_errors": payfriend.count_log(r" (ERROR|CRITICAL) "),
            }
        finally:
            payfriend.stop()
    finally:
        sandbox.stop()


def run_fallbacks(args: argparse.Namespace, workdir: Path, pending: int) -> dict[str, Any]:
    """`pending` payments waiting at once, their fallbacks due within --fallback-window seconds."""
    sandbox = start_recording_sandbox()
    try:
        world = sandbox.world
        assert isinstance(world, RecordingWorld)
        database_url = prepare_database(args.database_url, workdir)
        people = seed_people(sandbox, database_url, pending)
        ids = seed_pending_payments(database_url, people, expiry_seconds=args.fallback_lead + 3600)
        phone_of = dict(zip(ids, (p.phone for p in people)))
        first_due = datetime.now(timezone.utc) + timedelta(seconds=args.fallback_lead)
        due = set_fallback_deadlines(database_url, ids, first_due, args.fallback_window)
        payfriend = _payfriend(workdir, database_url, sandbox.url, args)
        startup = payfriend.start()
        try:
            margin = (first_due - datetime.now(timezone.utc)).total_seconds()
            time.sleep(max(0.0, margin))
            cpu0, own0, all0, t0 = (payfriend.cpu_seconds(), cpu_seconds(os.getpid()), machine_busy_seconds(),
                                    time.time())
            profiler = _profile(args, payfriend.pid, f"fallback-{pending}", args.fallback_window + 10)
            chat_of = {p.chat_id: p.phone for p in people}
            deadline = time.time() + args.fallback_window + args.fallback_timeout

            def texted() -> list[tuple[int, float, float, str]]:
                return [m for m in list(world.recorder.bot_messages) if "texted a code" in m[3]]

            def codes() -> list[Any]:
                return [s for s in list(world.sms) if s.direction == "inbound" and "token is" in s.body]

            while time.time() < deadline and (len(codes()) < pending or len(texted()) < pending):
                time.sleep(0.2)
            cpu1, own1, all1, t1 = (payfriend.cpu_seconds(), cpu_seconds(os.getpid()), machine_busy_seconds(),
                                    time.time())
            if profiler is not None:
                profiler.wait(120)
            rss = payfriend.peak_rss_mb()
        finally:
            payfriend.stop()
        due_at = {phone_of[pid]: at.timestamp() for pid, at in due.items()}
        sms_late = [s.at - due_at[s.to] for s in codes() if s.to in due_at]
        chat_late = [wall - due_at[chat_of[chat]] for chat, _, wall, _ in texted() if chat in chat_of]
        rows = fallback_rows(database_url)
        claim_late = [(sent - at).total_seconds() for at, sent in rows.values() if at and sent]
        last = max((s.at for s in codes()), default=first_due.timestamp())
        busy = max(1e-3, last - first_due.timestamp())
        return {
            "pending": pending,
            "window_s": args.fallback_window,
            "due_per_s": round(pending / args.fallback_window, 1) if args.fallback_window else None,
            "started_before_first_due_s": round(margin, 2),
            "claimed": len(claim_late), "sms_sent": len(sms_late), "chat_told": len(chat_late),
            "sms_lateness": summary_ms(sms_late),
            "claim_lateness": summary_ms(claim_late),
            "chat_lateness": summary_ms(chat_late),
            "fallbacks_per_s": round(len(sms_late) / busy, 1),
            "payfriend_cpu_cores": round((cpu1 - cpu0) / max(1e-3, t1 - t0), 2),
            "payfriend_cpu_ms_per_fallback": round((cpu1 - cpu0) * 1000 / max(1, len(sms_late)), 2),
            "other_processes_cpu_cores": round(((all1 - all0) - (cpu1 - cpu0) - (own1 - own0)) / max(1e-3, t1 - t0),
                                               2),
            "payfriend_startup_s": round(startup, 2),
            "payfriend_peak_rss_mb": round(rss, 1),
            "payfriend_log_errors": payfriend.count_log(r" (ERROR|CRITICAL) "),
        }
    finally:
        sandbox.stop()


# ----------------------------------------------------------------------------- the report


def one_run(args: argparse.Namespace) -> dict[str, Any]:
    """Every benchmark once, each on a fresh sandbox, database and Payfriend process."""
    figures: dict[str, Any] = {}
    if args.only in (None, "flows"):
        with tempfile.TemporaryDirectory(prefix="payfriend-bench-") as workdir:
            figures["flows"] = run_flows(args, Path(workdir))
    if args.only in (None, "fallback"):
        for pending in args.pending:
            with tempfile.TemporaryDirectory(prefix="payfriend-bench-") as workdir:
                figures[f"fallback_{pending}"] = run_fallbacks(args, Path(workdir), pending)
    return figures


def targets(figures: dict[str, Any]) -> dict[str, Any]:
    """Each target with the measured figure and whether it is met (None when not measured)."""
    def check(value: float | None, limit: float, at_least: bool) -> dict[str, Any]:
        met = None if value is None else (value >= limit if at_least else value <= limit)
        return {"target": f"{'>=' if at_least else '<='} {limit:g}", "measured": value, "met": met}

    flows = figures.get("flows", {})
    biggest = max((int(k.split("_")[1]) for k in figures if k.startswith("fallback_")), default=None)
    fallback = figures.get(f"fallback_{biggest}", {})
    rss = [f["payfriend_peak_rss_mb"] for f in figures.values() if "payfriend_peak_rss_mb" in f]
    return {
        "flows_per_s": check(flows.get("completed_flows_per_s"), TARGETS["flows_per_s"], True),
        "notification_p99_ms": check(flows.get("notification_latency", {}).get("p99_ms"),
                                     TARGETS["notification_p99_ms"], False),
        f"fallback_lateness_p99_ms_at_{biggest or 10000}_pending": check(
            fallback.get("sms_lateness", {}).get("p99_ms"), TARGETS["fallback_lateness_p99_ms"], False),
        "peak_rss_mb": check(max(rss) if rss else None, TARGETS["peak_rss_mb"], False),
    }


def _pending(text: str) -> list[int]:
    values = [int(v) for v in re.split(r"[,\s]+", text.strip()) if v]
    if not values or any(v < 1 or v > 100_000 for v in values):
        raise argparse.ArgumentTypeError("a comma-separated list of counts from 1 to 100000")
    return values


def parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m bench.flows", description=__doc__.split("\n")[0])
    p.add_argument("--people", type=int, default=50, help="concurrent simulated people (default 50)")
    p.add_argument("--seconds", type=float, default=20, help="measured seconds of flows (default 20)")
    p.add_argument("--warmup", type=float, default=3, help="seconds of flows before measuring (default 3)")
    p.add_argument("--pending", type=_pending, default=[1000, 10000],
                   help="payments pending at once in the fallback runs (default 1000,10000)")
    p.add_argument("--fallback-window", type=float, default=2.0,
                   help="the fallback deadlines are spread evenly over this many seconds (default 2)")
    p.add_argument("--fallback-lead", type=float, default=20.0,
                   help="seconds from setting the deadlines to the first one; must cover Payfriend's start-up "
                        "(default 20)")
    p.add_argument("--fallback-timeout", type=float, default=600.0,
                   help="give up waiting for fallbacks this long after the last deadline (default 600)")
    p.add_argument("--runs", type=int, default=1, help="repeat everything; figures are medians (default 1)")
    p.add_argument("--only", choices=("flows", "fallback"), help="run one benchmark only")
    p.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"),
                   help="a database to use instead of a fresh SQLite file (it is EMPTIED: every table "
                        "dropped and migrated again); default $BENCH_DATABASE_URL")
    p.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                   help="Payfriend's LOG_LEVEL (default INFO, as deployed)")
    p.add_argument("--py-spy", metavar="DIR",
                   help="profile Payfriend with py-spy (installed separately) during each measured part; "
                        "collapsed stacks go to DIR; figures of such a run are not representative")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks and print one JSON object."""
    args = parser().parse_args(argv)
    started = time.time()
    runs = [one_run(args) for _ in range(max(1, args.runs))]
    figures = median_of(runs) if len(runs) > 1 else runs[0]
    report = {
        "benchmark": "payfriend flows and fallbacks (bench/flows.py)",
        "figures": figures,
        "figures_are": f"median of {len(runs)} runs" if len(runs) > 1 else "one run",
        "targets": targets(figures),
        "settings": {"people": args.people, "seconds": args.seconds, "warmup": args.warmup,
                     "pending": args.pending, "fallback_window_s": args.fallback_window,
                     "fallback_lead_s": args.fallback_lead, "runs": len(runs),
                     "payfriend": f"python -m bot run (own process), LOG_LEVEL={args.log_level}, "
                                  "defaults otherwise (FALLBACK_SECONDS=15, polling)",
                     "sandbox": "in the benchmark process, flood limits lifted",
                     "database": "fresh SQLite file per benchmark" if args.database_url is None
                     else "the given database, emptied and migrated per benchmark"},
        "seeded": SEEDED,
        "machine": machine_facts(args.database_url),
        "per_run": _per_run(runs),
        "took_s": round(time.time() - started, 1),
    }
    print(json.dumps(report, indent=2))
    return 0


def _per_run(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The headline figures of each run, to show the spread behind the medians."""
    out = []
    for run in runs:
        row: dict[str, Any] = {}
        if "flows" in run:
            row["flows_per_s"] = run["flows"]["completed_flows_per_s"]
            row["notification_p99_ms"] = run["flows"]["notification_latency"]["p99_ms"]
        for key, value in run.items():
            if key.startswith("fallback_"):
                row[f"{key}_sms_p99_ms"] = value["sms_lateness"]["p99_ms"]
        row["peak_rss_mb"] = max(v["payfriend_peak_rss_mb"] for v in run.values())
        out.append(row)
    return out


if __name__ == "__main__":
    sys.exit(main())
