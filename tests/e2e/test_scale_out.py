"""Scale-out on PostgreSQL, deployed as README's "Deploying for real" says, with a worker killed midway.

The Procfile's release step migrates a fresh database; two gunicorn workers (the Procfile's web line)
and two `payfriend worker` processes run side by side on it, in Telegram webhook mode, against the
sandbox. Many people pay at once on Telegram and SMS: they approve, deny, type the fallback code or
let the payment expire. One worker is SIGKILLed in the middle and a new one started, as a process
manager would. Every payment must end once, as its payer's action implies, with nothing lost and
each message and each code SMS sent once. The one exception is what no protocol can avoid: a
message or code whose send was in flight when the worker died (the provider may have taken it
before the worker could record so) may go out once more when its lease runs out. Such a repeat
must have its first copy before the kill and its second after it, and there can be no more of
them than the killed worker had threads sending.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest
import requests

from tests.e2e.deployment import Deployment, Service, clean_environment, free_port
from tests.e2e.harness import PAYFRIEND_NUMBER, Phone, wait_for

KINDS = ("approve", "deny", "code", "expire")
PEOPLE_PER_CHANNEL = 25  # x 2 channels x one payment of each kind = 200 payments
PAYMENTS = len(KINDS) * 2 * PEOPLE_PER_CHANNEL
KILL_AFTER = PAYMENTS * 35 // 100  # payments ended before a worker is killed
FALLBACK_SECONDS = 3
EXPIRY_SECONDS = 40  # past a dead worker's leases (~25 s), so a slow machine still sees every push before it ends
POLL_SECONDS = 0.5  # how often a person looks at their phone
ANSWER_SECONDS = 90  # the longest a person waits for one answer (a dead worker's leases are ~25 s)
IN_FLIGHT_AT_MOST = 16  # a worker sends on 8 outbox threads and calls out on 8 job threads
PAYEE = "Neville"
STATE = {"approve": "approved", "deny": "denied", "code": "approved", "expire": "expired"}
DECIDED_BY = {"approve": "push", "deny": "push", "code": "code", "expire": "system"}
OUTCOME = {"approve": "Sent: {} to Neville", "deny": "Not sent: {} to Neville was denied",
           "code": "Sent: {} to Neville", "expire": "Not sent: {} to Neville was not approved in time"}
OUTCOME_WORDS = ("Sent:", "Not sent:")
PRESSED = "\u2713 Confirmed: waiting for your approval"  # a confirm question once Confirm was pressed
CODE = re.compile(r"(?:code|token) is:? (\d{4,10})\b")


def _on_postgresql() -> bool:
    url = os.environ.get("TEST_DATABASE_URL", "").strip()
    return url.startswith(("postgres://", "postgresql"))


pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(480),
    pytest.mark.skipif(not _on_postgresql(), reason="scale-out runs several processes on one database, which "
                       "needs PostgreSQL: set TEST_DATABASE_URL to a PostgreSQL server's URL (scripts/test "
                       "does in its second pass)"),
]


def until(found: Callable[[], Any], what: str, timeout: float = ANSWER_SECONDS) -> Any:
    """Look every POLL_SECONDS until found() is truthy; return it, or fail naming `what`."""
    return wait_for(found, timeout, what, interval=POLL_SECONDS)


# ---------------------------------------------------------------------------- people

@dataclass
class Plan:
    """One payment a person makes, and what they do about it."""

    kind: str
    dollars: int

    @property
    def amount(self) -> str:
        """The amount as Payfriend writes it."""
        return f"${self.dollars}.00"


@dataclass
class Progress:
    """How many payments have ended so far, across every person."""

    ended: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def one_more(self) -> None:
        """Count a payment that ended."""
        with self.lock:
            self.ended += 1


class Payer:
    """A person who registers, then makes their planned payments one after another."""

    def __init__(self, phone: Phone, plans: list[Plan], progress: Progress) -> None:
        self.phone, self.plans, self.progress = phone, plans, progress
        self.registration_chat: list[str] = []
        self.error: str | None = None
        self.step = "starting"

    def run(self) -> None:
        """Register and pay; a failure is kept (with the step it happened at) for the test to report."""
        try:
            self.register()
            for plan in self.plans:
                self.step = f"{plan.kind} {plan.amount}"
                self.pay(plan)
                self.progress.one_more()
        except Exception as exc:
            self.error = f"{self.phone.name} ({self.phone.channel}) at {self.step}: {exc}; chat: {self.last_chat()}"

    def last_chat(self) -> list[str]:
        """The end of this person's chat (for failure messages)."""
        try:
            return self.phone.chat()[-4:]
        except requests.RequestException as exc:
            return [f"(chat unreadable: {exc})"]

    def chat_says(self, *texts: str) -> str:
        """Wait for a chat message containing one of `texts`."""
        return until(lambda: next((t for t in self.phone.chat() if any(x in t for x in texts)), None),
                     f"a chat message with {' or '.join(map(repr, texts))}")

    def register(self) -> None:
        """Sign up on their channel with the phone code and an email, as in the harness."""
        self.step = "registration"
        if self.phone.channel == "sms":
            self.phone.says("hi")
            self.chat_says("Welcome to Payfriend")
        else:
            self.phone.says("/start")
            self.chat_says("Share my phone number")
            self.phone.shares_contact()
        code = until(lambda: next(iter(CODE.findall(" ".join(self.phone.sms()))), None), "the phone code")
        self.phone.says(code)
        self.chat_says("email address")
        self.phone.says(f"{self.phone.name.lower()}@example.com")
        self.chat_says("You're all set")
        self.registration_chat = self.phone.chat()

    def pay(self, plan: Plan) -> None:
        """Ask for the payment, confirm it, act as the plan says and wait for how it ended."""
        self.phone.says(f"send ${plan.dollars} to {PAYEE}")
        self.chat_says(f"Send {plan.amount} to {PAYEE}?")
        self.phone.presses("Confirm")
        if plan.kind in ("approve", "deny"):
            # a person acts on the bot's "Approve $N to Neville in your Authy app" (or, after a fallback, the code note)
            self.chat_says(f"{plan.amount} to {PAYEE} in your ", f"for {plan.amount} to {PAYEE}.")
            approval = until(lambda: self.approval_for(plan), f"the push for {plan.amount}")
            (self.phone.approve if plan.kind == "approve" else self.phone.deny)(approval["id"])
        elif plan.kind == "code":
            code = until(lambda: self.code_for(plan), f"the code SMS for {plan.amount}")
            self.chat_says(f"for {plan.amount} to {PAYEE}.")  # "... texted a code to ... for $N to Neville."
            self.phone.says(code)
        self.chat_says(OUTCOME[plan.kind].format(plan.amount))

    def approval_for(self, plan: Plan) -> dict[str, Any] | None:
        """The pending push approval of this payment, once it shows in the app."""
        return next((a for a in self.phone.pending() if a["details"].get("Amount") == plan.amount), None)

    def code_for(self, plan: Plan) -> str | None:
        """The code texted for this payment, once it arrived."""
        texts = [t for t in self.phone.sms() if f"send {plan.amount} to {PAYEE}" in t]
        found = CODE.findall(texts[-1]) if texts else []
        return found[0] if found else None


def new_payers(sandbox_url: str, progress: Progress) -> list[Payer]:
    """People on both channels; each pays once for every kind, in an order of their own."""
    payers = []
    for n in range(2 * PEOPLE_PER_CHANNEL):
        channel = ("telegram", "sms")[n % 2]
        kinds = KINDS[n % 4:] + KINDS[:n % 4]
        plans = [Plan(kind, 11 + i) for i, kind in enumerate(kinds)]
        phone = Phone(sandbox_url, f"+1500558{n:04d}", f"Person{n}", channel)
        payers.append(Payer(phone, plans, progress))
    return payers


# ---------------------------------------------------------------------------- the deployment

def deployment_settings(database_url: str, sandbox_url: str, port: int) -> dict[str, str]:
    """The environment of every process: no credentials (so: the sandbox), webhook mode, short timers."""
    return {"DATABASE_URL": database_url, "SANDBOX_URL": sandbox_url, "PORT": str(port),
            "TELEGRAM_MODE": "webhook", "AUTHENTICATOR": "authy", "FALLBACK_SECONDS": str(FALLBACK_SECONDS),
            "PAYMENT_EXPIRY_SECONDS": str(EXPIRY_SECONDS), "HTTP_TIMEOUT_SECONDS": "5", "LOG_LEVEL": "INFO"}


def web_is_ready(base: str, sandbox_url: str) -> bool:
    """The web processes answer on PORT and pointed the sandbox's consoles at it."""
    try:
        health = requests.get(base + "/health", timeout=2)
    except requests.RequestException:
        return False
    config = requests.get(sandbox_url + "/api/config", timeout=5).json()
    return health.status_code == 200 and config.get("authy") == base + "/webhooks/authy"


def telegram_webhook(sandbox_url: str) -> str:
    """The webhook URL registered with the sandbox's Telegram."""
    return (requests.get(sandbox_url + "/api/telegram", timeout=5).json().get("webhook") or {}).get("url") or ""


def wait_started(deployment: Deployment, services: list[Service], what: str, ready: Callable[[], bool]) -> None:
    """Wait until `ready()`, failing at once with the logs when one of `services` ended."""
    def check() -> bool:
        dead = [s for s in services if not s.running()]
        assert not dead, f"{what}: {dead[0].name} ended at start-up\n{deployment.logs()}"
        return ready()
    try:
        until(check, what, timeout=60)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{deployment.logs()}") from None


def start_deployment(deployment: Deployment, sandbox_url: str, port: int) -> None:
    """Release, then two web processes (gunicorn) and two workers, as the Procfile says."""
    deployment.release()
    base = f"http://127.0.0.1:{port}"
    web = deployment.start("web")
    wait_started(deployment, [web], "the web processes", lambda: web_is_ready(base, sandbox_url))
    workers = [deployment.start("worker"), deployment.start("worker")]
    wait_started(deployment, workers, "the workers",
                 lambda: all("Worker running" in w.text() for w in workers)
                 and telegram_webhook(sandbox_url) == base + "/webhooks/telegram")


def kill_a_worker_midway(deployment: Deployment, progress: Progress, payers: list[Payer]) -> float:
    """Once KILL_AFTER payments ended, SIGKILL a worker and start another in its place; when it was killed."""
    until(lambda: progress.ended >= KILL_AFTER or all(p.error for p in payers), "payments to end",
          timeout=ANSWER_SECONDS * 2)
    victim = deployment.of("worker")[0]
    killed_at = time.time()
    victim.kill()
    deployment.start("worker")
    return killed_at


@dataclass(frozen=True)
class Seen:
    """One message a person got: when, the text as first sent, and the text now (a Telegram edit changes it)."""

    at: float
    sent: str
    text: str


def timed_messages(phone: Phone) -> tuple[list[Seen], list[Seen]]:
    """What Payfriend wrote to the person, and the code SMS they got, oldest first."""
    def get(path: str) -> Any:
        response = requests.get(phone.url + path, params={"phone": phone.phone}, timeout=10)
        response.raise_for_status()
        return response.json()
    inbox = [m for m in get("/api/sms/inbox") if m["direction"] == "inbound"]
    codes = [Seen(m["at"], m["body"], m["body"]) for m in inbox if m["from"] != PAYFRIEND_NUMBER]
    if phone.channel == "sms":
        return [Seen(m["at"], m["body"], m["body"]) for m in inbox if m["from"] == PAYFRIEND_NUMBER], codes
    return [Seen(float(m["date"]), m["sent_text"], m["text"]) for m in get("/api/telegram/messages")], codes


def without_crash_repeats(entries: list[Seen], killed_at: float) -> tuple[list[str], list[str]]:
    """The texts without the repeats a crash may cause (first copy by the kill, second after it); and those.

    Copies are matched on the text as first sent; of two copies the one the person acted on (edited) stays.
    """
    first: dict[str, int] = {}
    kept: list[Seen] = []
    repeats: list[str] = []
    for entry in entries:
        index = first.get(entry.sent)
        earlier = kept[index] if index is not None else None
        if earlier is not None and earlier.at <= killed_at + 1 and entry.at >= killed_at - 1:  # whole seconds
            if entry.text != entry.sent and earlier.text == earlier.sent:
                kept[index], entry = entry, earlier  # type: ignore[index]
            repeats.append(entry.text)
            continue
        first.setdefault(entry.sent, len(kept))
        kept.append(entry)
    return [e.text for e in kept], repeats


# ---------------------------------------------------------------------------- what the database holds

def database_rows(database_url: str, statement: Any) -> list[Any]:
    """Run one read-only statement on the deployment's database."""
    from sqlalchemy.pool import NullPool

    from models.engine import make_engine

    engine = make_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return list(connection.execute(statement))
    finally:
        engine.dispose()


def unfinished_work(database_url: str) -> dict[str, int]:
    """Outbox messages not yet delivered and jobs not yet done (leased by a dead worker included)."""
    from sqlalchemy import func, select

    from models.tables import jobs, outbox

    messages = database_rows(database_url, select(func.count()).where(outbox.c.next_attempt_at.is_not(None)))
    calls = database_rows(database_url, select(func.count()).where(jobs.c.run_at.is_not(None)))
    return {"outbox": messages[0][0], "jobs": calls[0][0]}


def failed_work(database_url: str) -> list[Any]:
    """Outbox messages and jobs that were given up."""
    from sqlalchemy import select

    from models.tables import jobs, outbox

    return (database_rows(database_url, select(outbox.c.recipient, outbox.c.text, outbox.c.last_error)
                          .where(outbox.c.failed_at.is_not(None)))
            + database_rows(database_url, select(jobs.c.kind, jobs.c.last_error).where(jobs.c.failed_at.is_not(None))))


def decisions_by_poll(database_url: str) -> list[str]:
    """Push decisions that only the expiry's look at the push status applied: their callback did not count."""
    from sqlalchemy import select

    from models.tables import receipts

    return [r.key for r in database_rows(database_url, select(receipts.c.key).where(receipts.c.key.like("poll:%")))]


def payments_by_payer(database_url: str) -> list[Any]:
    """Every payment with its payer's phone."""
    from sqlalchemy import select

    from models.tables import payments, users

    statement = (select(users.c.phone, payments.c.amount_minor, payments.c.payee, payments.c.state,
                        payments.c.step, payments.c.decided_by, payments.c.decided_at)
                 .join(users, users.c.id == payments.c.payer_id))
    return database_rows(database_url, statement)


# ---------------------------------------------------------------------------- checks

def payment_problems(payers: list[Payer], rows: list[Any]) -> list[str]:
    """Payments missing, doubled, or not ended as the payer's action implies."""
    expected = {(p.phone.phone, plan.dollars * 100): plan.kind for p in payers for plan in p.plans}
    seen = Counter((r.phone, r.amount_minor) for r in rows)
    problems = [f"{key}: {count} payments" for key, count in seen.items() if count != 1]
    problems += [f"{key}: no payment" for key in expected if key not in seen]
    for r in rows:
        kind = expected.get((r.phone, r.amount_minor))
        if kind is None:
            problems.append(f"unexpected payment {r}")
        elif (r.state, r.step, r.decided_by) != (STATE[kind], "done", DECIDED_BY[kind]) or r.decided_at is None:
            problems.append(f"{kind}: {r}")
    return problems


def chat_problems(payer: Payer, chat: list[str], codes: list[str]) -> list[str]:
    """What is wrong in one person's chat and code SMS: a message or code twice, one missing, one unexpected."""
    who = f"{payer.phone.name} ({payer.phone.channel})"
    problems = []
    if chat[:len(payer.registration_chat)] != payer.registration_chat:
        problems.append(f"{who}: the registration messages changed")
    later = chat[len(payer.registration_chat):]
    # On Telegram each confirm question is edited, once Confirm is pressed, into the same line.
    telegram = payer.phone.channel == "telegram"
    pressed = sum(t == PRESSED for t in later)
    if pressed != (len(payer.plans) if telegram else 0):
        problems.append(f"{who}: {pressed} confirm questions edited to {PRESSED!r}")
    later = [t for t in later if t != PRESSED]
    for plan in payer.plans:
        mine = [t for t in later if f"{plan.amount} to {PAYEE}" in t]
        sms = [t for t in codes if f"send {plan.amount} to {PAYEE}" in t]
        problems += [f"{who} {plan.kind} {plan.amount}: {p}"
                     for p in payment_chat_problems(plan, mine, sms, confirmations=0 if telegram else 1)]
    amounts = [plan.amount for plan in payer.plans]
    problems += [f"{who}: unexpected message {t!r}" for t in later if not any(a in t for a in amounts)]
    phone_codes = [t for t in codes if "verification code" in t]
    if len(phone_codes) != 1 or len(codes) != len(phone_codes) + sum(a in t for t in codes for a in amounts):
        problems.append(f"{who}: unexpected code SMS {codes}")
    return problems


def payment_chat_problems(plan: Plan, mine: list[str], sms: list[str], confirmations: int) -> list[str]:
    """One payment's messages: one confirmation, one outcome, at most one push note and one code (texted once)."""
    count = lambda start: sum(t.startswith(start) for t in mine)  # noqa: E731
    problems = []
    if count("Send ") != confirmations:
        problems.append(f"{count('Send ')} confirmations")
    outcomes = [t for t in mine if t.startswith(OUTCOME_WORDS)]
    if len(outcomes) != 1 or not outcomes[0].startswith(OUTCOME[plan.kind].format(plan.amount)):
        problems.append(f"outcome messages {outcomes}")
    if count("Approve ") > 1:
        problems.append(f"{count('Approve ')} 'approve in your app' messages")
    texted = sum("texted a code" in t for t in mine)
    pushed_only = plan.kind in ("approve", "deny")  # decided in the app: a code SMS only if the fallback came first
    if (len(sms), texted) != (1, 1) and not (pushed_only and texted <= len(sms) <= 1):
        problems.append(f"{len(sms)} code SMS and {texted} 'texted a code' messages")
    others = len(mine) - count("Send ") - len(outcomes) - count("Approve ") - texted
    if others:
        problems.append(f"{others} other messages: {mine}")
    return problems


# ---------------------------------------------------------------------------- the test

def test_two_web_and_two_worker_processes_end_every_payment_once_through_a_worker_crash(sandbox, database_url,
                                                                                       tmp_path):
    port = free_port()
    env = clean_environment(**deployment_settings(database_url, sandbox.url, port))
    progress = Progress()
    with Deployment(tmp_path, env) as deployment:
        start_deployment(deployment, sandbox.url, port)
        payers = new_payers(sandbox.url, progress)
        with ThreadPoolExecutor(len(payers), thread_name_prefix="person") as people:
            for payer in payers:
                people.submit(payer.run)
            killed_at = kill_a_worker_midway(deployment, progress, payers)
        errors = [p.error for p in payers if p.error]
        assert not errors, "\n".join(errors[:10]) + "\n" + deployment.logs()
        try:
            until(lambda: unfinished_work(database_url) == {"outbox": 0, "jobs": 0}, "every message and job to end")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {unfinished_work(database_url)}\n{deployment.logs()}") from None

        rows = payments_by_payer(database_url)
        assert len(rows) == PAYMENTS
        problems = payment_problems(payers, rows)
        assert not problems, "\n".join(problems[:20]) + "\n" + deployment.logs()
        assert not failed_work(database_url), failed_work(database_url)
        polled = decisions_by_poll(database_url)
        assert not polled, f"decisions whose callback was lost (applied at expiry): {polled}\n{deployment.logs()}"
        problems, repeats = [], []
        for payer in payers:
            chat, codes = timed_messages(payer.phone)
            (chat, chat_repeats), (codes, code_repeats) = (without_crash_repeats(chat, killed_at),
                                                           without_crash_repeats(codes, killed_at))
            repeats += chat_repeats + code_repeats
            problems += chat_problems(payer, chat, codes)
        assert not problems, "\n".join(problems[:20]) + "\n" + deployment.logs()
        assert len(repeats) <= IN_FLIGHT_AT_MOST, f"more repeats than sends in flight at the kill: {repeats}"
        assert (len(deployment.of("web")), len(deployment.of("worker"))) == (1, 2), deployment.logs()
