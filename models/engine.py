"""Building the SQLAlchemy engine for SQLite (WAL) or PostgreSQL (psycopg 3)."""

from __future__ import annotations

import threading
import weakref
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

SQLITE_BUSY_TIMEOUT_MS = 30_000


def normalize_url(database_url: str | URL) -> URL:
    """Parse a database URL, pointing every PostgreSQL spelling at the psycopg 3 driver."""
    if isinstance(database_url, str) and database_url.startswith("postgres://"):
        database_url = "postgresql://" + database_url[len("postgres://"):]
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql" and url.drivername != "postgresql+psycopg":
        url = url.set(drivername="postgresql+psycopg")
    return url


def make_engine(database_url: str | URL, *, one_writer: bool = False, **options: Any) -> Engine:
    """Create an engine: SQLite in WAL mode with foreign keys, or PostgreSQL via psycopg 3.

    one_writer (SQLite only): the process's units of work take turns. SQLite allows one writer at
    a time anyway; taking turns in the process costs nothing, while leaving it to SQLite's busy
    handler makes each waiting thread sleep in growing steps (up to 100 ms) long after the writer
    is done. Measured with 1,000 fallbacks due over 30 s: p99 lateness 2.4 s without, 0.11 s with.
    """
    url = normalize_url(database_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        engine = _sqlite_engine(url, options)
        if one_writer:
            _WRITER_LOCKS[engine] = threading.RLock()
        return engine
    if backend == "postgresql":
        settings: dict[str, Any] = {"pool_pre_ping": True}
        if "poolclass" not in options:
            settings.update(pool_size=10, max_overflow=20, pool_recycle=1800)
        settings.update(options)
        return create_engine(url, **settings)
    raise ValueError(f"unsupported database: {url.get_backend_name()} (use sqlite or postgresql)")


_WRITER_LOCKS: "weakref.WeakKeyDictionary[Engine, threading.RLock]" = weakref.WeakKeyDictionary()


def writer_lock(engine: Engine) -> threading.RLock | None:
    """The lock every unit of work holds on an engine made with one_writer=True (None otherwise)."""
    return _WRITER_LOCKS.get(engine)


def _sqlite_engine(url: URL, options: dict[str, Any]) -> Engine:
    settings: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
    if url.database not in (None, "", ":memory:") and "poolclass" not in options:
        settings.update(pool_size=10, max_overflow=20, pool_timeout=60)
    settings.update(options)
    engine = create_engine(url, **settings)
    event.listen(engine, "connect", _sqlite_on_connect)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()
