"""Database fixtures: a fresh, migrated database per test (SQLite, or PostgreSQL via TEST_DATABASE_URL).

Set TEST_DATABASE_URL to a PostgreSQL server's URL (for instance the one scripts/postgres.sh start
prints): every test then gets its own newly created database on that server, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest


@pytest.fixture
def database_url(tmp_path) -> Iterator[str]:
    """The URL of an empty database that only this test uses."""
    server = os.environ.get("TEST_DATABASE_URL", "").strip()
    if not server:
        yield f"sqlite:///{tmp_path / 'payfriend.db'}"
        return
    from sqlalchemy.pool import NullPool

    from models.engine import make_engine, normalize_url

    base = normalize_url(server)
    if base.get_backend_name() != "postgresql":
        raise pytest.UsageError("TEST_DATABASE_URL must be a PostgreSQL URL")
    name = f"payfriend_test_{uuid.uuid4().hex[:16]}"
    admin = make_engine(base, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def engine(database_url: str):
    """An engine on the test's database (not migrated)."""
    from models.engine import make_engine

    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def uow_factory(database_url: str, engine):
    """A SqlUnitOfWorkFactory on the test's database, migrated to the newest revision."""
    from models.migrate import upgrade
    from models.uow import SqlUnitOfWorkFactory

    upgrade(database_url)
    return SqlUnitOfWorkFactory(engine)
