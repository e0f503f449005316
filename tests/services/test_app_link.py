"""The link that sets up the authenticator app: handed out on registration and on 'app', redeemed once."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from bot.core.entities import SECRET_BLANKED, Channel
from bot.ports import AuthenticatorUnavailable
from bot.services.app_link import LINK_MINUTES, link_hash
from tests.services.conftest import Person

BASE = "https://pay.example.org"
LINK = re.compile(re.escape(BASE) + r"/app/enrol#([A-Za-z0-9_-]+)")


@pytest.fixture
def linked_world(world):
    """The services with a public address, so links can be built."""
    world.services.public_url = lambda: BASE
    return world


def token_in(text: str) -> str:
    found = LINK.search(text)
    assert found, text
    return found.group(1)


def test_registration_ends_with_a_one_time_link_stored_only_as_a_hash_and_blanked_once_sent(linked_world):
    person = Person(linked_world)
    person.register()
    all_set, link = person.inbox()[-2:]
    assert all_set.text.startswith("You're all set. Payments are approved in your Authy app.")
    assert link.text.startswith("Set up approvals: open this link on your phone to link the Payfriend app")
    assert f"for {LINK_MINUTES} minutes" in link.text and link.secret and not all_set.secret
    token = token_in(link.text)
    user = person.user_record()
    assert user.app_link_hash == link_hash(token) and token not in user.app_link_hash
    assert user.app_link_expires_at == linked_world.clock.now() + timedelta(minutes=LINK_MINUTES)
    while linked_world.services.deliver_outbox({Channel.TELEGRAM: linked_world.telegram}):
        pass
    assert link.text in [m.text for m in linked_world.telegram.sent]  # the person got the link ...
    assert linked_world.store.outbox[link.id].text == SECRET_BLANKED  # ... and the database keeps none of it


def test_the_app_gets_its_enrolment_token_once(linked_world):
    person = Person(linked_world)
    person.register()
    token = token_in(person.last())
    access = linked_world.services.redeem_app_link(token)
    assert access is not None and access.identity == person.user_record().authenticator_id
    assert linked_world.auth.called("app_access") == [(access.identity,)]
    assert linked_world.services.redeem_app_link(token) is None
    assert person.user_record().app_link_hash is None


@pytest.mark.parametrize("token", ["", "short", "x" * 43 + "!", "y" * 43])
def test_a_malformed_or_unknown_link_gets_nothing(linked_world, token):
    person = Person(linked_world)
    person.register()
    assert linked_world.services.redeem_app_link(token) is None
    assert linked_world.auth.called("app_access") == []


def test_an_expired_link_gets_nothing(linked_world):
    person = Person(linked_world)
    person.register()
    token = token_in(person.last())
    linked_world.clock.advance(LINK_MINUTES * 60)
    assert linked_world.services.redeem_app_link(token) is None


def test_a_vendor_failure_leaves_the_link_usable(linked_world):
    person = Person(linked_world)
    person.register()
    token = token_in(person.last())
    linked_world.auth.down = True
    with pytest.raises(AuthenticatorUnavailable):
        linked_world.services.redeem_app_link(token)
    linked_world.auth.down = False
    assert linked_world.services.redeem_app_link(token) is not None


def test_app_sends_a_new_link_that_replaces_the_old_one_while_no_app_is_set_up(linked_world):
    person = Person(linked_world)
    person.register()
    old = token_in(person.last())
    linked_world.auth.without_app.add(person.user_record().authenticator_id)
    person.says("app")
    assert person.last().startswith("Set up approvals: open this link on your phone")
    new = token_in(person.last())
    assert new != old
    assert linked_world.services.redeem_app_link(old) is None
    assert linked_world.services.redeem_app_link(new) is not None


def test_app_sends_no_link_once_an_app_is_set_up(linked_world):
    person = Person(linked_world)
    person.register()
    hash_before = person.user_record().app_link_hash
    person.says("/app")
    assert person.last() == ("Your Authy app is already set up, and payments are approved there. "
                             "To move it to a new phone, contact Payfriend support.")
    assert person.user_record().app_link_hash == hash_before


def test_app_where_the_authenticator_app_signs_in_by_phone(linked_world, monkeypatch):
    person = Person(linked_world)
    person.register()
    monkeypatch.setattr(linked_world.auth, "enrols_app", False)
    person.says("app")
    assert person.last() == ("Payments are approved in the Authy app: install it and sign in with the phone "
                             "number you gave us.")


def test_app_before_registration_asks_to_finish_it(linked_world):
    person = Person(linked_world)
    person.says("/start")
    person.says("app")
    assert "Share my phone number" in person.last() and "/app/enrol" not in person.last()


def test_without_a_public_address_registration_says_all_set_without_a_link(world):
    person = Person(world)
    person.register()
    assert person.last().startswith("You're all set. Payments are approved in your Authy app.")
    assert person.user_record().app_link_hash is None


def test_a_payment_without_an_app_says_so_and_texts_a_code(linked_world):
    person = Person(linked_world)
    person.register()
    linked_world.auth.without_app.add(person.user_record().authenticator_id)
    person.says("send $20 to Neville")
    person.presses(f"confirm:{person.payment().id}")
    assert person.last() == ("You have no authenticator app set up yet, so we texted a code to +1********06 "
                             "for $20.00 to Neville. Type the code here to approve. "
                             "Send 'app' for a link that sets it up.")
    assert linked_world.auth.called("send_code")



def test_a_locked_persons_link_gets_nothing(linked_world):
    person = Person(linked_world)
    person.register()
    token = token_in(person.inbox()[-1].text)
    with linked_world.services.uow() as uow:
        user = uow.users.get_for_update(person.user_record().id)
        user.locked_until = linked_world.clock.now() + timedelta(hours=1)
        uow.users.save(user)
        uow.commit()
    assert linked_world.services.redeem_app_link(token) is None
    assert linked_world.auth.called("app_access") == []
