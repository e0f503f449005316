"""SqlOutboxRepository on a real database: leases, retries, and one claimer per message."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select

from bot.core.entities import SECRET_BLANKED, Button, Channel
from models.tables import outbox
from tests.models.support import NOW, new_message, run_threads

LEASE = NOW + timedelta(seconds=30)


def test_add_and_claim_round_trip(uow_factory):
    buttons = [[Button("Approve", "approve:abc"), Button("Cancel", "cancel:abc")], [Button("Help", "help")]]
    with uow_factory() as uow:
        message = uow.outbox.add(new_message(channel=Channel.SMS, recipient="+15551234567", text="Ünïcode ✓",
                                             buttons=buttons, request_contact=True, remove_keyboard=True))
        uow.commit()
    assert isinstance(message.id, int)
    with uow_factory() as uow:
        [claimed] = uow.outbox.claim_due(NOW, LEASE, 10)
        uow.commit()
    assert (claimed.id, claimed.channel, claimed.recipient, claimed.text) == (message.id, Channel.SMS,
                                                                              "+15551234567", "Ünïcode ✓")
    assert claimed.buttons == buttons and claimed.request_contact is True and claimed.remove_keyboard is True
    assert claimed.attempts == 0 and claimed.created_at == NOW and claimed.created_at.tzinfo is not None


def test_claim_respects_due_time_lease_and_limit(uow_factory):
    with uow_factory() as uow:
        ids = [uow.outbox.add(new_message(created_at=NOW + timedelta(seconds=i))).id for i in range(3)]
        later = uow.outbox.add(new_message(next_attempt_at=NOW + timedelta(minutes=1))).id
        uow.commit()
    with uow_factory() as uow:
        assert [m.id for m in uow.outbox.claim_due(NOW + timedelta(seconds=5), LEASE, 2)] == ids[:2]
        assert [m.id for m in uow.outbox.claim_due(NOW + timedelta(seconds=5), LEASE, 10)] == ids[2:]
        assert uow.outbox.claim_due(NOW + timedelta(seconds=5), LEASE, 10) == []  # all leased
        # A lease that ran out (the worker died) makes the message claimable again.
        again = uow.outbox.claim_due(LEASE, NOW + timedelta(hours=1), 10)
        assert [m.id for m in again] == ids
        assert all(m.attempts == 0 for m in again)
        assert [m.id for m in uow.outbox.claim_due(NOW + timedelta(minutes=2), NOW + timedelta(minutes=3), 10)] \
            == [later]


def test_delivered_and_failed_messages_are_never_claimed_again(uow_factory):
    with uow_factory() as uow:
        delivered = uow.outbox.add(new_message()).id
        failed = uow.outbox.add(new_message()).id
        uow.commit()
    with uow_factory() as uow:
        assert len(uow.outbox.claim_due(NOW, LEASE, 10)) == 2
        uow.outbox.mark_delivered(delivered, NOW)
        uow.outbox.mark_failed(failed, "403 Forbidden: bot was blocked by the user", NOW)
        uow.commit()
    with uow_factory() as uow:
        assert uow.outbox.claim_due(NOW + timedelta(days=1), NOW + timedelta(days=2), 10) == []
        # Late reports about finished messages change nothing.
        uow.outbox.mark_retry(delivered, "late", NOW)
        uow.outbox.mark_failed(delivered, "late", NOW)
        uow.commit()
    with uow_factory() as uow:
        assert uow.outbox.claim_due(NOW + timedelta(days=1), NOW + timedelta(days=2), 10) == []


def test_retry_releases_the_lease_until_the_next_attempt(uow_factory):
    with uow_factory() as uow:
        message_id = uow.outbox.add(new_message()).id
        uow.commit()
    retry_at = NOW + timedelta(seconds=10)
    with uow_factory() as uow:
        assert len(uow.outbox.claim_due(NOW, NOW + timedelta(minutes=5), 10)) == 1
        uow.outbox.mark_retry(message_id, "timeout", retry_at)
        uow.commit()
    with uow_factory() as uow:
        assert uow.outbox.claim_due(retry_at - timedelta(microseconds=1), LEASE, 10) == []
        [again] = uow.outbox.claim_due(retry_at, LEASE, 10)
    assert (again.attempts, again.last_error, again.next_attempt_at) == (1, "timeout", retry_at)


def test_uncommitted_claim_is_not_a_claim(uow_factory):
    with uow_factory() as uow:
        uow.outbox.add(new_message())
        uow.commit()
    with uow_factory() as uow:
        assert len(uow.outbox.claim_due(NOW, LEASE, 10)) == 1
    with uow_factory() as uow:
        assert len(uow.outbox.claim_due(NOW, LEASE, 10)) == 1


def test_concurrent_claimers_each_message_once(uow_factory):
    total, workers = 60, 6
    with uow_factory() as uow:
        for i in range(total):
            uow.outbox.add(new_message(text=f"m{i}", created_at=NOW + timedelta(microseconds=i)))
        uow.commit()
    claimed: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(workers)

    def worker() -> None:
        barrier.wait()
        while True:
            with uow_factory() as uow:
                batch = uow.outbox.claim_due(NOW + timedelta(seconds=1), LEASE, 4)
                uow.commit()
            if not batch:
                return
            with lock:
                claimed.extend(m.id for m in batch)

    run_threads(worker, workers)
    assert len(claimed) == total and len(set(claimed)) == total


def test_one_recipient_gets_messages_in_order_even_when_one_is_retried(uow_factory):
    """The second message to a chat waits until the first is delivered or given up."""
    with uow_factory() as uow:
        first = uow.outbox.add(new_message(recipient="42", text="first"))
        second = uow.outbox.add(new_message(recipient="42", text="second"))
        other = uow.outbox.add(new_message(recipient="43", text="elsewhere"))
        uow.commit()
    with uow_factory() as uow:
        claimed = [m.id for m in uow.outbox.claim_due(NOW, NOW + timedelta(seconds=30), 10)]
        uow.commit()
    assert claimed == [first.id, other.id]
    with uow_factory() as uow:
        uow.outbox.mark_retry(first.id, "flood control", NOW + timedelta(seconds=5))
        uow.commit()
    later = NOW + timedelta(seconds=1)
    with uow_factory() as uow:
        assert uow.outbox.claim_due(later, later + timedelta(seconds=30), 10) == []  # "second" still waits
        uow.commit()
    again = NOW + timedelta(seconds=5)
    with uow_factory() as uow:
        assert [m.id for m in uow.outbox.claim_due(again, again + timedelta(seconds=30), 10)] == [first.id]
        uow.outbox.mark_delivered(first.id, again)
        uow.commit()
    with uow_factory() as uow:
        assert [m.text for m in uow.outbox.claim_due(again, again + timedelta(seconds=30), 10)] == ["second"]


def test_undelivered_lists_what_still_waits_oldest_first(uow_factory):
    with uow_factory() as uow:
        first = uow.outbox.add(new_message(recipient="42", text="first"))
        second = uow.outbox.add(new_message(recipient="42", text="second"))
        done = uow.outbox.add(new_message(text="done"))
        uow.outbox.mark_delivered(done.id, NOW)
        uow.commit()
    with uow_factory() as uow:
        assert [m.id for m in uow.outbox.undelivered(10)] == [first.id, second.id]


def test_a_secret_message_keeps_no_text_once_delivered_or_given_up(uow_factory):
    with uow_factory() as uow:
        sent = uow.outbox.add(new_message(text="link #tok", secret=True))
        failed = uow.outbox.add(new_message(text="link #tok2", secret=True))
        plain = uow.outbox.add(new_message(text="Sent: $20.00 to Neville"))
        uow.commit()
    with uow_factory() as uow:
        assert [m.secret for m in uow.outbox.undelivered(10)] == [True, True, False]
        uow.outbox.mark_delivered_many([sent.id, plain.id], NOW)
        uow.outbox.mark_failed(failed.id, "blocked", NOW)
        uow.commit()
    with uow_factory() as uow:
        rows = dict(uow._connection.execute(select(outbox.c.id, outbox.c.text)).all())
    assert [rows[sent.id], rows[failed.id], rows[plain.id]] == [SECRET_BLANKED, SECRET_BLANKED,
                                                                "Sent: $20.00 to Neville"]
