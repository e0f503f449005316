"""The sandbox's shared state: people, their SMS inboxes, authenticator approvals, faults, consoles."""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Protocol

from sandbox.ids import IncreasingIds, twilio_sid
from sandbox.telegram_state import TelegramState

log = logging.getLogger(__name__)

SERVICES = ("authy", "verify", "messaging", "telegram")
FAULT_MODES = ("none", "down", "slow", "error", "drop-callback", "duplicate-callback")
SNAPSHOT_FORMAT = 1


class StandIn(Protocol):
    """A stand-in that keeps state of its own beside the World, saved with it."""

    def snapshot(self) -> dict[str, Any]:
        """Its state as plain JSON data (called with the world's lock held)."""

    def restore(self, data: dict[str, Any]) -> None:
        """Replace its state with a snapshot (called with the world's lock held)."""


@dataclass
class Person:
    """A simulated person: a phone number plus a Telegram user."""

    phone: str  # E.164
    name: str
    telegram_user_id: int
    started_bot: bool = False  # the bot may write only after /start ...
    blocked_bot: bool = False  # ... and not once blocked (403)
    # The Payfriend app (with the Verify Push SDK) on their phone: installed or not, the last enrolment
    # link it saw in Payfriend's messages, and how opening it went (None: no attempt since installing,
    # "linking", "linked", or what went wrong).
    app_installed: bool = True
    app_link: str | None = None
    app_link_status: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"phone": self.phone, "name": self.name, "telegram_user_id": self.telegram_user_id,
                "chat_id": self.telegram_user_id, "started_bot": self.started_bot,
                "blocked_bot": self.blocked_bot, "app_installed": self.app_installed,
                "app_last_link_status": self.app_link_status}


@dataclass
class Sms:
    """One SMS in a person's inbox (to them) or sent by them (from them)."""

    sid: str
    to: str
    from_: str
    body: str
    at: float
    direction: str  # "inbound" (to the person) or "outbound" (the person wrote it)

    def as_json(self) -> dict[str, Any]:
        return {"sid": self.sid, "to": self.to, "from": self.from_, "body": self.body, "at": self.at,
                "direction": self.direction}


@dataclass
class Approval:
    """A pending push in the person's authenticator app (Authy OneTouch or Verify Push)."""

    id: str
    provider: str  # "authy" or "verify"
    phone: str
    message: str
    details: dict[str, Any]
    hidden_details: dict[str, Any]
    created_at: float
    expires_at: float | None  # None: never
    status: str = "pending"  # pending, approved, denied, expired
    logos: list[dict[str, str]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # provider-specific (authy_id, factor sid ...)
    late: bool = False  # decided after the payment had ended: the app says "no longer needed"

    def current_status(self, now: float) -> str:
        """The status, with expiry applied lazily (no provider sends an expiry callback)."""
        if self.status == "pending" and self.expires_at is not None and now >= self.expires_at:
            self.status = "expired"
        return self.status

    def as_json(self, now: float) -> dict[str, Any]:
        return {"id": self.id, "provider": self.provider, "phone": self.phone, "message": self.message,
                "details": self.details, "hidden_details": self.hidden_details, "logos": self.logos,
                "status": self.current_status(now), "created_at": self.created_at,
                "expires_at": self.expires_at, "late": self.late}


class World:
    """Everything the stand-ins share; every access goes through `lock`."""

    def __init__(self, keys: "Keys | None" = None, clock: Callable[[], float] = time.time) -> None:
        self.keys = keys or Keys()
        self.clock = clock
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)  # notified on every change (long polls, page)
        self.version = 0
        self.people: dict[str, Person] = {}
        self.sms: list[Sms] = []
        self.approvals: dict[str, Approval] = {}
        self.faults: dict[str, str] = {s: "none" for s in SERVICES}
        # Console settings: where each provider calls Payfriend back (set through /api/config).
        self.callbacks: dict[str, str | None] = {"authy": None, "verify": None, "messaging": None}
        # Provider hooks, registered by each stand-in: called (outside the lock) when a person acts.
        self.on_decision: dict[str, Callable[[Approval], None]] = {}
        self.on_person_sms: Callable[[Sms], None] | None = None
        # Called with the lock held, so they must not block: Payfriend's message (a bot message or an
        # SMS from its number) reached this phone, with its text (the person's apps may act on it) ...
        self.on_payfriend_message: list[Callable[[str, str], None]] = []
        # ... and, outside the lock, the person's authenticator app was installed (True) or removed.
        self.on_app_switch: list[Callable[[str, bool], None]] = []
        self.slow_seconds = 3.0  # how long a service in "slow" mode stalls each request
        # Called (outside the lock) by reset(), so each stand-in can clear its own state.
        self.on_reset: list[Callable[[], None]] = []
        # Stand-ins with state of their own register here by name, so snapshot() and restore() reach them.
        self.stand_ins: dict[str, StandIn] = {}
        self.telegram = TelegramState()
        self._ids = IncreasingIds()
        self._telegram_user_ids = IncreasingIds()

    def next_id(self) -> int:
        """An increasing number for ids; never repeats, not even across runs."""
        with self.lock:
            return self._ids.next()

    def touch(self) -> None:
        """Record a change and wake every waiter (call with the lock held)."""
        self.version += 1
        self.changed.notify_all()

    def add_person(self, phone: str, name: str) -> Person:
        """Create (or return) the person with this phone number."""
        with self.lock:
            person = self.people.get(phone)
            if person is None:
                person = Person(phone=phone, name=name, telegram_user_id=self._telegram_user_ids.next())
                self.people[phone] = person
                self.touch()
            return person

    def person_by_telegram(self, user_or_chat_id: int) -> Person | None:
        """The person whose Telegram user (and private chat) has this id."""
        with self.lock:
            return next((p for p in self.people.values() if p.telegram_user_id == user_or_chat_id), None)

    def deliver_sms(self, to: str, from_: str, body: str, sid: str | None = None) -> Sms:
        """Put an SMS into `to`'s inbox."""
        with self.lock:
            sms = Sms(sid or twilio_sid("SM"), to, from_, body, self.clock(), "inbound")
            self.sms.append(sms)
            self.touch()
            return sms

    def person_sends_sms(self, phone: str, body: str, to: str | None = None) -> Sms:
        """Record an SMS the person writes (to the Payfriend number unless `to` is given)."""
        with self.lock:
            sms = Sms(twilio_sid("SM"), to or self.keys.twilio_phone_number, phone, body,
                      self.clock(), "outbound")
            self.sms.append(sms)
            self.touch()
            return sms

    def inbox(self, phone: str) -> list[Sms]:
        """SMS to and from this phone, oldest first."""
        with self.lock:
            return [m for m in self.sms if phone in (m.to, m.from_)]

    def payfriend_wrote(self, phone: str, text: str) -> None:
        """Payfriend's message reached `phone`: hand its text to every on_payfriend_message hook."""
        with self.lock:
            for hook in list(self.on_payfriend_message):
                try:
                    hook(phone, text)
                except Exception:  # the message was delivered whatever a hook makes of it
                    log.exception("sandbox: a hook on Payfriend's message to %s failed", phone)

    def change_telegram_number(self, phone: str, new_phone: str) -> Person:
        """Telegram's "Change Number": the Telegram account of `phone` (its chat and id) now has `new_phone`.

        The SIM behind `phone` keeps its SMS inbox and its authenticator app; `phone` gets a fresh Telegram
        account that never talked to the bot. `new_phone` becomes a person if it was none (without the
        Payfriend app); if it had a Telegram account, that account moves to `phone` in exchange.
        Returns the person who now holds the account.
        """
        with self.lock:
            old = self.people.get(phone)
            if old is None:
                raise KeyError(phone)
            if new_phone == phone:
                raise ValueError("'new_phone' is the account's number already")
            new = self.people.get(new_phone)
            if new is None:
                new = Person(phone=new_phone, name=old.name, telegram_user_id=self._telegram_user_ids.next(),
                             app_installed=False)
                self.people[new_phone] = new
            account = (old.telegram_user_id, old.started_bot, old.blocked_bot)
            old.telegram_user_id, old.started_bot, old.blocked_bot = (new.telegram_user_id, new.started_bot,
                                                                      new.blocked_bot)
            new.telegram_user_id, new.started_bot, new.blocked_bot = account
            self.touch()
            return new

    def set_app_installed(self, phone: str, installed: bool) -> Person | None:
        """Install or remove the person's authenticator app (None: no such person). A change runs the
        on_app_switch hooks outside the lock: removing drops the app's factors, installing opens the last
        enrolment link again."""
        with self.lock:
            person = self.people.get(phone)
            if person is None:
                return None
            changed = person.app_installed != installed
            person.app_installed = installed
            if changed and not installed:
                person.app_link_status = None
            self.touch()
        if changed:
            for hook in list(self.on_app_switch):
                try:
                    hook(phone, installed)
                except Exception:
                    log.exception("sandbox: an app switch hook failed for %s", phone)
        return person

    def add_approval(self, approval: Approval) -> Approval:
        """Show a push approval in the person's authenticator app."""
        with self.lock:
            self.approvals[approval.id] = approval
            self.touch()
            return approval

    def note_decision_answer(self, approval: Approval, answer: str) -> None:
        """Payfriend answered a decision's callback; {"result": "ignored"} marks the approval late."""
        try:
            result = json.loads(answer).get("result")
        except (ValueError, AttributeError):
            return
        if result == "ignored":
            with self.lock:
                approval.late = True
                self.touch()

    def fault(self, service: str) -> str:
        """The fault mode currently set for a service."""
        with self.lock:
            return self.faults[service]

    def set_fault(self, service: str, mode: str) -> None:
        """Set a fault mode; raises ValueError for an unknown service or mode."""
        if service not in SERVICES or mode not in FAULT_MODES:
            raise ValueError(f"service must be one of {SERVICES}, mode one of {FAULT_MODES}")
        with self.lock:
            self.faults[service] = mode
            self.touch()

    def stall(self, seconds: float | None = None) -> None:
        """Sleep like a slow service (slow_seconds by default); cut short by stop()."""
        self.telegram.stopping.wait(self.slow_seconds if seconds is None else seconds)

    def reset(self) -> list[str]:
        """Forget people, messages, approvals and faults (keep keys, console URLs, the webhook, the ids'
        progress), then run every on_reset hook; returns what went wrong in hooks that failed."""
        with self.lock:
            self.people.clear()
            self.sms.clear()
            self.approvals.clear()
            self.faults = {s: "none" for s in SERVICES}
            self.telegram.reset()
            self.touch()
        errors = []
        for hook in list(self.on_reset):
            try:
                hook()
            except Exception as exc:  # one failing hook must not keep the others from clearing their part
                log.exception("sandbox: a reset hook failed")
                errors.append(f"{type(exc).__name__}: {exc}")
        return errors

    def snapshot(self) -> dict[str, Any]:
        """Everything worth keeping across runs, as plain JSON data (faults and flood counters are not)."""
        with self.lock:
            return {"format": SNAPSHOT_FORMAT,
                    "ids": {"ids": self._ids.snapshot(), "telegram_user_ids": self._telegram_user_ids.snapshot()},
                    "people": [asdict(p) for p in self.people.values()],
                    "sms": [asdict(m) for m in self.sms],
                    "approvals": [asdict(a) for a in self.approvals.values()],
                    "callbacks": dict(self.callbacks),
                    "telegram": self.telegram.snapshot(),
                    "stand_ins": {name: stand_in.snapshot() for name, stand_in in self.stand_ins.items()}}

    def restore(self, data: dict[str, Any]) -> None:
        """Take over a snapshot; raises (KeyError, TypeError, ValueError) when it is not one."""
        if data.get("format") != SNAPSHOT_FORMAT:
            raise ValueError(f"unknown snapshot format {data.get('format')!r}")
        people = {p["phone"]: Person(**p) for p in data["people"]}
        for person in people.values():
            if person.app_link_status == "linking":  # saved mid-attempt: nothing is under way any more
                person.app_link_status = "Interrupted: the sandbox stopped while setting up"
        sms = [Sms(**m) for m in data["sms"]]
        approvals = {a["id"]: Approval(**a) for a in data["approvals"]}
        with self.lock:
            self.people, self.sms, self.approvals = people, sms, approvals
            self.callbacks.update({k: v for k, v in data["callbacks"].items() if k in self.callbacks})
            self._ids.restore(data["ids"]["ids"])
            self._telegram_user_ids.restore(data["ids"]["telegram_user_ids"])
            self.telegram.restore(data["telegram"])
            for name, stand_in in self.stand_ins.items():
                if name in data["stand_ins"]:
                    stand_in.restore(data["stand_ins"][name])
            self.touch()

    def stop(self) -> None:
        """Wake every waiter for good (server shutdown): long polls return, workers end."""
        with self.lock:
            self.telegram.stopping.set()
            self.touch()


@dataclass(frozen=True)
class Keys:
    """The credentials the stand-ins accept (the bot uses the same ones in sandbox mode)."""

    telegram_token: str = "1000000001:sandbox-telegram-token"
    authy_api_key: str = "sandbox-authy-api-key"
    twilio_account_sid: str = "AC" + "0" * 31 + "1"
    twilio_auth_token: str = "sandbox-twilio-auth-token"
    twilio_phone_number: str = "+15005550006"
    verify_service_sid: str = "VA" + "0" * 31 + "1"
    verify_phone_service_sid: str = "VA" + "0" * 31 + "2"  # a plain (non-PSD2) service for phone checks
