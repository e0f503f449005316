"""The use cases: one method each. Imports only bot.core and bot.ports.

Rules every method follows:
- a state change is a guarded transition (`payments.transition`), committed together with the
  messages it causes (outbox) and the dedupe receipt of what caused it;
- no database transaction is held open across a call to an outside service;
- nothing here talks to a vendor: the ports do.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Callable

from bot.core import replies
from bot.core.commands import (Cancel, Code, Confirm, Help, History, ParseError, ParseResult, Send, Start,
                               Status)
from bot.core.entities import (Button, Channel, InboundMessage, OutboxMessage, Payment, Registration,
                               User)
from bot.core.money import Money
from bot.core.payment import (Event, IllegalTransition, State, Step, fingerprint, fingerprint_matches,
                              next_position)
from bot.core.sca import Decision, after_exemption, after_successful_sca, decide
from bot.core.sms import keyword as sms_keyword
from bot.core.sms import to_gsm7
from bot.ports import (Authenticator, AuthenticatorUnavailable, Clock, CodeBinding, DeliveryError,
                       Messenger, PushRequest, Timers, UnitOfWork, UnitOfWorkFactory)

log = logging.getLogger(__name__)

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
STATUS_COUNT = 5
HISTORY_COUNT = 20
OUTBOX_BATCH = 5  # x the slowest send (Telegram: 4 x timeout) must stay well inside the lease
OUTBOX_LEASE = timedelta(seconds=120)
OUTBOX_MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class ServiceConfig:
    """The settings the use cases need."""

    fallback_seconds: float
    expiry_seconds: float
    fingerprint_key: bytes
    authenticator_label: str  # shown to people: "Authy", "Twilio Verify"
    default_currency: str = "USD"
    low_value_exemption: bool = False
    rates_to_eur: dict[str, Decimal] = field(default_factory=dict)
    max_code_attempts: int = 5
    logo_url: str | None = None


@dataclass
class Services:
    """Payfriend's use cases, wired by bootstrap with the adapters of this deployment."""

    uow: UnitOfWorkFactory
    authenticator: Authenticator
    clock: Clock
    config: ServiceConfig
    parse: Callable[[str, str], ParseResult]  # (text, default currency)
    format_money: Callable[[Money, str], str]  # (money, locale)
    normalize_phone: Callable[[str], str | None]
    new_payment_id: Callable[[], str]
    timers: Timers
    kick_outbox: Callable[[], None] = lambda: None

    # ------------------------------------------------------------------ inbound messages

    def handle_inbound(self, msg: InboundMessage) -> None:
        """Handle one message or button press from a person; a redelivered one has no effect."""
        with self.uow() as uow:
            if not uow.receipts.first_time(msg.dedupe_key, self.clock.now()):
                log.info("duplicate inbound %s ignored", msg.dedupe_key)
                return
            user = self._find_user(uow, msg)
            after = self._route(uow, msg, user)
            uow.commit()
        self.kick_outbox()
        if after is not None:
            after()

    def _find_user(self, uow: UnitOfWork, msg: InboundMessage) -> User | None:
        """The sender, locked for this transaction: one person's messages change their data one at a time."""
        found = uow.users.by_telegram(int(msg.sender)) if msg.channel is Channel.TELEGRAM \
            else uow.users.by_phone(msg.sender)
        return uow.users.get_for_update(found.id) if found is not None and found.id is not None else found

    def _route(self, uow: UnitOfWork, msg: InboundMessage, user: User | None) -> Callable[[], None] | None:
        """Decide within the transaction; return work that must run after commit (outside calls)."""
        if msg.contact_phone is not None:
            return self._on_contact(uow, msg, user)
        if msg.channel is Channel.SMS and self._on_sms_keyword(uow, msg, user):
            return None
        if user is None:
            return self._on_stranger(uow, msg)
        if msg.button:
            return self._on_button(uow, msg, user)
        command = self.parse(msg.text, user.default_currency)
        if isinstance(command, Start):
            return self._on_start(uow, msg, user)
        if isinstance(command, Help):
            self._reply(uow, msg, replies.SMS_HELP if msg.channel is Channel.SMS else replies.HELP)
            return None
        if user.registration is not Registration.READY:
            return self._on_registration_text(uow, msg, user, command)
        return self._on_command(uow, msg, user, command)

    # ------------------------------------------------------------------ SMS keywords

    def _on_sms_keyword(self, uow: UnitOfWork, msg: InboundMessage, user: User | None) -> bool:
        """STOP, START and HELP; True when the message is used up (an opted-out person gets nothing)."""
        word = (msg.keyword or "").lower() or sms_keyword(msg.text)
        if word == "stop":
            self._opt_out(uow, msg, user)
            return True
        if user is not None and user.sms_opted_out:
            if word == "start":
                user.sms_opted_out = False
                uow.users.save(user)
                self._reply(uow, msg, replies.sms_resubscribed())
            return True
        if word == "help":
            self._reply(uow, msg, replies.SMS_HELP)
            return True
        return False

    def _opt_out(self, uow: UnitOfWork, msg: InboundMessage, user: User | None) -> None:
        """Send nothing more by SMS; a payment started by SMS is cancelled, since no one could confirm it there."""
        if user is None:
            phone = self.normalize_phone(msg.sender)
            if phone is None:
                return
            uow.users.add(User(id=None, created_at=self.clock.now(), phone=phone, sms_opted_out=True,
                               registration=Registration.PHONE_CODE, default_currency=self.config.default_currency))
            return
        user.sms_opted_out = True
        uow.users.save(user)
        assert user.id is not None
        for payment in uow.payments.pending_for_payer(user.id):
            if payment.channel is Channel.SMS:
                self._finish(uow, payment, Event.CANCEL, "payer", "opted out of SMS")

    # ------------------------------------------------------------------ registration

    def _on_stranger(self, uow: UnitOfWork, msg: InboundMessage) -> Callable[[], None] | None:
        if msg.channel is Channel.TELEGRAM:
            self._reply(uow, msg, replies.welcome_telegram(), request_contact=True)
            return None
        phone = self.normalize_phone(msg.sender)
        if phone is None:
            return None
        user = uow.users.add(User(id=None, created_at=self.clock.now(), phone=phone,
                                  registration=Registration.PHONE_CODE,
                                  default_currency=self.config.default_currency))
        return lambda: self._start_phone_check(user, msg, replies.welcome_sms())

    def _on_start(self, uow: UnitOfWork, msg: InboundMessage, user: User) -> Callable[[], None] | None:
        if user.registration is Registration.READY:
            self._reply(uow, msg, replies.registered(self.config.authenticator_label))
            return None
        if msg.channel is Channel.TELEGRAM and user.registration is Registration.CONTACT:
            self._reply(uow, msg, replies.welcome_telegram(), request_contact=True)
            return None
        return lambda: self._start_phone_check(user, msg, None)

    def _on_contact(self, uow: UnitOfWork, msg: InboundMessage, user: User | None) -> Callable[[], None] | None:
        if msg.contact_user_id is None or str(msg.contact_user_id) != msg.sender:
            self._reply(uow, msg, replies.not_own_contact(), request_contact=True)
            return None
        phone = self.normalize_phone(msg.contact_phone or "")
        if phone is None:
            self._reply(uow, msg, replies.not_own_contact(), request_contact=True)
            return None
        owner = uow.users.by_phone(phone)
        if owner is not None and owner.telegram_user_id not in (None, int(msg.sender)):
            self._reply(uow, msg, replies.not_own_contact(), request_contact=True)
            return None
        person = owner or user or User(id=None, created_at=self.clock.now(),
                                       default_currency=self.config.default_currency)
        person.telegram_user_id = int(msg.sender)
        person.telegram_chat_id = msg.chat_id
        person.telegram_blocked = False
        if user is not None and owner is not None and user.id != owner.id:
            user.telegram_user_id = None  # the shared number belongs to an existing person: link there
            uow.users.save(user)
        person.phone = phone
        person.phone_verified = False
        person.registration = Registration.PHONE_CODE
        person = uow.users.add(person) if person.id is None else self._saved(uow, person)
        return lambda: self._start_phone_check(person, msg, None)

    @staticmethod
    def _saved(uow: UnitOfWork, user: User) -> User:
        uow.users.save(user)
        return user

    def _start_phone_check(self, user: User, msg: InboundMessage, greeting: str | None) -> None:
        """Ask the authenticator to text a phone verification code (outside any transaction)."""
        assert user.phone is not None
        try:
            self.authenticator.start_phone_verification(user.phone)
            text = greeting or replies.phone_code_sent(mask_phone(user.phone))
        except AuthenticatorUnavailable:
            log.warning("phone verification could not start for user %s", user.id)
            text = replies.service_unavailable()
        self._send_after(msg, text)

    def _on_registration_text(self, uow: UnitOfWork, msg: InboundMessage, user: User,
                              command: ParseResult) -> Callable[[], None] | None:
        if user.registration is Registration.CONTACT:
            self._reply(uow, msg, replies.finish_registration("contact"), request_contact=True)
            return None
        if user.registration is Registration.PHONE_CODE:
            if isinstance(command, Code):
                return lambda: self._check_phone_code(user, msg, command.digits)
            self._reply(uow, msg, replies.finish_registration("phone_code"))
            return None
        email = msg.text.strip()
        if not EMAIL.match(email):
            self._reply(uow, msg, replies.bad_email())
            return None
        return lambda: self._register(user, msg, email)

    def _check_phone_code(self, user: User, msg: InboundMessage, code: str) -> None:
        assert user.phone is not None and user.id is not None
        try:
            ok = self.authenticator.check_phone_verification(user.phone, code)
        except AuthenticatorUnavailable:
            self._send_after(msg, replies.service_unavailable())
            return
        if not ok:
            self._send_after(msg, replies.phone_code_wrong())
            return

        def verified(current: User) -> str:
            current.phone_verified = True
            ready = current.email is not None and current.authenticator_id is not None
            current.registration = Registration.READY if ready else Registration.EMAIL
            return replies.registered(self.config.authenticator_label) if ready else replies.ask_email()

        self._advance_registration(user.id, msg, Registration.PHONE_CODE, verified)

    def _register(self, user: User, msg: InboundMessage, email: str) -> None:
        assert user.phone is not None and user.id is not None
        try:
            authenticator_id = self.authenticator.register(email, user.phone)
        except AuthenticatorUnavailable:
            self._send_after(msg, replies.service_unavailable())
            return

        def registered(current: User) -> str:
            current.email, current.authenticator_id = email, authenticator_id
            current.registration = Registration.READY
            return replies.registered(self.config.authenticator_label)

        self._advance_registration(user.id, msg, Registration.EMAIL, registered)

    def _advance_registration(self, user_id: int, msg: InboundMessage, expected: Registration,
                              change: Callable[[User], str]) -> None:
        """Apply `change` if the person is still at the `expected` step, and send the reply it returns."""
        with self.uow() as uow:
            current = uow.users.get_for_update(user_id)
            if current is None or current.registration is not expected:
                return
            text = change(current)
            uow.users.save(current)
            self._reply(uow, msg, text, remove_keyboard=msg.channel is Channel.TELEGRAM)
            uow.commit()
        self.kick_outbox()

    # ------------------------------------------------------------------ commands of registered people

    def _on_command(self, uow: UnitOfWork, msg: InboundMessage, user: User,
                    command: ParseResult) -> Callable[[], None] | None:
        if isinstance(command, ParseError):
            self._reply(uow, msg, command.message)
        elif isinstance(command, Send):
            self._create_payment(uow, msg, user, command)
        elif isinstance(command, Confirm):
            return self._confirm_latest(uow, msg, user)
        elif isinstance(command, Cancel):
            self._cancel(uow, msg, user, None)
        elif isinstance(command, Status):
            self._list(uow, msg, user, "Your recent payments:", STATUS_COUNT)
        elif isinstance(command, History):
            self._list(uow, msg, user, "Your payments:", HISTORY_COUNT)
        elif isinstance(command, Code):
            return self._on_code(uow, msg, user, command.digits)
        return None

    def _create_payment(self, uow: UnitOfWork, msg: InboundMessage, user: User, send: Send) -> None:
        assert user.id is not None
        waiting = uow.payments.pending_for_payer(user.id)
        if waiting:
            other = waiting[0]
            self._reply(uow, msg, replies.one_open_payment(self._amount(other, user), other.payee,
                                                            sms=msg.channel is Channel.SMS))
            return
        now = self.clock.now()
        payment_id = self.new_payment_id()
        payment = Payment(id=payment_id, payer_id=user.id, payee=send.payee, amount=send.amount, note=send.note,
                          channel=msg.channel, fingerprint="", created_at=now,
                          expires_at=now + timedelta(seconds=self.config.expiry_seconds))
        payment.fingerprint = fingerprint(payment.terms, self.config.fingerprint_key)
        uow.payments.add(payment)
        sms = msg.channel is Channel.SMS
        buttons = [] if sms else [[Button("Confirm", f"confirm:{payment_id}"), Button("Cancel", f"cancel:{payment_id}")]]
        self._reply(uow, msg, replies.confirm_payment(payment, self._amount(payment, user), sms), buttons=buttons)
        self.timers.schedule("expiry", payment_id, payment.expires_at)

    def _on_button(self, uow: UnitOfWork, msg: InboundMessage, user: User) -> Callable[[], None] | None:
        action, _, payment_id = (msg.button or "").partition(":")
        payment = uow.payments.get(payment_id) if payment_id else None
        if payment is None or payment.payer_id != user.id:
            return None  # someone else's or unknown payment: no effect, nothing revealed
        if action == "confirm":
            return self._confirm(uow, msg, user, payment)
        if action == "cancel":
            self._cancel(uow, msg, user, payment)
        return None

    def _confirm_latest(self, uow: UnitOfWork, msg: InboundMessage, user: User) -> Callable[[], None] | None:
        assert user.id is not None
        waiting = [p for p in uow.payments.pending_for_payer(user.id) if p.step is Step.CONFIRMATION]
        if not waiting:
            self._reply(uow, msg, replies.nothing_to_confirm())
            return None
        return self._confirm(uow, msg, user, waiting[0])

    def _confirm(self, uow: UnitOfWork, msg: InboundMessage, user: User, payment: Payment) -> Callable[[], None] | None:
        if payment.state is not State.PENDING or payment.step is not Step.CONFIRMATION:
            return None
        if not fingerprint_matches(payment.terms, self.config.fingerprint_key, payment.fingerprint):
            self._finish(uow, payment, Event.FAIL, "system", "terms changed after creation")
            return None
        decision = decide(payment.amount, user.exempt_count, user.exempt_total_eur_minor,
                          enabled=self.config.low_value_exemption, rates_to_eur=self.config.rates_to_eur)
        if decision.exempt:
            self._approve_exempt(uow, user, payment, decision)
            return None
        now = self.clock.now()
        fallback_at = now + timedelta(seconds=self.config.fallback_seconds)
        state, step = next_position(payment.state, payment.step, Event.CONFIRM)
        if not uow.payments.transition(payment.id, payment.state, payment.step, state, step,
                                       fallback_at=fallback_at, sca="challenge", sca_reason=decision.reason):
            return None
        self.timers.schedule("fallback", payment.id, fallback_at)
        return lambda: self._send_push(payment.id)

    def _approve_exempt(self, uow: UnitOfWork, user: User, payment: Payment, decision: Decision) -> None:
        if not self._finish(uow, payment, Event.APPROVE, "exemption", decision.reason,
                            sca="exempt", sca_reason=decision.reason):
            return
        user.exempt_count, user.exempt_total_eur_minor = after_exemption(
            user.exempt_count, user.exempt_total_eur_minor, decision.eur_minor)
        uow.users.save(user)

    def _send_push(self, payment_id: str) -> None:
        """Create the push approval request for a confirmed payment; on failure fall back at once."""
        with self.uow() as uow:
            payment = uow.payments.get(payment_id)
            user = uow.users.get(payment.payer_id) if payment else None
        if payment is None or user is None or payment.step is not Step.PUSH or user.authenticator_id is None:
            return
        amount_text = self._amount(payment, user)
        request = PushRequest(
            payment_id=payment.id,
            message=f"Send {amount_text} to {payment.payee}"[:200],
            details={"Sending to": payment.payee, "Amount": amount_text},
            hidden={"payment_id": payment.id, "channel": payment.channel.value},
            expires_in_seconds=max(1, int((payment.expires_at - self.clock.now()).total_seconds())),
            logo_url=self.config.logo_url,
        )
        try:
            request_id = self.authenticator.send_push(user.authenticator_id, request)
        except AuthenticatorUnavailable:
            log.warning("push for payment %s failed; falling back to an SMS code", payment.id)
            self.run_fallback(payment.id, push_failed=True)
            return
        with self.uow() as uow:
            # Stored in step CODE too: the push stays valid after the fallback, and may still win.
            stored = any(uow.payments.transition(payment.id, State.PENDING, step, State.PENDING, step,
                                                 push_request_id=request_id) for step in (Step.PUSH, Step.CODE))
            if stored and uow.payments.get(payment.id).step is Step.PUSH:
                text = replies.approve_in_app(self.config.authenticator_label, amount_text, payment.payee,
                                              self.config.fallback_seconds)
                self._notify(uow, user, payment.channel, text)
            uow.commit()
        self.kick_outbox()

    def _cancel(self, uow: UnitOfWork, msg: InboundMessage, user: User, payment: Payment | None) -> None:
        assert user.id is not None
        if payment is None:
            waiting = uow.payments.pending_for_payer(user.id)
            payment = waiting[0] if waiting else None
        if payment is None or payment.state is not State.PENDING:
            self._reply(uow, msg, replies.nothing_to_cancel())
            return
        self._finish(uow, payment, Event.CANCEL, "payer", "cancelled by the payer")

    def _list(self, uow: UnitOfWork, msg: InboundMessage, user: User, title: str, count: int) -> None:
        assert user.id is not None
        lines = [replies.payment_line(p, self._amount(p, user), p.created_at.strftime("%Y-%m-%d %H:%M UTC"))
                 for p in uow.payments.for_payer(user.id, count)]
        self._reply(uow, msg, replies.listing(title, lines))

    # ------------------------------------------------------------------ the SMS code

    def _on_code(self, uow: UnitOfWork, msg: InboundMessage, user: User, code: str) -> Callable[[], None] | None:
        assert user.id is not None
        waiting = uow.payments.pending_for_payer(user.id)
        payment = waiting[0] if waiting else None
        if payment is None:
            self._reply(uow, msg, replies.no_code_expected())
            return None
        if payment.step is Step.PUSH:
            self._reply(uow, msg, replies.waiting_for_app(self.config.authenticator_label))
            return None
        if payment.step is not Step.CODE:
            self._reply(uow, msg, replies.nothing_to_confirm())
            return None
        # The attempt is counted before the code is checked, in this locked transaction: codes sent
        # side by side cannot get more than max_code_attempts checks between them.
        attempt = uow.payments.add_code_failure(payment.id)
        if attempt is None or attempt > self.config.max_code_attempts:
            return None
        return lambda: self._check_code(payment.id, user, code, attempt)

    def _check_code(self, payment_id: str, user: User, code: str, attempt: int) -> None:
        """Check a typed code (attempt number `attempt`) against the one payment it is bound to."""
        with self.uow() as uow:
            payment = uow.payments.get(payment_id)
        if payment is None or payment.step is not Step.CODE or user.authenticator_id is None or user.phone is None:
            return
        try:
            ok = self.authenticator.check_code(user.authenticator_id, user.phone, self._binding(payment, user), code)
        except AuthenticatorUnavailable:
            with self.uow() as uow:
                self._notify(uow, user, payment.channel, replies.service_unavailable())
                uow.commit()
            self.kick_outbox()
            return
        with self.uow() as uow:
            if ok:
                self._decide(uow, payment, Event.APPROVE, "code")
            else:
                self._wrong_code(uow, payment, user, attempt)
            uow.commit()
        self.kick_outbox()

    def _wrong_code(self, uow: UnitOfWork, payment: Payment, user: User, attempt: int) -> None:
        left = self.config.max_code_attempts - attempt
        if left > 0:
            self._notify(uow, user, payment.channel, replies.code_wrong(left))
        else:
            self._finish(uow, payment, Event.BLOCK, "system", f"{attempt} wrong codes")

    # ------------------------------------------------------------------ decisions, fallbacks, expiry

    def record_decision(self, request_id: str, status: str, dedupe_key: str) -> str:
        """Apply a push decision from the authenticator's webhook; the first decision wins.

        Returns what happened: "applied", "duplicate", "ignored" or "unknown".
        """
        event = {"approved": Event.APPROVE, "denied": Event.DENY}.get(status)
        with self.uow() as uow:
            if not uow.receipts.first_time(dedupe_key, self.clock.now()):
                log.info("duplicate decision %s ignored", dedupe_key)
                return "duplicate"
            payment = uow.payments.by_push_request(request_id)
            if payment is None or event is None:  # no receipt kept: a retry may find the request stored
                log.info("decision %r for unknown request %s ignored", status, request_id)
                return "unknown"
            applied = self._decide(uow, payment, event, "push")
            uow.commit()
        self.kick_outbox()
        if not applied:
            log.info("late decision %r for payment %s changed nothing (it is %s)", status, payment.id,
                     payment.state.value)
        return "applied" if applied else "ignored"

    def record_fetched_decision(self, request_id: str, dedupe_key: str) -> str:
        """Apply a push decision after asking the authenticator for it (a webhook only says something changed)."""
        with self.uow() as uow:
            if uow.payments.by_push_request(request_id) is None:
                return "unknown"  # not ours: nothing to ask the authenticator
        try:
            status = self.authenticator.push_status(request_id)
        except AuthenticatorUnavailable:
            log.warning("could not fetch push request %s; the sweep at expiry will look again", request_id)
            return "unavailable"
        if status not in ("approved", "denied"):
            return "ignored"
        return self.record_decision(request_id, status, dedupe_key)

    def _decide(self, uow: UnitOfWork, payment: Payment, event: Event, by: str) -> bool:
        """Approve or deny after SCA, checking the dynamic link first."""
        if not fingerprint_matches(payment.terms, self.config.fingerprint_key, payment.fingerprint):
            log.error("payment %s terms do not match their fingerprint; failing it", payment.id)
            return self._finish(uow, payment, Event.FAIL, "system", "terms changed after creation")
        applied = self._finish(uow, payment, event, by, f"{event.value} by {by}")
        if applied and event is Event.APPROVE:
            user = uow.users.get_for_update(payment.payer_id)
            if user is not None:
                user.exempt_count, user.exempt_total_eur_minor = after_successful_sca()
                uow.users.save(user)
        return applied

    def _finish(self, uow: UnitOfWork, payment: Payment, event: Event, by: str, reason: str,
                **fields: object) -> bool:
        """Move a pending payment to a final state and tell the payer; False if another event won."""
        current = uow.payments.get(payment.id)
        if current is None or current.state is not State.PENDING:
            return False
        try:
            state, step = next_position(current.state, current.step, event)
        except IllegalTransition:  # e.g. a block while the push is still the way to approve
            return False
        now = self.clock.now()
        if not uow.payments.transition(current.id, current.state, current.step, state, step,
                                       decided_at=now, decided_by=by, reason=reason, **fields):
            return False
        user = uow.users.get(current.payer_id)
        if user is not None:
            final = replace(current, state=state, step=step)
            text = replies.outcome(final, self._amount(final, user))
            if fields.get("sca") == "exempt":
                text += replies.exempt_note(str(fields.get("sca_reason", "")))
            self._notify(uow, user, current.channel, text)
        return True

    def run_fallback(self, payment_id: str, push_failed: bool = False) -> bool:
        """Claim a payment whose push got no decision in time and text a code bound to it."""
        now = self.clock.now()
        with self.uow() as uow:
            payment = uow.payments.get(payment_id)
            if payment is None or payment.state is not State.PENDING or payment.step is not Step.PUSH:
                return False
            if not push_failed and (payment.fallback_at is None or payment.fallback_at > now):
                return False
            user = uow.users.get(payment.payer_id)
            state, step = next_position(payment.state, payment.step, Event.FALL_BACK)
            if user is None or not uow.payments.transition(payment.id, payment.state, payment.step, state, step,
                                                           code_sent_at=now):
                return False
            uow.commit()
        payment.step = Step.CODE
        try:
            if user.authenticator_id is None or user.phone is None:
                raise AuthenticatorUnavailable("no authenticator registration")
            self.authenticator.send_code(user.authenticator_id, user.phone, self._binding(payment, user))
        except AuthenticatorUnavailable:
            with self.uow() as uow:
                self._finish(uow, payment, Event.FAIL, "system", "authenticator unavailable")
                uow.commit()
            self.kick_outbox()
            return True
        with self.uow() as uow:
            current = uow.payments.get(payment.id)
            if current is not None and current.state is State.PENDING:
                text = replies.code_sent(self._amount(payment, user), payment.payee, mask_phone(user.phone),
                                         push_failed)
                self._notify(uow, user, payment.channel, text)
            uow.commit()
        self.kick_outbox()
        return True

    def run_expiry(self, payment_id: str) -> bool:
        """Expire a payment past its deadline, after one look at the push status (no expiry callback)."""
        with self.uow() as uow:
            payment = uow.payments.get(payment_id)
        if payment is None or payment.state is not State.PENDING or payment.expires_at > self.clock.now():
            return False
        if payment.push_request_id is not None:
            try:
                status = self.authenticator.push_status(payment.push_request_id)
            except AuthenticatorUnavailable:
                status = "unknown"
            if status in ("approved", "denied"):
                outcome = self.record_decision(payment.push_request_id, status,
                                               f"poll:{payment.push_request_id}:{status}")
                if outcome == "applied":
                    return True
        with self.uow() as uow:
            applied = self._finish(uow, payment, Event.EXPIRE, "system", "no decision in time")
            uow.commit()
        self.kick_outbox()
        return applied

    def sweep(self, limit: int = 200) -> int:
        """Run every fallback and expiry that is due (after a restart, or left by another process)."""
        now = self.clock.now()
        with self.uow() as uow:
            fallbacks = [p.id for p in uow.payments.due_fallbacks(now, limit)]
            expiries = [p.id for p in uow.payments.due_expiries(now, limit)]
        done = sum(self.run_fallback(pid) for pid in fallbacks)
        return done + sum(self.run_expiry(pid) for pid in expiries)

    def rearm_timers(self) -> int:
        """Schedule the precise timers of every pending payment (at start-up)."""
        with self.uow() as uow:
            deadlines = uow.payments.pending_deadlines()
        for payment_id, fallback_at, expires_at in deadlines:
            if fallback_at is not None:
                self.timers.schedule("fallback", payment_id, fallback_at)
            self.timers.schedule("expiry", payment_id, expires_at)
        return len(deadlines)

    # ------------------------------------------------------------------ outbox

    def deliver_outbox(self, messengers: dict[Channel, Messenger], limit: int = OUTBOX_BATCH) -> int:
        """Deliver due outbox messages once each, with retries; returns how many were sent."""
        now = self.clock.now()
        with self.uow() as uow:
            batch = uow.outbox.claim_due(now, now + OUTBOX_LEASE, limit)
            uow.commit()
        sent = 0
        for message in batch:
            sent += self._deliver_one(messengers, message)
        return sent

    def _deliver_one(self, messengers: dict[Channel, Messenger], message: OutboxMessage) -> int:
        assert message.id is not None
        messenger = messengers.get(message.channel)
        try:
            if messenger is None:
                raise DeliveryError(f"no messenger for {message.channel.value}", permanent=True)
            messenger.deliver(message)
        except DeliveryError as exc:
            self._delivery_failed(message, exc)
            return 0
        except Exception as exc:  # an adapter bug or a stopping loop: retry later, never wedge the recipient
            log.exception("unexpected error delivering outbox message %s", message.id)
            self._delivery_failed(message, DeliveryError(f"unexpected: {exc!r}"))
            return 0
        with self.uow() as uow:
            uow.outbox.mark_delivered(message.id, self.clock.now())
            uow.commit()
        return 1

    def _delivery_failed(self, message: OutboxMessage, exc: DeliveryError) -> None:
        assert message.id is not None
        now = self.clock.now()
        with self.uow() as uow:
            if exc.permanent or message.attempts + 1 >= OUTBOX_MAX_ATTEMPTS:
                uow.outbox.mark_failed(message.id, str(exc), now)
                if exc.blocked and message.channel is Channel.TELEGRAM:
                    self._telegram_blocked(uow, message.recipient)
                elif exc.blocked and message.channel is Channel.SMS:
                    self._sms_unsubscribed(uow, message.recipient)
            else:
                delay = exc.retry_after if exc.retry_after is not None else min(60.0, 2.0 ** message.attempts)
                uow.outbox.mark_retry(message.id, str(exc), now + timedelta(seconds=delay))
            uow.commit()
        log.warning("delivery of outbox message %s failed: %s", message.id, exc)

    def _telegram_blocked(self, uow: UnitOfWork, chat_id: str) -> None:
        user = uow.users.by_telegram(int(chat_id))
        if user is None or user.telegram_blocked:
            return
        user.telegram_blocked = True
        uow.users.save(user)
        if user.phone and not user.sms_opted_out:
            uow.outbox.add(OutboxMessage(id=None, channel=Channel.SMS, recipient=user.phone,
                                         text=replies.blocked_on_telegram(), created_at=self.clock.now()))

    def _sms_unsubscribed(self, uow: UnitOfWork, phone: str) -> None:
        user = uow.users.by_phone(phone)
        if user is not None and not user.sms_opted_out:
            user.sms_opted_out = True
            uow.users.save(user)

    # ------------------------------------------------------------------ helpers

    def _amount(self, payment: Payment, user: User) -> str:
        return self.format_money(payment.amount, user.locale)

    def _binding(self, payment: Payment, user: User) -> CodeBinding:
        amount_text = self._amount(payment, user)
        return CodeBinding(payment_id=payment.id, payee=payment.payee, amount_text=amount_text,
                           amount_major=payment.amount.major_str(), currency=payment.amount.currency,
                           message=f"Payfriend: send {amount_text} to {payment.payee}")

    def _reply(self, uow: UnitOfWork, msg: InboundMessage, text: str, *, buttons: list[list[Button]] | None = None,
                  request_contact: bool = False, remove_keyboard: bool = False) -> None:
        """Answer on the channel the message came from."""
        recipient = str(msg.chat_id) if msg.channel is Channel.TELEGRAM and msg.chat_id is not None else msg.sender
        if msg.channel is Channel.SMS:
            text = to_gsm7(text)
        uow.outbox.add(OutboxMessage(id=None, channel=msg.channel, recipient=recipient, text=text,
                                     created_at=self.clock.now(), buttons=buttons or [],
                                     request_contact=request_contact, remove_keyboard=remove_keyboard))

    def _notify(self, uow: UnitOfWork, user: User, channel: Channel, text: str) -> None:
        """Tell a person something on the channel their payment started on."""
        if channel is Channel.TELEGRAM and user.telegram_chat_id is not None and not user.telegram_blocked:
            recipient = str(user.telegram_chat_id)
        elif user.phone is not None and not user.sms_opted_out:
            channel, recipient, text = Channel.SMS, user.phone, to_gsm7(text)
        else:
            return
        uow.outbox.add(OutboxMessage(id=None, channel=channel, recipient=recipient, text=text,
                                     created_at=self.clock.now()))

    def _send_after(self, msg: InboundMessage, text: str) -> None:
        """Reply in a transaction of its own, after an outside call."""
        with self.uow() as uow:
            self._reply(uow, msg, text)
            uow.commit()
        self.kick_outbox()


def mask_phone(phone: str) -> str:
    """Show only the last two digits of a phone number."""
    return phone[:2] + "*" * max(0, len(phone) - 4) + phone[-2:] if len(phone) > 4 else "your phone"
