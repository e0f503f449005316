"""Payments: create with frozen terms, confirm (SCA or exemption), cancel, list; the push request job."""

from __future__ import annotations

import logging
import math
from datetime import timedelta

from bot.core import replies
from bot.core.commands import Send
from bot.core.entities import Button, Channel, InboundMessage, Payment, User
from bot.core.jobs import Job, JobKind
from bot.core.payment import (
    Event, FallbackReason, State, Step, fingerprint, fingerprint_matches, match_word, next_position,
)
from bot.core.sca import Decision, after_exemption, decide
from bot.core.text import same_payee
from bot.ports import AuthenticatorUnavailable, NoAuthenticatorApp, PushRequest, UnitOfWork
from bot.services.audit import payment_action, record
from bot.services.context import Context, ReplyTo, chat_of
from bot.services.deadlines import run_fallback
from bot.services.notifications import notify, reply
from bot.services.outcomes import finish

log = logging.getLogger(__name__)

# How many payments a list shows: `status` below the waiting one, `history` per page (SMS: two segments).
STATUS_RECENT = {Channel.TELEGRAM: 3, Channel.SMS: 2}
HISTORY_PAGE = {Channel.TELEGRAM: 10, Channel.SMS: 3}
PUSH_LOOKBACK = 20  # recent payments read to count unanswered pushes (one is open at a time)
LIST_DATE = "%b %d"  # 'Jan 05' (UTC): short, so that a line fits a phone's width


def create(ctx: Context, uow: UnitOfWork, msg: InboundMessage, user: User, send: Send) -> None:
    """Record a new payment with its terms frozen and fingerprinted, and ask the payer to confirm it."""
    assert user.id is not None
    to = ReplyTo.message(msg)
    waiting = uow.payments.pending_for_payer(user.id)
    if waiting:
        other = waiting[0]
        reply(ctx, uow, to, replies.one_open_payment(ctx.amount(other, user), other.payee,
                                                      sms=msg.channel is Channel.SMS,
                                                      same_payee=same_payee(other.payee, send.payee)))
        return
    now = ctx.clock.now()
    payment_id = ctx.new_payment_id()
    payment = Payment(id=payment_id, payer_id=user.id, payee=send.payee, amount=send.amount, note=send.note,
                      channel=msg.channel, fingerprint="", created_at=now,
                      expires_at=now + timedelta(seconds=ctx.config.expiry_seconds))
    payment.fingerprint = fingerprint(payment.terms, ctx.config.fingerprint_key)
    uow.payments.add(payment)
    sms = msg.channel is Channel.SMS
    buttons = [] if sms else [[Button("Confirm", f"confirm:{payment_id}"), Button("Cancel", f"cancel:{payment_id}")]]
    reply(ctx, uow, to, replies.confirm_payment(payment, ctx.amount(payment, user), sms), buttons=buttons)
    ctx.timers.schedule("expiry", payment_id, payment.expires_at)


def on_button(ctx: Context, uow: UnitOfWork, msg: InboundMessage, user: User) -> None:
    """A pressed Confirm or Cancel; a press on someone else's or an unknown payment does nothing."""
    action, _, payment_id = (msg.button or "").partition(":")
    payment = uow.payments.get(payment_id) if payment_id else None
    if payment is None or payment.payer_id != user.id:
        return
    if action == "confirm":
        confirm(ctx, uow, user, payment)
    elif action == "cancel":
        cancel(ctx, uow, msg, user, payment)


def confirm_latest(ctx: Context, uow: UnitOfWork, msg: InboundMessage, user: User) -> None:
    """YES (SMS): confirm the payment that waits for confirmation."""
    assert user.id is not None
    waiting = [p for p in uow.payments.pending_for_payer(user.id) if p.step is Step.CONFIRMATION]
    if not waiting:
        reply(ctx, uow, ReplyTo.message(msg), replies.nothing_to_confirm())
        return
    confirm(ctx, uow, user, waiting[0])


def confirm(ctx: Context, uow: UnitOfWork, user: User, payment: Payment) -> None:
    """Apply the SCA policy: approve under an exemption, or ask for a push with an SMS fallback timer."""
    if payment.state is not State.PENDING or payment.step is not Step.CONFIRMATION:
        return
    if not fingerprint_matches(payment.terms, ctx.config.fingerprint_key, payment.fingerprint):
        finish(ctx, uow, payment, Event.FAIL, "system", "terms changed after creation")
        return
    decision = decide(payment.amount, user.exempt_count, user.exempt_total_eur_minor,
                      enabled=ctx.config.low_value_exemption, rates_to_eur=ctx.config.rates_to_eur)
    if decision.exempt:
        _approve_exempt(ctx, uow, user, payment, decision)
        return
    fallback_at = ctx.clock.now() + timedelta(seconds=ctx.config.fallback_seconds)
    state, step = next_position(payment.state, payment.step, Event.CONFIRM)
    if uow.payments.transition(payment.id, payment.state, payment.step, state, step,
                               fallback_at=fallback_at, sca="challenge", sca_reason=decision.reason):
        ctx.enqueue(uow, JobKind.SEND_PUSH, payment_id=payment.id)
        ctx.timers.schedule("fallback", payment.id, fallback_at)


def _approve_exempt(ctx: Context, uow: UnitOfWork, user: User, payment: Payment, decision: Decision) -> None:
    if not finish(ctx, uow, payment, Event.APPROVE, "exemption", decision.reason,
                  sca="exempt", sca_reason=decision.reason):
        return
    record(ctx, uow, payment.payer_id, payment_action(payment.id), "exemption", "approved", decision.reason)
    user.exempt_count, user.exempt_total_eur_minor = after_exemption(
        user.exempt_count, user.exempt_total_eur_minor, decision.eur_minor)
    uow.users.save(user)


def cancel(ctx: Context, uow: UnitOfWork, msg: InboundMessage, user: User, payment: Payment | None) -> None:
    """Cancel the given payment, or the payer's pending one."""
    assert user.id is not None
    if payment is None:
        waiting = uow.payments.pending_for_payer(user.id)
        payment = waiting[0] if waiting else None
    if payment is None or payment.state is not State.PENDING:
        reply(ctx, uow, ReplyTo.message(msg), replies.nothing_to_cancel())
        return
    finish(ctx, uow, payment, Event.CANCEL, "payer", "cancelled by the payer")


def status(ctx: Context, uow: UnitOfWork, msg: InboundMessage, user: User) -> None:
    """`status`: the payment waiting for the payer, if any, and their last few others."""
    assert user.id is not None
    pending = uow.payments.pending_for_payer(user.id)
    waiting = pending[0] if pending else None
    count = STATUS_RECENT[msg.channel]
    others = [p for p in uow.payments.for_payer(user.id, count + 1) if waiting is None or p.id != waiting.id]
    recent = [_line(ctx, p, user) for p in others[:count]]
    summary = replies.payment_summary(waiting, ctx.amount(waiting, user), listed=True) if waiting else None
    reply(ctx, uow, ReplyTo.message(msg), replies.status(summary, recent))


def history(ctx: Context, uow: UnitOfWork, msg: InboundMessage, user: User, page: int) -> None:
    """`history N`: page N of the payer's payments, newest first; a hint names the next page if any."""
    assert user.id is not None
    size = HISTORY_PAGE[msg.channel]
    payments = uow.payments.for_payer(user.id, page * size + 1)[(page - 1) * size:]
    lines = [_line(ctx, p, user) for p in payments[:size]]
    reply(ctx, uow, ReplyTo.message(msg), replies.history_page(lines, page, more=len(payments) > size))


def _line(ctx: Context, payment: Payment, user: User) -> str:
    return replies.payment_line(payment, ctx.amount(payment, user), payment.created_at.strftime(LIST_DATE))


# ---------------------------------------------------------------------- job: the push request

def send_push(ctx: Context, job: Job) -> None:
    """Job: create the push approval request of a confirmed payment; if that fails, fall back at once.

    A repeat after the request id was stored does nothing; a repeat after a crash between the
    vendor's answer and storing it makes a second request, and the first one is then unknown to us.
    """
    payment_id = job.payload["payment_id"]
    with ctx.uow() as uow:
        payment = uow.payments.get(payment_id)
        user = uow.users.get(payment.payer_id) if payment else None
        recent = uow.payments.for_payer(payment.payer_id, PUSH_LOOKBACK) if payment else []
    if (payment is None or user is None or payment.step is not Step.PUSH or user.authenticator_id is None
            or payment.push_request_id is not None):
        return
    if _unanswered_pushes(ctx, payment, recent) >= ctx.config.push_limit:
        log.info("payment %s: too many unanswered pushes lately; an SMS code instead", payment.id)
        run_fallback(ctx, payment.id, FallbackReason.PUSH_LIMIT, job=job)
        return
    amount_text = ctx.amount(payment, user)
    word = match_word(ctx.config.fingerprint_key, payment.id)
    details = {"Sending to": payment.payee, "Amount": amount_text}
    if payment.note:
        details["Note"] = payment.note
    details["Match word"] = word
    request = PushRequest(
        payment_id=payment.id,
        message=f"Send {replies.payment_summary(payment, amount_text)}"[:200],
        details=details,
        hidden={"payment_id": payment.id, "channel": payment.channel.value},
        # Neither Authy nor Verify can withdraw a push request: it ends with the payment's own
        # deadline (rounded up to the second), so a tap after a code or a cancel is a late one.
        expires_in_seconds=max(1, math.ceil((payment.expires_at - ctx.clock.now()).total_seconds())),
        logo_url=ctx.config.logo_url,
    )
    try:
        with ctx.typing_while(chat_of(user, payment.channel)):
            request_id = ctx.authenticator.send_push(user.authenticator_id, request)
    except NoAuthenticatorApp:
        log.info("payment %s: no authenticator app set up; falling back to an SMS code", payment.id)
        run_fallback(ctx, payment.id, FallbackReason.NO_APP, job=job)
        return
    except AuthenticatorUnavailable:
        log.warning("push for payment %s failed; falling back to an SMS code", payment.id)
        run_fallback(ctx, payment.id, FallbackReason.UNREACHABLE, job=job)
        return
    with ctx.uow() as uow:
        # Stored in step CODE too: the push stays valid after the fallback, and may still win. Only
        # the first request is kept: a second run of this job never replaces the push already out.
        stored = uow.payments.store_push_request(payment.id, request_id)
        current = uow.payments.get(payment.id) if stored else None
        if current is not None and current.step is Step.PUSH:
            text = replies.approve_in_app(ctx.config.authenticator_label, amount_text, payment.payee,
                                          ctx.config.fallback_seconds, word)
            notify(ctx, uow, user, payment.channel, text)
        ctx.done(uow, job)
        uow.commit()
    ctx.wake()


def _unanswered_pushes(ctx: Context, payment: Payment, recent: list[Payment]) -> int:
    """How many of the payer's other recent pushes (in `recent`) got no decision in the app within the window."""
    since = ctx.clock.now() - timedelta(seconds=ctx.config.push_window_seconds)
    return sum(1 for p in recent if p.id != payment.id and p.push_request_id is not None
               and p.created_at >= since and p.decided_by != "push")
