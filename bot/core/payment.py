"""The payment state machine: states, steps, the one transition table, and dynamic linking.

State diagram (every state but PENDING is final; a new attempt is a new payment)::

    PENDING/confirmation --CONFIRM--> PENDING/push --FALL_BACK--> PENDING/code
          |                              |                            |
          |  APPROVE (exempt only)       | APPROVE, DENY, FAIL        | APPROVE, DENY, BLOCK, FAIL
          |  CANCEL, EXPIRE, FAIL        | CANCEL, EXPIRE             | CANCEL, EXPIRE
          v                              v                            v
    approved | denied | expired | cancelled | blocked | failed      (final, step DONE)

The same diagram is drawn in docs/payment-states.md.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from enum import StrEnum

from bot.core.money import Money


class State(StrEnum):
    """Where a payment stands; every state but PENDING is final."""

    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    BLOCKED = "blocked"
    FAILED = "failed"


class Step(StrEnum):
    """What a pending payment waits for; DONE once it is final."""

    CONFIRMATION = "confirmation"
    PUSH = "push"
    CODE = "code"
    DONE = "done"


class Event(StrEnum):
    """Something that happens to a payment."""

    CONFIRM = "confirm"
    FALL_BACK = "fall_back"
    APPROVE = "approve"
    DENY = "deny"
    CANCEL = "cancel"
    EXPIRE = "expire"
    BLOCK = "block"
    FAIL = "fail"


class FallbackReason(StrEnum):
    """Why a payment's approval moved from the push to an SMS code."""

    TIMEOUT = "timeout"  # no decision within the fallback time
    UNREACHABLE = "unreachable"  # the push could not be sent
    NO_APP = "no_app"  # the person has no authenticator app set up
    PUSH_LIMIT = "push_limit"  # too many of their pushes went unanswered lately (push bombing)


FINAL_STATES = frozenset(s for s in State if s is not State.PENDING)

_P, _C, _U, _K = State.PENDING, Step.CONFIRMATION, Step.PUSH, Step.CODE

# (state, step, event) -> (state, step). Anything absent is an illegal transition.
TRANSITIONS: dict[tuple[State, Step, Event], tuple[State, Step]] = {
    (_P, _C, Event.CONFIRM): (_P, _U),
    (_P, _C, Event.APPROVE): (State.APPROVED, Step.DONE),  # only with a recorded exemption
    (_P, _C, Event.CANCEL): (State.CANCELLED, Step.DONE),
    (_P, _C, Event.EXPIRE): (State.EXPIRED, Step.DONE),
    (_P, _C, Event.FAIL): (State.FAILED, Step.DONE),
    (_P, _U, Event.FALL_BACK): (_P, _K),
    (_P, _U, Event.APPROVE): (State.APPROVED, Step.DONE),
    (_P, _U, Event.DENY): (State.DENIED, Step.DONE),
    (_P, _U, Event.CANCEL): (State.CANCELLED, Step.DONE),
    (_P, _U, Event.EXPIRE): (State.EXPIRED, Step.DONE),
    (_P, _U, Event.FAIL): (State.FAILED, Step.DONE),
    (_P, _K, Event.APPROVE): (State.APPROVED, Step.DONE),
    (_P, _K, Event.DENY): (State.DENIED, Step.DONE),
    (_P, _K, Event.CANCEL): (State.CANCELLED, Step.DONE),
    (_P, _K, Event.EXPIRE): (State.EXPIRED, Step.DONE),
    (_P, _K, Event.BLOCK): (State.BLOCKED, Step.DONE),
    (_P, _K, Event.FAIL): (State.FAILED, Step.DONE),
}


class IllegalTransition(Exception):
    """An event that the transition table does not allow from the current state and step."""


def next_position(state: State, step: Step, event: Event) -> tuple[State, Step]:
    """Return the (state, step) that `event` leads to, or raise IllegalTransition."""
    try:
        return TRANSITIONS[(state, step, event)]
    except KeyError:
        raise IllegalTransition(f"{event.value} is not allowed from {state.value}/{step.value}") from None


def allows(state: State, step: Step, event: Event) -> bool:
    """Whether `event` is allowed from (state, step)."""
    return (state, step, event) in TRANSITIONS


@dataclass(frozen=True, slots=True)
class Terms:
    """What the payer authorises: frozen at creation, bound by the fingerprint."""

    payment_id: str
    payer_id: int
    payee: str
    amount: Money


def fingerprint(terms: Terms, key: bytes) -> str:
    """HMAC-SHA256 over payment id, payer, payee, amount and currency (dynamic linking)."""
    fields = (
        terms.payment_id,
        str(terms.payer_id),
        terms.payee,
        str(terms.amount.minor),
        terms.amount.currency,
    )
    # Length-prefix each field so that no two different field tuples share a message.
    message = "".join(f"{len(f)}:{f}" for f in fields).encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def fingerprint_matches(terms: Terms, key: bytes, expected: str) -> bool:
    """Constant-time check that the terms still match the fingerprint taken at creation."""
    return hmac.compare_digest(fingerprint(terms, key), expected)


# Short, distinct words a push and the chat both show, so the person can tell the push is theirs.
MATCH_WORDS = (
    "acorn", "amber", "anchor", "apple", "badger", "bamboo", "banjo", "beacon", "birch", "bison", "cactus",
    "canoe", "cedar", "cherry", "clover", "cobalt", "comet", "coral", "cricket", "daisy", "dolphin", "ember",
    "falcon", "fern", "fig", "galaxy", "garnet", "ginger", "glacier", "harbor", "hazel", "heron", "iris",
    "ivory", "jasper", "kettle", "kiwi", "lagoon", "lantern", "lemon", "lilac", "lotus", "maple", "meadow",
    "mango", "marble", "nectar", "nutmeg", "oak", "olive", "orchid", "otter", "pebble", "pepper", "pine",
    "plum", "quartz", "raven", "river", "saffron", "sparrow", "tulip", "walnut", "willow",
)


def match_word(key: bytes, payment_id: str) -> str:
    """The payment's match word: keyed, so it cannot be guessed from the payment id."""
    digest = hmac.new(key, f"match:{payment_id}".encode(), hashlib.sha256).digest()
    return MATCH_WORDS[int.from_bytes(digest[:4], "big") % len(MATCH_WORDS)]
