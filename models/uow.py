"""The unit of work: one database transaction over every repository."""

from __future__ import annotations

import threading

from sqlalchemy import Connection, Engine

from models.engine import writer_lock
from models.notify import WORK_CHANNEL

from models.repositories import (
    SqlAuthEventRepository,
    SqlJobRepository,
    SqlOutboxRepository,
    SqlPaymentRepository,
    SqlReceiptRepository,
    SqlUserRepository,
)


class SqlUnitOfWork:
    """One connection and transaction; leaving the block without commit() rolls back."""

    users: SqlUserRepository
    payments: SqlPaymentRepository
    outbox: SqlOutboxRepository
    jobs: SqlJobRepository
    receipts: SqlReceiptRepository
    events: SqlAuthEventRepository

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Connection | None = None
        self._held: threading.RLock | None = None

    def __enter__(self) -> "SqlUnitOfWork":
        if self._connection is not None:
            raise RuntimeError("this unit of work is already entered")
        self._held = writer_lock(self._engine)
        if self._held is not None:
            self._held.acquire()
        try:
            self._connection = connection = self._engine.connect()
        except BaseException:  # no block was entered, so __exit__ will not release the lock
            if self._held is not None:
                self._held.release()
                self._held = None
            raise
        self.users = SqlUserRepository(connection)
        self.payments = SqlPaymentRepository(connection)
        self._work_written = False
        self.outbox = SqlOutboxRepository(connection, self._wrote_work)
        self.jobs = SqlJobRepository(connection, self._wrote_work)
        self.receipts = SqlReceiptRepository(connection)
        self.events = SqlAuthEventRepository(connection)
        return self

    def __exit__(self, *exc: object) -> None:
        connection, self._connection = self._connection, None
        held, self._held = self._held, None
        try:
            if connection is not None:
                try:
                    connection.rollback()
                finally:
                    connection.close()
        finally:
            if held is not None:
                held.release()

    def commit(self) -> None:
        """Commit what was done so far; the unit stays usable for a next transaction.

        On PostgreSQL a transaction that wrote outbox messages or jobs also wakes the workers of
        every process (NOTIFY is delivered when the transaction commits).
        """
        connection = self._require()
        if self._work_written and connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"NOTIFY {WORK_CHANNEL}")
        self._work_written = False
        connection.commit()

    def _wrote_work(self) -> None:
        self._work_written = True

    def rollback(self) -> None:
        """Undo what was done since the last commit."""
        self._require().rollback()

    def _require(self) -> Connection:
        if self._connection is None:
            raise RuntimeError("use the unit of work inside a with block")
        return self._connection


class SqlUnitOfWorkFactory:
    """Opens a new SqlUnitOfWork on the engine for every call."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __call__(self) -> SqlUnitOfWork:
        """A new, not yet entered unit of work."""
        return SqlUnitOfWork(self.engine)
