"""SqlUserRepository on a real database."""

from __future__ import annotations

from datetime import timedelta, timezone

import pytest
from sqlalchemy.exc import IntegrityError

from bot.core.entities import Registration
from tests.models.support import NOW, new_user


def test_add_sets_id_and_reads_back_every_field(uow_factory):
    user = new_user(telegram_user_id=2**40 + 1, telegram_chat_id=-100_1234567890, locale="de_DE",
                    default_currency="EUR", exempt_count=3, exempt_total_eur_minor=4500, sms_opted_out=True)
    with uow_factory() as uow:
        added = uow.users.add(user)
        uow.commit()
    assert added is user and isinstance(user.id, int)
    with uow_factory() as uow:
        assert uow.users.get(user.id) == user
        assert uow.users.by_telegram(2**40 + 1) == user
        assert uow.users.by_phone(user.phone) == user
        assert uow.users.get(user.id + 1000) is None
        assert uow.users.by_telegram(1) is None
        assert uow.users.by_phone("+15550000000") is None


def test_save_writes_every_field(uow_factory):
    with uow_factory() as uow:
        user = uow.users.add(new_user(registration=Registration.CONTACT, phone=None))
        uow.commit()
    user.phone, user.registration, user.email = "+447700900123", Registration.EMAIL, "x@example.org"
    user.exempt_count, user.exempt_total_eur_minor, user.telegram_blocked = 0, 0, True
    with uow_factory() as uow:
        uow.users.save(user)
        uow.commit()
    with uow_factory() as uow:
        assert uow.users.get(user.id) == user


def test_save_of_unknown_user_fails(uow_factory):
    with uow_factory() as uow:
        with pytest.raises(LookupError):
            uow.users.save(new_user(id=424242))
        with pytest.raises(LookupError):
            uow.users.save(new_user())


@pytest.mark.parametrize("field", ["telegram_user_id", "phone"])
def test_telegram_id_and_phone_are_unique(uow_factory, field):
    first = new_user()
    with uow_factory() as uow:
        uow.users.add(first)
        uow.commit()
    with uow_factory() as uow:
        with pytest.raises(IntegrityError):
            uow.users.add(new_user(**{field: getattr(first, field)}))


def test_many_users_without_phone_or_telegram(uow_factory):
    with uow_factory() as uow:
        added = [uow.users.add(new_user(phone=None, telegram_user_id=None)) for _ in range(3)]
        uow.commit()
    assert len({user.id for user in added}) == 3  # NULLs do not collide under the unique constraints
    with uow_factory() as uow:
        stored = [uow.users.get(user.id) for user in added]
    assert stored == added
    assert all(user.phone is None and user.telegram_user_id is None for user in stored)


def test_created_at_round_trips_as_aware_utc(uow_factory):
    local = NOW.astimezone(timezone(timedelta(hours=-5)))
    with uow_factory() as uow:
        user = uow.users.add(new_user(created_at=local))
        uow.commit()
    with uow_factory() as uow:
        stored = uow.users.get(user.id).created_at
    assert stored == NOW and stored.tzinfo == timezone.utc and stored.utcoffset() == timedelta(0)


def test_get_for_update_serializes_read_modify_write(uow_factory):
    import threading

    from tests.models.support import run_threads

    with uow_factory() as uow:
        user_id = uow.users.add(new_user()).id
        uow.commit()
    threads, barrier = 6, threading.Barrier(6)

    def exempt_payment() -> None:
        with uow_factory() as uow:
            barrier.wait()
            user = uow.users.get_for_update(user_id)
            user.exempt_count, user.exempt_total_eur_minor = user.exempt_count + 1, user.exempt_total_eur_minor + 100
            uow.users.save(user)
            uow.commit()

    run_threads(exempt_payment, threads)
    with uow_factory() as uow:
        user = uow.users.get(user_id)
        assert (user.exempt_count, user.exempt_total_eur_minor) == (threads, threads * 100)
        assert uow.users.get_for_update(user_id + 999) is None
