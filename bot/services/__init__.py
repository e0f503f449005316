"""The use cases, one module per family; `Services` is the one object the processes and webhooks call.

Rules every use case follows:
- it runs in one transaction: a state change is a guarded transition, committed together with the
  messages it causes (outbox), the jobs for the outside calls it needs, and the dedupe receipt of
  what caused it;
- nothing here talks to a vendor while a request or an update is being handled: jobs do, later,
  through the ports.
"""

from __future__ import annotations

from bot.core.entities import Channel, InboundMessage
from bot.ports import AppAccess, Messenger, PushBinding
from bot.services import app_link, authorization, deadlines, inbound, notifications
from bot.services.context import Context, ReplyTo, ServiceConfig, mask_phone

__all__ = ["Context", "ReplyTo", "ServiceConfig", "Services", "mask_phone"]


class Services(Context):
    """Payfriend's use cases, wired by bootstrap with the adapters of this deployment."""

    def handle_inbound(self, msg: InboundMessage) -> None:
        """Handle one message or button press from a person; a redelivered one has no effect."""
        inbound.handle_inbound(self, msg)

    def record_decision(self, request_id: str, status: str, dedupe_key: str,
                        claimed: PushBinding | None = None) -> str:
        """Apply a push decision from the authenticator's webhook (bound to that push, if `claimed`); first wins."""
        return authorization.record_decision(self, request_id, status, dedupe_key, claimed=claimed)

    def accept_push_event(self, request_id: str, dedupe_key: str) -> str:
        """A webhook says a push request changed: queue a job that fetches the decision."""
        return authorization.accept_event(self, request_id, dedupe_key)

    def redeem_app_link(self, token: str) -> AppAccess | None:
        """The person's app opened its set-up link: the enrolment token, once, while the link is live."""
        return app_link.redeem_app_link(self, token)

    def run_fallback(self, payment_id: str) -> bool:
        """Claim a payment whose push got no decision in time, and queue its SMS code."""
        return deadlines.run_fallback(self, payment_id)

    def run_expiry(self, payment_id: str) -> bool:
        """Expire a payment past its deadline (after one look at its push)."""
        return deadlines.run_expiry(self, payment_id)

    def sweep(self, limit: int = deadlines.SWEEP_LIMIT) -> int:
        """Claim every fallback and expiry that is due."""
        return deadlines.sweep(self, limit)

    def rearm_timers(self) -> int:
        """Schedule the precise timers of every pending payment (at start-up)."""
        return deadlines.rearm_timers(self)

    def deliver_outbox(self, messengers: dict[Channel, Messenger], limit: int = notifications.OUTBOX_BATCH) -> int:
        """Deliver due outbox messages once each, with retries; returns how many were sent."""
        return notifications.deliver_outbox(self, messengers, limit)
