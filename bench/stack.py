"""The benchmark stack: a recording sandbox in this process and Payfriend as a `payfriend run` child.

The sandbox ("the outside world") runs here, with a World subclass that stamps every message the bot
sends into a Telegram chat and every push approval the moment the sandbox records it (the sandbox's
own message dates are whole seconds). Payfriend runs in its own process, exactly as `payfriend run`
with SANDBOX_URL set, so its CPU time and peak RSS are its own and it has its own interpreter lock.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from queue import SimpleQueue
from typing import Any

import requests

from sandbox.server import RunningSandbox, start_sandbox
from sandbox.telegram_state import ChatLog, TelegramState
from sandbox.world import Approval, Keys, World

REPO = Path(__file__).resolve().parents[1]
BENCH_SECRET_KEY = "payfriend-bench-only-secret"
HTTP_TIMEOUT = 30
_LISTENING = re.compile(r"Webhooks listening on (\S+)")


# ----------------------------------------------------------------------------- the recording sandbox


class Recorder:
    """Stamps bot chat messages and push approvals as the sandbox records them (under its lock)."""

    def __init__(self) -> None:
        self.chat_queues: dict[int, SimpleQueue] = {}  # chat id -> (perf_counter, text)
        self.approval_queues: dict[str, SimpleQueue] = {}  # phone -> (perf_counter, approval id)
        self.bot_messages: list[tuple[int, float, float, str]] = []  # chat id, perf_counter, wall, text

    def bot_message(self, chat_id: int, text: str) -> None:
        """Record one message the bot sent into a chat and wake whoever waits for that chat."""
        perf, wall = time.perf_counter(), time.time()
        self.bot_messages.append((chat_id, perf, wall, text))
        queue = self.chat_queues.get(chat_id)
        if queue is not None:
            queue.put((perf, text))

    def approval(self, approval: Approval) -> None:
        """Record a push approval shown in a person's authenticator app."""
        queue = self.approval_queues.get(approval.phone)
        if queue is not None:
            queue.put((time.perf_counter(), approval.id))


class _StampedMessages(list):
    """A chat's message list that tells the recorder about each message the bot appends."""

    def __init__(self, chat_id: int, recorder: Recorder) -> None:
        super().__init__()
        self._chat_id, self._recorder = chat_id, recorder

    def append(self, msg: Any) -> None:
        """Append and, for a bot message, record it."""
        super().append(msg)
        if msg.from_bot:
            self._recorder.bot_message(self._chat_id, msg.text or "")


class _RecordingTelegramState(TelegramState):
    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder
        super().__init__()

    def chat(self, chat_id: int) -> ChatLog:
        log = self.chats.get(chat_id)
        if log is None:
            log = super().chat(chat_id)
            log.messages = _StampedMessages(chat_id, self._recorder)
        return log


class RecordingWorld(World):
    """The sandbox World, plus a Recorder of bot messages and approvals."""

    def __init__(self) -> None:
        super().__init__()
        self.recorder = Recorder()
        self.telegram = _RecordingTelegramState(self.recorder)

    def add_approval(self, approval: Approval) -> Approval:
        """Show the approval (as World does) and record it."""
        shown = super().add_approval(approval)
        self.recorder.approval(shown)
        return shown


def start_recording_sandbox() -> RunningSandbox:
    """Start a sandbox on a free 127.0.0.1 port with a RecordingWorld and no Telegram flood limits."""
    sandbox = start_sandbox(world=RecordingWorld())
    response = requests.post(sandbox.url + "/api/telegram/limits",
                             json={"per_chat_per_second": None, "global_per_second": None}, timeout=HTTP_TIMEOUT)
    response.raise_for_status()
    return sandbox


# ----------------------------------------------------------------------------- Payfriend as a process


def proc_status(pid: int) -> dict[str, int]:
    """The kB figures of /proc/<pid>/status (VmHWM = peak RSS, VmRSS = current RSS)."""
    figures: dict[str, int] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            name, _, value = line.partition(":")
            if value.strip().endswith("kB"):
                figures[name] = int(value.split()[0])
    return figures


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (from /proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds all cores have spent busy since boot (everything but idle and iowait, /proc/stat)."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class PayfriendProcess:
    """`python -m bot run` against a running sandbox, with its output in a log file."""

    def __init__(self, workdir: Path, database_url: str, sandbox_url: str, **settings: Any) -> None:
        self.workdir, self.database_url, self.sandbox_url = workdir, database_url, sandbox_url
        self.settings = settings
        self.log_path = workdir / "payfriend.log"
        self.process: subprocess.Popen | None = None
        self.web_url: str | None = None

    @property
    def pid(self) -> int:
        """The child's process id."""
        assert self.process is not None
        return self.process.pid

    def environment(self) -> dict[str, str]:
        """This environment without any Payfriend setting, plus the benchmark's settings."""
        from bot.settings import Settings

        env = {k: v for k, v in os.environ.items() if k.lower() not in Settings.model_fields}
        env.update({"DATABASE_URL": self.database_url, "SANDBOX_URL": self.sandbox_url, "PORT": "0",
                    "SECRET_KEY": BENCH_SECRET_KEY, "PYTHONUNBUFFERED": "1",
                    "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))})
        env.update({name.upper(): str(value) for name, value in self.settings.items()})
        return env

    def start(self, timeout: float = 60) -> float:
        """Start the process and wait until it listens; returns the seconds that took."""
        started = time.perf_counter()
        log = open(self.log_path, "ab")
        try:
            # cwd is a scratch directory, so no .env file of the repository is read
            self.process = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=self.workdir,
                                            env=self.environment(), stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL)
        finally:
            log.close()
        deadline = started + timeout
        while time.perf_counter() < deadline:
            match = _LISTENING.search(self.log_path.read_text(errors="replace"))
            if match:
                self.web_url = match.group(1)
                return time.perf_counter() - started
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"Payfriend did not start; its log ends with:\n{self.log_tail()}")

    def peak_rss_mb(self) -> float:
        """Peak resident set size so far (VmHWM), in MiB."""
        return proc_status(self.pid)["VmHWM"] / 1024

    def cpu_seconds(self) -> float:
        """CPU seconds the process has used so far."""
        return cpu_seconds(self.pid)

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the process's output."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def count_log(self, pattern: str) -> int:
        """How many output lines match `pattern` (errors, warnings)."""
        rx = re.compile(pattern)
        try:
            return sum(1 for line in self.log_path.read_text(errors="replace").splitlines() if rx.search(line))
        except OSError:
            return 0

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM (Payfriend stops cleanly on it), then SIGKILL if it is still there after `timeout`."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


# ----------------------------------------------------------------------------- database and seeding


def prepare_database(database_url: str | None, workdir: Path) -> str:
    """A fresh SQLite file in `workdir`, or the given database emptied and migrated; returns its URL."""
    from models.migrate import downgrade, upgrade

    if database_url is None:
        database_url = f"sqlite:///{workdir / 'payfriend.db'}"
    else:
        downgrade(database_url, "base")
    upgrade(database_url)
    return database_url


@dataclass
class Person:
    """One simulated person: sandbox phone and Telegram chat, Authy registration, Payfriend user."""

    index: int
    phone: str
    chat_id: int
    authy_id: str
    user_id: int = 0


def _phone(index: int) -> str:
    return f"+1202{5550000 + index:07d}"


def seed_people(sandbox: RunningSandbox, database_url: str, count: int, threads: int = 8) -> list[Person]:
    """Create `count` registered people: sandbox person + one chat message + Authy user + Payfriend row.

    Run before Payfriend starts. The sandbox person and their one message (which opens the Telegram
    chat: the bot may only write to people who wrote first) are made in-process through the same
    sandbox functions the control API calls (POST /api/people, /api/telegram/send), which saves
    two HTTP requests per person; the Authy registration goes over HTTP (users/new). The queued
    messages are then dropped with deleteWebhook (drop_pending_updates), as an operator would, so
    that Payfriend starts with an empty update queue.
    """
    from sandbox import telegram_person

    keys, world = Keys(), sandbox.world
    local = threading.local()

    def one(index: int) -> Person:
        if not hasattr(local, "session"):
            local.session = requests.Session()
            local.session.trust_env = False
        phone = _phone(index)
        person = world.add_person(phone, f"Person {index}")
        telegram_person.person_writes(world, phone, "hi")
        authy = local.session.post(sandbox.url + "/authy/protected/json/users/new", timeout=HTTP_TIMEOUT,
                                   headers={"X-Authy-API-Key": keys.authy_api_key},
                                   json={"user": {"email": f"person{index}@example.com", "cellphone": phone[2:],
                                                  "country_code": "1"}})
        authy.raise_for_status()
        return Person(index, phone, person.telegram_user_id, str(authy.json()["user"]["id"]))

    with ThreadPoolExecutor(threads) as pool:
        people = list(pool.map(one, range(count)))
    dropped = requests.post(f"{sandbox.url}/bot{keys.telegram_token}/deleteWebhook",
                            json={"drop_pending_updates": True}, timeout=HTTP_TIMEOUT)
    dropped.raise_for_status()
    _add_users(database_url, people)
    return people


def _add_users(database_url: str, people: list[Person]) -> None:
    from bot.core.entities import Registration, User
    from models.engine import make_engine
    from models.uow import SqlUnitOfWorkFactory

    engine = make_engine(database_url)
    try:
        now = datetime.now(timezone.utc)
        with SqlUnitOfWorkFactory(engine)() as uow:
            for p in people:
                user = uow.users.add(User(id=None, created_at=now, telegram_user_id=p.chat_id,
                                          telegram_chat_id=p.chat_id, phone=p.phone, phone_verified=True,
                                          email=f"person{p.index}@example.com", authenticator_id=p.authy_id,
                                          registration=Registration.READY))
                assert user.id is not None
                p.user_id = user.id
            uow.commit()
    finally:
        engine.dispose()


def seed_pending_payments(database_url: str, people: list[Person], expiry_seconds: float) -> list[str]:
    """One confirmed payment per person, waiting for its push (state pending, step push), written
    through the repositories with no fallback deadline yet (see set_fallback_deadlines); returns ids."""
    from bot.core.entities import Channel, Payment
    from bot.core.money import Money
    from bot.core.payment import Step, fingerprint
    from models.engine import make_engine
    from models.uow import SqlUnitOfWorkFactory

    key = hashlib.sha256(("fingerprint:" + BENCH_SECRET_KEY).encode()).digest()
    engine = make_engine(database_url)
    ids: list[str] = []
    try:
        now = datetime.now(timezone.utc)
        with SqlUnitOfWorkFactory(engine)() as uow:
            for n, p in enumerate(people):
                payment = Payment(id=f"pay_bench{n:08d}", payer_id=p.user_id, payee="Neville",
                                  amount=Money(100 + n % 900, "USD", 2), note=None, channel=Channel.TELEGRAM,
                                  fingerprint="", created_at=now, expires_at=now + timedelta(seconds=expiry_seconds),
                                  step=Step.PUSH, sca="challenge", sca_reason="seeded by the benchmark")
                payment.fingerprint = fingerprint(payment.terms, key)
                uow.payments.add(payment)
                ids.append(payment.id)
            uow.commit()
    finally:
        engine.dispose()
    return ids


def set_fallback_deadlines(database_url: str, ids: list[str], first_due: datetime,
                           window: float) -> dict[str, datetime]:
    """Spread the payments' fallback_at evenly over [first_due, first_due + window] in one
    transaction (just before Payfriend starts, so that seeding time does not eat the lead)."""
    from sqlalchemy import bindparam, update

    from models.engine import make_engine
    from models.tables import payments

    step = window / max(1, len(ids) - 1)
    due = {pid: first_due + timedelta(seconds=n * step) for n, pid in enumerate(ids)}
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(update(payments).where(payments.c.id == bindparam("pid"))
                               .values(fallback_at=bindparam("due")),
                               [{"pid": pid, "due": at} for pid, at in due.items()])
    finally:
        engine.dispose()
    return due


def fallback_rows(database_url: str) -> dict[str, tuple[datetime | None, datetime | None]]:
    """payment id -> (fallback_at, code_sent_at) for every payment."""
    from sqlalchemy import select

    from models.engine import make_engine
    from models.tables import payments

    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(select(payments.c.id, payments.c.fallback_at, payments.c.code_sent_at))
            return {r.id: (r.fallback_at, r.code_sent_at) for r in rows}
    finally:
        engine.dispose()
