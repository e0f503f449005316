"""A push decision counts only for the identity and payment its push was created for."""

from __future__ import annotations

import pytest

from bot.core.payment import State, Step
from bot.ports import PushBinding
from tests.services.conftest import Person


def pushed(world, user_id: int, phone: str) -> Person:
    """A registered person whose $20 payment waits for its push."""
    person = Person(world, user_id=user_id, phone=phone)
    person.register()
    person.says("send $20 to Neville")
    person.presses(f"confirm:{person.payment().id}")
    assert person.payment().push_request_id is not None
    return person


@pytest.fixture
def two(world) -> tuple[Person, Person]:
    return pushed(world, 111, "+15005550006"), pushed(world, 222, "+15005550007")


def claims(world, person: Person, **changes: str) -> PushBinding:
    """The binding of the person's push, with some of it replaced."""
    true = world.auth.bindings[person.payment().push_request_id]
    return PushBinding(changes.get("authenticator_id", true.authenticator_id),
                       changes.get("payment_id", true.payment_id))


@pytest.mark.parametrize("change", ["authenticator_id", "payment_id", "both"])
def test_a_decision_claiming_another_persons_push_changes_nothing(world, two, change):
    hermione, ron = two
    other = world.auth.bindings[ron.payment().push_request_id]
    swapped = {"authenticator_id": other.authenticator_id, "payment_id": other.payment_id}
    claimed = claims(world, hermione, **(swapped if change == "both" else {change: swapped[change]}))
    before = len(hermione.inbox())

    outcome = world.services.record_decision(hermione.payment().push_request_id, "approved", "cb-1", claimed)

    assert outcome == "mismatch"
    assert [(e.factor, e.result) for e in world.store.events if e.action == f"payment {hermione.payment().id}"] == [
        ("push", "refused")]
    assert [(p.payment().state, p.payment().step) for p in two] == [(State.PENDING, Step.PUSH)] * 2
    assert len(hermione.inbox()) == before
    assert world.services.record_decision(hermione.payment().push_request_id, "approved", "cb-1",
                                          claims(world, hermione)) == "applied"  # no receipt was taken


def test_a_fetched_decision_bound_elsewhere_is_refused(world, two):
    hermione, ron = two
    request_id = hermione.payment().push_request_id
    world.auth.statuses[request_id] = "approved"
    world.auth.bindings[request_id] = world.auth.bindings[ron.payment().push_request_id]

    assert world.services.accept_push_event(request_id, "ev-1") == "accepted"  # the job fetches and refuses

    assert hermione.payment().state is State.PENDING and ron.payment().state is State.PENDING
    assert world.auth.called("read_push") == [(request_id,)]


def test_a_fetched_decision_bound_to_its_own_push_applies(world, two):
    hermione, _ = two
    request_id = hermione.payment().push_request_id
    world.auth.statuses[request_id] = "approved"
    world.services.accept_push_event(request_id, "ev-1")
    assert hermione.payment().state is State.APPROVED


def test_a_fetched_decision_whose_vendor_reports_no_payment_id_is_bound_by_identity(world, two):
    hermione, ron = two
    request_id = hermione.payment().push_request_id
    world.auth.statuses[request_id] = "approved"
    own = world.auth.bindings[request_id]
    world.auth.bindings[request_id] = PushBinding(own.authenticator_id, None)  # as Authy's status answer reads
    world.services.accept_push_event(request_id, "ev-1")
    assert hermione.payment().state is State.APPROVED

    other_request = ron.payment().push_request_id
    world.auth.statuses[other_request] = "approved"
    world.auth.bindings[other_request] = PushBinding(own.authenticator_id, None)  # Hermione's identity
    world.services.accept_push_event(other_request, "ev-2")
    assert ron.payment().state is State.PENDING
