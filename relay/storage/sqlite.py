"""The relay's records in one SQLite file: the default for a clinic's own relay.

One process, one writer: write transactions start with BEGIN IMMEDIATE and take a
process-wide lock first (threads queue on the lock rather than spinning on SQLite's
busy handler). Readers never wait for the writer (WAL). Connections are pooled per
thread of the server's worker pool.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from relay.settings import Settings
from relay.storage.base import (
    SCHEMA,
    Row,
    Storage,
    settle_schema_version,
    split_statements,
)

_TYPES = {"real": "REAL", "int": "INTEGER", "blob": "BLOB"}


class _SqliteTx:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def one(self, sql: str, params: Sequence[object] = ()) -> Row | None:
        row: Row | None = self._conn.execute(sql, params).fetchone()
        return row

    def all(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        return self._conn.execute(sql, params).fetchall()

    def run(self, sql: str, params: Sequence[object] = ()) -> int:
        return self._conn.execute(sql, params).rowcount


class SqliteStorage(Storage):
    def __init__(self, path: Path, settings: Settings) -> None:
        super().__init__(settings)
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._closed = False
        self._create_schema()

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise RuntimeError("the relay's storage is closed")
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30.0
            )
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

    def _create_schema(self) -> None:
        with self.transaction(write=True) as tx:
            for statement in split_statements(SCHEMA.format(**_TYPES)):
                tx.run(statement)
            settle_schema_version(tx)

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[_SqliteTx]:
        conn = self._connection()
        if write:
            with self._write_lock:
                yield from self._run(conn, "BEGIN IMMEDIATE")
        else:
            yield from self._run(conn, "BEGIN")

    @staticmethod
    def _run(conn: sqlite3.Connection, begin: str) -> Iterator[_SqliteTx]:
        conn.execute(begin)
        try:
            yield _SqliteTx(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        self._closed = True
        with self._all_lock:
            connections, self._all = self._all, []
        for conn in connections:
            conn.close()
