"""Telegram shows "typing…" while a job makes the outside call that a person's answer waits for."""

from __future__ import annotations

from bot.core.entities import Channel, InboundMessage
from bot.ports import DeliveryError
from tests.services.conftest import Person


class Typing:
    """Records the chats asked to show typing if a call is slow, and whether each ask was withdrawn."""

    def __init__(self) -> None:
        self.chats: list[int] = []
        self.delays: list[float] = []
        self.open = 0  # asks not withdrawn yet
        self.fail = False

    def typing_after(self, chat_id: int, delay: float):
        if self.fail:
            raise DeliveryError("flood control", retry_after=3)
        self.chats.append(chat_id)
        self.delays.append(delay)
        self.open += 1

        def stop() -> None:
            self.open -= 1
        return stop


def test_registration_steps_and_a_confirmed_payment_show_typing_in_the_persons_chat(world):
    world.services.typing = typing = Typing()
    person = Person(world)
    person.register()  # phone code sent, phone code checked, registered with the authenticator
    assert typing.chats == [person.user_id] * 3
    person.says("send $20 to Neville")
    person.presses(f"confirm:{person.payment().id}")
    assert typing.chats == [person.user_id] * 4 and person.last().startswith("Approve $20.00 to Neville")
    assert typing.open == 0 and set(typing.delays) == {0.3}  # each withdrawn once its call answered


def test_a_payment_by_sms_shows_no_typing(world):
    world.services.typing = typing = Typing()
    person = Person(world)
    person.register()
    typing.chats.clear()
    world.services.handle_inbound(InboundMessage(Channel.SMS, person.phone, "sms:1", text="send $20 to Neville"))
    world.services.handle_inbound(InboundMessage(Channel.SMS, person.phone, "sms:2", text="yes"))
    assert world.auth.called("send_push") and typing.chats == []


def test_a_failing_typing_indicator_never_holds_the_answer_back(world):
    world.services.typing = typing = Typing()
    typing.fail = True
    person = Person(world)
    person.register()
    assert person.last().startswith("You're all set.")


def test_a_failing_call_withdraws_its_typing_too(world):
    world.services.typing = typing = Typing()
    person = Person(world)
    person.register()
    person.says("send $20 to Neville")
    world.auth.down = True
    person.presses(f"confirm:{person.payment().id}")
    assert typing.open == 0 and "couldn't reach" in person.last()
