"""SqlUnitOfWork: one transaction; leaving without commit rolls back."""

from __future__ import annotations

import threading

import pytest

from bot.ports import UnitOfWork, UnitOfWorkFactory
from models.engine import make_engine, writer_lock
from models.uow import SqlUnitOfWork, SqlUnitOfWorkFactory
from tests.models.support import NOW, new_user


def test_factory_opens_a_new_unit_each_call(uow_factory):
    first, second = uow_factory(), uow_factory()
    assert isinstance(first, SqlUnitOfWork) and first is not second


def test_satisfies_the_ports(uow_factory):
    factory: UnitOfWorkFactory = uow_factory
    with factory() as uow:
        unit: UnitOfWork = uow
        for name in ("users", "payments", "outbox", "receipts"):
            assert hasattr(unit, name)
    assert isinstance(uow_factory, SqlUnitOfWorkFactory)


def test_leaving_without_commit_rolls_back(uow_factory):
    with uow_factory() as uow:
        user = uow.users.add(new_user())
        uow.receipts.first_time("x", NOW)
    with uow_factory() as uow:
        assert uow.users.get(user.id) is None
        assert uow.receipts.first_time("x", NOW)


def test_an_exception_rolls_back(uow_factory):
    with pytest.raises(RuntimeError):
        with uow_factory() as uow:
            user = uow.users.add(new_user())
            raise RuntimeError("boom")
    with uow_factory() as uow:
        assert uow.users.get(user.id) is None


def test_commit_keeps_work_and_the_unit_stays_usable(uow_factory):
    with uow_factory() as uow:
        kept = uow.users.add(new_user())
        uow.commit()
        dropped = uow.users.add(new_user())
    with uow_factory() as uow:
        assert uow.users.get(kept.id) is not None
        assert uow.users.get(dropped.id) is None


def test_must_be_entered(uow_factory):
    uow = uow_factory()
    with pytest.raises(RuntimeError):
        uow.commit()
    with uow:
        with pytest.raises(RuntimeError):
            uow.__enter__()


def test_on_one_writer_sqlite_units_of_work_take_turns(database_url, uow_factory):
    if not database_url.startswith("sqlite"):
        pytest.skip("one_writer applies to SQLite only: PostgreSQL has row locks")
    engine = make_engine(database_url, one_writer=True)
    factory = SqlUnitOfWorkFactory(engine)
    inside = threading.Event()
    order: list[str] = []

    def second() -> None:
        inside.wait(5)
        with factory() as uow:
            order.append("second entered")
            uow.receipts.first_time("b", NOW)
            uow.commit()

    other = threading.Thread(target=second)
    other.start()
    try:
        with factory() as uow:
            inside.set()
            uow.receipts.first_time("a", NOW)
            other.join(0.3)  # the other unit waits for this one instead of racing it for the file
            order.append("first left")
            uow.commit()
        other.join(5)
    finally:
        engine.dispose()
    assert order == ["first left", "second entered"]
    assert writer_lock(engine) is not None and writer_lock(uow_factory.engine) is None


def test_a_unit_that_cannot_connect_leaves_the_one_writer_lock_free(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'no such directory' / 'p.db'}", one_writer=True)
    try:
        with pytest.raises(Exception):
            with SqlUnitOfWorkFactory(engine)():
                pass
        taken: list[bool] = []
        other = threading.Thread(target=lambda: taken.append(writer_lock(engine).acquire(timeout=2)))
        other.start()
        other.join(5)
        assert taken == [True]  # another thread (a later request) can still work
    finally:
        engine.dispose()
