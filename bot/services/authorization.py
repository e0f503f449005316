"""Authorization: push decisions from the authenticator's webhooks, and the SMS code a person types."""

from __future__ import annotations

import logging

from bot.core import replies
from bot.core.entities import InboundMessage, Payment, User
from bot.core.jobs import Job, JobKind
from bot.core.lockout import is_locked
from bot.core.payment import Event, State, Step
from bot.ports import AuthenticatorUnavailable, PushBinding, UnitOfWork
from bot.services.audit import payment_action, record
from bot.services.context import Context, ReplyTo, chat_of
from bot.services.lockout import fail, failure_text, locked_text
from bot.services.notifications import notify, reply
from bot.services.outcomes import decide, finish

log = logging.getLogger(__name__)

LOOK_AGAIN_SECONDS = 1.0


def on_code(ctx: Context, uow: UnitOfWork, msg: InboundMessage, user: User, code: str) -> None:
    """Digits typed by a registered person: checked against the one payment waiting for a code."""
    assert user.id is not None
    to = ReplyTo.message(msg)
    if is_locked(user, ctx.clock.now()):
        reply(ctx, uow, to, locked_text(ctx, user))
        return
    waiting = uow.payments.pending_for_payer(user.id)
    payment = waiting[0] if waiting else None
    if payment is None:
        reply(ctx, uow, to, replies.no_code_expected())
        return
    if payment.step is Step.PUSH:
        reply(ctx, uow, to, replies.waiting_for_app(ctx.config.authenticator_label))
        return
    if payment.step is not Step.CODE:
        reply(ctx, uow, to, replies.nothing_to_confirm())
        return
    # The attempt is counted before the code is checked, in this locked transaction: codes sent
    # side by side cannot get more than max_code_attempts checks between them.
    attempt = uow.payments.add_code_failure(payment.id)
    if attempt is None or attempt > ctx.config.max_code_attempts:
        return
    ctx.enqueue(uow, JobKind.CHECK_CODE, payment_id=payment.id, code=code, attempt=attempt)


def check_code(ctx: Context, job: Job) -> None:
    """Job: check a typed code (attempt number `attempt`) against the one payment it is bound to."""
    with ctx.uow() as uow:
        payment = uow.payments.get(job.payload["payment_id"])
        user = uow.users.get(payment.payer_id) if payment else None
    if (payment is None or user is None or payment.step is not Step.CODE or user.authenticator_id is None
            or user.phone is None):
        return
    try:
        with ctx.typing_while(chat_of(user, payment.channel)):
            ok = ctx.authenticator.check_code(user.authenticator_id, user.phone, ctx.binding(payment, user),
                                              job.payload["code"])
    except AuthenticatorUnavailable:
        with ctx.uow() as uow:
            notify(ctx, uow, user, payment.channel, replies.service_unavailable())
            ctx.done(uow, job)
            uow.commit()
        ctx.wake()
        return
    with ctx.uow() as uow:
        if ok:
            decide(ctx, uow, payment, Event.APPROVE, "code")
        else:  # counted on the person: five in a row, over any payments and codes, lock them
            strike, counted = fail(ctx, uow, payment.payer_id, payment_action(payment.id), "sms_code")
            notify(ctx, uow, counted, payment.channel, failure_text(ctx, strike, counted))
        ctx.done(uow, job)
        uow.commit()
    ctx.wake()


def record_decision(ctx: Context, request_id: str, status: str, dedupe_key: str, job: Job | None = None,
                    *, tap: bool = True, claimed: PushBinding | None = None) -> str:
    """Apply a push decision; the first decision wins.

    Returns what happened: "applied", "duplicate", "ignored", "unknown" or "mismatch". A decision
    that `claimed` to answer someone else's push (another identity, another payment) has no effect.
    A tap (`tap`: the person's decision reported by the authenticator, not found by our own poll) on
    a payment that already ended is answered in the chat, once: the decision's receipt is taken in
    the same transaction.
    """
    event = {"approved": Event.APPROVE, "denied": Event.DENY}.get(status)
    with ctx.uow() as uow:
        payment = uow.payments.by_push_request(request_id)
        if payment is None or event is None:  # no receipt kept: a retry may find the request stored
            if event is not None and job is None:
                _look_again(ctx, uow, request_id, dedupe_key)
            log.info("decision %r for unknown request %s not applied", status, request_id)
            return "unknown"
        if claimed is not None and not _bound(uow, payment, claimed):
            log.warning("decision for push %s names another identity or payment: refused", request_id)
            record(ctx, uow, payment.payer_id, payment_action(payment.id), "push", "refused",
                   "the decision names another identity or payment")
            ctx.done(uow, job)
            uow.commit()
            return "mismatch"
        if not uow.receipts.first_time(dedupe_key, ctx.clock.now()):
            log.info("duplicate decision %s ignored", dedupe_key)
            return "duplicate"
        applied = decide(ctx, uow, payment, event, "push")
        if not applied and tap:
            _tell_late_tap(ctx, uow, payment.id)
        ctx.done(uow, job)
        uow.commit()
    ctx.wake()
    if not applied:
        log.info("late decision %r for payment %s changed nothing (it is %s)", status, payment.id,
                 payment.state.value)
    return "applied" if applied else "ignored"


def _bound(uow: UnitOfWork, payment: Payment, claimed: PushBinding) -> bool:
    """Whether a decision's claimed identity (and payment id, where the vendor reports one) are those of
    the payment's own push. Authy's status answer has no hidden details: its callbacks must carry them."""
    payer = uow.users.get(payment.payer_id)
    return (payer is not None and payer.authenticator_id is not None
            and claimed.authenticator_id == payer.authenticator_id
            and claimed.payment_id in (None, payment.id))


def _tell_late_tap(ctx: Context, uow: UnitOfWork, payment_id: str) -> None:
    """Say that a tap came after the payment ended and changed nothing (not when this push ended it).

    Neither Authy nor Verify can withdraw a push request, so a person may still tap one after the
    payment was approved with the SMS code, cancelled or expired; the push itself expires with the
    payment (see payments.send_push).
    """
    payment = uow.payments.get(payment_id)
    if payment is None or payment.state is State.PENDING or payment.decided_by == "push":
        return
    user = uow.users.get(payment.payer_id)
    if user is not None:
        notify(ctx, uow, user, payment.channel, replies.late_tap(payment.state))


def accept_event(ctx: Context, request_id: str, dedupe_key: str) -> str:
    """A webhook says a push request changed: a job asks the authenticator what was decided.

    Returns "accepted"; "unknown" for a request that is not ours (nothing is asked then); "ignored"
    (or "duplicate") when its payment already ended: no decision can change it, so nothing is asked
    and the person is told at once.
    """
    with ctx.uow() as uow:
        payment = uow.payments.by_push_request(request_id)
        if payment is None:
            _look_again(ctx, uow, request_id, dedupe_key)
            return "unknown"
        if payment.state is not State.PENDING:
            outcome = _late_event(ctx, uow, payment.id, dedupe_key)
        else:
            ctx.enqueue(uow, JobKind.FETCH_DECISION, request_id=request_id, dedupe_key=dedupe_key)
            outcome = "accepted"
        uow.commit()
    ctx.wake()
    return outcome


def _late_event(ctx: Context, uow: UnitOfWork, payment_id: str, dedupe_key: str) -> str:
    """An event on the push of an ended payment: told once per event (its receipt), nothing fetched."""
    if not uow.receipts.first_time(dedupe_key, ctx.clock.now()):
        return "duplicate"
    _tell_late_tap(ctx, uow, payment_id)
    return "ignored"


def _look_again(ctx: Context, uow: UnitOfWork, request_id: str, dedupe_key: str) -> None:
    """A decision can arrive before its push request's id is stored (a fast tap): fetch it again shortly.

    The job retries with backoff while the request stays unknown, and gives up after a few tries
    (then it was not ours). Committed here: the caller's transaction changes nothing else.
    """
    ctx.enqueue(uow, JobKind.FETCH_DECISION, delay=LOOK_AGAIN_SECONDS, request_id=request_id,
                dedupe_key=dedupe_key)
    uow.commit()


def fetch_decision(ctx: Context, job: Job) -> None:
    """Job: fetch a push request's status and apply a decision; an unreachable authenticator retries."""
    request_id = job.payload["request_id"]
    with ctx.uow() as uow:
        if uow.payments.by_push_request(request_id) is None:
            raise LookupError(f"push request {request_id} is not stored (yet)")  # retried with backoff
    push = ctx.authenticator.read_push(request_id)
    if push.status in ("approved", "denied"):
        record_decision(ctx, request_id, push.status, job.payload["dedupe_key"], job, claimed=push.binding)
