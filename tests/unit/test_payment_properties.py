"""Properties of the payment state machine, its frozen terms and the fingerprint (hypothesis)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.entities import Channel, Payment
from bot.core.money import Money
from bot.core.payment import (
    FINAL_STATES,
    TRANSITIONS,
    Event,
    IllegalTransition,
    State,
    Step,
    Terms,
    allows,
    fingerprint,
    fingerprint_matches,
    next_position,
)

KEY = b"k" * 32
START = (State.PENDING, Step.CONFIRMATION)
PENDING_STEPS = (Step.CONFIRMATION, Step.PUSH, Step.CODE)

events = st.sampled_from(list(Event))
currencies = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=3, max_size=3)
moneys = st.builds(Money, st.integers(min_value=1, max_value=10**12), currencies, st.integers(0, 4))
terms = st.builds(Terms, st.text(min_size=1, max_size=30), st.integers(min_value=1, max_value=2**53),
                  st.text(min_size=1, max_size=40), moneys)


def _walk(sequence: list[Event]) -> list[tuple[State, Step]]:
    position, path = START, [START]
    for event in sequence:
        if allows(*position, event):
            position = next_position(*position, event)
        else:
            with pytest.raises(IllegalTransition):
                next_position(*position, event)
        path.append(position)
    return path


@settings(deadline=None)
@given(st.lists(events, max_size=40))
def test_no_sequence_of_events_leaves_a_final_state(sequence):
    path = _walk(sequence)
    for before, after in zip(path, path[1:]):
        if before[0] in FINAL_STATES:
            assert after == before


@settings(deadline=None)
@given(st.lists(events, max_size=40))
def test_every_position_reached_is_consistent(sequence):
    for state, step in _walk(sequence):
        assert (state is State.PENDING) == (step is not Step.DONE)


@settings(deadline=None)
@given(st.lists(events, max_size=40))
def test_a_payment_never_goes_back(sequence):
    order = {Step.CONFIRMATION: 0, Step.PUSH: 1, Step.CODE: 2, Step.DONE: 3}
    steps = [order[step] for _, step in _walk(sequence)]
    assert steps == sorted(steps)


@settings(deadline=None)
@given(st.sampled_from(sorted(FINAL_STATES)), events)
def test_final_states_allow_nothing(state, event):
    assert not allows(state, Step.DONE, event)
    with pytest.raises(IllegalTransition):
        next_position(state, Step.DONE, event)


# ------------------------------------------------------------------ transition table invariants


def test_every_transition_starts_pending_and_moves_forward():
    for (state, step, event), (to_state, to_step) in TRANSITIONS.items():
        assert state is State.PENDING and step in PENDING_STEPS
        assert (to_state is State.PENDING) == (to_step is not Step.DONE)
        assert (to_state, to_step) != (state, step), f"{event} loops"
        assert to_step is not Step.CONFIRMATION


def test_every_final_state_is_reachable_and_every_step_can_end():
    assert {target for target, _ in TRANSITIONS.values()} >= set(FINAL_STATES)
    for step in PENDING_STEPS:
        for event in (Event.CANCEL, Event.EXPIRE, Event.FAIL, Event.APPROVE):
            assert allows(State.PENDING, step, event), f"{event} from {step}"


def test_sca_specific_edges():
    assert [key for key in TRANSITIONS if key[2] is Event.BLOCK] == [(State.PENDING, Step.CODE, Event.BLOCK)]
    assert [key for key in TRANSITIONS if key[2] is Event.FALL_BACK] == [(State.PENDING, Step.PUSH, Event.FALL_BACK)]
    assert [key for key in TRANSITIONS if key[2] is Event.CONFIRM] == [(State.PENDING, Step.CONFIRMATION,
                                                                       Event.CONFIRM)]
    assert not allows(State.PENDING, Step.CONFIRMATION, Event.DENY)  # nothing to deny before the push
    for (_, _, event), (to_state, _) in TRANSITIONS.items():
        expected = {Event.APPROVE: State.APPROVED, Event.DENY: State.DENIED, Event.CANCEL: State.CANCELLED,
                    Event.EXPIRE: State.EXPIRED, Event.BLOCK: State.BLOCKED, Event.FAIL: State.FAILED}
        assert to_state is expected.get(event, State.PENDING)


def test_the_graph_is_acyclic_so_every_payment_ends():
    remaining = {key[:2] for key in TRANSITIONS}
    edges = {(key[:2], target) for key, target in TRANSITIONS.items()}
    while remaining:
        sinks = {node for node in remaining if all(t not in remaining for s, t in edges if s == node)}
        assert sinks, f"cycle among {remaining}"
        remaining -= sinks


# ------------------------------------------------------------------ frozen terms and the fingerprint


@settings(deadline=None)
@given(terms, st.sampled_from(["payment_id", "payer_id", "payee", "amount"]))
def test_terms_are_frozen(t, field):
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(t, field, getattr(t, field))
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.amount.minor = t.amount.minor + 1  # type: ignore[misc]


@settings(deadline=None)
@given(terms, st.data())
def test_fingerprint_changes_when_any_bound_field_changes(t, data):
    field = data.draw(st.sampled_from(["payment_id", "payer_id", "payee", "minor", "currency"]))
    if field == "payment_id":
        changed = dataclasses.replace(t, payment_id=data.draw(st.text(min_size=1).filter(lambda v: v != t.payment_id)))
    elif field == "payer_id":
        changed = dataclasses.replace(t, payer_id=data.draw(st.integers(1, 2**53).filter(lambda v: v != t.payer_id)))
    elif field == "payee":
        changed = dataclasses.replace(t, payee=data.draw(st.text(min_size=1).filter(lambda v: v != t.payee)))
    elif field == "minor":
        minor = data.draw(st.integers(1, 10**12).filter(lambda v: v != t.amount.minor))
        changed = dataclasses.replace(t, amount=dataclasses.replace(t.amount, minor=minor))
    else:
        currency = data.draw(currencies.filter(lambda v: v != t.amount.currency))
        changed = dataclasses.replace(t, amount=dataclasses.replace(t.amount, currency=currency))
    assert fingerprint(changed, KEY) != fingerprint(t, KEY)
    assert not fingerprint_matches(changed, KEY, fingerprint(t, KEY))


@settings(deadline=None)
@given(terms)
def test_fingerprint_is_stable_and_keyed(t):
    assert fingerprint(t, KEY) == fingerprint(dataclasses.replace(t), KEY)
    assert fingerprint_matches(t, KEY, fingerprint(t, KEY))
    assert fingerprint(t, b"another key") != fingerprint(t, KEY)


@settings(deadline=None)
@given(terms, st.text(min_size=1, max_size=40), st.integers(min_value=1, max_value=10**12))
def test_a_payment_whose_amount_or_payee_was_changed_no_longer_matches(t, payee, minor):
    """Payment is a plain record; what stops a changed amount or payee is the fingerprint taken at creation."""
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    payment = Payment(id=t.payment_id, payer_id=t.payer_id, payee=t.payee, amount=t.amount, note=None,
                      channel=Channel.SMS, fingerprint=fingerprint(t, KEY), created_at=now,
                      expires_at=now + timedelta(minutes=20))
    assert payment.terms == t and fingerprint_matches(payment.terms, KEY, payment.fingerprint)
    if payee != t.payee:
        payment.payee = payee
        assert not fingerprint_matches(payment.terms, KEY, payment.fingerprint)
        payment.payee = t.payee
    if minor != t.amount.minor:
        payment.amount = Money(minor, t.amount.currency, t.amount.digits)
        assert not fingerprint_matches(payment.terms, KEY, payment.fingerprint)
