"""Deadlines: the SMS fallback when no push decision came in time, and expiry. Claims come first.

Each deadline is a column on the payment. A timer (or the sweep) claims the payment with a guarded
update and, in the same transaction, writes the job that makes the outside call; a crash after the
claim leaves the job, which a worker runs after its lease.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.core import replies
from bot.core.jobs import Job, JobKind, lease_seconds
from bot.core.payment import Event, FallbackReason, State, Step, next_position
from bot.ports import AuthenticatorUnavailable
from bot.services.authorization import record_decision
from bot.services.context import Context, mask_phone, reaches_by_sms
from bot.services.notifications import notify
from bot.services.outcomes import finish

log = logging.getLogger(__name__)

SWEEP_LIMIT = 500


def run_fallback(ctx: Context, payment_id: str, why: FallbackReason = FallbackReason.TIMEOUT,
                 job: Job | None = None) -> bool:
    """Claim a payment whose push got no decision in time (or did not go out: `why`), and have its code texted."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        payment = uow.payments.get(payment_id)
        if payment is None or payment.state is not State.PENDING or payment.step is not Step.PUSH:
            return False
        if why is FallbackReason.TIMEOUT and (payment.fallback_at is None or payment.fallback_at > now):
            return False
        state, step = next_position(payment.state, payment.step, Event.FALL_BACK)
        if not uow.payments.transition(payment.id, payment.state, payment.step, state, step, code_sent_at=now):
            return False
        ctx.enqueue(uow, JobKind.SEND_CODE, payment_id=payment.id, why=why.value)
        ctx.done(uow, job)
        uow.commit()
    ctx.wake()
    return True


def send_code(ctx: Context, job: Job) -> None:
    """Job: text the one-time code bound to the payment, then tell the person where it went.

    A repeat after a crash between the vendor's answer and this job's commit texts a second code
    for the same payment (Verify answers with the same pending verification; Authy sends the same
    token again): the person may get two SMS, never a code for anything else.
    """
    with ctx.uow() as uow:
        payment = uow.payments.get(job.payload["payment_id"])
        user = uow.users.get(payment.payer_id) if payment else None
    if payment is None or user is None or payment.state is not State.PENDING or payment.step is not Step.CODE:
        return
    try:
        if user.authenticator_id is None or user.phone is None:
            raise AuthenticatorUnavailable("no authenticator registration")
        ctx.authenticator.send_code(user.authenticator_id, user.phone, ctx.binding(payment, user))
    except AuthenticatorUnavailable:
        with ctx.uow() as uow:
            finish(ctx, uow, payment, Event.FAIL, "system", "authenticator unavailable")
            ctx.done(uow, job)
            uow.commit()
        ctx.wake()
        return
    with ctx.uow() as uow:
        current = uow.payments.get(payment.id)
        if current is not None and current.state is State.PENDING:
            sms = reaches_by_sms(user, payment.channel)
            text = replies.code_sent(ctx.amount(payment, user), payment.payee, mask_phone(user.phone),
                                     _reason(job.payload), sms=sms,
                                     push_limit=(ctx.config.push_limit, round(ctx.config.push_window_seconds / 60)))
            notify(ctx, uow, user, payment.channel, text)
        ctx.done(uow, job)
        uow.commit()
    ctx.wake()


def _reason(payload: dict) -> FallbackReason:
    """Why a send-code job texts its code (jobs written before reasons had names say push_failed)."""
    if "why" in payload:
        return FallbackReason(payload["why"])
    return FallbackReason.UNREACHABLE if payload.get("push_failed") else FallbackReason.TIMEOUT


def run_expiry(ctx: Context, payment_id: str) -> bool:
    """Expire a payment past its deadline; with a push out, claim it first and let a job look at the push.

    The claim moves expires_at on by the job's lease, so neither a second timer nor the sweep of
    another process asks the authenticator again while the job runs.
    """
    now = ctx.clock.now()
    with ctx.uow() as uow:
        payment = uow.payments.get(payment_id)
        if payment is None or payment.state is not State.PENDING or payment.expires_at > now:
            return False
        if payment.push_request_id is None:
            applied = finish(ctx, uow, payment, Event.EXPIRE, "system", "no decision in time")
        else:
            lease = timedelta(seconds=lease_seconds(JobKind.EXPIRE, ctx.config.call_timeout_seconds))
            applied = uow.payments.transition(payment.id, State.PENDING, payment.step, State.PENDING, payment.step,
                                              expires_at=now + lease)
            if applied:
                ctx.enqueue(uow, JobKind.EXPIRE, payment_id=payment.id, request_id=payment.push_request_id)
        uow.commit()
    ctx.wake()
    return applied


def expire(ctx: Context, job: Job) -> None:
    """Job: one look at the push status (no provider sends an expiry callback), then expire."""
    request_id = job.payload["request_id"]
    try:
        status = ctx.authenticator.push_status(request_id)
    except AuthenticatorUnavailable:
        status = "unknown"
    if status in ("approved", "denied"):
        if record_decision(ctx, request_id, status, f"poll:{request_id}:{status}", job, tap=False) == "applied":
            return
    with ctx.uow() as uow:
        payment = uow.payments.get(job.payload["payment_id"])
        if payment is not None:
            finish(ctx, uow, payment, Event.EXPIRE, "system", "no decision in time")
        ctx.done(uow, job)
        uow.commit()
    ctx.wake()


def claim_fallbacks(ctx: Context, limit: int = SWEEP_LIMIT) -> int:
    """Claim due fallbacks in one statement and write their send-code jobs in the same transaction."""
    with ctx.uow() as uow:
        claimed = uow.payments.claim_due_fallbacks(ctx.clock.now(), limit)
        for payment_id in claimed:
            ctx.enqueue(uow, JobKind.SEND_CODE, payment_id=payment_id, why=FallbackReason.TIMEOUT.value)
        uow.commit()
    if claimed:
        ctx.wake()
    return len(claimed)


def sweep(ctx: Context, limit: int = SWEEP_LIMIT) -> int:
    """Claim every fallback and expiry that is due: the timers wake it, and it runs every 2 s anyway."""
    done = 0
    while (claimed := claim_fallbacks(ctx, limit)) > 0:
        done += claimed
        if claimed < limit:
            break
    with ctx.uow() as uow:
        expiries = [p.id for p in uow.payments.due_expiries(ctx.clock.now(), limit)]
    return done + sum(run_expiry(ctx, pid) for pid in expiries)


def rearm_timers(ctx: Context) -> int:
    """Schedule the precise timers of every pending payment (at start-up)."""
    with ctx.uow() as uow:
        deadlines = uow.payments.pending_deadlines()
    for payment_id, fallback_at, expires_at in deadlines:
        if fallback_at is not None:
            ctx.timers.schedule("fallback", payment_id, fallback_at)
        ctx.timers.schedule("expiry", payment_id, expires_at)
    return len(deadlines)
