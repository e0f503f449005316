"""docs/payment-states.md draws exactly the transition table of bot/core/payment.py."""

from __future__ import annotations

from bot.core.payment import FINAL_STATES, TRANSITIONS, Event, State, Step
from tests.unit.mermaid import diagram_edges, table_diagram_problems


def _node(name: str) -> tuple[State, Step]:
    if name.startswith("pending_"):
        return State.PENDING, Step(name.removeprefix("pending_"))
    return State(name), Step.DONE


def _edges() -> list[tuple[str, str, str | None]]:
    return diagram_edges("payment-states.md")


def _drawn_transitions() -> list[tuple[State, Step, Event, State, Step]]:
    drawn = []
    for source, target, label in _edges():
        if "[*]" in (source, target):
            continue
        assert label is not None, f"edge {source} --> {target} has no event"
        drawn.append((*_node(source), Event(label), *_node(target)))
    return drawn


def _table() -> list[tuple[State, Step, Event, State, Step]]:
    return [(state, step, event, *target) for (state, step, event), target in TRANSITIONS.items()]


def test_the_diagram_draws_every_transition_once_and_nothing_else():
    problems = table_diagram_problems(_table(), _drawn_transitions())
    assert not problems, "\n".join(problems)


def test_start_and_final_states():
    edges = _edges()
    assert [target for source, target, _ in edges if source == "[*]"] == ["pending_confirmation"]
    assert {_node(source)[0] for source, target, _ in edges if target == "[*]"} == set(FINAL_STATES)
