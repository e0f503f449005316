"""SqlReceiptRepository: a dedupe key counts once, across transactions and threads."""

from __future__ import annotations

import threading

from tests.models.support import NOW, run_threads


def test_first_time_only_once(uow_factory):
    with uow_factory() as uow:
        assert uow.receipts.first_time("telegram:update:1", NOW)
        assert not uow.receipts.first_time("telegram:update:1", NOW)
        assert uow.receipts.first_time("sms:SM123", NOW)
        uow.commit()
    with uow_factory() as uow:
        assert not uow.receipts.first_time("telegram:update:1", NOW)
        assert not uow.receipts.first_time("sms:SM123", NOW)


def test_a_rolled_back_receipt_was_never_seen(uow_factory):
    with uow_factory() as uow:
        assert uow.receipts.first_time("k", NOW)
    with uow_factory() as uow:
        assert uow.receipts.first_time("k", NOW)
        uow.commit()


def test_concurrent_redeliveries_have_one_effect(uow_factory):
    threads = 8
    results: list[bool] = []
    barrier = threading.Barrier(threads)

    def handle() -> None:
        with uow_factory() as uow:
            barrier.wait()
            results.append(uow.receipts.first_time("authy:callback:abc", NOW))
            uow.commit()

    run_threads(handle, threads)
    assert sorted(results) == [False] * (threads - 1) + [True]
