"""The relay's records in PostgreSQL: for a hosted relay serving many clinics.

Several relay processes may share one server; they hold no state of their own
(rate limits aside, see relay/limits.py). Every write that touches a space locks the
space's row first (SELECT … FOR UPDATE), so pushes to a space are serialised across
processes and their cursors commit in order. Each process keeps a small pool of
connections (RELAY_DATABASE_POOL, default 10).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import psycopg

from relay.errors import unavailable
from relay.settings import Settings
from relay.storage.base import (
    SCHEMA,
    Row,
    Storage,
    settle_schema_version,
    split_statements,
)

_TYPES = {"real": "DOUBLE PRECISION", "int": "BIGINT", "blob": "BYTEA"}
# Any constant: the advisory lock that lets one process at a time create the tables.
_SCHEMA_LOCK = 0x46445253  # "FDRS"


def _placeholders(sql: str) -> str:
    """The storage's `?` placeholders as psycopg's `%s` (no SQL here has a literal ? or %)."""
    return sql.replace("?", "%s")


class _PgTx:
    def __init__(self, conn: psycopg.Connection[Row]) -> None:
        self._conn = conn

    def one(self, sql: str, params: Sequence[object] = ()) -> Row | None:
        return self._conn.execute(_placeholders(sql), params).fetchone()

    def all(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        return self._conn.execute(_placeholders(sql), params).fetchall()

    def run(self, sql: str, params: Sequence[object] = ()) -> int:
        return self._conn.execute(_placeholders(sql), params).rowcount


class PostgresStorage(Storage):
    lock_rows = " FOR UPDATE"

    def __init__(self, dsn: str, settings: Settings) -> None:
        super().__init__(settings)
        self._dsn = dsn
        self._size = max(1, settings.database_pool)
        self._idle: queue.LifoQueue[psycopg.Connection[Row]] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(self._size)
        self._closed = False
        self._create_schema()

    def _connect(self) -> psycopg.Connection[Row]:
        try:
            return psycopg.connect(self._dsn, autocommit=True, connect_timeout=10)
        except psycopg.OperationalError:
            raise unavailable() from None

    @contextmanager
    def _borrow(self) -> Iterator[psycopg.Connection[Row]]:
        if not self._slots.acquire(timeout=30):
            raise unavailable("The relay is too busy right now; try again soon.")
        conn: psycopg.Connection[Row] | None = None
        try:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                conn = self._connect()
            yield conn
        finally:
            if conn is not None:
                healthy = not conn.closed and conn.info.transaction_status == (
                    psycopg.pq.TransactionStatus.IDLE
                )
                if healthy and not self._closed:
                    self._idle.put(conn)
                else:
                    conn.close()
            self._slots.release()

    def _create_schema(self) -> None:
        with self.transaction(write=True) as tx:
            tx.one("SELECT pg_advisory_xact_lock(?)", (_SCHEMA_LOCK,))
            for statement in split_statements(SCHEMA.format(**_TYPES)):
                tx.run(statement)
            settle_schema_version(tx)

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[_PgTx]:
        # Reads see one snapshot (pull: the head and the batches agree); writes use the
        # default READ COMMITTED plus the space row lock.
        with self._borrow() as conn:
            try:
                with conn.transaction():
                    if not write:
                        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    yield _PgTx(conn)
            except psycopg.OperationalError:
                raise unavailable() from None

    def close(self) -> None:
        self._closed = True
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return
