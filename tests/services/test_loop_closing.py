"""Closing the loop: late taps answered once, pressed questions settled to their outcome, keyboards that go."""

from __future__ import annotations

import math

from bot.core import replies
from bot.core.payment import State
from tests.services.conftest import Person


class RecordingSettler:
    """Keeps every button settlement it was asked for."""

    def __init__(self) -> None:
        self.settled: list[tuple[str, int, int | None, str | None]] = []

    def settle_button(self, callback_id: str, chat_id: int, message_id: int | None,
                      text: str | None = None) -> None:
        self.settled.append((callback_id, chat_id, message_id, text))


def presses(world, person: Person, data: str) -> None:
    """Press an inline button as Telegram reports it: with a callback id and the pressed message's id."""
    world.services.handle_inbound(person._msg(button=data, callback_id=f"cb-{data}", message_id=7))


def ready(world) -> Person:
    person = Person(world)
    person.register()
    return person


def approved_by_code(world) -> Person:
    person = ready(world)
    person.says("send $20 to Neville")
    person.presses(f"confirm:{person.payment().id}")
    world.clock.advance(15)
    world.services.run_fallback(person.payment().id)
    person.says(world.auth.payment_code)
    assert person.payment().state is State.APPROVED
    return person


# ---------------------------------------------------------------- the push and late taps

def test_the_push_expires_with_the_payment(world):
    person = ready(world)
    person.says("send $20 to Neville")
    world.clock.advance(0.4)
    person.presses(f"confirm:{person.payment().id}")
    (_, request), = world.auth.called("send_push")
    left = (person.payment().expires_at - world.clock.now()).total_seconds()
    assert request.expires_in_seconds == math.ceil(left) == 1200  # rounded up: never before the payment


def test_a_late_tap_after_the_code_is_answered_once(world):
    person = approved_by_code(world)
    request_id = person.payment().push_request_id
    before = len(person.inbox())

    assert world.services.record_decision(request_id, "denied", "tap-1") == "ignored"
    assert world.services.record_decision(request_id, "denied", "tap-1") == "duplicate"

    assert [m.text for m in person.inbox()[before:]] == [replies.late_tap(State.APPROVED)]
    assert person.payment().state is State.APPROVED and person.payment().decided_by == "code"


def test_a_late_tap_after_a_cancel_says_it_was_cancelled(world):
    person = ready(world)
    person.says("send $20 to Neville")
    person.presses(f"confirm:{person.payment().id}")
    person.says("/cancel")
    assert world.services.record_decision(person.payment().push_request_id, "approved", "tap") == "ignored"
    assert person.last() == replies.late_tap(State.CANCELLED)
    assert person.payment().state is State.CANCELLED


def test_a_second_report_of_the_deciding_tap_says_nothing(world):
    person = ready(world)
    person.says("send $20 to Neville")
    person.presses(f"confirm:{person.payment().id}")
    request_id = person.payment().push_request_id
    assert world.services.record_decision(request_id, "approved", "poll:x") == "applied"
    before = len(person.inbox())
    assert world.services.record_decision(request_id, "approved", "callback:x") == "ignored"
    assert len(person.inbox()) == before  # the push ended it: that tap was not late


def test_a_verify_event_on_an_ended_payment_is_answered_without_asking_verify(world):
    person = approved_by_code(world)
    request_id = person.payment().push_request_id
    before = len(person.inbox())

    assert world.services.accept_push_event(request_id, "ev-1") == "ignored"
    assert world.services.accept_push_event(request_id, "ev-1") == "duplicate"

    assert [m.text for m in person.inbox()[before:]] == [replies.late_tap(State.APPROVED)]
    assert world.auth.called("push_status") == []


def test_the_expiry_poll_is_no_tap(world):
    person = ready(world)
    person.says("send $20 to Neville")
    person.presses(f"confirm:{person.payment().id}")
    payment = person.payment()
    world.clock.advance(1200)
    assert world.services.run_expiry(payment.id) is True  # the expire job is written (and run inline)
    assert person.payment().state is State.EXPIRED
    world.auth.statuses[payment.push_request_id] = "denied"  # a tap after the expiry
    assert world.services.record_decision(payment.push_request_id, "denied", "tap") == "ignored"
    assert person.last() == replies.late_tap(State.EXPIRED)


# ---------------------------------------------------------------- pressed questions settle to their outcome

def test_confirm_and_cancel_settle_the_question_to_what_they_did(world):
    settler = world.services.settler = RecordingSettler()
    person = ready(world)
    person.says("send $20 to Neville")
    presses(world, person, f"confirm:{person.payment().id}")
    assert settler.settled[-1] == ("cb-confirm:pay_1", 111, 7, "✓ Confirmed: waiting for your approval")
    assert settler.settled[-1][3] == replies.pressed(State.PENDING) == "✓ Confirmed: waiting for your approval"
    person.says("/cancel")
    person.says("send $5 to Ana")
    assert world.store.payments["pay_2"].state is State.PENDING
    presses(world, person, "cancel:pay_2")
    assert world.store.payments["pay_2"].state is State.CANCELLED
    assert settler.settled[-1][3] == replies.pressed(State.CANCELLED) == "✗ Cancelled"


def test_a_press_that_does_nothing_only_clears_the_buttons(world):
    settler = world.services.settler = RecordingSettler()
    person = ready(world)
    presses(world, person, "confirm:pay_unknown")
    assert settler.settled[-1][3] is None


# ---------------------------------------------------------------- the share-contact keyboard

def test_the_answer_to_a_shared_contact_takes_the_keyboard_away(world):
    person = Person(world)
    person.says("/start")
    assert person.inbox()[-1].request_contact
    person.shares_contact()
    assert person.inbox()[-1].remove_keyboard


def test_a_registered_person_is_never_offered_the_keyboard(world):
    person = ready(world)
    person.shares_contact(owner=999)  # someone else's contact: refused, without the keyboard
    assert not person.inbox()[-1].request_contact
    assert person.user_record().phone_verified
