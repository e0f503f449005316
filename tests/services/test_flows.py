"""The use cases, driven as a person would, against recording fakes of every port."""

from __future__ import annotations

from bot.core.entities import Channel, InboundMessage, Registration
from bot.core.payment import State, Step, match_word
from bot.jobs import drain
from bot.ports import DeliveryError
from tests.services.conftest import Person


def ready_person(world, **kw) -> Person:
    person = Person(world, **kw)
    person.register()
    return person


def confirmed(world, text="send $20 to Neville") -> Person:
    person = ready_person(world)
    person.says(text)
    pid = person.payment().id
    person.presses(f"confirm:{pid}")
    return person


# ---------------------------------------------------------------- registration

def test_a_stranger_is_asked_to_share_their_number(world):
    person = Person(world)
    person.says("send $20 to Neville")
    assert "Share my phone number" in person.last()
    assert person.inbox()[-1].request_contact
    assert world.store.payments == {}


def test_registration_runs_contact_code_email_then_ready(world):
    person = Person(world)
    person.says("/start")
    person.shares_contact()
    assert world.auth.called("start_phone_verification") == [("+15005550006",)]
    assert "sent a code" in person.last()
    person.says("000000")
    assert "not right" in person.last()
    person.says(world.auth.phone_code)
    assert "email" in person.last()
    person.says("not an email")
    assert "doesn't look like an email" in person.last()
    person.says("hermione@example.com")
    assert "all set" in person.last()
    user = person.user_record()
    assert user.registration is Registration.READY and user.phone_verified
    assert world.auth.called("register") == [("hermione@example.com", "+15005550006")]


def test_someone_elses_contact_is_refused(world):
    person = Person(world)
    person.says("/start")
    person.shares_contact(owner=999)
    assert "your own phone number" in person.last()
    assert world.auth.called("start_phone_verification") == []


def test_registration_tells_the_person_when_the_service_is_down(world):
    person = Person(world)
    person.says("/start")
    world.auth.down = True
    person.shares_contact()
    assert "couldn't reach" in person.last()


# ---------------------------------------------------------------- payment and push

def test_send_asks_for_confirmation_rendered_from_the_frozen_payment(world):
    person = ready_person(world)
    person.says("send $20 to Neville for lunch")
    payment = person.payment()
    assert (payment.amount.minor, payment.amount.currency, payment.payee, payment.note) == (2000, "USD", "Neville",
                                                                                          "lunch")
    assert payment.state is State.PENDING and payment.step is Step.CONFIRMATION
    last = person.inbox()[-1]
    assert last.text.startswith("Send $20.00 to Neville")
    assert [b.text for b in last.buttons[0]] == ["Confirm", "Cancel"]


def test_confirm_sends_a_push_with_payee_amount_and_hidden_payment_id(world):
    person = confirmed(world)
    payment = person.payment()
    (auth_id, request), = world.auth.called("send_push")
    word = match_word(b"k" * 32, payment.id)
    assert request.details == {"Sending to": "Neville", "Amount": "$20.00", "Match word": word}
    assert request.hidden["payment_id"] == payment.id
    assert payment.step is Step.PUSH and payment.push_request_id
    assert payment.fallback_at == world.clock.now().replace() + __import__("datetime").timedelta(seconds=15)
    assert person.last().startswith(
        f"Approve $20.00 to Neville in your Authy app. It shows the word \u201c{word}\u201d.")
    assert ("fallback", payment.id, payment.fallback_at) in world.timers.scheduled


def test_approve_then_late_deny_keeps_the_first_decision(world):
    person = confirmed(world)
    request_id = person.payment().push_request_id
    assert world.services.record_decision(request_id, "approved", "cb-1") == "applied"
    assert person.payment().state is State.APPROVED
    assert person.last() == "Sent: $20.00 to Neville \u2713"
    assert world.services.record_decision(request_id, "denied", "cb-2") == "ignored"
    assert person.payment().state is State.APPROVED


def test_a_decision_that_arrives_before_its_push_id_is_stored_is_applied_once_it_is(world):
    person = ready_person(world)
    person.says("send $20 to Neville")
    next_request = f"req-{int(world.auth.register('x@example.com', '+1').split('-')[1]) + 1}"  # the fake's next id
    assert world.services.record_decision(next_request, "approved", "cb-early") == "unknown"  # a fast tap
    person.presses(f"confirm:{person.payment().id}")
    assert person.payment().push_request_id == next_request and person.payment().state is State.PENDING
    world.auth.statuses[next_request] = "approved"
    world.clock.advance(1)
    drain(world.services)
    assert person.payment().state is State.APPROVED
    assert person.last() == "Sent: $20.00 to Neville \u2713"


def test_duplicate_callback_has_no_second_effect(world):
    person = confirmed(world)
    request_id = person.payment().push_request_id
    world.services.record_decision(request_id, "denied", "cb-1")
    before = len(person.inbox())
    assert world.services.record_decision(request_id, "denied", "cb-1") == "duplicate"
    assert len(person.inbox()) == before
    assert person.payment().state is State.DENIED


def test_duplicate_update_has_no_second_effect(world):
    person = ready_person(world)
    msg = InboundMessage(Channel.TELEGRAM, str(person.user_id), "tg:dup", text="send $5 to Ana",
                         chat_id=person.user_id)
    world.services.handle_inbound(msg)
    world.services.handle_inbound(msg)
    assert len(world.store.payments) == 1


# ---------------------------------------------------------------- fallback and codes

def test_fallback_texts_a_code_bound_to_the_payment(world):
    person = confirmed(world)
    payment = person.payment()
    assert world.services.run_fallback(payment.id) is False  # not due yet
    world.clock.advance(15)
    assert world.services.run_fallback(payment.id) is True
    assert world.services.run_fallback(payment.id) is False  # claimed once
    (_, phone, binding), = world.auth.called("send_code")
    assert (binding.payment_id, binding.payee, binding.amount_text) == (payment.id, "Neville", "$20.00")
    assert phone == "+15005550006"
    assert person.payment().step is Step.CODE
    person.says(world.auth.payment_code)
    assert person.payment().state is State.APPROVED and person.payment().decided_by == "code"


def test_push_after_an_accepted_code_changes_nothing(world):
    person = confirmed(world)
    world.clock.advance(15)
    world.services.run_fallback(person.payment().id)
    person.says(world.auth.payment_code)
    assert world.services.record_decision(person.payment().push_request_id, "denied", "late") == "ignored"
    assert person.payment().state is State.APPROVED


def test_five_wrong_codes_block_the_payment(world):
    person = confirmed(world)
    world.clock.advance(15)
    world.services.run_fallback(person.payment().id)
    for left in (4, 3, 2):
        person.says("999999")
        assert person.last() == f"That code is not right. {left} attempts left."
    person.says("999999")
    assert person.last() == "That code is not right. One more failed attempt locks your account for 24 hours."
    person.says("999999")
    assert person.payment().state is State.BLOCKED
    assert [m.text for m in person.inbox()[-2:]] == [
        "Not sent: $20.00 to Neville was blocked after 5 failed attempts in a row.",
        "That code is not right. That was 5 failed attempts in a row, so your account is locked for 24 hours: "
        "new payments and codes are refused until then."]
    person.says(world.auth.payment_code)  # the sixth, even right, approves nothing
    assert person.payment().state is State.BLOCKED


def test_push_failure_goes_straight_to_the_code(world):
    person = ready_person(world)
    person.says("send $20 to Neville")
    world.auth.down = True
    person.presses(f"confirm:{person.payment().id}")
    # both the push and the code failed: the payment ends cleanly
    assert person.payment().state is State.FAILED
    assert "couldn't reach" in person.last()


# ---------------------------------------------------------------- expiry, cancel, listing, isolation

def test_expiry_polls_once_and_counts_a_lost_approval(world):
    person = confirmed(world)
    payment = person.payment()
    world.auth.statuses[payment.push_request_id] = "approved"
    world.clock.advance(1200)
    assert world.services.run_expiry(payment.id) is True
    assert world.auth.called("push_status") == [(payment.push_request_id,)]
    assert person.payment().state is State.APPROVED


def test_expiry_without_a_decision(world):
    person = confirmed(world)
    world.clock.advance(1200)
    world.services.sweep()
    assert person.payment().state is State.EXPIRED
    assert person.last() == "Not sent: $20.00 to Neville was not approved in time."


def test_cancel_and_status_show_only_my_payments(world):
    me = ready_person(world)
    other = Person(world, user_id=222, phone="+15005550007")
    other.register()
    other.says("send $7 to Bo")
    me.says("send $20 to Neville")
    me.presses(f"cancel:{other.payment().id}")  # not mine: no effect
    assert other.payment().state is State.PENDING
    me.says("cancel")
    assert me.payment().state is State.CANCELLED
    me.says("status")
    assert "Neville: cancelled" in me.last() and "Bo" not in me.last()


def test_one_open_payment_at_a_time(world):
    person = ready_person(world)
    person.says("send $20 to Neville")
    person.says("send $30 to Ana")
    assert "already have a payment" in person.last()
    assert len(world.store.payments) == 1


def test_bad_input_gets_a_reply_with_an_example(world):
    person = ready_person(world)
    person.says("send $0 to Neville")
    assert "more than zero" in person.last() and "Try: send $20 to Neville" in person.last()


# ---------------------------------------------------------------- outbox

def test_outbox_delivers_once_and_retries_after_flood_control(world):
    person = Person(world)
    person.says("hi")
    telegram = world.telegram
    telegram.error = DeliveryError("flood", retry_after=3)
    assert world.services.deliver_outbox({Channel.TELEGRAM: telegram}) == 0
    telegram.error = None
    assert world.services.deliver_outbox({Channel.TELEGRAM: telegram}) == 0  # not due for 3 s
    world.clock.advance(3)
    assert world.services.deliver_outbox({Channel.TELEGRAM: telegram}) == 1
    assert world.services.deliver_outbox({Channel.TELEGRAM: telegram}) == 0
    assert len(telegram.sent) == 1


def test_blocked_bot_is_marked_and_the_person_told_by_sms(world):
    person = ready_person(world)
    person.says("status")
    world.services.deliver_outbox({Channel.TELEGRAM: world.telegram, Channel.SMS: world.sms})
    world.telegram.error = DeliveryError("forbidden", permanent=True, blocked=True)
    person.says("history")
    messengers = {Channel.TELEGRAM: world.telegram, Channel.SMS: world.sms}
    world.services.deliver_outbox(messengers)
    world.services.deliver_outbox(messengers)  # the SMS notice was written by the first round
    assert person.user_record().telegram_blocked
    assert [m.recipient for m in world.sms.sent] == ["+15005550006"]
    assert "blocked" in world.sms.sent[0].text


def test_low_value_exemption_when_enabled_records_its_reason_and_counts(world):
    from dataclasses import replace
    from decimal import Decimal

    world.services.config = replace(world.services.config, low_value_exemption=True,
                                    rates_to_eur={"EUR": Decimal(1), "USD": Decimal("0.92")})
    person = ready_person(world)
    for n in range(5):
        person.says(f"send $10 to Neville{n}")
        (waiting,) = [p for p in world.store.payments.values() if p.state is State.PENDING]
        person.presses(f"confirm:{waiting.id}")
    exempt = [p for p in world.store.payments.values() if p.state is State.APPROVED]
    assert len(exempt) == 5 and all(p.sca == "exempt" and "Art. 16" in p.sca_reason for p in exempt)
    assert world.auth.called("send_push") == []
    assert "No approval was needed" in person.last()
    person.says("send $10 to Ana")  # the sixth since the last SCA is challenged
    sixth = next(p for p in world.store.payments.values() if p.payee == "Ana")
    person.presses(f"confirm:{sixth.id}")
    assert world.store.payments[sixth.id].step is Step.PUSH and len(world.auth.called("send_push")) == 1
    world.services.record_decision(world.store.payments[sixth.id].push_request_id, "approved", "cb")
    assert (person.user_record().exempt_count, person.user_record().exempt_total_eur_minor) == (0, 0)


def test_the_outcome_goes_by_sms_once_the_bot_is_blocked_on_telegram(world):
    person = confirmed(world)
    user = person.user_record()
    user.telegram_blocked = True
    world.store.users[user.id] = user
    world.services.record_decision(person.payment().push_request_id, "approved", "cb")
    last = max(world.store.outbox.values(), key=lambda m: m.id)
    assert (last.channel, last.recipient) == (Channel.SMS, "+15005550006")
    assert last.text == "Sent: $20.00 to Neville."  # the check mark is no GSM-7


def test_codes_beyond_the_fifth_are_never_checked(world):
    person = confirmed(world)
    world.clock.advance(15)
    world.services.run_fallback(person.payment().id)
    for _ in range(5):
        person.says("999999")
    person.says(world.auth.payment_code)
    assert len(world.auth.called("check_code")) == 5
    assert person.payment().state is State.BLOCKED


# ---------------------------------------------------------------- words: what people read

class Texter:
    """Plays one person texting the bot's SMS number."""

    def __init__(self, world, phone: str = "+15005550009") -> None:
        self.world, self.phone, self._n = world, phone, 0

    def says(self, text: str) -> None:
        self._n += 1
        self.world.services.handle_inbound(InboundMessage(Channel.SMS, self.phone, f"sms:{self.phone}:{self._n}",
                                                          text=text))

    def inbox(self) -> list[str]:
        return [m.text for m in sorted(self.world.store.outbox.values(), key=lambda m: m.id or 0)
                if m.recipient == self.phone]


def test_on_sms_the_welcome_is_written_before_the_code_is_asked_for(world):
    texter = Texter(world)
    seen_at_the_call: list[list[str]] = []
    start = world.auth.start_phone_verification
    world.auth.start_phone_verification = lambda phone: (seen_at_the_call.append(texter.inbox()), start(phone))[1]
    texter.says("hi")
    assert world.auth.called("start_phone_verification") == [(texter.phone,)]
    (before_the_code,) = seen_at_the_call
    assert len(before_the_code) == 1 and before_the_code[0].startswith("Welcome to Payfriend!")
    assert "texting you a code" in before_the_code[0] and "Reply with the code" in before_the_code[0]
    assert texter.inbox() == before_the_code  # the job says nothing more: the welcome told of the code


def test_on_sms_a_failed_code_start_still_says_so_after_the_welcome(world):
    texter = Texter(world)
    world.auth.down = True
    texter.says("hi")
    welcome, failed = texter.inbox()
    assert welcome.startswith("Welcome") and "couldn't reach" in failed


def test_on_sms_the_bot_asks_for_a_reply_not_for_typing(world):
    texter = Texter(world)
    texter.says("hi")
    texter.says("status")
    assert texter.inbox()[-1] == "First reply with the code we texted you (or reply START for a new one)."
    texter.says("0000000")
    assert texter.inbox()[-1] == ("That code is not right. 4 attempts left. Check the SMS and reply with it again, "
                                  "or reply START for a new one.")
    texter.says("start")
    assert texter.inbox()[-1] == "We sent a code by SMS to +1********09. Reply with the code."
    assert not any("type" in t.casefold() or "tap" in t.casefold() for t in texter.inbox())


def test_on_telegram_the_code_is_typed_here(world):
    person = Person(world)
    person.says("/start")
    person.shares_contact()
    assert person.last() == "We sent a code by SMS to +1********06. Type the code here."


def test_a_near_miss_command_gets_did_you_mean(world):
    person = ready_person(world)
    person.says("sned 20 to bob")
    assert person.last() == "Did you mean \u201csend\u201d? Try: send 20 to bob"
    person.says("histroy")
    assert person.last() == "Did you mean \u201chistory\u201d? Try: history"
    assert world.store.payments == {}


def test_the_same_payee_in_another_case_is_the_same_payee(world):
    person = ready_person(world)
    person.says("send $20 to Neville")
    person.says("send $20 to neville")
    assert person.last() == ("Your payment of $20.00 to Neville is still waiting: "
                             "confirm it, or send 'cancel' to start again.")
    person.says("send $30 to Ana")
    assert "You already have a payment of $20.00 to Neville waiting" in person.last()
    assert len(world.store.payments) == 1


def test_the_note_shows_in_the_push_details_and_the_lists(world):
    person = confirmed(world, "send $20 to Neville for pizza")
    (_, request), = world.auth.called("send_push")
    assert request.details == {"Sending to": "Neville", "Amount": "$20.00", "Note": "pizza",
                               "Match word": match_word(b"k" * 32, person.payment().id)}
    assert request.message == 'Send $20.00 to Neville for "pizza"'
    person.says("status")
    assert person.last() == 'Waiting for you: $20.00 to Neville for "pizza"'
    person.says("history")
    assert person.last().endswith('$20.00 to Neville for "pizza": waiting for approval')


def _pay_and_cancel(world, person: Person, count: int) -> None:
    for n in range(count):
        person.says(f"send ${n + 1} to Payee{n + 1}")
        person.says("cancel")
        world.clock.advance(60)


def test_status_shows_the_waiting_payment_and_the_last_few(world):
    person = ready_person(world)
    person.says("status")
    status_when_new = person.last()
    person.says("history")
    assert status_when_new != person.last()  # a new user reads two different answers
    assert status_when_new.startswith("Nothing is waiting and you have no payments yet.")
    assert person.last().startswith("Your history is empty.")
    _pay_and_cancel(world, person, 5)
    person.says("status")
    lines = person.last().split("\n")
    assert lines[:2] == ["Nothing is waiting for you.", "Recent:"]
    assert [line.split(" to ")[1] for line in lines[2:]] == ["Payee5: cancelled", "Payee4: cancelled",
                                                             "Payee3: cancelled"]
    person.says("send $9 to Neville")
    person.says("status")
    assert person.last().split("\n")[:2] == ["Waiting for you: $9.00 to Neville", "Recent:"]
    assert "Neville" not in "\n".join(person.last().split("\n")[1:])


def test_history_comes_in_pages_with_a_hint_only_when_there_is_a_next_one(world):
    person = ready_person(world)
    _pay_and_cancel(world, person, 12)
    person.says("history")
    first = person.last().split("\n")
    assert first[0] == "Your payments:" and len(first) == 12 and first[-1] == "Older: history 2"
    assert "Payee12" in first[1] and "Payee3:" in first[10]
    person.says("history 2")
    second = person.last().split("\n")
    assert second[0] == "Your payments, page 2:" and len(second) == 3
    assert "Payee2" in second[1] and "Payee1:" in second[2]  # the last page: no hint
    person.says("history 3")
    assert person.last() == "Your history has no page 3. Send 'history' for the newest payments."


def test_history_pages_are_shorter_on_sms(world):
    person = ready_person(world)
    _pay_and_cancel(world, person, 5)
    texter = Texter(world, person.phone)
    texter.says("history")
    lines = texter.inbox()[-1].split("\n")
    assert len(lines) == 5 and lines[-1] == "Older: history 2"
    texter.says("history 2")
    second = texter.inbox()[-1].split("\n")
    assert second[0] == "Your payments, page 2:" and len(second) == 3 and "$1.00 to Payee1:" in second[2]
    texter.says("status")
    assert texter.inbox()[-1].split("\n")[2:] == lines[1:3]  # the last two, on SMS


def test_the_payment_code_sms_says_code(world):
    person = confirmed(world)
    world.clock.advance(15)
    world.services.run_fallback(person.payment().id)
    (_, _, binding), = world.auth.called("send_code")
    assert binding.message == "Payfriend code to send $20.00 to Neville:"
    assert person.last().endswith("Type the code here to approve.")
