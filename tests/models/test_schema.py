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
    assert migrate.current(database_url) == head == "0009"
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
    assert migrate.current(database_url) == "0009"
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
