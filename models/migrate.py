"""Alembic migrations run from code: no alembic.ini needed at runtime."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection
from sqlalchemy.pool import NullPool

from models.engine import make_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Held while migrating on PostgreSQL so that processes starting side by side migrate one at a time.
ADVISORY_LOCK_ID = 0x5061_7966  # "Payf"


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic Config for models/migrations, optionally bound to an open connection."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database at `database_url` up to `revision` (the newest by default)."""
    _migrate(database_url, lambda config: command.upgrade(config, revision))


def downgrade(database_url: str, revision: str) -> None:
    """Take the database at `database_url` down to `revision` ("base" empties it)."""
    _migrate(database_url, lambda config: command.downgrade(config, revision))


def _migrate(database_url: str, run: Callable[[Config], None]) -> None:
    """Run one Alembic command in one transaction.

    SQLite's batch migrations rebuild a table by dropping it, which fails while other tables refer to it
    and foreign keys are enforced: they are switched off for the migration (SQLite ignores the switch
    inside a transaction, so before it) and every reference is checked before the commit.
    """
    engine = make_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
                connection.commit()  # ends SQLAlchemy's autobegun transaction; the pragma is outside one
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({ADVISORY_LOCK_ID})")
                run(alembic_config(connection))
                if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                    raise RuntimeError("the migration left rows that refer to missing rows; rolled back")
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()
    finally:
        engine.dispose()


def current(database_url: str) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    engine = make_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head() -> str | None:
    """The newest revision of the migrations shipped with this code."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()
