"""The migrations build exactly the schema of models/tables.py, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from models import migrate
from models.tables import metadata

TABLES = {"users", "payments", "outbox", "jobs", "receipts", "auth_events"}


def _diffs(engine) -> list:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True,
                                                                "compare_server_default": True})
        return compare_metadata(context, metadata)


def _triggers(engine) -> set[str]:
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            rows = connection.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
        else:
            rows = connection.execute(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"))
        return {r[0] for r in rows}


def test_migration_matches_tables(database_url, engine):
    migrate.upgrade(database_url)
    assert _diffs(engine) == []
    assert TABLES <= set(inspect(engine).get_table_names())


def test_migration_and_create_all_make_the_same_triggers(database_url, engine):
    migrate.upgrade(database_url)
    migrated = _triggers(engine)
    migrate.downgrade(database_url, "base")
    metadata.create_all(engine)
    try:
        assert _triggers(engine) == migrated == {"payments_terms_frozen", "auth_events_append_only"}
    finally:
        metadata.drop_all(engine)


def test_upgrade_is_idempotent_and_downgrade_empties(database_url, engine):
    assert migrate.current(database_url) is None
    migrate.upgrade(database_url)
    migrate.upgrade(database_url)
    head = ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()
    assert migrate.current(database_url) == head == "0010"
    migrate.downgrade(database_url, "base")
    assert migrate.current(database_url) is None
    assert not TABLES & set(inspect(engine).get_table_names())
    assert _triggers(engine) == set()


def test_single_head():
    heads = ScriptDirectory.from_config(migrate.alembic_config()).get_heads()
    assert len(heads) == 1


def test_every_entity_field_has_a_column():
    from dataclasses import fields

    from bot.core.entities import OutboxMessage, Payment, User
    from models.tables import outbox, payments, users

    stored_elsewhere = {"amount": {"amount_minor", "currency", "digits"}}
    for entity, table in ((User, users), (Payment, payments), (OutboxMessage, outbox)):
        for f in fields(entity):
            columns = stored_elsewhere.get(f.name, {f.name})
            assert columns <= set(table.c.keys()), f"{entity.__name__}.{f.name} has no column in {table.name}"


def test_processes_migrating_side_by_side_migrate_once(database_url, engine):
    from tests.models.support import run_threads

    run_threads(lambda: migrate.upgrade(database_url), 1 if engine.dialect.name == "sqlite" else 4)
    assert migrate.current(database_url) == "0010"
    assert _diffs(engine) == []


def test_migrated_jobs_table_takes_every_job_kind_and_only_those(database_url, engine):
    import pytest
    from sqlalchemy.exc import IntegrityError

    from bot.core.jobs import JobKind

    migrate.upgrade(database_url)
    insert = text("INSERT INTO jobs (kind, payload, attempts, created_at) VALUES (:kind, '{}', 0, CURRENT_TIMESTAMP)")
    with engine.begin() as connection:
        for kind in JobKind:
            connection.execute(insert, {"kind": kind.value})
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(insert, {"kind": "no_such_kind"})


def test_a_database_with_people_and_payments_migrates_from_0004_to_head(database_url, engine):
    migrate.upgrade(database_url, "0004")
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO users (id, created_at, phone, phone_verified, registration, default_currency, locale, "
            "telegram_blocked, sms_opted_out, exempt_count, exempt_total_eur_minor) VALUES "
            "(1, CURRENT_TIMESTAMP, '+15005550006', TRUE, 'ready', 'USD', 'en_US', FALSE, FALSE, 0, 0)"))
        connection.execute(text(
            "INSERT INTO payments (id, payer_id, payee, amount_minor, currency, digits, channel, fingerprint, state, "
            "step, sca, sca_reason, code_attempts, expires_at, decided_by, created_at) VALUES ('pay_1', 1, "
            "'Neville', 2000, 'USD', 2, 'sms', 'f', 'approved', 'done', 'challenge', 'challenged', 0, "
            "CURRENT_TIMESTAMP, 'push', CURRENT_TIMESTAMP)"))
    migrate.upgrade(database_url)
    assert migrate.current(database_url) == "0010"
    assert _triggers(engine) == {"payments_terms_frozen", "auth_events_append_only"}
    with engine.connect() as connection:
        assert connection.execute(text("SELECT payer_id FROM payments")).scalar_one() == 1
        assert connection.execute(text("SELECT failed_attempts FROM users")).scalar_one() == 0
