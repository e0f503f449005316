"""One contract for the storage ports of bot/ports.py, passed by the fakes and by the SQL repositories.

Every test runs twice: on tests/services/fakes.py (what the use-case tests trust) and on
models/repositories.py over the test database (SQLite, or PostgreSQL with TEST_DATABASE_URL).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.core.entities import AuthEvent, Channel, Registration
from bot.core.jobs import Job, JobKind
from bot.core.payment import IllegalTransition, State, Step
from bot.ports import UnitOfWorkFactory
from models.repositories import TRANSITION_FIELDS
from tests.models.support import NOW, new_message, new_payment, new_user
from tests.services import fakes
from tests.services.fakes import FakeUnitOfWork, Store

P, DONE = State.PENDING, Step.DONE
LEASE = NOW + timedelta(seconds=30)


def seconds(n: float):
    """NOW plus n seconds."""
    return NOW + timedelta(seconds=n)


@pytest.fixture(params=["fake", "sql"])
def uow(request) -> UnitOfWorkFactory:
    """A unit-of-work factory over an empty store: the fake one, then the SQL one."""
    if request.param == "fake":
        store = Store()
        return lambda: FakeUnitOfWork(store)
    return request.getfixturevalue("uow_factory")


def add_payer(uow: UnitOfWorkFactory) -> int:
    """A committed user to own payments; returns their id."""
    with uow() as work:
        user = work.users.add(new_user())
        work.commit()
    assert user.id is not None
    return user.id


def add_payments(uow: UnitOfWorkFactory, *payments) -> None:
    """Commit these payments."""
    with uow() as work:
        for payment in payments:
            work.payments.add(payment)
        work.commit()


# ----------------------------------------------------------------------------- users


def test_users_add_get_and_find(uow):
    user = new_user(locale="de_DE", default_currency="EUR", exempt_count=2, sms_opted_out=True, failed_attempts=3,
                    locked_until=seconds(60))
    with uow() as work:
        assert work.users.add(user) is user and isinstance(user.id, int)
        work.commit()
    with uow() as work:
        assert work.users.get(user.id) == user and work.users.get_for_update(user.id) == user
        assert work.users.by_telegram(user.telegram_user_id) == user and work.users.by_phone(user.phone) == user
        assert work.users.get(user.id + 1000) is None and work.users.get_for_update(user.id + 1000) is None
        assert work.users.by_telegram(1) is None and work.users.by_phone("+15550000000") is None


def test_users_save_writes_every_field_and_only_on_save(uow):
    with uow() as work:
        user = work.users.add(new_user(registration=Registration.CONTACT, phone=None))
        work.commit()
    with uow() as work:
        stored = work.users.get(user.id)
        stored.email = "changed@example.org"  # not saved: nothing changes
        assert work.users.get(user.id).email == user.email
    user.phone, user.registration, user.email, user.telegram_blocked = "+447700900123", Registration.EMAIL, "x@y.org", True
    with uow() as work:
        work.users.save(user)
        work.commit()
    with uow() as work:
        assert work.users.get(user.id) == user


def test_users_save_of_an_unknown_user_fails(uow):
    with uow() as work:
        with pytest.raises(LookupError):
            work.users.save(new_user())
        with pytest.raises(LookupError):
            work.users.save(new_user(id=424242))


def test_an_app_link_is_found_by_its_hash_and_spent_once(uow):
    with uow() as work:
        user = work.users.add(new_user(app_link_hash="a" * 64, app_link_expires_at=seconds(900)))
        other = work.users.add(new_user())
        work.commit()
    with uow() as work:
        assert work.users.by_app_link("a" * 64) == user and work.users.by_app_link("b" * 64) is None
        assert not work.users.use_app_link(other.id, "a" * 64)  # someone else's link
        assert work.users.use_app_link(user.id, "a" * 64)
        assert not work.users.use_app_link(user.id, "a" * 64)
        work.commit()
    with uow() as work:
        spent = work.users.get(user.id)
        assert (spent.app_link_hash, spent.app_link_expires_at) == (None, None)
        assert work.users.by_app_link("a" * 64) is None


def test_auth_events_are_appended_and_read_newest_first_per_person(uow):
    payer, other = add_payer(uow), add_payer(uow)
    with uow() as work:
        work.events.add(AuthEvent(None, NOW, payer, "payment pay_1", "sms_code", "failed", "attempt 1"))
        work.events.add(AuthEvent(None, seconds(5), payer, "payment pay_1", "push", "approved"))
        work.events.add(AuthEvent(None, seconds(1), other, "phone check", "phone_code", "passed"))
        work.commit()
    with uow() as work:
        events = work.events.for_user(payer, 10)
        assert [(e.factor, e.result, e.at) for e in events] == [("push", "approved", seconds(5)),
                                                                ("sms_code", "failed", NOW)]
        assert events[1].detail == "attempt 1" and all(e.id is not None for e in events)
        assert len(work.events.for_user(payer, 1)) == 1 and work.events.for_user(other, 10)[0].result == "passed"


# ----------------------------------------------------------------------------- payments


def test_payments_add_get_and_by_push_request(uow):
    payment = new_payment(add_payer(uow), push_request_id="req-1", sca_reason="")
    add_payments(uow, payment)
    with uow() as work:
        assert work.payments.get(payment.id) == payment and work.payments.by_push_request("req-1") == payment
        assert work.payments.get("nope") is None and work.payments.by_push_request("nope") is None


def test_payments_for_payer_newest_first_ties_by_id(uow):
    payer, other = add_payer(uow), add_payer(uow)
    old = new_payment(payer, id="p-old", created_at=seconds(-60), state=State.APPROVED, step=DONE)
    b, a = new_payment(payer, id="p-b"), new_payment(payer, id="p-a")  # same created_at
    add_payments(uow, b, old, a, new_payment(other, id="p-other"))
    with uow() as work:
        assert [p.id for p in work.payments.for_payer(payer, 10)] == ["p-a", "p-b", "p-old"]
        assert [p.id for p in work.payments.for_payer(payer, 2)] == ["p-a", "p-b"]
        assert [p.id for p in work.payments.pending_for_payer(payer)] == ["p-a", "p-b"]


def test_transition_applies_once_with_its_fields(uow):
    payment = new_payment(add_payer(uow))
    add_payments(uow, payment)
    with uow() as work:
        assert work.payments.transition(payment.id, P, Step.CONFIRMATION, P, Step.PUSH,
                                        push_request_id="req-9", fallback_at=seconds(15)) is True
        assert work.payments.transition(payment.id, P, Step.CONFIRMATION, P, Step.PUSH) is False  # moved on
        assert work.payments.transition("nope", P, Step.CONFIRMATION, P, Step.PUSH) is False
        work.commit()
    with uow() as work:
        stored = work.payments.get(payment.id)
    assert (stored.state, stored.step, stored.push_request_id, stored.fallback_at) == (P, Step.PUSH, "req-9",
                                                                                       seconds(15))
    assert stored.terms == payment.terms and stored.fingerprint == payment.fingerprint


@pytest.mark.parametrize("move", [
    (P, Step.CONFIRMATION, P, Step.CODE),  # skips the push
    (P, Step.CODE, State.APPROVED, Step.PUSH),  # a final state is DONE
    (State.APPROVED, DONE, P, Step.PUSH),  # final states are final
    (State.APPROVED, DONE, State.APPROVED, DONE),  # not even in place
    (P, Step.CONFIRMATION, State.BLOCKED, DONE),  # only a wrong code blocks
])
def test_transition_refuses_a_move_outside_the_table(uow, move):
    payment = new_payment(add_payer(uow))
    add_payments(uow, payment)
    with uow() as work:
        with pytest.raises(IllegalTransition):
            work.payments.transition(payment.id, *move)
        assert work.payments.get(payment.id) == payment


def test_transition_in_place_on_a_pending_payment_sets_every_allowed_field(uow):
    payment = new_payment(add_payer(uow), step=Step.PUSH)
    add_payments(uow, payment)
    values = {"push_request_id": "req-2", "fallback_at": seconds(20), "code_sent_at": seconds(21),
              "decided_at": seconds(22), "decided_by": "system", "reason": "why", "expires_at": seconds(999),
              "sca": "exempt", "sca_reason": "low value"}
    assert set(values) == TRANSITION_FIELDS
    with uow() as work:
        assert work.payments.transition(payment.id, P, Step.PUSH, P, Step.PUSH, **values) is True
        work.commit()
    with uow() as work:
        stored = work.payments.get(payment.id)
    assert {name: getattr(stored, name) for name in values} == values


def test_the_fake_allows_the_same_transition_fields():
    assert fakes.TRANSITION_FIELDS == TRANSITION_FIELDS


@pytest.mark.parametrize("field, value", [
    ("payee", "Mallory"), ("note", "changed"), ("payer_id", 999), ("fingerprint", "0" * 64), ("id", "other"),
    ("code_attempts", 0), ("created_at", NOW), ("channel", Channel.SMS), ("state", State.APPROVED),
])
def test_transition_refuses_any_other_field(uow, field, value):
    payment = new_payment(add_payer(uow))
    add_payments(uow, payment)
    with uow() as work:
        with pytest.raises(ValueError, match=field):
            work.payments.transition(payment.id, P, Step.CONFIRMATION, P, Step.PUSH, **{field: value})
        assert work.payments.get(payment.id) == payment


def test_add_code_failure_counts_only_while_waiting_for_a_code(uow):
    payer = add_payer(uow)
    waiting, pushing = new_payment(payer, step=Step.CODE), new_payment(payer, step=Step.PUSH)
    add_payments(uow, waiting, pushing)
    with uow() as work:
        assert [work.payments.add_code_failure(waiting.id) for _ in range(2)] == [1, 2]
        assert work.payments.add_code_failure(pushing.id) is None
        assert work.payments.add_code_failure("nope") is None
        work.commit()
    with uow() as work:
        assert work.payments.get(waiting.id).code_attempts == 2


def test_due_fallbacks_and_expiries_oldest_first(uow):
    payer = add_payer(uow)
    late = new_payment(payer, id="f-late", step=Step.PUSH, fallback_at=seconds(10), expires_at=seconds(30))
    early = new_payment(payer, id="f-early", step=Step.PUSH, fallback_at=seconds(5), expires_at=seconds(20))
    future = new_payment(payer, id="f-future", step=Step.PUSH, fallback_at=seconds(99), expires_at=seconds(99))
    code = new_payment(payer, id="f-code", step=Step.CODE, fallback_at=seconds(1), expires_at=seconds(40))
    final = new_payment(payer, id="f-final", state=State.DENIED, step=DONE, fallback_at=seconds(1),
                        expires_at=seconds(1))
    add_payments(uow, late, future, code, final, early)
    with uow() as work:
        assert [p.id for p in work.payments.due_fallbacks(seconds(50), 10)] == ["f-early", "f-late"]
        assert [p.id for p in work.payments.due_fallbacks(seconds(50), 1)] == ["f-early"]
        assert [p.id for p in work.payments.due_expiries(seconds(50), 10)] == ["f-early", "f-late", "f-code"]
        assert [p.id for p in work.payments.due_expiries(seconds(25), 1)] == ["f-early"]


def test_pending_deadlines_give_the_fallback_only_while_in_push(uow):
    payer = add_payer(uow)
    push = new_payment(payer, id="d-push", step=Step.PUSH, fallback_at=seconds(5), expires_at=seconds(20))
    code = new_payment(payer, id="d-code", step=Step.CODE, fallback_at=seconds(5), expires_at=seconds(10))
    final = new_payment(payer, id="d-final", state=State.EXPIRED, step=DONE, expires_at=seconds(1))
    add_payments(uow, push, final, code)
    with uow() as work:
        assert work.payments.pending_deadlines() == [("d-code", None, seconds(10)),
                                                     ("d-push", seconds(5), seconds(20))]


def test_a_push_request_is_stored_once_and_only_while_it_can_still_decide(uow):
    payer = add_payer(uow)
    add_payments(uow, new_payment(payer, id="p-push", step=Step.PUSH, expires_at=seconds(90)),
                 new_payment(payer, id="p-code", step=Step.CODE, expires_at=seconds(90)),
                 new_payment(payer, id="p-final", state=State.CANCELLED, step=DONE, expires_at=seconds(90)))
    with uow() as work:
        assert work.payments.store_push_request("p-push", "req-1") is True
        assert work.payments.store_push_request("p-push", "req-2") is False  # a second run keeps the first
        assert work.payments.store_push_request("p-code", "req-3") is True
        assert work.payments.store_push_request("p-final", "req-4") is False
        work.commit()
    with uow() as work:
        assert work.payments.get("p-push").push_request_id == "req-1"
        assert work.payments.by_push_request("req-2") is None


def test_due_fallbacks_are_claimed_once_in_one_statement(uow):
    payer = add_payer(uow)
    due = [new_payment(payer, id=f"c-{n}", step=Step.PUSH, fallback_at=seconds(n), expires_at=seconds(90))
           for n in (3, 1, 2)]
    later = new_payment(payer, id="c-later", step=Step.PUSH, fallback_at=seconds(60), expires_at=seconds(90))
    add_payments(uow, *due, later)
    with uow() as work:
        assert sorted(work.payments.claim_due_fallbacks(seconds(10), 2)) == ["c-1", "c-2"]
        assert work.payments.claim_due_fallbacks(seconds(10), 10) == ["c-3"]
        assert work.payments.claim_due_fallbacks(seconds(10), 10) == []  # claimed: never twice
        work.commit()
    with uow() as work:
        claimed = work.payments.get("c-1")
        assert (claimed.state, claimed.step, claimed.code_sent_at) == (State.PENDING, Step.CODE, seconds(10))
        assert work.payments.get("c-later").step is Step.PUSH


# ----------------------------------------------------------------------------- outbox


def add_messages(uow: UnitOfWorkFactory, *messages) -> list[int]:
    """Commit these messages; their ids."""
    with uow() as work:
        ids = [work.outbox.add(message).id for message in messages]
        work.commit()
    return ids


def claim(uow: UnitOfWorkFactory, now, limit: int = 10, lease=LEASE) -> list[int]:
    """Claim and commit; the ids claimed."""
    with uow() as work:
        claimed = [m.id for m in work.outbox.claim_due(now, lease, limit)]
        work.commit()
    return claimed


def test_outbox_add_and_undelivered(uow):
    first, second = new_message(), new_message(next_attempt_at=seconds(60))
    ids = add_messages(uow, first, second)
    assert all(isinstance(i, int) for i in ids) and ids == sorted(ids)
    with uow() as work:
        listed = work.outbox.undelivered(10)
        assert [m.id for m in listed] == ids and [m.id for m in work.outbox.undelivered(1)] == ids[:1]
    assert listed[0].next_attempt_at == NOW  # due when written
    assert listed[1].next_attempt_at == seconds(60)
    assert (listed[0].text, listed[0].recipient, listed[0].attempts) == (first.text, first.recipient, 0)


def test_outbox_claim_respects_due_time_lease_and_limit(uow):
    ids = add_messages(uow, *(new_message(created_at=seconds(i)) for i in range(3)),
                       new_message(next_attempt_at=seconds(60)))
    assert claim(uow, seconds(5), limit=2) == ids[:2]
    assert claim(uow, seconds(5)) == ids[2:3]
    assert claim(uow, seconds(5)) == []  # leased, or not due
    with uow() as work:
        [claimed] = work.outbox.claim_due(LEASE, seconds(3600), 1)  # a lease ran out: its worker died
    assert claimed.id == ids[0] and claimed.next_attempt_at == NOW and claimed.attempts == 0
    assert claim(uow, seconds(60), lease=seconds(3600)) == ids  # all due, every lease over


def test_outbox_keeps_one_recipients_messages_in_order(uow):
    me, you = "700", "701"
    ids = add_messages(uow, new_message(recipient=me, text="1"), new_message(recipient=me, text="2"),
                       new_message(recipient=you, text="3"), new_message(recipient=me, channel=Channel.SMS))
    assert claim(uow, NOW, lease=seconds(3600)) == [ids[0], ids[2], ids[3]]  # "2" waits for "1"; SMS does not
    with uow() as work:
        work.outbox.mark_retry(ids[0], "flood", seconds(30))
        work.commit()
    assert claim(uow, seconds(10), lease=seconds(20)) == []  # "1" is not due again yet: "2" still waits
    assert claim(uow, seconds(30), lease=seconds(40)) == [ids[0]]
    with uow() as work:
        work.outbox.mark_delivered(ids[0], seconds(31))
        work.commit()
    assert claim(uow, seconds(31), lease=seconds(40)) == [ids[1]]


def test_outbox_a_message_given_up_lets_the_next_one_go(uow):
    ids = add_messages(uow, new_message(recipient="702"), new_message(recipient="702"))
    assert claim(uow, NOW) == [ids[0]]
    with uow() as work:
        work.outbox.mark_failed(ids[0], "blocked", seconds(1))
        work.commit()
    assert claim(uow, seconds(1), lease=seconds(40)) == [ids[1]]


def test_outbox_marks_a_batch_delivered_and_lets_each_recipients_next_message_go(uow):
    ids = add_messages(uow, new_message(recipient="703", text="1"), new_message(recipient="704", text="1"),
                       new_message(recipient="703", text="2"), new_message(recipient="705", text="1"))
    assert claim(uow, NOW) == [ids[0], ids[1], ids[3]]
    with uow() as work:
        work.outbox.mark_failed(ids[3], "gone", seconds(1))
        work.outbox.mark_delivered_many([ids[0], ids[1], ids[3]], seconds(1))  # ids[3] already ended
        work.commit()
    with uow() as work:
        assert [m.id for m in work.outbox.undelivered(10)] == [ids[2]]
    assert claim(uow, seconds(1), lease=seconds(40)) == [ids[2]]


def test_outbox_retry_counts_and_finished_messages_stay_finished(uow):
    delivered, failed, retried = add_messages(uow, new_message(), new_message(), new_message())
    assert claim(uow, NOW) == [delivered, failed, retried]
    with uow() as work:
        work.outbox.mark_delivered(delivered, seconds(1))
        work.outbox.mark_failed(failed, "gone", seconds(1))
        work.outbox.mark_retry(retried, "slow", seconds(5))
        work.outbox.mark_retry(delivered, "late report", seconds(5))  # finished: no effect
        work.outbox.mark_retry(failed, "late report", seconds(5))
        work.commit()
    with uow() as work:
        [waiting] = work.outbox.undelivered(10)
    assert (waiting.id, waiting.attempts, waiting.last_error, waiting.next_attempt_at) == (retried, 1, "slow",
                                                                                          seconds(5))
    assert claim(uow, seconds(4), lease=seconds(3600)) == []
    assert claim(uow, seconds(5), lease=seconds(3600)) == [retried]


# ----------------------------------------------------------------------------- jobs


def new_job(kind: JobKind = JobKind.SEND_PUSH, run_at=NOW, **payload) -> Job:
    """A job due at run_at."""
    return Job(id=None, kind=kind, payload=payload or {"payment_id": "p1"}, run_at=run_at, created_at=NOW)


LEASES = {kind: seconds(60) for kind in JobKind} | {JobKind.REGISTER: seconds(120)}


def test_jobs_add_waiting_and_claim(uow):
    with uow() as work:
        later = work.jobs.add(new_job(run_at=seconds(10)))
        register = work.jobs.add(new_job(JobKind.REGISTER, email="a@b.org"))
        push = work.jobs.add(new_job())
        future = work.jobs.add(new_job(run_at=seconds(600)))
        work.commit()
    with uow() as work:
        assert [j.id for j in work.jobs.waiting(10)] == [later.id, register.id, push.id, future.id]
        assert work.jobs.waiting(1)[0].payload == {"payment_id": "p1"}
        first = work.jobs.claim_due(seconds(10), LEASES, 2)  # the two due first, returned by id
        assert [j.id for j in first] == [register.id, push.id]
        assert [(j.attempts, j.leased_until) for j in first] == [(1, seconds(120)), (1, seconds(60))]
        assert first[0].payload == {"email": "a@b.org"}
        assert [j.id for j in work.jobs.claim_due(seconds(10), LEASES, 10)] == [later.id]
        assert work.jobs.claim_due(seconds(10), LEASES, 10) == []  # leased or not due
        work.commit()
    with uow() as work:
        again = work.jobs.claim_due(seconds(60), {kind: seconds(200) for kind in JobKind}, 10)
    assert [(j.id, j.attempts) for j in again] == [(later.id, 2), (push.id, 2)]  # their leases ran out


def test_jobs_end_once_and_retry_releases_the_lease(uow):
    with uow() as work:
        done, failed, retried = (work.jobs.add(new_job()) for _ in range(3))
        work.jobs.claim_due(NOW, LEASES, 10)
        work.commit()
    with uow() as work:
        assert work.jobs.complete(done.id, seconds(1)) is True
        assert work.jobs.complete(done.id, seconds(2)) is False
        assert work.jobs.give_up(failed.id, 1, "no", seconds(1)) is True
        assert work.jobs.give_up(failed.id, 1, "no", seconds(2)) is False
        work.jobs.retry(retried.id, 1, "timeout", seconds(5))
        work.jobs.retry(done.id, 1, "late", seconds(5))  # ended: no effect
        assert work.jobs.complete(424242, seconds(1)) is False
        work.commit()
    with uow() as work:
        [waiting] = work.jobs.waiting(10)
        assert (waiting.id, waiting.last_error, waiting.run_at, waiting.leased_until) == (retried.id, "timeout",
                                                                                          seconds(5), None)
        assert work.jobs.claim_due(seconds(4), LEASES, 10) == []
        assert [j.id for j in work.jobs.claim_due(seconds(5), LEASES, 10)] == [retried.id]


def test_a_worker_whose_lease_ran_out_cannot_retry_or_end_the_job_another_now_holds(uow):
    with uow() as work:
        job = work.jobs.add(new_job())
        [stale] = work.jobs.claim_due(NOW, LEASES, 10)
        [current] = work.jobs.claim_due(seconds(3600), {kind: seconds(7200) for kind in JobKind}, 10)
        assert (stale.attempts, current.attempts) == (1, 2)
        work.jobs.retry(job.id, stale.attempts, "slow", seconds(3601))  # the first worker gives its claim back
        assert work.jobs.give_up(job.id, stale.attempts, "slow", seconds(3601)) is False
        work.commit()
    with uow() as work:
        [waiting] = work.jobs.waiting(10)
        assert (waiting.leased_until, waiting.last_error) == (seconds(7200), None)  # still the second's
        assert work.jobs.claim_due(seconds(3602), LEASES, 10) == []


# ----------------------------------------------------------------------------- receipts and the unit of work


def test_receipts_first_time_only(uow):
    with uow() as work:
        assert work.receipts.first_time("tg:1", NOW) is True
        assert work.receipts.first_time("tg:1", NOW) is False
        assert work.receipts.first_time("tg:2", NOW) is True
        work.commit()
    with uow() as work:
        assert work.receipts.first_time("tg:1", NOW) is False


def test_leaving_without_commit_changes_nothing(uow):
    payer = add_payer(uow)
    payment = new_payment(payer)
    add_payments(uow, payment)
    [message] = add_messages(uow, new_message())
    with uow() as work:
        work.users.add(new_user(phone="+15559990000"))
        work.payments.transition(payment.id, P, Step.CONFIRMATION, State.CANCELLED, DONE)
        work.outbox.claim_due(NOW, LEASE, 10)
        work.jobs.add(new_job())
        work.receipts.first_time("tg:9", NOW)
    with uow() as work:
        assert work.users.by_phone("+15559990000") is None
        assert work.payments.get(payment.id).state is P
        assert [m.id for m in work.outbox.claim_due(NOW, LEASE, 10)] == [message]
        assert work.jobs.waiting(10) == []
        assert work.receipts.first_time("tg:9", NOW) is True
