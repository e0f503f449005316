"""Inbound dispatch: one message or button press from a person, handled once, in one transaction."""

from __future__ import annotations

import logging

from bot.core import replies
from bot.core.commands import (
    Cancel, Code, Confirm, Help, History, ParseError, ParseResult, Send, SetUpApp, Start, Status,
)
from bot.core.entities import Channel, InboundMessage, Registration, User
from bot.core.jobs import JobKind
from bot.core.payment import Event, State, Step
from bot.core.registration import check_start
from bot.core.sms import keyword as sms_keyword
from bot.ports import UnitOfWork
from bot.services import app_link, authorization, payments, registration
from bot.core.lockout import is_locked
from bot.services.context import Context, ReplyTo
from bot.services.lockout import locked_text
from bot.services.notifications import reply
from bot.services.outcomes import finish

log = logging.getLogger(__name__)


def handle_inbound(ctx: Context, msg: InboundMessage) -> None:
    """Handle one message or button press from a person; a redelivered one has no effect."""
    with ctx.uow() as uow:
        if not uow.receipts.first_time(msg.dedupe_key, ctx.clock.now()):
            log.info("duplicate inbound %s ignored", msg.dedupe_key)
            return
        user = _find_user(uow, msg)
        _route(ctx, uow, msg, user)
        if msg.callback_id is not None and msg.chat_id is not None:
            # The press is handled here; answering it and settling its message is cosmetic work for later.
            ctx.enqueue(uow, JobKind.SETTLE_BUTTON, callback_id=msg.callback_id, chat_id=msg.chat_id,
                        message_id=msg.message_id, text=_pressed_text(uow, msg, user))
        uow.commit()
    ctx.wake()


def _find_user(uow: UnitOfWork, msg: InboundMessage) -> User | None:
    """The sender, locked for this transaction: one person's messages change their data one at a time."""
    found = uow.users.by_telegram(int(msg.sender)) if msg.channel is Channel.TELEGRAM \
        else uow.users.by_phone(msg.sender)
    return uow.users.get_for_update(found.id) if found is not None and found.id is not None else found


def _pressed_text(uow: UnitOfWork, msg: InboundMessage, user: User | None) -> str | None:
    """What the pressed question becomes: where the press left its payment (None: it did nothing)."""
    _, _, payment_id = (msg.button or "").partition(":")
    payment = uow.payments.get(payment_id) if payment_id and user is not None else None
    if payment is None or user is None or payment.payer_id != user.id:
        return None
    if payment.state is State.PENDING and payment.step is Step.CONFIRMATION:
        return None
    return replies.pressed(payment.state)


def _route(ctx: Context, uow: UnitOfWork, msg: InboundMessage, user: User | None) -> None:
    if msg.contact_phone is not None:
        registration.on_contact(ctx, uow, msg, user)
        return
    if msg.channel is Channel.SMS and _on_sms_keyword(ctx, uow, msg, user):
        return
    if user is None:
        registration.on_stranger(ctx, uow, msg)
        return
    if msg.button:
        payments.on_button(ctx, uow, msg, user)
        return
    command = ctx.parse(msg.text, user.default_currency)
    if isinstance(command, Start):
        registration.on_start(ctx, uow, msg, user)
    elif isinstance(command, Help):
        reply(ctx, uow, ReplyTo.message(msg), replies.SMS_HELP if msg.channel is Channel.SMS else replies.HELP)
    elif user.registration is not Registration.READY:
        registration.on_registration_text(ctx, uow, msg, user, command)
    else:
        _on_command(ctx, uow, msg, user, command)


def _on_command(ctx: Context, uow: UnitOfWork, msg: InboundMessage, user: User, command: ParseResult) -> None:
    if isinstance(command, (Send, Confirm, SetUpApp)) and is_locked(user, ctx.clock.now()):
        reply(ctx, uow, ReplyTo.message(msg), locked_text(ctx, user))  # status, history and cancel still work
    elif isinstance(command, ParseError):
        reply(ctx, uow, ReplyTo.message(msg), command.message)
    elif isinstance(command, Send):
        payments.create(ctx, uow, msg, user, command)
    elif isinstance(command, Confirm):
        payments.confirm_latest(ctx, uow, msg, user)
    elif isinstance(command, Cancel):
        payments.cancel(ctx, uow, msg, user, None)
    elif isinstance(command, Status):
        payments.status(ctx, uow, msg, user)
    elif isinstance(command, History):
        payments.history(ctx, uow, msg, user, command.page)
    elif isinstance(command, Code):
        authorization.on_code(ctx, uow, msg, user, command.digits)
    elif isinstance(command, SetUpApp):
        app_link.on_set_up_app(ctx, uow, msg, user)


def _on_sms_keyword(ctx: Context, uow: UnitOfWork, msg: InboundMessage, user: User | None) -> bool:
    """STOP, START and HELP; True when the message is used up (an opted-out person gets nothing)."""
    word = (msg.keyword or "").lower() or sms_keyword(msg.text)
    if word == "stop":
        _opt_out(ctx, uow, msg, user)
        return True
    if user is not None and user.sms_opted_out:
        if word == "start":
            user.sms_opted_out = False
            uow.users.save(user)
            reply(ctx, uow, ReplyTo.message(msg), replies.sms_resubscribed())
        return True
    if word == "help":
        reply(ctx, uow, ReplyTo.message(msg), replies.SMS_HELP)
        return True
    return False


def _opt_out(ctx: Context, uow: UnitOfWork, msg: InboundMessage, user: User | None) -> None:
    """Send nothing more by SMS; a payment started by SMS is cancelled, since no one could confirm it there."""
    if user is None:
        phone = ctx.normalize_phone(msg.sender)
        if phone is None:
            return
        uow.users.add(User(id=None, created_at=ctx.clock.now(), phone=phone, sms_opted_out=True,
                           registration=check_start(Registration.PHONE_CODE),
                           default_currency=ctx.config.default_currency))
        return
    user.sms_opted_out = True
    uow.users.save(user)
    assert user.id is not None
    for payment in uow.payments.pending_for_payer(user.id):
        if payment.channel is Channel.SMS:
            finish(ctx, uow, payment, Event.CANCEL, "payer", "opted out of SMS")
