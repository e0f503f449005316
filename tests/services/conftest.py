"""A Services instance wired to recording fakes, and helpers to play a person."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest

from bot.core.entities import Channel, InboundMessage, OutboxMessage
from bot.core.grammar import parse
from bot.currencies import format_money, grammar_context
from bot.phones import normalize_phone
from bot.services import ServiceConfig, Services
from tests.jobs_inline import run_jobs_now
from tests.services.fakes import FakeAuthenticator, FakeClock, FakeTimers, FakeUnitOfWork, RecordingMessenger, Store


@dataclass
class World:
    """The services with their fakes, and what a test needs to drive them."""

    services: Services
    store: Store
    auth: FakeAuthenticator
    clock: FakeClock
    timers: FakeTimers
    telegram: RecordingMessenger
    sms: RecordingMessenger


@pytest.fixture
def world() -> World:
    store, auth, clock, timers = Store(), FakeAuthenticator(), FakeClock(), FakeTimers()
    ctx = grammar_context("USD", __import__("decimal").Decimal("1000"))
    ids = itertools.count(1)
    config = ServiceConfig(fallback_seconds=15, expiry_seconds=1200, fingerprint_key=b"k" * 32,
                           authenticator_label="Authy")
    services = Services(uow=lambda: FakeUnitOfWork(store), authenticator=auth, clock=clock, config=config,
                        parse=lambda text, cur: parse(text, ctx), format_money=format_money,
                        normalize_phone=normalize_phone, new_payment_id=lambda: f"pay_{next(ids)}", timers=timers)
    services.wake = run_jobs_now(services)
    return World(services, store, auth, clock, timers, RecordingMessenger(), RecordingMessenger())


class Person:
    """Plays one Telegram user against the services."""

    _updates = itertools.count(1)

    def __init__(self, world: World, user_id: int = 111, phone: str = "+15005550006") -> None:
        self.world, self.user_id, self.phone = world, user_id, phone

    def _msg(self, **kw: object) -> InboundMessage:
        return InboundMessage(Channel.TELEGRAM, str(self.user_id), f"tg:{next(self._updates)}",
                              chat_id=self.user_id, **kw)

    def says(self, text: str) -> None:
        self.world.services.handle_inbound(self._msg(text=text))

    def presses(self, data: str) -> None:
        self.world.services.handle_inbound(self._msg(button=data))

    def shares_contact(self, phone: str | None = None, owner: int | None = None) -> None:
        self.world.services.handle_inbound(self._msg(contact_phone=phone or self.phone.lstrip("+"),
                                                     contact_user_id=owner or self.user_id))

    def inbox(self) -> list[OutboxMessage]:
        return sorted((m for m in self.world.store.outbox.values() if m.recipient == str(self.user_id)),
                      key=lambda m: m.id or 0)

    def last(self) -> str:
        return self.inbox()[-1].text

    def register(self) -> None:
        self.says("/start")
        self.shares_contact()
        self.says(self.world.auth.phone_code)
        self.says("hermione@example.com")

    def payment(self):
        return next(p for p in self.world.store.payments.values() if p.payer_id == self.user_record().id)

    def payment_for(self, dollars: int):
        """The person's payment of this many dollars."""
        return next(p for p in self.world.store.payments.values()
                    if p.payer_id == self.user_record().id and p.amount.minor == dollars * 100)

    def user_record(self):
        return next(u for u in self.world.store.users.values() if u.telegram_user_id == self.user_id)
