"""The link that sets up a person's authenticator app: offered once registered, redeemed by the app.

Where the push factor is enrolled by our own app (Verify Push), the bot hands the person a one-time
link on the channel they proved. The app opens it; Payfriend answers with a short-lived vendor token
with which the app enrols its factor. Only the link's hash is stored. A person whose app is already
enrolled gets no new link: moving the app to another phone needs SCA on the factor they have.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from datetime import timedelta

from bot.core import replies
from bot.core.entities import InboundMessage, User
from bot.core.jobs import Job, JobKind
from bot.core.lockout import is_locked
from bot.ports import AppAccess, AuthenticatorUnavailable, UnitOfWork
from bot.services.context import Context, ReplyTo
from bot.services.notifications import reply, reply_after

log = logging.getLogger(__name__)

LINK_MINUTES = 15
LINK_PATH = "/app/enrol#"  # the token rides in the fragment: never sent in a request line, never logged
TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,64}$")


def link_hash(token: str) -> str:
    """What is stored of a link's token."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_link(ctx: Context, user: User) -> str | None:
    """Give the person a fresh link, replacing any older one (the caller saves them); None without an address."""
    base = ctx.public_url()
    if base is None:
        log.warning("no public address to build an app link on: set PUBLIC_URL")
        return None
    token = secrets.token_urlsafe(32)
    user.app_link_hash = link_hash(token)
    user.app_link_expires_at = ctx.clock.now() + timedelta(minutes=LINK_MINUTES)
    return base.rstrip("/") + LINK_PATH + token


def send_link_after_registration(ctx: Context, uow: UnitOfWork, to: ReplyTo, user: User) -> None:
    """Where the app enrols from a link, the message after "You're all set" carries one (the caller saves)."""
    if ctx.authenticator.enrols_app:
        url = new_link(ctx, user)
        if url is not None:
            reply(ctx, uow, to, replies.app_link(url, LINK_MINUTES), secret=True)


def on_set_up_app(ctx: Context, uow: UnitOfWork, msg: InboundMessage, user: User) -> None:
    """'app': a link (after a job checks none is enrolled yet), or where the app signs in by phone."""
    to = ReplyTo.message(msg)
    if not ctx.authenticator.enrols_app:
        reply(ctx, uow, to, replies.app_by_phone(ctx.config.authenticator_label))
        return
    ctx.enqueue(uow, JobKind.OFFER_APP_LINK, user_id=user.id, reply=to.as_payload())


def offer_app_link(ctx: Context, job: Job) -> None:
    """Job: send a fresh set-up link unless the person's app is already enrolled."""
    to = ReplyTo.from_payload(job.payload["reply"])
    with ctx.uow() as uow:
        user = uow.users.get(job.payload["user_id"])
    if user is None or user.id is None or user.authenticator_id is None:
        return
    try:
        with ctx.typing_while(to):
            enrolled = ctx.authenticator.has_app(user.authenticator_id)
    except AuthenticatorUnavailable:
        reply_after(ctx, job, to, replies.service_unavailable())
        return
    with ctx.uow() as uow:
        current = uow.users.get_for_update(user.id)
        if current is not None:
            url = None if enrolled else new_link(ctx, current)
            if enrolled:
                text = replies.app_already_set_up(ctx.config.authenticator_label)
            elif url is None:
                text = replies.service_unavailable()
            else:
                uow.users.save(current)
                text = replies.app_link(url, LINK_MINUTES)
            reply(ctx, uow, to, text, secret=url is not None)
        ctx.done(uow, job)
        uow.commit()
    ctx.wake()


def redeem_app_link(ctx: Context, token: str) -> AppAccess | None:
    """The app opened a link: its enrolment token, once, while the link is live; None for any other link.

    The vendor's token is fetched before the link is spent, so a vendor failure (raised as
    AuthenticatorUnavailable) leaves the link usable; of two apps racing on one link, one wins.
    """
    if not TOKEN.match(token):
        return None
    digest = link_hash(token)
    with ctx.uow() as uow:
        user = uow.users.by_app_link(digest)
    if (user is None or user.id is None or user.authenticator_id is None or user.app_link_expires_at is None
            or user.app_link_expires_at <= ctx.clock.now() or is_locked(user, ctx.clock.now())):
        return None
    access = ctx.authenticator.app_access(user.authenticator_id)
    with ctx.uow() as uow:
        if not uow.users.use_app_link(user.id, digest):
            return None
        uow.commit()
    log.info("app link of user %s redeemed", user.id)
    return access

