"""SqlPaymentRepository on a real database: guarded transitions, due queries, frozen terms."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text, update
from sqlalchemy.exc import IntegrityError

from bot.core.entities import AuthEvent
from bot.core.money import Money
from bot.core.payment import IllegalTransition, State, Step
from models.tables import payments
from tests.models.support import NOW, new_payment, new_user, run_threads

P, C, U, K, D = State.PENDING, Step.CONFIRMATION, Step.PUSH, Step.CODE, Step.DONE


@pytest.fixture
def payer(uow_factory) -> int:
    with uow_factory() as uow:
        user = uow.users.add(new_user())
        uow.commit()
    return user.id


def _add(uow_factory, payment):
    with uow_factory() as uow:
        uow.payments.add(payment)
        uow.commit()
    return payment


def _get(uow_factory, payment_id):
    with uow_factory() as uow:
        return uow.payments.get(payment_id)


def test_add_and_get_round_trip(uow_factory, payer):
    payment = _add(uow_factory, new_payment(payer, amount=Money(123456789012, "JPY", 0), note=None,
                                             sca="exempt", sca_reason="low-value", push_request_id="req-1"))
    assert _get(uow_factory, payment.id) == payment
    assert _get(uow_factory, "nope") is None
    with uow_factory() as uow:
        assert uow.payments.by_push_request("req-1") == payment
        assert uow.payments.by_push_request("req-2") is None


def test_payer_must_exist(uow_factory):
    with uow_factory() as uow:
        with pytest.raises(IntegrityError):
            uow.payments.add(new_payment(999_999))


def test_datetimes_come_back_aware_utc(uow_factory, payer):
    plus_two = timezone(timedelta(hours=2))
    payment = _add(uow_factory, new_payment(payer, created_at=NOW.astimezone(plus_two)))
    stored = _get(uow_factory, payment.id)
    for name in ("created_at", "expires_at", "fallback_at"):
        value = getattr(stored, name)
        assert value.tzinfo == timezone.utc, name
        assert value == getattr(payment, name)
    assert stored.created_at == NOW


def test_naive_datetimes_are_refused(uow_factory, payer):
    with uow_factory() as uow:
        with pytest.raises(Exception, match="naive"):
            uow.payments.add(new_payment(payer, created_at=datetime(2026, 1, 1)))


def test_guarded_transition_applies_once(uow_factory, payer):
    payment = _add(uow_factory, new_payment(payer))
    with uow_factory() as uow:
        assert uow.payments.transition(payment.id, P, C, P, U, push_request_id="push-1")
        assert not uow.payments.transition(payment.id, P, C, P, U, push_request_id="push-2")
        assert uow.payments.transition(payment.id, P, U, State.APPROVED, D, decided_at=NOW, decided_by="push")
        assert not uow.payments.transition(payment.id, P, U, State.DENIED, D, decided_at=NOW, decided_by="push")
        uow.commit()
    stored = _get(uow_factory, payment.id)
    assert (stored.state, stored.step, stored.push_request_id) == (State.APPROVED, D, "push-1")
    assert (stored.decided_at, stored.decided_by) == (NOW, "push")


def test_transition_of_unknown_payment_does_not_apply(uow_factory):
    with uow_factory() as uow:
        assert not uow.payments.transition("missing", P, C, State.CANCELLED, D)


def test_transition_outside_the_table_is_refused(uow_factory, payer):
    payment = _add(uow_factory, new_payment(payer))
    with uow_factory() as uow:
        with pytest.raises(IllegalTransition):
            uow.payments.transition(payment.id, P, C, State.BLOCKED, D)
        with pytest.raises(IllegalTransition):
            uow.payments.transition(payment.id, State.APPROVED, D, P, C)
        with pytest.raises(IllegalTransition):
            uow.payments.transition(payment.id, State.APPROVED, D, State.APPROVED, D)


def test_a_pending_payment_can_update_fields_in_place(uow_factory, payer):
    payment = _add(uow_factory, new_payment(payer, step=U))
    with uow_factory() as uow:
        assert uow.payments.transition(payment.id, P, U, P, U, push_request_id="late-push")
        assert not uow.payments.transition(payment.id, P, C, P, C, reason="wrong step")
        uow.commit()
    assert _get(uow_factory, payment.id).push_request_id == "late-push"


@pytest.mark.parametrize("field", ["payee", "amount", "payer_id", "fingerprint", "id", "created_at", "note",
                                   "state", "code_attempts"])
def test_terms_have_no_update_path(uow_factory, payer, field):
    payment = _add(uow_factory, new_payment(payer))
    with uow_factory() as uow:
        with pytest.raises((ValueError, TypeError)):
            uow.payments.transition(payment.id, P, C, P, U, **{field: "x"})
    assert _get(uow_factory, payment.id) == payment


@pytest.mark.parametrize("column, value", [("payee", "Mallory"), ("amount_minor", 200000), ("currency", "EUR"),
                                           ("payer_id", None), ("fingerprint", "0" * 64), ("note", "changed")])
def test_the_database_refuses_to_rewrite_terms(uow_factory, payer, column, value):
    payment = _add(uow_factory, new_payment(payer))
    if column == "payer_id":
        with uow_factory() as uow:
            value = uow.users.add(new_user()).id
            uow.commit()
    with uow_factory() as uow:
        with pytest.raises(IntegrityError, match="frozen"):
            uow.payments._c.execute(update(payments).where(payments.c.id == payment.id).values({column: value}))
    assert _get(uow_factory, payment.id) == payment


def test_add_code_failure_counts_atomically(uow_factory, payer):
    payment = _add(uow_factory, new_payment(payer, step=K))
    with uow_factory() as uow:
        assert [uow.payments.add_code_failure(payment.id) for _ in range(5)] == [1, 2, 3, 4, 5]
        assert uow.payments.transition(payment.id, P, K, State.BLOCKED, D)
        assert uow.payments.add_code_failure(payment.id) is None
        assert uow.payments.add_code_failure("missing") is None
        uow.commit()
    assert _get(uow_factory, payment.id).code_attempts == 5


def test_add_code_failure_only_in_step_code(uow_factory, payer):
    payment = _add(uow_factory, new_payment(payer, step=U))
    with uow_factory() as uow:
        assert uow.payments.add_code_failure(payment.id) is None


def test_concurrent_code_failures_are_all_counted(uow_factory, payer):
    payment = _add(uow_factory, new_payment(payer, step=K))
    counts: list[int | None] = []
    barrier = threading.Barrier(8)

    def wrong_code() -> None:
        with uow_factory() as uow:
            barrier.wait()
            counts.append(uow.payments.add_code_failure(payment.id))
            uow.commit()

    run_threads(wrong_code, 8)
    assert sorted(counts) == list(range(1, 9))
    assert _get(uow_factory, payment.id).code_attempts == 8


@pytest.mark.parametrize("threads", [2, 8])
def test_racing_transitions_exactly_one_wins(uow_factory, payer, threads):
    payment = _add(uow_factory, new_payment(payer, step=U))
    outcomes: list[tuple[int, bool]] = []
    barrier = threading.Barrier(threads)
    ends = [State.APPROVED, State.DENIED, State.CANCELLED, State.EXPIRED]

    def decide(n: int) -> None:
        with uow_factory() as uow:
            barrier.wait()
            applied = uow.payments.transition(payment.id, P, U, ends[n % len(ends)], D, decided_by="push",
                                              reason=f"t{n}")
            uow.commit()
            outcomes.append((n, applied))

    run_threads(decide, threads)
    winners = [n for n, applied in outcomes if applied]
    assert len(outcomes) == threads and len(winners) == 1
    stored = _get(uow_factory, payment.id)
    assert stored.state == ends[winners[0] % len(ends)] and stored.reason == f"t{winners[0]}"


def test_rolled_back_transition_leaves_the_payment_pending(uow_factory, payer):
    payment = _add(uow_factory, new_payment(payer))
    with uow_factory() as uow:
        assert uow.payments.transition(payment.id, P, C, State.CANCELLED, D)
    assert _get(uow_factory, payment.id).state == P


def test_for_payer_newest_first_and_limited(uow_factory, payer):
    ids = [_add(uow_factory, new_payment(payer, created_at=NOW + timedelta(seconds=i))).id for i in range(5)]
    with uow_factory() as uow:
        other = uow.users.add(new_user())
        uow.payments.add(new_payment(other.id))
        assert uow.payments.transition(ids[1], P, C, State.CANCELLED, D)
        uow.commit()
    with uow_factory() as uow:
        assert [p.id for p in uow.payments.for_payer(payer, 3)] == ids[::-1][:3]
        assert [p.id for p in uow.payments.pending_for_payer(payer)] == [ids[4], ids[3], ids[2], ids[0]]
        assert uow.payments.for_payer(12345, 10) == []


def test_due_fallbacks(uow_factory, payer):
    late = _add(uow_factory, new_payment(payer, step=U, fallback_at=NOW - timedelta(seconds=1)))
    exact = _add(uow_factory, new_payment(payer, step=U, fallback_at=NOW))
    earliest = _add(uow_factory, new_payment(payer, step=U, fallback_at=NOW - timedelta(minutes=1)))
    _add(uow_factory, new_payment(payer, step=U, fallback_at=NOW + timedelta(microseconds=1)))  # not yet
    _add(uow_factory, new_payment(payer, step=C, fallback_at=NOW - timedelta(minutes=5)))  # no push yet
    _add(uow_factory, new_payment(payer, step=K, fallback_at=NOW - timedelta(minutes=5)))  # code sent
    _add(uow_factory, new_payment(payer, state=State.DENIED, step=D, fallback_at=NOW - timedelta(minutes=5)))
    _add(uow_factory, new_payment(payer, step=U, fallback_at=None))
    with uow_factory() as uow:
        assert [p.id for p in uow.payments.due_fallbacks(NOW, 10)] == [earliest.id, late.id, exact.id]
        assert [p.id for p in uow.payments.due_fallbacks(NOW, 2)] == [earliest.id, late.id]
        # Claiming a fallback is a guarded transition: a second worker's claim does not apply.
        assert uow.payments.transition(late.id, P, U, P, K, code_sent_at=NOW)
        assert not uow.payments.transition(late.id, P, U, P, K, code_sent_at=NOW)
        assert [p.id for p in uow.payments.due_fallbacks(NOW, 10)] == [earliest.id, exact.id]


def test_due_expiries(uow_factory, payer):
    first = _add(uow_factory, new_payment(payer, expires_at=NOW - timedelta(hours=1)))
    second = _add(uow_factory, new_payment(payer, step=K, expires_at=NOW - timedelta(seconds=1)))
    third = _add(uow_factory, new_payment(payer, step=U, expires_at=NOW))
    _add(uow_factory, new_payment(payer, expires_at=NOW + timedelta(seconds=1)))
    _add(uow_factory, new_payment(payer, state=State.APPROVED, step=D, expires_at=NOW - timedelta(hours=2)))
    with uow_factory() as uow:
        assert [p.id for p in uow.payments.due_expiries(NOW, 10)] == [first.id, second.id, third.id]
        assert [p.id for p in uow.payments.due_expiries(NOW, 1)] == [first.id]


def test_pending_deadlines(uow_factory, payer):
    push = _add(uow_factory, new_payment(payer, step=U))
    code = _add(uow_factory, new_payment(payer, step=K))
    _add(uow_factory, new_payment(payer, state=State.EXPIRED, step=D))
    with uow_factory() as uow:
        deadlines = {pid: (fallback, expiry) for pid, fallback, expiry in uow.payments.pending_deadlines()}
    assert deadlines == {push.id: (push.fallback_at, push.expires_at), code.id: (None, code.expires_at)}


def test_push_request_id_is_unique(uow_factory, payer):
    _add(uow_factory, new_payment(payer, push_request_id="same"))
    with uow_factory() as uow:
        with pytest.raises(IntegrityError):
            uow.payments.add(new_payment(payer, push_request_id="same"))


def test_state_and_step_must_agree(uow_factory, payer):
    payment = _add(uow_factory, new_payment(payer))
    with uow_factory() as uow:
        with pytest.raises(IntegrityError):
            uow.payments.add(new_payment(payer, state=State.APPROVED, step=U))
    with uow_factory() as uow:
        with pytest.raises(IntegrityError):
            uow.payments._c.execute(text("UPDATE payments SET step = 'done' WHERE id = :id"), {"id": payment.id})


def test_due_queries_compare_instants_whatever_the_offset(uow_factory, payer):
    tokyo = timezone(timedelta(hours=9))
    due = _add(uow_factory, new_payment(payer, step=U, fallback_at=NOW, expires_at=NOW))
    with uow_factory() as uow:
        just_before = (NOW - timedelta(microseconds=1)).astimezone(tokyo)
        assert uow.payments.due_fallbacks(just_before, 10) == []
        assert uow.payments.due_expiries(just_before, 10) == []
        assert [p.id for p in uow.payments.due_fallbacks(NOW.astimezone(tokyo), 10)] == [due.id]
        assert [p.id for p in uow.payments.due_expiries(NOW.astimezone(tokyo), 10)] == [due.id]


@pytest.mark.parametrize("fields", [{"decided_by": "system"}, {"decided_by": None},
                                    {"decided_by": "exemption"}, {"sca": "exempt", "sca_reason": "",
                                                                  "decided_by": "exemption"}],
                         ids=["by the system", "by no one", "exemption not recorded", "exemption without reason"])
def test_the_database_refuses_an_approval_without_sca_or_a_recorded_exemption(uow_factory, payer, fields):
    payment = _add(uow_factory, new_payment(payer, step=U))
    with pytest.raises(IntegrityError), uow_factory() as uow:
        uow.payments.transition(payment.id, P, U, State.APPROVED, D, **fields)
        uow.commit()
    assert _get(uow_factory, payment.id).state == P


@pytest.mark.parametrize("fields", [{"decided_by": "push"}, {"decided_by": "code"},
                                    {"sca": "exempt", "sca_reason": "low value", "decided_by": "exemption"}])
def test_the_database_takes_an_approval_by_push_code_or_recorded_exemption(uow_factory, payer, fields):
    payment = _add(uow_factory, new_payment(payer, step=U))
    with uow_factory() as uow:
        assert uow.payments.transition(payment.id, P, U, State.APPROVED, D, **fields)
        uow.commit()
    assert _get(uow_factory, payment.id).state == State.APPROVED


def test_the_audit_trail_refuses_to_be_rewritten(uow_factory, payer):
    with uow_factory() as uow:
        uow.events.add(AuthEvent(None, NOW, payer, "payment pay_1", "push", "denied"))
        uow.commit()
    with pytest.raises(IntegrityError), uow_factory() as uow:
        uow._connection.execute(text("UPDATE auth_events SET result = 'approved'"))
        uow.commit()
    with uow_factory() as uow:
        assert uow.events.for_user(payer, 5)[0].result == "denied"
