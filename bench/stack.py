"""The benchmark stack: a recording sandbox in this process, and the bot under test as child processes.

The sandbox ("the outside world") runs here, served with HTTP/1.1 keep-alive (KeepAliveHandler), with
a World subclass that stamps every message the bot sends into a Telegram chat and every push approval
the moment the sandbox records it (the sandbox's own message dates are whole seconds). The bot under
test runs in processes of its own, so its CPU time and peak RSS are its own and it has its own
interpreter lock: Payfriend exactly as `payfriend run` with SANDBOX_URL set (PayfriendProcess), or as
the Procfile deploys it (PayfriendDeployment: gunicorn + workers), or the minimal reference bot
(ReferenceProcess, bench/reference_bot.py).
"""

from __future__ import annotations

import hashlib
import io
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
from werkzeug.serving import WSGIRequestHandler, make_server

from sandbox.server import RunningSandbox
from sandbox.telegram_state import ChatLog, TelegramState
from sandbox.world import Approval, Keys, World

REPO = Path(__file__).resolve().parents[1]
BENCH_SECRET_KEY = "payfriend-bench-only-secret"
HTTP_TIMEOUT = 30
_LISTENING = re.compile(r"Webhooks listening on (\S+)")


# ----------------------------------------------------------------------------- the recording sandbox


class Recorder:
    """Stamps bot chat messages and push approvals as the sandbox records them (under its lock).

    With `events` set, each stamp is also queued there, for the drivers process (bench/drivers.py).
    """

    def __init__(self) -> None:
        self.events: SimpleQueue | None = None  # ("chat", chat id, perf, text) / ("approval", phone, perf, id)
        self.bot_messages: list[tuple[int, float, float, str]] = []  # chat id, perf_counter, wall, text

    def bot_message(self, chat_id: int, text: str) -> None:
        """Record one message the bot sent into a chat and pass it on to the drivers."""
        perf, wall = time.perf_counter(), time.time()
        self.bot_messages.append((chat_id, perf, wall, text))
        if self.events is not None:
            self.events.put(("chat", chat_id, perf, text))

    def approval(self, approval: Approval) -> None:
        """Record a push approval shown in a person's authenticator app."""
        if self.events is not None:
            self.events.put(("approval", approval.phone, time.perf_counter(), approval.id))


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


class KeepAliveHandler(WSGIRequestHandler):
    """Werkzeug's request handler with HTTP/1.1 keep-alive, and quiet.

    Werkzeug 3 sends `Connection: close` on every response even when it speaks HTTP/1.1, because
    an unread request body would be taken for the next request line. This handler reads the whole
    body (Content-Length) before the app runs, so the stream always ends where the next request
    starts, and then drops that header. Chunked request bodies keep the old close-after-one behaviour.
    """

    protocol_version = "HTTP/1.1"
    timeout = 300  # an idle keep-alive connection is closed after this many seconds
    disable_nagle_algorithm = True  # headers and body are two writes: without it, a delayed ACK stalls each answer
    _keep_alive = False

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """No per-request log line."""

    def send_header(self, keyword: str, value: str) -> None:
        """Send a header, except Werkzeug's unconditional `Connection: close` on a keep-alive request."""
        if self._keep_alive and keyword.lower() == "connection" and value.lower() == "close":
            return
        super().send_header(keyword, value)

    def run_wsgi(self) -> None:
        """Run the app on a fully read request body, so that the connection can carry the next request."""
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        self._keep_alive = not self.close_connection and not chunked
        if not self._keep_alive:
            super().run_wsgi()
            return
        length = int(self.headers.get("Content-Length") or 0)
        stream, self.rfile = self.rfile, io.BytesIO(self.rfile.read(length) if length > 0 else b"")
        try:
            super().run_wsgi()
        finally:
            self.rfile = stream


def start_keepalive_sandbox(world: World) -> RunningSandbox:
    """The sandbox app on a free 127.0.0.1 port, served with KeepAliveHandler in a daemon thread."""
    from sandbox.app import create_app

    server = make_server("127.0.0.1", 0, create_app(world), threaded=True, request_handler=KeepAliveHandler)
    server.daemon_threads = True
    port = server.server_port
    thread = threading.Thread(target=server.serve_forever, name=f"sandbox:{port}", daemon=True)
    thread.start()
    return RunningSandbox(url=f"http://127.0.0.1:{port}", port=port, world=world, _server=server, _thread=thread)


def start_recording_sandbox() -> RunningSandbox:
    """Start a keep-alive sandbox on a free 127.0.0.1 port with a RecordingWorld and no Telegram flood limits."""
    sandbox = start_keepalive_sandbox(RecordingWorld())
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


def child_pids(pid: int) -> list[int]:
    """The direct children of a process (from /proc/<pid>/task/*/children)."""
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as children:
                found.extend(int(c) for c in children.read().split())
    except OSError:
        pass
    return found


def _child_environment(extra: dict[str, str]) -> dict[str, str]:
    """This environment without any Payfriend setting, plus `extra` and the repository on PYTHONPATH."""
    from bot.settings import Settings

    env = {k: v for k, v in os.environ.items() if k.lower() not in Settings.model_fields}
    env.update({"PYTHONUNBUFFERED": "1",
                "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))})
    env.update(extra)
    return env


class ChildProcess:
    """One child process with its output in a log file, ready once a line of its log matches."""

    def __init__(self, workdir: Path, name: str, argv: list[str], env: dict[str, str], ready: str) -> None:
        self.workdir, self.name, self.argv, self.env = workdir, name, argv, env
        self.ready = re.compile(ready)
        self.log_path = workdir / f"{name}.log"
        self.process: subprocess.Popen | None = None
        self.ready_match: re.Match | None = None

    @property
    def pid(self) -> int:
        """The child's process id."""
        assert self.process is not None
        return self.process.pid

    def launch(self) -> None:
        """Start the process (cwd is the scratch directory, so no .env file of the repository is read)."""
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.argv, cwd=self.workdir, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def wait_ready(self, deadline: float) -> bool:
        """Wait (until the perf_counter `deadline`) for the ready line; False if it exited or timed out."""
        while time.perf_counter() < deadline:
            self.ready_match = self.ready.search(self.log_path.read_text(errors="replace"))
            if self.ready_match:
                return True
            if self.process is None or self.process.poll() is not None:
                return False
            time.sleep(0.02)
        return False

    def pids(self) -> list[int]:
        """This process and its direct children (gunicorn's workers)."""
        return [self.pid, *child_pids(self.pid)]

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
        """SIGTERM, then SIGKILL if it is still there after `timeout`."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


class BotUnderTest:
    """One or more child processes that together are the bot: started, measured and stopped as one."""

    label = "bot"

    def __init__(self) -> None:
        self.children: list[ChildProcess] = []
        self._peaks: dict[int, int] = {}

    @property
    def pid(self) -> int:
        """The first process's id (the one a profiler attaches to)."""
        return self.children[0].pid

    def pids(self) -> list[int]:
        """Every process of the bot, children included."""
        return [pid for child in self.children if child.process and child.process.poll() is None
                for pid in child.pids()]

    def start(self, timeout: float = 60) -> float:
        """Start every process and wait until each is ready; returns the seconds that took."""
        started = time.perf_counter()
        try:
            for child in self.children:
                child.launch()
            for child in self.children:
                if not child.wait_ready(started + timeout):
                    raise RuntimeError(f"{child.name} did not start; its log ends with:\n{child.log_tail()}")
            self.after_start()
        except BaseException:
            self.stop()
            raise
        return time.perf_counter() - started

    def after_start(self) -> None:
        """Anything to do once every process is ready (nothing by default)."""

    def cpu_seconds(self) -> float:
        """CPU seconds all its processes have used so far (and note their peak RSS while they live)."""
        total = 0.0
        for pid in self.pids():
            try:
                total += cpu_seconds(pid)
                self._peaks[pid] = proc_status(pid)["VmHWM"]
            except (OSError, KeyError):
                pass
        return total

    def peak_rss_mb(self) -> float:
        """The sum of its processes' peak resident set sizes (VmHWM), in MiB."""
        self.cpu_seconds()
        return sum(self._peaks.values()) / 1024

    def largest_rss_mb(self) -> float:
        """The largest peak resident set size of one of its processes, in MiB."""
        self.cpu_seconds()
        return max(self._peaks.values(), default=0) / 1024

    def count_log(self, pattern: str) -> int:
        """Matching output lines over all its processes."""
        return sum(child.count_log(pattern) for child in self.children)

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of each process's output."""
        return "\n".join(f"[{c.name}]\n{c.log_tail(lines)}" for c in self.children)

    def stop(self) -> None:
        """Stop every process, newest first."""
        for child in reversed(self.children):
            child.stop()


class PayfriendProcess(BotUnderTest):
    """`python -m bot run` (what `payfriend run` does) against a running sandbox."""

    label = "payfriend"

    def __init__(self, workdir: Path, database_url: str, sandbox_url: str, **settings: Any) -> None:
        super().__init__()
        self.database_url, self.sandbox_url, self.settings = database_url, sandbox_url, settings
        self.children = [ChildProcess(workdir, "payfriend", [sys.executable, "-m", "bot", "run"],
                                      self.environment(), _LISTENING.pattern)]
        self.web_url: str | None = None

    def environment(self) -> dict[str, str]:
        """This environment without any Payfriend setting, plus the benchmark's settings."""
        env = {"DATABASE_URL": self.database_url, "SANDBOX_URL": self.sandbox_url, "PORT": "0",
               "SECRET_KEY": BENCH_SECRET_KEY}
        env.update({name.upper(): str(value) for name, value in self.settings.items()})
        return _child_environment(env)

    def after_start(self) -> None:
        """Note the address its webhooks listen on."""
        match = self.children[0].ready_match
        self.web_url = match.group(1) if match else None


class ReferenceProcess(BotUnderTest):
    """`python -m bench.reference_bot`: the minimal bot the benchmark compares Payfriend with."""

    label = "reference"

    def __init__(self, workdir: Path, sandbox_url: str, people_file: Path) -> None:
        super().__init__()
        argv = [sys.executable, "-m", "bench.reference_bot", "--sandbox-url", sandbox_url,
                "--people", str(people_file)]
        self.children = [ChildProcess(workdir, "reference", argv, _child_environment({}),
                                      r"Reference bot listening on (\S+)")]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def procfile_wsgi_app(procfile: Path = REPO / "Procfile") -> str:
    """The WSGI app gunicorn serves, as the Procfile's web line names it ('module:create()')."""
    try:
        for line in procfile.read_text(encoding="utf-8").splitlines():
            if line.startswith("web:"):
                quoted = re.findall(r"'([\w.]+:[\w.()]+)'", line)
                if quoted:
                    return quoted[-1]
    except OSError:
        pass
    return "bot.wsgi:create()"


class PayfriendDeployment(BotUnderTest):
    """The Procfile's deployment: gunicorn web workers (serving the app its web line names) plus
    `python -m bot worker` processes.

    Telegram is in webhook mode. Two gaps of that deployment on the sandbox are bridged here, in the
    benchmark only: PUBLIC_URL must be set (it is the gunicorn address), and no process registers the
    sandbox's callback URLs (gunicorn serves the app, so point_sandbox_at_us never runs): the
    benchmark POSTs /api/config itself.
    """

    label = "payfriend"

    def __init__(self, workdir: Path, database_url: str, sandbox_url: str, web: int, workers: int,
                 **settings: Any) -> None:
        super().__init__()
        self.sandbox_url = sandbox_url
        self.web_url = f"http://127.0.0.1:{free_port()}"
        env = {"DATABASE_URL": database_url, "SANDBOX_URL": sandbox_url, "SECRET_KEY": BENCH_SECRET_KEY,
               "TELEGRAM_MODE": "webhook", "PUBLIC_URL": self.web_url}
        env.update({name.upper(): str(value) for name, value in settings.items()})
        env = _child_environment(env)
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        web_argv = [gunicorn, "--workers", str(web), "--threads", "8", "--timeout", "30",
                    "--bind", self.web_url.removeprefix("http://"), procfile_wsgi_app()]
        self.children = [ChildProcess(workdir, "web", web_argv, env, r"Listening at: http")]
        self.children += [ChildProcess(workdir, f"worker-{n}", [sys.executable, "-m", "bot", "worker"], env,
                                       r"Worker running") for n in range(workers)]
        self.web_count = web

    def after_start(self) -> None:
        """Wait until gunicorn's app answers, then point the sandbox's callbacks at it."""
        deadline = time.perf_counter() + 60
        while True:
            try:
                if requests.get(self.web_url + "/health", timeout=5).status_code < 500:
                    break
            except requests.RequestException:
                pass
            if time.perf_counter() > deadline or self.children[0].process.poll() is not None:
                raise RuntimeError(f"gunicorn did not serve the app; its log ends with:\n{self.children[0].log_tail()}")
            time.sleep(0.1)
        urls = {"authy": self.web_url + "/webhooks/authy", "verify": self.web_url + "/webhooks/twilio/verify",
                "messaging": self.web_url + "/webhooks/twilio/sms"}
        requests.post(self.sandbox_url + "/api/config", json=urls, timeout=HTTP_TIMEOUT).raise_for_status()


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


def seed_people(sandbox: RunningSandbox, database_url: str | None, count: int, threads: int = 8) -> list[Person]:
    """Create `count` registered people: sandbox person + one chat message + Authy user + Payfriend row
    (no Payfriend row without a database: the reference bot has none).

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
    if database_url is not None:
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
