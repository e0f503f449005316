"""Payfriend under load, through the sandbox: flows per second against a minimal reference bot,
notification latency, fallback lateness, RSS.

    python -m bench.flows --people 50 --seconds 20 --pending 1000,10000 --fallback-window 2,30 --runs 3

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
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from queue import SimpleQueue
from typing import Any

from bench.drivers import WAIT_SECONDS, DriversProcess
from bench.stack import (BotUnderTest, PayfriendDeployment, PayfriendProcess, Person, RecordingWorld,
                         ReferenceProcess, cpu_seconds, procfile_wsgi_app, fallback_rows, machine_busy_seconds, prepare_database,
                         seed_pending_payments, seed_people, set_fallback_deadlines, start_recording_sandbox)
from bench.stats import machine_facts, median_of, summary_ms
from sandbox.server import RunningSandbox

TARGETS = {"flows_per_s": 200.0, "notification_p99_ms": 50.0, "fallback_lateness_p99_ms": 250.0,
           "peak_rss_mb": 300.0}
SEEDED = ("People are seeded, not registered through the chat: each is a sandbox person who wrote one "
          "Telegram message to open the chat (made in-process with the functions behind POST /api/people "
          "and /api/telegram/send), an Authy user from the sandbox's users/new over HTTP, and a "
          "Payfriend users row in state ready (phone verified, email, authenticator id) written through "
          "the repositories. The queued first messages are dropped (deleteWebhook with "
          "drop_pending_updates) before Payfriend starts. Fallback runs also seed one payment per person "
          "through the repositories, as Confirm leaves it: pending, step push, fallback_at spread evenly "
          "over the window (no push request id); Payfriend arms their timers at start-up "
          "(rearm_timers), as after a restart.")


# ----------------------------------------------------------------------------- the bot under test


def _payfriend(workdir: Path, database_url: str, sandbox_url: str, args: argparse.Namespace) -> BotUnderTest:
    """Payfriend as one `payfriend run` process, or as gunicorn + workers with --processes."""
    if args.processes:
        return PayfriendDeployment(workdir, database_url, sandbox_url, web=args.processes["web"],
                                   workers=args.processes["worker"], log_level=args.log_level)
    return PayfriendProcess(workdir, database_url, sandbox_url, log_level=args.log_level)


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


# ----------------------------------------------------------------------------- the flows benchmark


def _cpu_snapshot(bot: BotUnderTest, drivers: DriversProcess) -> tuple[float, float, float, float]:
    """CPU seconds so far of the bot, the sandbox (this process), the drivers, and the whole machine."""
    return bot.cpu_seconds(), cpu_seconds(os.getpid()), cpu_seconds(drivers.pid), machine_busy_seconds()


def _drive(args: argparse.Namespace, sandbox: RunningSandbox, people: list[Person], bot: BotUnderTest,
           profile_as: str | None) -> dict[str, Any]:
    """Play the people against a running bot for --warmup + --seconds; the figures of the measured window."""
    world = sandbox.world
    assert isinstance(world, RecordingWorld)
    world.recorder.events = SimpleQueue()
    drivers = DriversProcess(sandbox.url, world.recorder.events, [(p.index, p.phone, p.chat_id) for p in people])
    try:
        drivers.wait_ready()
        begin = time.perf_counter() + 0.2
        window_start, stop_at = begin + args.warmup, begin + args.warmup + args.seconds
        drivers.go(begin, stop_at)
        time.sleep(max(0.0, window_start - time.perf_counter()))
        before = _cpu_snapshot(bot, drivers)
        profiler = _profile(args, bot.pid, profile_as, args.seconds) if profile_as else None
        time.sleep(max(0.0, stop_at - time.perf_counter()))
        after = _cpu_snapshot(bot, drivers)
        results, errors = drivers.results(WAIT_SECONDS * 4 + 30)
        if profiler is not None:
            profiler.wait(60)
    finally:
        drivers.stop()
        world.recorder.events = None
    bot_cpu, sandbox_cpu, drivers_cpu, machine = (b - a for a, b in zip(before, after))
    counted = [r for r in results if window_start <= r[2] <= stop_at]
    durations = [done - start for start, _, done in counted]
    notifications = [done - approve for _, approve, done in counted]
    return {
        "completed_flows_per_s": round(len(counted) / args.seconds, 1),
        "flows_counted": len(counted),
        "errors": len(errors),
        "first_errors": sorted(set(errors))[:3],
        "flow_duration": summary_ms(durations),
        "notification_latency": summary_ms(notifications),
        "cpu_cores": round(bot_cpu / args.seconds, 2),
        "cpu_ms_per_flow": round(bot_cpu * 1000 / max(1, len(counted)), 2),
        "sandbox_cpu_cores": round(sandbox_cpu / args.seconds, 2),
        "drivers_cpu_cores": round(drivers_cpu / args.seconds, 2),
        "machine_busy_cores": round(machine / args.seconds, 2),
        "other_processes_cpu_cores": round((machine - bot_cpu - sandbox_cpu - drivers_cpu) / args.seconds, 2),
        "_samples": {"flow_duration": durations, "notification_latency": notifications},
    }


def measure_reference(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """The reference bot (bench/reference_bot.py) on a fresh sandbox, under the flows load."""
    workdir.mkdir(parents=True, exist_ok=True)
    sandbox = start_recording_sandbox()
    try:
        people = seed_people(sandbox, None, args.people)
        people_file = workdir / "people.json"
        people_file.write_text(json.dumps({str(p.chat_id): p.authy_id for p in people}))
        bot = ReferenceProcess(workdir, sandbox.url, people_file)
        startup = bot.start()
        try:
            figures = _drive(args, sandbox, people, bot, None)
            figures.update(startup_s=round(startup, 2), peak_rss_mb=round(bot.peak_rss_mb(), 1),
                           log_errors=bot.count_log(r"failed"))
            return figures
        finally:
            bot.stop()
    finally:
        sandbox.stop()


def measure_payfriend(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Payfriend on a fresh sandbox and database, under the flows load."""
    workdir.mkdir(parents=True, exist_ok=True)
    sandbox = start_recording_sandbox()
    try:
        database_url = prepare_database(args.database_url, workdir)
        people = seed_people(sandbox, database_url, args.people)
        bot = _payfriend(workdir, database_url, sandbox.url, args)
        startup = bot.start()
        try:
            figures = _drive(args, sandbox, people, bot, "flows")
            figures.update(startup_s=round(startup, 2), peak_rss_mb=round(bot.peak_rss_mb(), 1),
                           largest_process_rss_mb=round(bot.largest_rss_mb(), 1),
                           processes=len(bot.pids()), log_errors=bot.count_log(r" (ERROR|CRITICAL) "))
            return figures
        finally:
            bot.stop()
    finally:
        sandbox.stop()


def run_flows(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """The reference bot, then Payfriend, under the same load; Payfriend's figures beside the reference's."""
    reference = measure_reference(args, workdir / "reference")
    payfriend = measure_payfriend(args, workdir / "payfriend")
    return compare_flows(args.people, payfriend, reference)


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator to 3 decimals; None when either is missing or the denominator is 0."""
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


def compare_flows(people: int, payfriend: dict[str, Any], reference: dict[str, Any]) -> dict[str, Any]:
    """Payfriend's flow figures (under their usual names) with the reference's and the ratios of the two."""
    return {
        "people": people,
        "completed_flows_per_s": payfriend["completed_flows_per_s"],
        "reference_flows_per_s": reference["completed_flows_per_s"],
        "efficiency": ratio(payfriend["completed_flows_per_s"], reference["completed_flows_per_s"]),
        "payfriend_cpu_ms_per_flow": payfriend["cpu_ms_per_flow"],
        "reference_cpu_ms_per_flow": reference["cpu_ms_per_flow"],
        "cpu_ratio": ratio(payfriend["cpu_ms_per_flow"], reference["cpu_ms_per_flow"]),
        "payfriend_peak_rss_mb": payfriend["peak_rss_mb"],
        "reference_peak_rss_mb": reference["peak_rss_mb"],
        "flows_counted": payfriend["flows_counted"],
        "errors": payfriend["errors"],
        "first_errors": payfriend["first_errors"],
        "flow_duration": payfriend["flow_duration"],
        "notification_latency": payfriend["notification_latency"],
        "payfriend_cpu_cores": payfriend["cpu_cores"],
        "sandbox_cpu_cores": payfriend["sandbox_cpu_cores"],
        "drivers_cpu_cores": payfriend["drivers_cpu_cores"],
        "sandbox_and_drivers_cpu_cores": round(payfriend["sandbox_cpu_cores"] + payfriend["drivers_cpu_cores"], 2),
        "machine_busy_cores": payfriend["machine_busy_cores"],
        "other_processes_cpu_cores": payfriend["other_processes_cpu_cores"],
        "payfriend_processes": payfriend["processes"],
        "payfriend_largest_process_rss_mb": payfriend["largest_process_rss_mb"],
        "payfriend_startup_s": payfriend["startup_s"],
        "payfriend_log_errors": payfriend["log_errors"],
        "reference": {k: v for k, v in reference.items() if k != "_samples"},
        "_samples": {"payfriend": payfriend["_samples"], "reference": reference["_samples"]},
    }


# ----------------------------------------------------------------------------- the fallback benchmark


def run_fallbacks(args: argparse.Namespace, workdir: Path, pending: int, window: float) -> dict[str, Any]:
    """`pending` payments waiting at once, their fallbacks due evenly within `window` seconds."""
    sandbox = start_recording_sandbox()
    try:
        world = sandbox.world
        assert isinstance(world, RecordingWorld)
        database_url = prepare_database(args.database_url, workdir)
        people = seed_people(sandbox, database_url, pending)
        ids = seed_pending_payments(database_url, people, expiry_seconds=args.fallback_lead + 3600)
        phone_of = dict(zip(ids, (p.phone for p in people)))
        first_due = datetime.now(timezone.utc) + timedelta(seconds=args.fallback_lead)
        due = set_fallback_deadlines(database_url, ids, first_due, window)
        payfriend = _payfriend(workdir, database_url, sandbox.url, args)
        startup = payfriend.start()
        try:
            margin = (first_due - datetime.now(timezone.utc)).total_seconds()
            time.sleep(max(0.0, margin))
            cpu0, own0, all0, t0 = (payfriend.cpu_seconds(), cpu_seconds(os.getpid()), machine_busy_seconds(),
                                    time.time())
            profiler = _profile(args, payfriend.pid, f"fallback-{pending}-over-{window:g}s", window + 10)
            chat_of = {p.chat_id: p.phone for p in people}
            deadline = time.time() + window + args.fallback_timeout

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
        over_time = sorted((due_at[s.to] - first_due.timestamp(), s.at - due_at[s.to]) for s in codes() if s.to in due_at)
        chat_late = [wall - due_at[chat_of[chat]] for chat, _, wall, _ in texted() if chat in chat_of]
        rows = fallback_rows(database_url)
        claim_late = [(sent - at).total_seconds() for at, sent in rows.values() if at and sent]
        last = max((s.at for s in codes()), default=first_due.timestamp())
        busy = max(1e-3, last - first_due.timestamp())
        return {
            "pending": pending,
            "window_s": window,
            "due_per_s": round(pending / window, 1) if window else None,
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
            "_samples": {"lateness_over_time": over_time},
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
            for window in args.fallback_window:
                with tempfile.TemporaryDirectory(prefix="payfriend-bench-") as workdir:
                    figures[fallback_key(pending, window)] = run_fallbacks(args, Path(workdir), pending, window)
    return figures


def fallback_key(pending: int, window: float) -> str:
    """The figures' key of one fallback scenario, like fallback_10000_over_30s."""
    return f"fallback_{pending}_over_{window:g}s"


def pop_samples(figures: dict[str, Any]) -> dict[str, Any]:
    """Take the raw samples (for --plot) out of the figures: {part: samples}."""
    return {key: value.pop("_samples") for key, value in figures.items()
            if isinstance(value, dict) and "_samples" in value}


def targets(figures: dict[str, Any]) -> dict[str, Any]:
    """Each target with the measured figure and whether it is met (None when not measured)."""
    def check(value: float | None, limit: float, at_least: bool) -> dict[str, Any]:
        met = None if value is None else (value >= limit if at_least else value <= limit)
        return {"target": f"{'>=' if at_least else '<='} {limit:g}", "measured": value, "met": met}

    flows = figures.get("flows", {})
    fallbacks = {k: f for k, f in figures.items() if k.startswith("fallback_")}
    biggest = max((f["pending"] for f in fallbacks.values()), default=None)
    rss = [f["payfriend_peak_rss_mb"] for f in figures.values() if "payfriend_peak_rss_mb" in f]
    checks = {
        "flows_per_s": check(flows.get("completed_flows_per_s"), TARGETS["flows_per_s"], True),
        "notification_p99_ms": check(flows.get("notification_latency", {}).get("p99_ms"),
                                     TARGETS["notification_p99_ms"], False),
    }
    for key, fallback in fallbacks.items():
        if fallback["pending"] == biggest:
            checks[f"fallback_lateness_p99_ms_{key.removeprefix('fallback_')}"] = check(
                fallback.get("sms_lateness", {}).get("p99_ms"), TARGETS["fallback_lateness_p99_ms"], False)
    checks["peak_rss_mb"] = check(max(rss) if rss else None, TARGETS["peak_rss_mb"], False)
    return checks


def _windows(text: str) -> list[float]:
    try:
        values = [float(v) for v in re.split(r"[,\s]+", text.strip()) if v]
    except ValueError:
        values = []
    if not values or any(v < 0 or v > 3600 for v in values):
        raise argparse.ArgumentTypeError("a comma-separated list of seconds from 0 to 3600, like 2,30")
    return values


def _processes(text: str) -> dict[str, int]:
    counts = {"web": 0, "worker": 0}
    for part in filter(None, re.split(r"[,\s]+", text.strip())):
        name, _, number = part.partition("=")
        if name not in counts or not number.isdigit() or not 1 <= int(number) <= 16:
            raise argparse.ArgumentTypeError("like web=2,worker=2 (each from 1 to 16)")
        counts[name] = int(number)
    if not counts["web"] or not counts["worker"]:
        raise argparse.ArgumentTypeError("give both, like web=2,worker=2")
    return counts


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
    p.add_argument("--fallback-window", type=_windows, default=[2.0, 30.0],
                   help="the fallback deadlines are spread evenly over this many seconds; a list runs one "
                        "scenario per window and pending count (default 2,30: the 2 s stress window and "
                        "a 30 s spread)")
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
    p.add_argument("--processes", type=_processes, metavar="web=N,worker=N",
                   help="run Payfriend as deployed (Procfile): gunicorn with N web workers and N `python -m "
                        "bot worker` processes, TELEGRAM_MODE=webhook; needs a PostgreSQL --database-url")
    p.add_argument("--plot", metavar="DIR",
                   help="draw PNGs of the latency distributions and of fallback lateness over time into DIR "
                        "(needs matplotlib: pip install -e '.[bench]')")
    p.add_argument("--py-spy", metavar="DIR",
                   help="profile Payfriend with py-spy (installed separately) during each measured part; "
                        "collapsed stacks go to DIR; figures of such a run are not representative")
    return p


def check_options(args: argparse.Namespace) -> str | None:
    """Why these options cannot run, or None."""
    if args.processes and not (args.database_url or "").startswith("postgresql"):
        return ("--processes runs several Payfriend processes on one database: give a PostgreSQL "
                "--database-url (or BENCH_DATABASE_URL), e.g. the one scripts/postgres.sh start prints")
    if args.processes and not Path(sys.executable).with_name("gunicorn").exists():
        return "--processes needs gunicorn beside this Python (it is a project dependency: pip install -e .)"
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            return "--plot needs matplotlib: pip install -e '.[bench]'"
    return None


def _deployment(args: argparse.Namespace) -> str:
    if args.processes:
        return (f"gunicorn --workers {args.processes['web']} --threads 8 '{procfile_wsgi_app()}' + "
                f"{args.processes['worker']} x python -m bot worker, TELEGRAM_MODE=webhook, "
                f"LOG_LEVEL={args.log_level}, PUBLIC_URL = the gunicorn address, sandbox callbacks set by the bench")
    return (f"python -m bot run (own process), LOG_LEVEL={args.log_level}, "
            "defaults otherwise (FALLBACK_SECONDS=15, polling)")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks and print one JSON object."""
    args = parser().parse_args(argv)
    problem = check_options(args)
    if problem:
        print(f"bench: {problem}", file=sys.stderr)
        return 2
    started = time.time()
    runs = [one_run(args) for _ in range(max(1, args.runs))]
    samples = [pop_samples(run) for run in runs]
    figures = median_of(runs) if len(runs) > 1 else runs[0]
    report = {
        "benchmark": "payfriend flows and fallbacks (bench/flows.py)",
        "figures": figures,
        "figures_are": f"median of {len(runs)} runs" if len(runs) > 1 else "one run",
        "targets": targets(figures),
        "settings": {"people": args.people, "seconds": args.seconds, "warmup": args.warmup,
                     "pending": args.pending, "fallback_windows_s": args.fallback_window,
                     "fallback_lead_s": args.fallback_lead, "runs": len(runs),
                     "payfriend": _deployment(args),
                     "reference": "python -m bench.reference_bot (own process): the same hops, no database",
                     "sandbox": "in the benchmark process, HTTP/1.1 keep-alive, flood limits lifted",
                     "drivers": "the simulated people, in a process of their own, one keep-alive session each",
                     "database": "fresh SQLite file per benchmark" if args.database_url is None
                     else "the given database, emptied and migrated per benchmark"},
        "seeded": SEEDED,
        "machine": machine_facts(args.database_url),
        "per_run": _per_run(runs),
        "took_s": round(time.time() - started, 1),
    }
    if args.plot:
        from bench.plots import draw

        report["plots"] = [str(path) for path in draw(Path(args.plot), samples[0])]
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
            row["reference_flows_per_s"] = run["flows"]["reference_flows_per_s"]
            row["efficiency"] = run["flows"]["efficiency"]
        for key, value in run.items():
            if key.startswith("fallback_"):
                row[f"{key}_sms_p99_ms"] = value["sms_lateness"]["p99_ms"]
        row["peak_rss_mb"] = max(v["payfriend_peak_rss_mb"] for v in run.values())
        out.append(row)
    return out


if __name__ == "__main__":
    sys.exit(main())
