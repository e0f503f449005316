"""SIGKILL Payfriend while payments are pending: after a restart every fallback and expiry happens once."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.harness import Phone, wait_for

REPO = Path(__file__).resolve().parents[2]
EXPIRED = re.compile(r"^Not sent: .* was not approved in time")


def start_process(database_url: str, sandbox_url: str, log: Path, authenticator: str) -> subprocess.Popen:
    """`payfriend run` as a separate process, on the test's sandbox and database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "AUTHY_", "TWILIO_"))}
    env.update(DATABASE_URL=database_url, SANDBOX_URL=sandbox_url, PORT="0", FALLBACK_SECONDS="3",
               AUTHENTICATOR=authenticator,
               PAYMENT_EXPIRY_SECONDS="12", HTTP_TIMEOUT_SECONDS="2", LOG_LEVEL="INFO")
    process = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=REPO, env=env,
                               stdout=log.open("ab"), stderr=subprocess.STDOUT)
    wait_for(lambda: "Webhooks listening" in log.read_text(errors="replace") or process.poll() is not None,
             timeout=30, what="payfriend to start")
    assert process.poll() is None, log.read_text()
    return process


@pytest.mark.slow
@pytest.mark.parametrize("channel, authenticator", [("telegram", "authy"), ("sms", "verify")])
def test_sigkill_with_payments_pending_then_restart(sandbox, database_url, tmp_path, channel, authenticator):
    from models.migrate import upgrade

    upgrade(database_url)
    log = tmp_path / "payfriend.log"
    process = start_process(database_url, sandbox.url, log, authenticator)
    hook = Phone.wait_app_linked if authenticator == "verify" else None  # the app sets itself up from the link
    people = [Phone(sandbox.url, f"+1500556{n:04d}", name, channel, on_registered=hook) for n, name in
              enumerate(("Hermione", "Ron", "Ginny"), start=20)]
    try:
        for person in people:
            person.register()
        for person in people[:2]:
            person.start_payment()  # confirmed: waiting for the push, fallback due in 3 s
        people[2].says("send $9 to Dean")  # waiting for confirmation: only its expiry is due
        people[2].wait_chat("Send \\$9.00 to Dean")
        sms_before = {p.phone: len(p.sms()) for p in people}
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    time.sleep(4)  # the fallbacks fall due while nothing runs

    process = start_process(database_url, sandbox.url, log, authenticator)
    try:
        for person in people[:2]:
            person.wait_chat("texted a code", timeout=15)
        for person in people:
            person.wait_chat("^Not sent: .* was not approved in time", timeout=25)
        time.sleep(2.5)  # one more sweep: nothing may happen twice
        for person in people[:2]:
            chat = person.chat()
            assert sum("texted a code" in t for t in chat) == 1, chat
            assert sum(EXPIRED.match(t) is not None for t in chat) == 1, chat
            assert len(person.sms()) == sms_before[person.phone] + 1
        assert sum(EXPIRED.match(t) is not None for t in people[2].chat()) == 1
        assert len(people[2].sms()) == sms_before[people[2].phone]
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
