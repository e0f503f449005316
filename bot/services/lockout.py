"""Failed attempts counted on the person, whatever failed; the lock stops their pending payments."""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.core import replies
from bot.core.entities import User
from bot.core.lockout import Strike, attempts_left, count_failure
from bot.core.payment import Event, Step
from bot.ports import UnitOfWork
from bot.services.audit import record
from bot.services.context import Context
from bot.services.outcomes import finish

log = logging.getLogger(__name__)


def fail(ctx: Context, uow: UnitOfWork, user_id: int, action: str, factor: str) -> tuple[Strike, User]:
    """Count a failed attempt on the person (and in the audit trail); the one that locks them also stops
    their pending payments."""
    user = uow.users.get_for_update(user_id)
    if user is None:
        raise LookupError(f"no user {user_id}")
    strike = count_failure(user, ctx.clock.now(), timedelta(seconds=ctx.config.lock_seconds))
    uow.users.save(user)
    record(ctx, uow, user_id, action, factor, "failed", f"{user.failed_attempts} in a row")
    if strike is Strike.LOCKED:
        log.warning("user %s locked after %s failed attempts in a row", user.id, user.failed_attempts)
        record(ctx, uow, user_id, "account", factor, "locked", f"until {user.locked_until:%Y-%m-%d %H:%M} UTC")
        for payment in uow.payments.pending_for_payer(user_id):
            event = Event.BLOCK if payment.step is Step.CODE else Event.CANCEL
            finish(ctx, uow, payment, event, "system", "the payer was locked after failed attempts")
    return strike, user


def failure_text(ctx: Context, strike: Strike, user: User) -> str:
    """The one reply to a failed attempt, whatever failed: it differs only in what is left."""
    if strike is Strike.LOCKED:
        return replies.locked_now(_hours(ctx))
    if strike is Strike.LAST_TRY:
        return replies.attempt_failed_last(_hours(ctx))
    return replies.attempt_failed(attempts_left(user))


def locked_text(ctx: Context, user: User) -> str:
    """What a locked person is told when they try something that needs authentication."""
    assert user.locked_until is not None
    return replies.locked(user.locked_until.strftime("%H:%M UTC on %b %d"))


def _hours(ctx: Context) -> int:
    return max(1, round(ctx.config.lock_seconds / 3600))
