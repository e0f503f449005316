"""One failure counter per person: failures over payments and phone codes add up; the 5th in a row locks."""

from __future__ import annotations

from bot.core.payment import State
from bot.jobs import drain
from bot.services.lockout import fail
from tests.services.conftest import Person

WRONG = "999999"
LOCKED_PREFIX = "Your account is locked after 5 failed attempts in a row, until "


def at_code_step(world, person: Person, dollars: int) -> None:
    """A new payment of `dollars` whose push went unanswered: it waits for its SMS code."""
    person.says(f"send ${dollars} to Neville")
    person.presses(f"confirm:{person.payment_for(dollars).id}")
    world.clock.advance(15)
    assert world.services.run_fallback(person.payment_for(dollars).id)


def registered_after_a_wrong_phone_code(world) -> Person:
    person = Person(world)
    person.says("/start")
    person.shares_contact()
    person.says("000000")  # failure 1: a wrong phone code
    assert person.last().startswith("That code is not right. 4 attempts left.")
    person.says(world.auth.phone_code)
    person.says("hermione@example.com")
    assert person.user_record().failed_attempts == 1  # a phone code proves the number, not the person
    return person


def test_five_failures_over_three_payments_and_a_phone_code_lock_the_person(world):
    person = registered_after_a_wrong_phone_code(world)
    at_code_step(world, person, 1)
    person.says(WRONG)  # failure 2
    assert person.last() == "That code is not right. 3 attempts left."
    person.says("cancel")
    at_code_step(world, person, 2)
    person.says(WRONG)  # failure 3
    person.says(WRONG)  # failure 4: the warning
    assert person.last() == "That code is not right. One more failed attempt locks your account for 24 hours."
    person.says("cancel")
    at_code_step(world, person, 3)

    person.says(WRONG)  # failure 5: the lock

    assert person.payment_for(3).state is State.BLOCKED
    assert person.last().startswith("That code is not right. That was 5 failed attempts in a row, so your account "
                                    "is locked for 24 hours")
    person.says("send $4 to Neville")
    assert person.last().startswith(LOCKED_PREFIX) and not any(p.amount.minor == 400
                                                               for p in world.store.payments.values())
    person.says(world.auth.payment_code)
    assert person.last().startswith(LOCKED_PREFIX)
    person.says("status")  # what needs no authentication still answers
    assert not person.last().startswith(LOCKED_PREFIX)


def test_a_lock_runs_out_and_the_next_failure_locks_again_at_once(world):
    person = Person(world)
    person.register()
    at_code_step(world, person, 1)
    for _ in range(5):
        person.says(WRONG)
    world.clock.advance(24 * 3600)
    at_code_step(world, person, 2)
    person.says(WRONG)
    assert person.last().startswith("That code is not right. That was 5 failed attempts in a row")
    assert person.payment_for(2).state is State.BLOCKED


def test_a_lock_stops_a_payment_still_waiting_for_its_push(world):
    person = Person(world)
    person.register()
    at_code_step(world, person, 1)
    for _ in range(4):
        person.says(WRONG)
    person.says("cancel")
    person.says("send $2 to Neville")
    person.presses(f"confirm:{person.payment_for(2).id}")  # its push is out; failure 5 comes by another way
    with world.services.uow() as uow:
        fail(world.services, uow, person.user_record().id, "payment elsewhere", "sms_code")
        uow.commit()
    assert person.payment_for(2).state is State.CANCELLED


def test_a_right_code_or_a_decision_in_the_app_starts_the_count_again(world):
    person = Person(world)
    person.register()
    at_code_step(world, person, 1)
    for _ in range(3):
        person.says(WRONG)
    person.says(world.auth.payment_code)
    assert person.payment_for(1).state is State.APPROVED and person.user_record().failed_attempts == 0
    at_code_step(world, person, 2)
    person.says(WRONG)
    assert person.user_record().failed_attempts == 1
    person.says("send $3 to Neville")  # refused while $2 waits; so end it by a denial in the app
    world.services.record_decision(person.payment_for(2).push_request_id, "denied", "cb-deny")
    assert person.user_record().failed_attempts == 0


def test_every_decision_and_failure_lands_in_the_audit_trail(world):
    person = registered_after_a_wrong_phone_code(world)
    at_code_step(world, person, 1)
    person.says(WRONG)
    person.says(world.auth.payment_code)
    person.says("send $2 to Neville")
    person.presses(f"confirm:{person.payment_for(2).id}")
    world.services.record_decision(person.payment_for(2).push_request_id, "denied", "cb-deny")
    trail = [(e.action, e.factor, e.result) for e in world.store.events if e.user_id == person.user_record().id]
    first, second = person.payment_for(1).id, person.payment_for(2).id
    assert trail == [("phone check", "phone_code", "failed"), ("phone check", "phone_code", "passed"),
                     (f"payment {first}", "sms_code", "failed"), (f"payment {first}", "sms_code", "approved"),
                     (f"payment {second}", "push", "denied")]


def test_phone_code_checks_queued_before_a_lock_stop_at_it(world):
    person = Person(world)
    person.says("/start")
    person.shares_contact()
    world.services.wake = lambda: None  # the checks queue up, as when people type faster than the worker
    for n in range(7):
        person.says(f"00000{n}")
    person.says(world.auth.phone_code)
    drain(world.services)
    assert len(world.auth.called("check_phone_verification")) == 5  # the 6th and later are never asked
    assert not person.user_record().phone_verified
    assert person.last().startswith(LOCKED_PREFIX)
