"""The single place domain rows are written, each write journalled as a change row.

Audit, undo and sync all read the `change` table, so a write that skipped it would
be invisible to them. Every INSERT, UPDATE and DELETE of a domain table therefore goes
through a `Tx` from `Store.write()`; the change rows commit or roll back together
with the data they describe.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from app.errors import RecordNotFoundError, StoreWriteError
from app.store.changes import Changes, Created
from app.store.database import Connection, DatabaseError, IntegrityError, OperationalError
from app.store.hlc import Hlc, HybridLogicalClock

log = logging.getLogger(__name__)

# Tables that are not domain data: bookkeeping and derived indexes, never journalled.
# import_* records this workstation's import runs (undo reads them), not clinic data;
# audit_* and local_* are this workstation's own (its audit chain, sign-in throttle,
# backup runs): written with plain SQL, never synced.
_UNJOURNALLED_PREFIXES = ("sqlite_", "patient_search", "import_", "audit_", "local_")
_UNJOURNALLED = {"meta", "change"}
INSERT_COLUMN = "*"
_DELETE_CHUNK = 500  # ids per IN (...) list
DELETE_COLUMN = "-"

# Called inside the transaction, before commit, with the patient ids a write touched:
# this is how derived data (the search index) stays exactly in step with its source.
PatientHook = Callable[[Connection, frozenset[str]], None]
# Called inside the transaction, after the patient hooks, with the whole Tx: the audit
# log's "change" entry commits or rolls back with the change it describes.
CommitHook = Callable[["Tx"], None]


_T = TypeVar("_T", bound="Tx")
# meta key: the highest clock reading this desk has seen from another desk (sync). The
# journal's last row may be older than it, and a restarted desk must not stamp below it.
HLC_FLOOR_KEY = "hlc_floor"

_MILLIS_48 = (1 << 48) - 1
_LOW_62 = (1 << 62) - 1
_UUID7_VERSION_VARIANT = (0x7 << 76) | (0b10 << 62)


def uuid7_text(millis: int, rand74: int) -> str:
    """The version 7 layout (RFC 9562): 48 bits of milliseconds, version 7, 12 random
    bits, variant 10, 62 random bits. Formatted directly: bulk loads make millions."""
    value = (
        (millis & _MILLIS_48) << 80
        | _UUID7_VERSION_VARIANT
        | (rand74 >> 62) << 64
        | (rand74 & _LOW_62)
    )
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def new_id() -> str:
    """A time-ordered UUID (v7): new rows land at the end of each primary-key index
    instead of on a random page, which keeps bulk imports fast on a large clinic; ids
    stay unique across workstations without coordination."""
    return uuid7_text(time.time_ns() // 1_000_000, secrets.randbits(74))


def utc_text(moment: datetime) -> str:
    """The stored form of a moment: UTC, whole seconds, 'Z' ("2026-11-28T15:00:00Z")."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def utc_now() -> str:
    return utc_text(datetime.now(UTC))


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _json(value: Any) -> str:
    return _ENCODER.encode(value)


class Schema:
    """Column names per domain table, read from the database itself.

    Table and column names in SQL cannot be parameters, so every name is checked
    against this whitelist before it reaches a statement.
    """

    def __init__(self, conn: Connection) -> None:
        self.columns: dict[str, tuple[str, ...]] = {}
        tables = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        for (name,) in tables:
            if name in _UNJOURNALLED or name.startswith(_UNJOURNALLED_PREFIXES):
                continue
            cols = conn.execute(f"PRAGMA table_info({name})").fetchall()
            self.columns[name] = tuple(c[1] for c in cols)
        # Who points at whom: a delete must never leave SQLite to cascade unjournalled.
        self.referenced_by: dict[str, list[tuple[str, str]]] = {t: [] for t in self.columns}
        for child in self.columns:
            for fk in conn.execute(f"PRAGMA foreign_key_list({child})").fetchall():
                parent, column = fk[2], fk[3]
                self.referenced_by.setdefault(parent, []).append((child, column))

    def check(self, table: str, columns: Iterable[str]) -> None:
        known = self.columns.get(table)
        if known is None:
            raise ValueError(f"not a journalled table: {table}")
        unknown = [c for c in columns if c not in known]
        if unknown:
            raise ValueError(f"unknown columns for {table}: {unknown}")


class Tx:
    """One open write transaction. Collects the Changes it made."""

    def __init__(self, conn: Connection, schema: Schema, clock: HybridLogicalClock, device_id: str):
        self.conn = conn
        self._schema = schema
        self._clock = clock
        self._device_id = device_id
        self._tables: set[str] = set()
        self._patients: set[str] = set()
        self.patients_by_table: dict[str, set[str]] = {}
        self.rows_by_table: dict[str, int] = {}  # rows inserted, updated or deleted
        self.last_hlc: Hlc | None = None

    @property
    def changes(self) -> Changes:
        return Changes(frozenset(self._tables), frozenset(self._patients))

    def _stamp(self) -> str:
        """One clock reading per writer call: every change of one call is one event, and
        the rows of a call never touch the same column of the same row twice."""
        self.last_hlc = self._clock.now()
        return self.last_hlc.encode()

    def _journal(self, rows: Sequence[tuple[str, str, str, str | None]]) -> None:
        if not rows:
            return
        stamp = self._stamp()
        self.conn.executemany(
            "INSERT INTO change (tbl, row_id, col, value, hlc, device_id) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                (table, row_id, col, value, stamp, self._device_id)
                for table, row_id, col, value in rows
            ],
        )

    def _note(self, table: str, row: Mapping[str, Any], row_id: str) -> None:
        self._tables.add(table)
        self.rows_by_table[table] = self.rows_by_table.get(table, 0) + 1
        if table == "patient":
            patient_id = row_id
        elif row.get("patient_id"):
            patient_id = str(row["patient_id"])
        else:
            return
        self._patients.add(patient_id)
        self.patients_by_table.setdefault(table, set()).add(patient_id)

    def insert(self, table: str, row: Mapping[str, Any]) -> str:
        """Insert one row (an id is made when none is given) and return its id."""
        full = dict(row)
        full.setdefault("id", new_id())
        self.insert_many(table, [full])
        return str(full["id"])

    def insert_many(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Bulk insert rows that share one set of columns (imports, the demo clinic)."""
        if not rows:
            return
        given = tuple(rows[0].keys())
        if "id" not in given:
            raise ValueError("insert_many needs an id in every row")
        self._schema.check(table, given)
        placeholders = ", ".join("?" for _ in given)
        sql = f"INSERT INTO {table} ({', '.join(given)}) VALUES ({placeholders})"
        values = []
        for row in rows:
            if tuple(row.keys()) != given:
                raise ValueError("insert_many rows must share the same columns")
            values.append(tuple(row.values()))
            self._note(table, row, str(row["id"]))
        last = self.conn.execute(f"SELECT coalesce(max(rowid), 0) FROM {table}").fetchone()[0]
        self.conn.executemany(sql, values)
        # The journal is written by SQLite from the rows as stored (defaults included):
        # a new rowid is always above the old maximum, so "rowid > last" is this batch.
        fields = ", ".join(f"'{c}', {c}" for c in self._schema.columns[table])
        self.conn.execute(
            "INSERT INTO change (tbl, row_id, col, value, hlc, device_id) "
            f"SELECT ?, id, ?, json_object({fields}), ?, ? FROM {table} "
            "WHERE rowid > ? ORDER BY rowid",
            (table, INSERT_COLUMN, self._stamp(), self._device_id, last),
        )

    def current(self, table: str, row_id: str, columns: Sequence[str]) -> dict[str, Any] | None:
        """The stored values of some columns of one row (names checked), or None."""
        self._schema.check(table, columns)
        row = self.conn.execute(
            f"SELECT {', '.join(columns)} FROM {table} WHERE id = ?", (row_id,)
        ).fetchone()
        return None if row is None else dict(zip(columns, row, strict=True))

    def update(self, table: str, row_id: str, values: Mapping[str, Any]) -> list[str]:
        """Set columns of one row; only columns whose value really changes are written
        and journalled, so a save without edits leaves no trace. Returns them."""
        self._schema.check(table, values.keys())
        if "id" in values:
            raise ValueError("an id never changes")
        current = self.conn.execute(f"SELECT * FROM {table} WHERE id = ?", (row_id,)).fetchone()
        if current is None:
            raise RecordNotFoundError(f"The {table.replace('_', ' ')} no longer exists.")
        before = dict(zip(self._schema.columns[table], current, strict=True))
        changed = {c: v for c, v in values.items() if before[c] != v}
        if not changed:
            return []
        assignments = ", ".join(f"{c} = ?" for c in changed)
        self.conn.execute(
            f"UPDATE {table} SET {assignments} WHERE id = ?", (*changed.values(), row_id)
        )
        self._journal([(table, row_id, c, _json(v)) for c, v in changed.items()])
        self._note(table, before, row_id)
        return list(changed)

    def delete(self, table: str, row_id: str) -> None:
        """Delete one row, leaving a tombstone change row for sync and audit."""
        self._schema.check(table, ())
        current = self.conn.execute(f"SELECT * FROM {table} WHERE id = ?", (row_id,)).fetchone()
        if current is None:
            return
        before = dict(zip(self._schema.columns[table], current, strict=True))
        for child, column in self._schema.referenced_by.get(table, []):
            if self.conn.execute(
                f"SELECT 1 FROM {child} WHERE {column} = ? LIMIT 1", (row_id,)
            ).fetchone():
                # SQLite would cascade or null these without change rows; the caller
                # must delete or unlink them through the writer first.
                raise ValueError(f"{table} row still referenced by {child}.{column}")
        self.conn.execute(f"DELETE FROM {table} WHERE id = ?", (row_id,))
        self._journal([(table, row_id, DELETE_COLUMN, None)])
        self._note(table, before, row_id)

    def delete_many(self, table: str, row_ids: Sequence[str]) -> None:
        """Delete many rows of one table (undoing an import), each with its tombstone.

        Like `delete`, refuses when a row of another table still points at one of them:
        the caller deletes children first (undo walks the journal backwards).
        """
        self._schema.check(table, ())
        columns = self._schema.columns[table]
        has_patient = "patient_id" in columns
        for start in range(0, len(row_ids), _DELETE_CHUNK):
            chunk = list(row_ids[start : start + _DELETE_CHUNK])
            marks = ",".join("?" for _ in chunk)
            for child, column in self._schema.referenced_by.get(table, []):
                if self.conn.execute(
                    f"SELECT 1 FROM {child} WHERE {column} IN ({marks}) LIMIT 1", chunk
                ).fetchone():
                    raise ValueError(f"{table} rows still referenced by {child}.{column}")
            select = "id, patient_id" if has_patient else "id, NULL"
            found = self.conn.execute(
                f"SELECT {select} FROM {table} WHERE id IN ({marks})", chunk
            ).fetchall()
            if not found:
                continue
            self.conn.execute(f"DELETE FROM {table} WHERE id IN ({marks})", chunk)
            self._journal([(table, row_id, DELETE_COLUMN, None) for row_id, _ in found])
            self._tables.add(table)
            self.rows_by_table[table] = self.rows_by_table.get(table, 0) + len(found)
            for row_id, patient_id in found:
                owner = row_id if table == "patient" else patient_id
                if owner:
                    self._patients.add(str(owner))
                    self.patients_by_table.setdefault(table, set()).add(str(owner))


class RemoteTx(Tx):
    """A transaction applying other workstations' changes: their change rows are added
    as they are, and rows are set to their merged state without journalling again."""

    def __init__(
        self, conn: Connection, schema: Schema, clock: HybridLogicalClock, device_id: str
    ) -> None:
        super().__init__(conn, schema, clock, device_id)
        # Whose changes these are: the audit entry names the workstations, not a person
        # of this desk (nobody here made them).
        self.from_devices: set[str] = set()

    def add_changes(self, rows: Sequence[tuple[str, str, str, str | None, str, str]]) -> None:
        """Journal remote change rows verbatim: (tbl, row_id, col, value, hlc, device_id)."""
        self.from_devices.update(row[5] for row in rows)
        self.conn.executemany(
            "INSERT INTO change (tbl, row_id, col, value, hlc, device_id) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )

    def stored(self, table: str, row_id: str) -> dict[str, Any] | None:
        """The whole stored row, or None."""
        self._schema.check(table, ())
        row = self.conn.execute(f"SELECT * FROM {table} WHERE id = ?", (row_id,)).fetchone()
        return None if row is None else dict(zip(self._schema.columns[table], row, strict=True))

    def put(self, table: str, row_id: str, values: Mapping[str, Any]) -> bool:
        """Make the row hold these values: an update of the columns that differ when it
        exists, else an insert (columns not given take their defaults). Never INSERT OR
        REPLACE: that deletes first. True when something was written. IntegrityError
        (a unique value already used by another row) propagates to the caller."""
        self._schema.check(table, values.keys())
        before = self.stored(table, row_id)
        if before is None:
            full = {"id": row_id, **{c: v for c, v in values.items() if c != "id"}}
            marks = ", ".join("?" for _ in full)
            self.conn.execute(
                f"INSERT INTO {table} ({', '.join(full)}) VALUES ({marks})", tuple(full.values())
            )
            self._note(table, full, row_id)
            return True
        changed = {c: v for c, v in values.items() if c != "id" and before[c] != v}
        if not changed:
            return False
        assignments = ", ".join(f"{c} = ?" for c in changed)
        self.conn.execute(
            f"UPDATE {table} SET {assignments} WHERE id = ?", (*changed.values(), row_id)
        )
        self._note(table, before, row_id)
        if "patient_id" in changed:
            self._note(table, {**before, **changed}, row_id)  # moved: both patients' index
        return True

    def remove(self, table: str, row_id: str) -> dict[str, Any] | None:
        """Delete the row (foreign keys are off: nothing cascades); the row as it was."""
        before = self.stored(table, row_id)
        if before is None:
            return None
        self.conn.execute(f"DELETE FROM {table} WHERE id = ?", (row_id,))
        self._note(table, before, row_id)
        return before


class Store:
    """An open clinic database: reads on `conn`, writes through `write()`."""

    def __init__(
        self, conn: Connection, device_id: str, *, clock: HybridLogicalClock | None = None
    ) -> None:
        self.conn = conn
        self.device_id = device_id
        self.schema = Schema(conn)
        if clock is None:
            clock = HybridLogicalClock(last_stamp(conn))
        self.clock = clock
        self._patient_hooks: list[tuple[frozenset[str], PatientHook]] = []
        self.before_commit: list[CommitHook] = []  # run last, inside the transaction
        self.after_rollback: list[Callable[[], None]] = []

    def on_patients_written(self, tables: Iterable[str], hook: PatientHook) -> None:
        """Run `hook` before commit with the patients whose rows in `tables` changed;
        a write to any other table (a call logged, a payment) does not wake it."""
        self._patient_hooks.append((frozenset(tables), hook))

    @contextmanager
    def write(self) -> Iterator[Tx]:
        """A write transaction: all of it commits, or none of it does."""
        with self._transaction(Tx(self.conn, self.schema, self.clock, self.device_id)) as tx:
            yield tx

    @contextmanager
    def apply_remote(self) -> Iterator[RemoteTx]:
        """A transaction that writes what other workstations changed (sync).

        Their change rows go into the journal as they came (`add_changes`) and the rows
        they touch take their merged state (`put`, `remove`) without new change rows of
        this desk's own; the search index and the audit log follow through the same
        hooks as any write. Foreign keys are off for it (the pragma is a no-op inside a
        transaction, hence here): rows arrive in any order, and SQLite's cascades must
        never remove rows unjournalled. The caller (app/sync/apply.py) keeps references
        whole itself before commit.
        """
        if self.conn.in_transaction:
            raise RuntimeError("apply_remote needs a connection outside any transaction")
        self.conn.execute("PRAGMA foreign_keys = OFF")
        try:
            tx = RemoteTx(self.conn, self.schema, self.clock, self.device_id)
            with self._transaction(tx) as opened:
                yield opened
        finally:
            self.conn.execute("PRAGMA foreign_keys = ON")

    @contextmanager
    def _transaction(self, tx: _T) -> Iterator[_T]:
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except OperationalError as exc:
            raise _write_error(exc) from None
        try:
            yield tx
            for tables, hook in self._patient_hooks:
                touched = frozenset().union(*(tx.patients_by_table.get(t, ()) for t in tables))
                if touched:
                    hook(self.conn, touched)
            for commit_hook in self.before_commit:
                commit_hook(tx)
            self.conn.execute("COMMIT")
        except BaseException as exc:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            for rollback_hook in self.after_rollback:
                rollback_hook()
            if isinstance(exc, IntegrityError):
                raise StoreWriteError(
                    "The change conflicts with data already saved (for example a record "
                    "number that is already used). Nothing was saved."
                ) from exc
            if isinstance(exc, OperationalError):
                raise _write_error(exc) from exc
            raise

    def create(self, table: str, row: Mapping[str, Any]) -> Created:
        """Insert one row in its own transaction: the common case of a form saved."""
        with self.write() as tx:
            row_id = tx.insert(table, row)
        return Created(row_id, tx.changes)

    def close(self) -> None:
        self.conn.close()


def last_stamp(conn: Connection) -> Hlc | None:
    """The latest clock reading this database knows: its journal's last row, or what
    sync has seen from other desks when that is later."""
    last = conn.execute("SELECT hlc FROM change ORDER BY seq DESC LIMIT 1").fetchone()
    floor = conn.execute("SELECT value FROM meta WHERE key = ?", (HLC_FLOOR_KEY,)).fetchone()
    stamps = [Hlc.decode(str(r[0])) for r in (last, floor) if r is not None]
    return max(stamps) if stamps else None


def _write_error(exc: DatabaseError) -> StoreWriteError:
    text = str(exc).lower()
    if "full" in text:
        reason = "the disk is full. Free some space and try again"
    elif "readonly" in text or "read-only" in text:
        reason = "the data folder cannot be written to (it is read-only)"
    elif "locked" in text or "busy" in text:
        reason = "another Frontdesk window is saving at the same moment. Try again"
    else:
        reason = "the database refused the change"
        log.warning("write failed: %s", type(exc).__name__)
    return StoreWriteError(f"Nothing was saved: {reason}.")
