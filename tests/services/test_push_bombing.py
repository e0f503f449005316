"""Push bombing: past a few unanswered pushes in a window, no more pushes; each push carries a match word."""

from __future__ import annotations

from bot.core.payment import MATCH_WORDS, State, match_word
from tests.services.conftest import Person


def unanswered(world, person: Person, amount: int) -> None:
    """A payment whose push gets no answer: cancelled in the chat after the push went out."""
    person.says(f"send ${amount} to Neville")
    person.presses(f"confirm:{person.payment_for(amount).id}")
    assert person.payment_for(amount).push_request_id is not None
    person.says("cancel")
    assert person.payment_for(amount).state is State.CANCELLED


def test_the_fourth_push_within_ten_minutes_is_not_sent_and_a_code_goes_out_instead(world):
    person = Person(world)
    person.register()
    for amount in (1, 2, 3):
        unanswered(world, person, amount)
        world.clock.advance(60)
    pushes = len(world.auth.called("send_push"))

    person.says("send $4 to Neville")
    person.presses(f"confirm:{person.payment_for(4).id}")

    assert len(world.auth.called("send_push")) == pushes
    assert person.last() == ("3 approval requests to your app went unanswered in the last 10 minutes, so instead "
                             "of another one we texted a code to +1********06 for $4.00 to Neville. Type the code "
                             "here to approve.")
    assert world.auth.called("send_code")[-1][2].payment_id == person.payment_for(4).id


def test_pushes_answered_in_the_app_do_not_count(world):
    person = Person(world)
    person.register()
    for amount in (1, 2, 3):
        person.says(f"send ${amount} to Neville")
        person.presses(f"confirm:{person.payment_for(amount).id}")
        request_id = person.payment_for(amount).push_request_id
        assert world.services.record_decision(request_id, "denied", f"cb-{amount}") == "applied"
    person.says("send $4 to Neville")
    person.presses(f"confirm:{person.payment_for(4).id}")
    assert person.payment_for(4).push_request_id is not None


def test_unanswered_pushes_older_than_the_window_do_not_count(world):
    person = Person(world)
    person.register()
    for amount in (1, 2, 3):
        unanswered(world, person, amount)
    world.clock.advance(601)
    person.says("send $4 to Neville")
    person.presses(f"confirm:{person.payment_for(4).id}")
    assert person.payment_for(4).push_request_id is not None


def test_the_match_word_is_keyed_and_spread_over_the_list():
    words = {match_word(b"k" * 32, f"pay_{n}") for n in range(500)}
    assert words <= set(MATCH_WORDS) and len(words) > len(MATCH_WORDS) * 0.9
    assert match_word(b"k" * 32, "pay_1") == match_word(b"k" * 32, "pay_1")
    assert [match_word(b"a" * 32, f"pay_{n}") for n in range(20)] != [match_word(b"b" * 32, f"pay_{n}")
                                                                      for n in range(20)]
