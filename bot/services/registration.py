"""Registration: own contact (Telegram), an SMS code that proves the phone, an email, the authenticator."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Callable

from bot.core import replies
from bot.core.commands import Code, ParseResult
from bot.core.entities import Channel, InboundMessage, Registration, User
from bot.core.jobs import Job, JobKind
from bot.core.registration import RegistrationEvent, advance, allows, check_start, phone_verified
from bot.ports import AuthenticatorUnavailable, UnitOfWork
from bot.core.lockout import Strike, is_locked
from bot.services.app_link import send_link_after_registration
from bot.services.lockout import fail, failure_text, locked_text
from bot.services.audit import record
from bot.services.context import Context, ReplyTo, mask_phone
from bot.services.notifications import reply, reply_after

log = logging.getLogger(__name__)

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")


def on_stranger(ctx: Context, uow: UnitOfWork, msg: InboundMessage) -> None:
    """Someone unknown wrote: ask for the contact on Telegram; by SMS, start proving the number."""
    to = ReplyTo.message(msg)
    if msg.channel is Channel.TELEGRAM:
        reply(ctx, uow, to, replies.welcome_telegram(), request_contact=True)
        return
    phone = ctx.normalize_phone(msg.sender)
    if phone is None:
        return
    user = uow.users.add(User(id=None, created_at=ctx.clock.now(), phone=phone,
                              registration=check_start(Registration.PHONE_CODE),
                              default_currency=ctx.config.default_currency))
    reply(ctx, uow, to, replies.welcome_sms())  # before the code SMS, which it explains
    _start_phone_check(ctx, uow, user, to, welcome=True)


def on_start(ctx: Context, uow: UnitOfWork, msg: InboundMessage, user: User) -> None:
    """/start: say where the person stands, or send a new phone code."""
    to = ReplyTo.message(msg)
    if user.registration is Registration.READY:
        reply(ctx, uow, to, replies.registered(ctx.config.authenticator_label))
    elif msg.channel is Channel.TELEGRAM and user.registration is Registration.CONTACT:
        reply(ctx, uow, to, replies.welcome_telegram(), request_contact=True)
    else:
        _start_phone_check(ctx, uow, user, to, welcome=False)


def on_contact(ctx: Context, uow: UnitOfWork, msg: InboundMessage, user: User | None) -> None:
    """A shared contact: only the sender's own number counts; it is proved by an SMS code."""
    to = ReplyTo.message(msg)
    if msg.contact_user_id is None or str(msg.contact_user_id) != msg.sender:
        reply(ctx, uow, to, replies.not_own_contact(), request_contact=_needs_contact(user))
        return
    phone = ctx.normalize_phone(msg.contact_phone or "")
    if phone is None:
        reply(ctx, uow, to, replies.not_own_contact(), request_contact=_needs_contact(user))
        return
    owner = uow.users.by_phone(phone)
    if owner is not None and owner.telegram_user_id not in (None, int(msg.sender)):
        reply(ctx, uow, to, replies.not_own_contact(), request_contact=_needs_contact(user))
        return
    if user is not None and user.phone is not None and (user.phone_verified or user.authenticator_id is not None):
        _on_registered_contact(ctx, uow, to, user, phone)
        return
    person = owner or user or User(id=None, created_at=ctx.clock.now(), default_currency=ctx.config.default_currency)
    person.telegram_user_id = int(msg.sender)
    person.telegram_chat_id = msg.chat_id
    person.telegram_blocked = False
    if user is not None and owner is not None and user.id != owner.id:
        user.telegram_user_id = None  # the shared number belongs to an existing person: link there
        uow.users.save(user)
    person.phone = phone
    person.phone_verified = False
    person.registration = advance(person.registration, RegistrationEvent.SHARE_CONTACT)
    if person.id is None:
        person = uow.users.add(person)
    else:
        uow.users.save(person)
    _start_phone_check(ctx, uow, person, to, welcome=False)


def _on_registered_contact(ctx: Context, uow: UnitOfWork, to: ReplyTo, user: User, phone: str) -> None:
    """A registered person (or one whose number is proved) shared a contact: never a silent change of number.

    A code to the new number would only prove the new number; after a Telegram takeover with a
    number change it would hand the attacker the SMS factor. The registered number is told instead.
    """
    assert user.phone is not None
    if phone == user.phone and not user.phone_verified:  # linking Telegram: the code is still to come
        _start_phone_check(ctx, uow, user, to, welcome=False)
        return
    if phone == user.phone:
        reply(ctx, uow, to, replies.same_phone(mask_phone(phone)), remove_keyboard=True)
        return
    log.warning("user %s shared a different number; not changed, registered number told", user.id)
    record(ctx, uow, user.id, "phone change", "chat", "refused", f"to {mask_phone(phone)}: needs SCA")
    reply(ctx, uow, to, replies.phone_change_refused(mask_phone(phone)), remove_keyboard=True)
    if not user.sms_opted_out:
        reply(ctx, uow, ReplyTo(Channel.SMS, user.phone), replies.phone_change_notice(mask_phone(phone)))


def _needs_contact(user: User | None) -> bool:
    """Whether the share-contact keyboard is offered: never to someone past that step (it would re-verify)."""
    return user is None or user.registration is Registration.CONTACT


def on_registration_text(ctx: Context, uow: UnitOfWork, msg: InboundMessage, user: User,
                         command: ParseResult) -> None:
    """Text from someone who has not finished registering: the step they are at decides."""
    to = ReplyTo.message(msg)
    if user.registration is Registration.CONTACT:
        reply(ctx, uow, to, replies.finish_registration("contact"), request_contact=True)
    elif user.registration is Registration.PHONE_CODE:
        if isinstance(command, Code) and is_locked(user, ctx.clock.now()):
            reply(ctx, uow, to, locked_text(ctx, user))
        elif isinstance(command, Code):
            ctx.enqueue(uow, JobKind.CHECK_PHONE_CODE, user_id=user.id, code=command.digits, reply=to.as_payload())
        else:
            reply(ctx, uow, to, replies.finish_registration("phone_code", sms=to.channel is Channel.SMS))
    elif not EMAIL.match(msg.text.strip()):
        reply(ctx, uow, to, replies.bad_email())
    else:
        ctx.enqueue(uow, JobKind.REGISTER, user_id=user.id, email=msg.text.strip(), reply=to.as_payload())


def _start_phone_check(ctx: Context, uow: UnitOfWork, user: User, to: ReplyTo, *, welcome: bool) -> None:
    """Write the job that has the code texted, within the re-send limit; `welcome`: the welcome told of it."""
    now, window = ctx.clock.now(), timedelta(seconds=ctx.config.phone_code_window_seconds)
    if user.phone_codes_since is None or now - user.phone_codes_since >= window:
        user.phone_codes_since, user.phone_codes_sent = now, 0
    if user.phone_codes_sent >= ctx.config.phone_code_limit:
        log.info("user %s: phone code not re-sent, %s already this window", user.id, user.phone_codes_sent)
        next_at = (user.phone_codes_since + window).strftime("%H:%M UTC")
        reply(ctx, uow, to, replies.phone_codes_used_up(ctx.config.phone_code_limit, next_at,
                                                        sms=to.channel is Channel.SMS))
        return
    user.phone_codes_sent += 1
    uow.users.save(user)
    ctx.enqueue(uow, JobKind.START_PHONE_CHECK, user_id=user.id, welcome=welcome, reply=to.as_payload())


# ---------------------------------------------------------------------- jobs: the outside calls

def start_phone_check(ctx: Context, job: Job) -> None:
    """Job: ask the authenticator to text a phone verification code, then say so unless the welcome did."""
    to = ReplyTo.from_payload(job.payload["reply"])
    with ctx.uow() as uow:
        user = uow.users.get(job.payload["user_id"])
    if user is None or user.phone is None:
        return
    try:
        with ctx.typing_while(to):
            ctx.authenticator.start_phone_verification(user.phone)
    except AuthenticatorUnavailable:
        log.warning("phone verification could not start for user %s", user.id)
        reply_after(ctx, job, to, replies.service_unavailable())
        return
    if not job.payload.get("welcome"):  # the welcome, written before this job, told of the code
        reply_after(ctx, job, to, replies.phone_code_sent(mask_phone(user.phone), sms=to.channel is Channel.SMS))


def check_phone_code(ctx: Context, job: Job) -> None:
    """Job: check the phone code the person typed; a right one moves registration on."""
    to = ReplyTo.from_payload(job.payload["reply"])
    with ctx.uow() as uow:
        user = uow.users.get(job.payload["user_id"])
    if user is None or user.phone is None or user.id is None:
        return
    if is_locked(user, ctx.clock.now()):  # locked while this check waited: the vendor is not asked
        reply_after(ctx, job, to, locked_text(ctx, user))
        return
    try:
        with ctx.typing_while(to):
            ok = ctx.authenticator.check_phone_verification(user.phone, job.payload["code"])
    except AuthenticatorUnavailable:
        reply_after(ctx, job, to, replies.service_unavailable())
        return
    if not ok:
        with ctx.uow() as uow:
            strike, counted = fail(ctx, uow, user.id, "phone check", "phone_code")
            text = failure_text(ctx, strike, counted)
            if strike is not Strike.LOCKED:
                text = replies.phone_code_wrong(text, sms=to.channel is Channel.SMS)
            reply(ctx, uow, to, text, remove_keyboard=to.channel is Channel.TELEGRAM)
            ctx.done(uow, job)
            uow.commit()
        ctx.wake()
        return

    def verified(uow: UnitOfWork, current: User) -> str:
        if is_locked(current, ctx.clock.now()):  # another check locked the person meanwhile
            return locked_text(ctx, current)
        record(ctx, uow, current.id, "phone check", "phone_code", "passed")
        current.phone_verified = True
        ready = current.email is not None and current.authenticator_id is not None
        current.registration = advance(current.registration, phone_verified(ready))
        return replies.registered(ctx.config.authenticator_label) if ready else replies.ask_email()

    _advance(ctx, job, user.id, to, RegistrationEvent.VERIFY_PHONE, verified)


def register(ctx: Context, job: Job) -> None:
    """Job: register the person with the authenticator under their email."""
    to = ReplyTo.from_payload(job.payload["reply"])
    email = job.payload["email"]
    with ctx.uow() as uow:
        user = uow.users.get(job.payload["user_id"])
    if user is None or user.phone is None or user.id is None or user.registration is not Registration.EMAIL:
        return
    try:
        with ctx.typing_while(to):
            authenticator_id = ctx.authenticator.register(email, user.phone)
    except AuthenticatorUnavailable:
        reply_after(ctx, job, to, replies.service_unavailable())
        return

    def registered(uow: UnitOfWork, current: User) -> str:
        current.email, current.authenticator_id = email, authenticator_id
        current.registration = advance(current.registration, RegistrationEvent.REGISTER)
        return replies.registered(ctx.config.authenticator_label)

    def link(uow: UnitOfWork, current: User) -> None:
        send_link_after_registration(ctx, uow, to, current)

    _advance(ctx, job, user.id, to, RegistrationEvent.REGISTER, registered, then=link)


def _advance(ctx: Context, job: Job, user_id: int, to: ReplyTo, event: RegistrationEvent,
             change: Callable[[UnitOfWork, User], str],
             then: Callable[[UnitOfWork, User], None] | None = None) -> None:
    """Apply `change` if the person's step still allows `event`, send the reply it returns, then `then`."""
    with ctx.uow() as uow:
        current = uow.users.get_for_update(user_id)
        if current is not None and allows(current.registration, event):
            text = change(uow, current)
            reply(ctx, uow, to, text, remove_keyboard=to.channel is Channel.TELEGRAM)
            if then is not None:
                then(uow, current)
            uow.users.save(current)
        ctx.done(uow, job)
        uow.commit()
    ctx.wake()
