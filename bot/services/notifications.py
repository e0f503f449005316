"""Messages to people: written to the outbox in the caller's transaction, delivered once with retries."""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.core import replies
from bot.core.entities import Button, Channel, OutboxMessage, User
from bot.core.jobs import Job
from bot.core.sms import to_gsm7
from bot.ports import DeliveryError, Messenger, UnitOfWork
from bot.services.context import Context, ReplyTo, reaches_by_sms

log = logging.getLogger(__name__)

OUTBOX_BATCH = 5
OUTBOX_MAX_ATTEMPTS = 8
SEND_CALLS = 2  # a send may take a timeout to connect and another to read
LEASE_MARGIN_SECONDS = 5.0


def reply(ctx: Context, uow: UnitOfWork, to: ReplyTo, text: str, *, buttons: list[list[Button]] | None = None,
          request_contact: bool = False, remove_keyboard: bool = False, secret: bool = False) -> None:
    """Answer a person in the chat or number their message came from."""
    if to.channel is Channel.SMS:
        text = to_gsm7(text)
    uow.outbox.add(OutboxMessage(id=None, channel=to.channel, recipient=to.recipient, text=text,
                                 created_at=ctx.clock.now(), buttons=buttons or [],
                                 request_contact=request_contact, remove_keyboard=remove_keyboard, secret=secret))


def reply_after(ctx: Context, job: Job | None, to: ReplyTo, text: str) -> None:
    """Answer in a transaction of its own after an outside call, and mark the job that made it done.

    Only registration answers this way, past its contact step: on Telegram the answer also takes the
    share-contact keyboard away, which has served.
    """
    with ctx.uow() as uow:
        reply(ctx, uow, to, text, remove_keyboard=to.channel is Channel.TELEGRAM)
        ctx.done(uow, job)
        uow.commit()
    ctx.wake()


def notify(ctx: Context, uow: UnitOfWork, user: User, channel: Channel, text: str) -> None:
    """Tell a person something on the channel their payment started on (SMS when that chat is closed)."""
    if not reaches_by_sms(user, channel):
        recipient = str(user.telegram_chat_id)
    elif user.phone is not None and not user.sms_opted_out:
        channel, recipient, text = Channel.SMS, user.phone, to_gsm7(text)
    else:
        return
    uow.outbox.add(OutboxMessage(id=None, channel=channel, recipient=recipient, text=text,
                                 created_at=ctx.clock.now()))


def outbox_lease(ctx: Context) -> timedelta:
    """How long a claimed message belongs to its sender: one send's timeouts plus a margin."""
    return timedelta(seconds=SEND_CALLS * ctx.config.call_timeout_seconds + LEASE_MARGIN_SECONDS)


def claim_outbox(ctx: Context, limit: int) -> list[OutboxMessage]:
    """Lease up to `limit` due messages, at most one per recipient (the earliest still waiting)."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        batch = uow.outbox.claim_due(now, now + outbox_lease(ctx), limit)
        uow.commit()
    return batch


def send(ctx: Context, messengers: dict[Channel, Messenger], message: OutboxMessage) -> bool:
    """Send one claimed message; True when it went out (the caller marks it delivered), False after a failure."""
    assert message.id is not None
    messenger = messengers.get(message.channel)
    try:
        if messenger is None:
            raise DeliveryError(f"no messenger for {message.channel.value}", permanent=True)
        messenger.deliver(message)
    except DeliveryError as exc:
        _delivery_failed(ctx, message, exc)
        return False
    except Exception as exc:  # an adapter bug or a stopping loop: retry later, never wedge the recipient
        log.exception("unexpected error delivering outbox message %s", message.id)
        _delivery_failed(ctx, message, DeliveryError(f"unexpected: {exc!r}"))
        return False
    return True


def mark_delivered(ctx: Context, message_ids: list[int]) -> None:
    """Record the delivery of sent messages, all in one transaction."""
    if not message_ids:
        return
    with ctx.uow() as uow:
        uow.outbox.mark_delivered_many(message_ids, ctx.clock.now())
        uow.commit()


def deliver_outbox(ctx: Context, messengers: dict[Channel, Messenger], limit: int = OUTBOX_BATCH) -> int:
    """Deliver due outbox messages once each, with retries, on this thread; returns how many were sent."""
    sent = [m.id for m in claim_outbox(ctx, limit) if m.id is not None and send(ctx, messengers, m)]
    mark_delivered(ctx, sent)
    return len(sent)


def _delivery_failed(ctx: Context, message: OutboxMessage, exc: DeliveryError) -> None:
    assert message.id is not None
    now = ctx.clock.now()
    with ctx.uow() as uow:
        if exc.permanent or message.attempts + 1 >= OUTBOX_MAX_ATTEMPTS:
            uow.outbox.mark_failed(message.id, str(exc), now)
            if exc.blocked and message.channel is Channel.TELEGRAM:
                _telegram_blocked(ctx, uow, message.recipient)
            elif exc.blocked and message.channel is Channel.SMS:
                _sms_unsubscribed(uow, message.recipient)
        else:
            delay = exc.retry_after if exc.retry_after is not None else min(60.0, 2.0 ** message.attempts)
            uow.outbox.mark_retry(message.id, str(exc), now + timedelta(seconds=delay))
        uow.commit()
    ctx.wake()  # a failed message may free its recipient's next one, or have written a notice
    log.warning("delivery of outbox message %s failed: %s", message.id, exc)


def _telegram_blocked(ctx: Context, uow: UnitOfWork, chat_id: str) -> None:
    user = uow.users.by_telegram(int(chat_id))
    if user is None or user.telegram_blocked:
        return
    user.telegram_blocked = True
    uow.users.save(user)
    if user.phone and not user.sms_opted_out:
        uow.outbox.add(OutboxMessage(id=None, channel=Channel.SMS, recipient=user.phone,
                                     text=replies.blocked_on_telegram(), created_at=ctx.clock.now()))


def _sms_unsubscribed(uow: UnitOfWork, phone: str) -> None:
    user = uow.users.by_phone(phone)
    if user is not None and not user.sms_opted_out:
        user.sms_opted_out = True
        uow.users.save(user)


def settle_button(ctx: Context, job: Job) -> None:
    """Job: answer a button press, take its buttons away and show what it did (`text`); cosmetic."""
    if ctx.settler is None:
        return
    p = job.payload
    try:
        ctx.settler.settle_button(p["callback_id"], int(p["chat_id"]), p.get("message_id"), p.get("text"))
    except DeliveryError as exc:
        if not exc.permanent:
            raise
        log.info("button press not settled: %s", exc)
