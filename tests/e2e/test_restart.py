"""Stop `payfriend run` on its own sandbox and start it again: people, chats and pending payments carry on.

Payfriend runs as a subprocess with no credentials and no SANDBOX_URL, so it starts its own sandbox and
keeps that sandbox's world in `payfriend.sandbox.json` beside its SQLite database.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.e2e.harness import Phone, wait_for

REPO = Path(__file__).resolve().parents[2]
DONE = "Sent: \\$20.00 to Neville( \u2713|\\.)"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PayfriendProcess:
    """`python -m bot run` in a subprocess, on a SQLite file in `folder` and a sandbox of its own."""

    def __init__(self, folder: Path, authenticator: str, fallback_seconds: float) -> None:
        self.folder = folder
        self.database_url = f"sqlite:///{folder / 'payfriend.db'}"
        port = free_port()
        self.sandbox_url = f"http://127.0.0.1:{port}"
        self.log = folder / "payfriend.log"
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("TELEGRAM_", "AUTHY_", "TWILIO_", "SANDBOX_", "DATABASE_URL"))}
        self.env.update(DATABASE_URL=self.database_url, SANDBOX_PORT=str(port), PORT="0", AUTHENTICATOR=authenticator,
                        FALLBACK_SECONDS=str(fallback_seconds), PAYMENT_EXPIRY_SECONDS="120",
                        HTTP_TIMEOUT_SECONDS="2", LOG_LEVEL="INFO",
                        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        """Start it and wait until it serves."""
        seen = len(self.log.read_bytes()) if self.log.exists() else 0
        self.process = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=self.folder, env=self.env,
                                        stdout=self.log.open("ab"), stderr=subprocess.STDOUT)
        wait_for(lambda: "Webhooks listening" in self.log.read_bytes()[seen:].decode(errors="replace")
                 or self.process.poll() is not None, timeout=40, what="payfriend to start")
        assert self.process.poll() is None, self.log.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Send `sig` and wait for the process to end."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
            raise AssertionError("payfriend did not stop on " + signal.Signals(sig).name) from None

    def restart(self, sig: int = signal.SIGTERM) -> None:
        """Stop it with `sig` and start it again on the same files and ports."""
        self.stop(sig)
        self.start()


@pytest.fixture
def start_payfriend(tmp_path):
    """Start a PayfriendProcess; it is stopped after the test."""
    started: list[PayfriendProcess] = []

    def start(authenticator: str = "authy", fallback_seconds: float = 60) -> PayfriendProcess:
        running = PayfriendProcess(tmp_path, authenticator, fallback_seconds)
        started.append(running)
        running.start()
        return running

    yield start
    for running in started:
        running.stop()


def person_on(payfriend: PayfriendProcess, channel: str, authenticator: str) -> Phone:
    """A registered person on this channel (with the push app, on Verify)."""
    hook = Phone.wait_app_linked if authenticator == "verify" else None  # the app sets itself up from the link
    person = Phone(payfriend.sandbox_url, "+15005557001", "Hermione", channel, on_registered=hook)
    person.register()
    return person


def new_reply(person: Phone, text: str, pattern: str) -> str:
    """Say `text` and wait for a reply matching `pattern` that was not in the chat before."""
    before = len(person.chat())
    person.says(text)
    return wait_for(lambda: next((t for t in person.chat()[before:] if pattern in t), None), timeout=15,
                    what=f"a reply with {pattern!r} to {text!r}; chat so far: {person.chat()[-3:]}")


FLAVOURS = [("telegram", "authy"), ("sms", "verify")]


@pytest.mark.slow
@pytest.mark.parametrize("channel, authenticator", FLAVOURS, ids=[f"{c}-{a}" for c, a in FLAVOURS])
@pytest.mark.parametrize("signal_", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_after_a_restart_the_person_is_answered_and_approves_the_pending_push(start_payfriend, channel,
                                                                              authenticator, signal_):
    payfriend = start_payfriend(authenticator)
    person = person_on(payfriend, channel, authenticator)
    approval = person.start_payment()  # confirmed: the push waits in the app
    if signal_ == signal.SIGKILL:
        time.sleep(1.5)  # the sandbox saves its world within half a second of a change
    payfriend.restart(signal_)

    assert "Neville" in new_reply(person, "status", "Waiting for you: ")
    assert [a["id"] for a in person.pending()] == [approval["id"]]
    person.approve(approval["id"])
    person.wait_chat(DONE, timeout=15)
    assert sum(t.startswith("Sent: ") for t in person.chat()) == 1
    if channel == "telegram":
        new_reply(person, "/start", "")  # a command is answered too (whatever the words)


@pytest.mark.slow
@pytest.mark.parametrize("channel, authenticator", FLAVOURS, ids=[f"{c}-{a}" for c, a in FLAVOURS])
def test_after_a_restart_the_fallback_code_typed_by_the_person_finishes_the_payment(start_payfriend, channel,
                                                                                    authenticator):
    payfriend = start_payfriend(authenticator, fallback_seconds=2)
    person = person_on(payfriend, channel, authenticator)
    _, code = person.start_payment_and_wait_for_code()
    payfriend.restart()

    person.says(code)
    person.wait_chat(DONE, timeout=15)
    assert sum(t.startswith("Sent: ") for t in person.chat()) == 1
    assert "Neville: sent" in new_reply(person, "status", "Recent:")


@pytest.mark.slow
def test_reset_after_a_restart_empties_the_sandbox_and_payfriends_database(start_payfriend):
    payfriend = start_payfriend()
    person = person_on(payfriend, "telegram", "authy")
    person.start_payment()
    payfriend.restart()

    response = requests.post(payfriend.sandbox_url + "/api/reset", timeout=30)
    assert response.status_code == 200, response.text
    assert requests.get(payfriend.sandbox_url + "/api/people", timeout=5).json() == []
    again = Phone(payfriend.sandbox_url, person.phone, "Hermione", "telegram")
    assert again.chat() == [] and again.pending() == []
    again.register()  # Payfriend forgot her too: she signs up from the start
    assert "no payments" in new_reply(again, "status", "payments")
