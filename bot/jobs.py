"""How a worker runs each kind of durable job: claim with a lease, run the handler, retry or give up.

The handlers live with their use cases in bot.services; each applies its result and marks its job
done in one transaction. What a repeat of each kind can cause is written beside its handler and in
DESIGN.md.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Callable

from bot.core.jobs import MAX_ATTEMPTS, Job, JobKind, lease_seconds, retry_delay
from bot.services import app_link, authorization, deadlines, notifications, payments, registration
from bot.services.context import Context

log = logging.getLogger(__name__)

HANDLERS: dict[JobKind, Callable[[Context, Job], None]] = {
    JobKind.START_PHONE_CHECK: registration.start_phone_check,
    JobKind.CHECK_PHONE_CODE: registration.check_phone_code,
    JobKind.REGISTER: registration.register,
    JobKind.SEND_PUSH: payments.send_push,
    JobKind.SEND_CODE: deadlines.send_code,
    JobKind.CHECK_CODE: authorization.check_code,
    JobKind.FETCH_DECISION: authorization.fetch_decision,
    JobKind.EXPIRE: deadlines.expire,
    JobKind.SETTLE_BUTTON: notifications.settle_button,
    JobKind.OFFER_APP_LINK: app_link.offer_app_link,
}


def claim(ctx: Context, limit: int) -> list[Job]:
    """Lease up to `limit` due jobs in one statement, each for its own calls' timeouts plus a margin."""
    now = ctx.clock.now()
    timeout = ctx.config.call_timeout_seconds
    leases = {kind: now + timedelta(seconds=lease_seconds(kind, timeout)) for kind in JobKind}
    with ctx.uow() as uow:
        jobs = uow.jobs.claim_due(now, leases, limit)
        uow.commit()
    return jobs


def run(ctx: Context, job: Job) -> None:
    """Run one claimed job; an unexpected error retries it later, and the last attempt gives up."""
    assert job.id is not None
    try:
        HANDLERS[job.kind](ctx, job)
    except Exception as exc:
        _failed(ctx, job, exc)
        return
    if job.done_at is not None:
        return  # the handler marked it done with its result
    with ctx.uow() as uow:  # a handler that had nothing to do did not mark it done
        uow.jobs.complete(job.id, ctx.clock.now())
        uow.commit()


def drain(ctx: Context, limit: int = 50) -> int:
    """Run due jobs one after another until none is left (a single thread: tests and tools)."""
    ran = 0
    while batch := claim(ctx, limit):
        for job in batch:
            run(ctx, job)
        ran += len(batch)
    return ran


def _failed(ctx: Context, job: Job, exc: Exception) -> None:
    assert job.id is not None
    now = ctx.clock.now()
    with ctx.uow() as uow:
        if job.attempts >= MAX_ATTEMPTS:
            uow.jobs.give_up(job.id, job.attempts, repr(exc), now)
            log.error("job %s (%s) gave up after %d attempts: %r", job.id, job.kind.value, job.attempts, exc)
        else:
            uow.jobs.retry(job.id, job.attempts, repr(exc), now + timedelta(seconds=retry_delay(job.attempts)))
            log.warning("job %s (%s) failed, will retry: %r", job.id, job.kind.value, exc)
        uow.commit()
