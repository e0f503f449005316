"""The registration state machine: how a person's row moves from first contact to READY.

State diagram (docs/registration-states.md draws the same table)::

    [*] --> contact                     [*] --> phone_code
    contact | phone_code | email | ready  --share_contact-->  phone_code
    phone_code  --verify_phone-->  email  --register-->  ready
    phone_code  --verify_phone_registered-->  ready

READY is not final: a person registered by SMS who links Telegram shares their contact and proves the
phone again (a different number from a registered person is refused before this table is asked). A
right code then returns a person who already has an email and an authenticator registration straight
to READY.
"""

from __future__ import annotations

from enum import StrEnum

from bot.core.entities import Registration


class RegistrationEvent(StrEnum):
    """Something that moves a registration on."""

    SHARE_CONTACT = "share_contact"  # a Telegram contact with the sender's own number
    VERIFY_PHONE = "verify_phone"  # the right phone code; no authenticator registration yet
    VERIFY_PHONE_REGISTERED = "verify_phone_registered"  # the right phone code; email and authenticator known
    REGISTER = "register"  # the authenticator registered the person under their email


_C, _P, _E, _R = Registration.CONTACT, Registration.PHONE_CODE, Registration.EMAIL, Registration.READY

# Where a new row may start: a Telegram person not yet sharing a number, or a phone to prove
# (an SMS stranger, or a contact shared by someone new).
START_STATES = frozenset({_C, _P})

# (registration, event) -> registration. Anything absent is an illegal transition.
TRANSITIONS: dict[tuple[Registration, RegistrationEvent], Registration] = {
    (_C, RegistrationEvent.SHARE_CONTACT): _P,
    (_P, RegistrationEvent.SHARE_CONTACT): _P,  # another (or the same) number: a new code
    (_E, RegistrationEvent.SHARE_CONTACT): _P,
    (_R, RegistrationEvent.SHARE_CONTACT): _P,
    (_P, RegistrationEvent.VERIFY_PHONE): _E,
    (_P, RegistrationEvent.VERIFY_PHONE_REGISTERED): _R,
    (_E, RegistrationEvent.REGISTER): _R,
}


class IllegalRegistrationTransition(Exception):
    """An event the registration table does not allow from the current registration."""


def advance(current: Registration, event: RegistrationEvent) -> Registration:
    """The registration `event` leads to from `current`, or raise IllegalRegistrationTransition."""
    try:
        return TRANSITIONS[(current, event)]
    except KeyError:
        raise IllegalRegistrationTransition(f"{event.value} is not allowed from {current.value}") from None


def allows(current: Registration, event: RegistrationEvent) -> bool:
    """Whether `event` is allowed from `current`."""
    return (current, event) in TRANSITIONS


def check_start(registration: Registration) -> Registration:
    """Return `registration` if a new row may start there, or raise IllegalRegistrationTransition."""
    if registration not in START_STATES:
        raise IllegalRegistrationTransition(f"a new person cannot start at {registration.value}")
    return registration


def phone_verified(has_email_and_authenticator: bool) -> RegistrationEvent:
    """The event a right phone code is: back to READY for a person already registered, else on to EMAIL."""
    if has_email_and_authenticator:
        return RegistrationEvent.VERIFY_PHONE_REGISTERED
    return RegistrationEvent.VERIFY_PHONE
