"""docs/registration-states.md draws exactly the table of bot/core/registration.py; the guard obeys it."""

from __future__ import annotations

import pytest

from bot.core.entities import Registration
from bot.core.registration import (START_STATES, TRANSITIONS, IllegalRegistrationTransition, RegistrationEvent,
                                   advance, allows, check_start, phone_verified)
from tests.unit.mermaid import diagram_edges, table_diagram_problems

Drawn = tuple[Registration, RegistrationEvent, Registration]


def _edges() -> list[tuple[str, str, str | None]]:
    return diagram_edges("registration-states.md")


def _drawn_transitions() -> list[Drawn]:
    drawn = []
    for source, target, label in _edges():
        if "[*]" in (source, target):
            continue
        assert label is not None, f"edge {source} --> {target} has no event"
        drawn.append((Registration(source), RegistrationEvent(label), Registration(target)))
    return drawn


def _table() -> list[Drawn]:
    return [(current, event, target) for (current, event), target in TRANSITIONS.items()]


def test_the_diagram_draws_every_transition_once_and_nothing_else():
    problems = table_diagram_problems(_table(), _drawn_transitions())
    assert not problems, "\n".join(problems)


def test_start_states_are_drawn_and_nothing_is_final():
    edges = _edges()
    starts = [Registration(target) for source, target, _ in edges if source == "[*]"]
    assert sorted(starts) == sorted(START_STATES) and len(starts) == len(set(starts))
    assert not [source for source, target, _ in edges if target == "[*]"]


def test_every_state_is_reachable_from_a_start_and_can_reach_ready():
    reached, frontier = set(START_STATES), list(START_STATES)
    while frontier:
        current = frontier.pop()
        for (source, _), target in TRANSITIONS.items():
            if source is current and target not in reached:
                reached.add(target)
                frontier.append(target)
    assert reached == set(Registration)
    assert all(_can_reach_ready(state) for state in Registration)


def _can_reach_ready(state: Registration, seen: frozenset[Registration] = frozenset()) -> bool:
    if state is Registration.READY:
        return True
    return any(_can_reach_ready(target, seen | {state})
               for (source, _), target in TRANSITIONS.items() if source is state and target not in seen)


# ------------------------------------------------------------------ the guard


@pytest.mark.parametrize("current", list(Registration))
@pytest.mark.parametrize("event", list(RegistrationEvent))
def test_advance_follows_the_table_and_refuses_the_rest(current, event):
    if (current, event) in TRANSITIONS:
        assert allows(current, event) and advance(current, event) is TRANSITIONS[(current, event)]
    else:
        assert not allows(current, event)
        with pytest.raises(IllegalRegistrationTransition, match=f"{event.value} is not allowed from"):
            advance(current, event)


@pytest.mark.parametrize("registration", list(Registration))
def test_check_start(registration):
    if registration in START_STATES:
        assert check_start(registration) is registration
    else:
        with pytest.raises(IllegalRegistrationTransition):
            check_start(registration)


def test_a_right_phone_code_returns_a_registered_person_to_ready():
    assert advance(Registration.PHONE_CODE, phone_verified(True)) is Registration.READY
    assert advance(Registration.PHONE_CODE, phone_verified(False)) is Registration.EMAIL


def test_registration_skips_no_step():
    assert not allows(Registration.CONTACT, RegistrationEvent.VERIFY_PHONE)
    assert not allows(Registration.PHONE_CODE, RegistrationEvent.REGISTER)
    assert not allows(Registration.READY, RegistrationEvent.REGISTER)
    assert not allows(Registration.EMAIL, RegistrationEvent.VERIFY_PHONE)
