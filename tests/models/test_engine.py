"""make_engine: SQLite pragmas and PostgreSQL URL spellings."""

from __future__ import annotations

import pytest

from models.engine import make_engine, normalize_url


@pytest.mark.parametrize("url", [
    "postgres://u:pw@db.example:5432/pay",
    "postgresql://u:pw@db.example:5432/pay",
    "postgresql+psycopg2://u:pw@db.example:5432/pay",
])
def test_postgres_urls_use_psycopg3(url):
    normalized = normalize_url(url)
    assert normalized.drivername == "postgresql+psycopg"
    assert normalized.render_as_string(hide_password=False) == "postgresql+psycopg://u:pw@db.example:5432/pay"


def test_unsupported_database_is_refused():
    with pytest.raises(ValueError, match="unsupported database"):
        make_engine("mysql://u@h/db")


def test_sqlite_pragmas(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'p.db'}")
    try:
        with engine.connect() as connection:
            pragma = lambda name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
            assert pragma("journal_mode") == "wal"
            assert pragma("synchronous") == 1  # NORMAL
            assert pragma("foreign_keys") == 1
            assert pragma("busy_timeout") >= 5000
    finally:
        engine.dispose()


def test_engine_connects(engine):
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT 1").scalar() == 1
