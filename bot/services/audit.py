"""The audit trail: every authentication decision appends one event, in the transaction that applies it."""

from __future__ import annotations

from bot.core.entities import AuthEvent
from bot.ports import UnitOfWork
from bot.services.context import Context


def record(ctx: Context, uow: UnitOfWork, user_id: int | None, action: str, factor: str, result: str,
           detail: str | None = None) -> None:
    """Append one event: who, which action, which factor, what came of it (now)."""
    uow.events.add(AuthEvent(None, ctx.clock.now(), user_id, action, factor, result, detail))


def payment_action(payment_id: str) -> str:
    """How a payment is named in the trail."""
    return f"payment {payment_id}"
