"""How a payment ends: the guarded move to a final state and the message that tells the payer.

Every use case family ends payments (a cancel, a decision, an expiry, an opt-out), so this module
sits below all of them and imports none of them.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from bot.core import replies
from bot.core.entities import Payment
from bot.core.lockout import count_success
from bot.core.payment import Event, IllegalTransition, State, fingerprint_matches, next_position
from bot.core.sca import after_successful_sca
from bot.ports import UnitOfWork
from bot.services.audit import payment_action, record
from bot.services.context import Context
from bot.services.notifications import notify

log = logging.getLogger(__name__)


def finish(ctx: Context, uow: UnitOfWork, payment: Payment, event: Event, by: str, reason: str,
           **fields: object) -> bool:
    """Move a pending payment to a final state and tell the payer; False if another event won."""
    current = uow.payments.get(payment.id)
    if current is None or current.state is not State.PENDING:
        return False
    try:
        state, step = next_position(current.state, current.step, event)
    except IllegalTransition:  # e.g. a block while the push is still the way to approve
        return False
    now = ctx.clock.now()
    if not uow.payments.transition(current.id, current.state, current.step, state, step,
                                   decided_at=now, decided_by=by, reason=reason, **fields):
        return False
    user = uow.users.get(current.payer_id)
    if user is not None:
        final = replace(current, state=state, step=step)
        text = replies.outcome(final, ctx.amount(final, user))
        if fields.get("sca") == "exempt":
            text += replies.exempt_note(str(fields.get("sca_reason", "")))
        notify(ctx, uow, user, current.channel, text)
    return True


def decide(ctx: Context, uow: UnitOfWork, payment: Payment, event: Event, by: str) -> bool:
    """Approve or deny after SCA, checking the dynamic link first."""
    # The payer's row is locked before the payment's, in the order every inbound message takes them:
    # on PostgreSQL, the opposite order could deadlock with a message the payer sends meanwhile.
    user = uow.users.get_for_update(payment.payer_id)
    if not fingerprint_matches(payment.terms, ctx.config.fingerprint_key, payment.fingerprint):
        log.error("payment %s terms do not match their fingerprint; failing it", payment.id)
        return finish(ctx, uow, payment, Event.FAIL, "system", "terms changed after creation")
    applied = finish(ctx, uow, payment, event, by, f"{event.value} by {by}")
    if applied:
        record(ctx, uow, payment.payer_id, payment_action(payment.id), "push" if by == "push" else "sms_code",
               "approved" if event is Event.APPROVE else "denied")
    if applied and user is not None:  # the person authenticated (an approval or a denial in the app)
        count_success(user)
        if event is Event.APPROVE:
            user.exempt_count, user.exempt_total_eur_minor = after_successful_sca()
        uow.users.save(user)
    return applied
