"""Phone verification codes: at most PHONE_CODES_PER_HOUR per person, however often /start is sent."""

from __future__ import annotations

from tests.services.conftest import Person


def test_start_sends_at_most_three_codes_an_hour_then_says_when_the_next_can_come(world):
    person = Person(world)
    person.says("/start")
    person.shares_contact()  # code 1
    person.says("/start")  # code 2
    person.says("/start")  # code 3
    for _ in range(18):
        person.says("/start")
    assert len(world.auth.called("start_phone_verification")) == 3
    assert person.last() == ("We already sent 3 codes this hour: type the last code we sent, or ask again "
                             "after 13:00 UTC.")
    world.clock.advance(3600)
    person.says("/start")
    assert len(world.auth.called("start_phone_verification")) == 4


def test_the_last_code_still_works_past_the_limit(world):
    person = Person(world)
    person.says("/start")
    person.shares_contact()
    for _ in range(5):
        person.says("/start")
    person.says(world.auth.phone_code)
    assert person.last() == "Your phone is verified. What is your email address?"
