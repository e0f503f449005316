"""A registered person's shared contact never changes their number by a code to the new number."""

from __future__ import annotations

from bot.core.entities import Channel, InboundMessage
from tests.services.conftest import Person

OLD, NEW = "+15005550006", "+447700900123"


def sms_to(world, phone: str) -> list[str]:
    return [m.text for m in sorted(world.store.outbox.values(), key=lambda m: m.id or 0)
            if m.channel is Channel.SMS and m.recipient == phone]


def test_a_new_number_from_the_chat_is_refused_and_the_registered_number_told(world):
    person = Person(world, phone=OLD)
    person.register()
    codes_before = len(world.auth.called("start_phone_verification"))

    person.shares_contact(NEW.lstrip("+"))  # Telegram's "Change Number", then the contact shared again

    user = person.user_record()
    assert (user.phone, user.phone_verified) == (OLD, True)
    assert person.last() == ("Your Payfriend number was not changed to +4*********23: a new number must be "
                             "approved on the phone and app you registered with, which cannot be done in the chat "
                             "yet. Contact Payfriend support to change it.")
    assert person.inbox()[-1].remove_keyboard
    assert sms_to(world, OLD) == ["Payfriend: someone asked in your Telegram chat to move your account to "
                                  "+4*********23. Nothing changed. If this was not you, your Telegram account may be "
                                  "in someone else's hands."]
    assert sms_to(world, NEW) == [] and len(world.auth.called("start_phone_verification")) == codes_before
    assert [(e.action, e.result) for e in world.store.events][-1] == ("phone change", "refused")


def test_the_next_payment_code_still_goes_to_the_registered_number(world):
    person = Person(world, phone=OLD)
    person.register()
    person.shares_contact(NEW.lstrip("+"))
    person.says("send $900 to Draco")
    person.presses(f"confirm:{person.payment().id}")
    world.clock.advance(15)
    world.services.run_fallback(person.payment().id)
    (_, phone, _), = world.auth.called("send_code")
    assert phone == OLD


def test_the_same_number_again_changes_nothing_and_sends_no_code(world):
    person = Person(world, phone=OLD)
    person.register()
    codes_before = len(world.auth.called("start_phone_verification"))
    person.shares_contact()
    assert person.last() == "+1********06 is already your number with Payfriend; nothing changed."
    assert person.user_record().phone_verified and sms_to(world, OLD) == []
    assert len(world.auth.called("start_phone_verification")) == codes_before


def test_a_number_change_while_linking_telegram_is_refused_too(world):
    def sms(text: str, n: int) -> None:
        world.services.handle_inbound(InboundMessage(Channel.SMS, OLD, f"sms:{n}", text=text))

    sms("hi", 1)  # registered by SMS first
    sms(world.auth.phone_code, 2)
    sms("hermione@example.com", 3)
    telegram = Person(world, phone=OLD)
    telegram.says("/start")
    telegram.shares_contact()  # linking Telegram: a code to OLD is on its way
    assert not telegram.user_record().phone_verified

    telegram.shares_contact(NEW.lstrip("+"))  # the account, taken over, now has another number

    user = telegram.user_record()
    assert user.phone == OLD and telegram.last().startswith("Your Payfriend number was not changed")
    assert sms_to(world, NEW) == [] and world.auth.called("start_phone_verification")[-1] == (OLD,)
    telegram.says(world.auth.phone_code)  # the code to OLD still links Telegram
    assert telegram.user_record().phone_verified and telegram.user_record().phone == OLD
