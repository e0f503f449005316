"""Emptying Payfriend's database, for the sandbox's reset: every row goes, the schema stays."""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.pool import NullPool

from models.engine import make_engine

KEPT_TABLES = frozenset({"alembic_version"})  # the schema's revision is not data


def empty_database(database_url: str) -> None:
    """Delete every row of every table but alembic_version, in one transaction."""
    engine = make_engine(database_url, poolclass=NullPool)
    try:
        tables = MetaData()
        tables.reflect(bind=engine)  # what the database holds, whichever revision it is at
        with engine.begin() as connection:
            for table in reversed(tables.sorted_tables):  # children before the rows they refer to
                if table.name not in KEPT_TABLES:
                    connection.execute(table.delete())
    finally:
        engine.dispose()
