"""Applying other workstations' changes: into the journal, merged per row, the winner written.

For each batch, in one transaction (`Store.apply_remote`):

1. The remote change rows go into `change` as they came, each once: a row already held
   (same table, row, column, clock and device) is skipped, so a batch delivered twice
   changes nothing.
2. The clock moves past the latest remote stamp, so this desk's next edit sorts after
   everything it has seen (app/store/hlc.py).
3. Every row the new change rows touch is merged over ALL of its change rows, local and
   remote (app/sync/merge.py), and the table is set to the result: an upsert of the
   winning values, a delete for a tombstone. Merging the whole set each time is what
   makes the outcome independent of the order and grouping of deliveries.
4. References are kept whole by one rule every desk applies alike, whatever order rows
   arrive in: a reference to a row that is not there is cleared when the column may be
   empty, and otherwise the row waits (removed here, its change rows kept) until its
   parent comes, or for ever when the parent was deleted elsewhere. Two rows holding a
   value that must be unique (a record number) keep the one made first. Such rows are
   listed in local_sync_conflict and tried again at every apply.
5. Edits made after a delete by a desk that had not seen it are recorded as conflicts
   for a manager, never dropped (their change rows stay in the journal as well).
6. The caller's bookkeeping (cursor, peer numbers) runs last, in the same transaction.

The search index and the audit log follow through the Store's hooks, as for any write.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from app.store.changes import Changes
from app.store.database import Connection, IntegrityError
from app.store.hlc import Hlc
from app.store.writer import HLC_FLOOR_KEY, RemoteTx, Schema, Store, utc_now
from app.sync.merge import DELETE_COLUMN, INSERT_COLUMN, ChangeRow, RowState, merge

_CHUNK = 400  # ids per IN (...) list
RowKey = tuple[str, str]  # (table, row id)

EDITED_AFTER_DELETE = "edited_after_delete"
PARENT_MISSING = "parent_missing"
DUPLICATE = "duplicate"
_RETRIED = (PARENT_MISSING, DUPLICATE)


@dataclass(frozen=True)
class Applied:
    """What applying did: what changed here (for the views), how many change rows were
    new to this desk, and how many conflicts were found."""

    changes: Changes
    new_rows: int
    conflicts: int


@dataclass(frozen=True)
class _Ref:
    column: str
    parent: str
    nullable: bool


class _Shape:
    """Foreign keys (with whether the column may be empty) and unique indexes per table."""

    def __init__(self, conn: Connection, schema: Schema) -> None:
        self.refs: dict[str, list[_Ref]] = {}
        self.children: dict[str, list[tuple[str, str]]] = {}
        self.uniques: dict[str, list[tuple[str, ...]]] = {}
        for table in schema.columns:
            notnull = {str(c[1]): bool(c[3]) for c in conn.execute(f"PRAGMA table_info({table})")}
            for fk in conn.execute(f"PRAGMA foreign_key_list({table})"):
                parent, column = str(fk[2]), str(fk[3])
                self.refs.setdefault(table, []).append(_Ref(column, parent, not notnull[column]))
                self.children.setdefault(parent, []).append((table, column))
            for index in conn.execute(f"PRAGMA index_list({table})"):
                name, unique, origin = str(index[1]), bool(index[2]), str(index[3])
                if not unique or origin == "pk":
                    continue
                columns = tuple(
                    str(c[2]) for c in conn.execute(f"PRAGMA index_info({_quoted(name)})")
                )
                if columns and all(columns):  # expression indexes are left to SQLite
                    self.uniques.setdefault(table, []).append(columns)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def unknown_to(schema: Schema, changes: Iterable[ChangeRow]) -> bool:
    """Whether any change names a table or column this desk's schema lacks (a newer
    Frontdesk made it): such a batch is parked, not applied in part."""
    for change in changes:
        known = schema.columns.get(change.tbl)
        if known is None:
            return True
        if change.col == INSERT_COLUMN:
            try:
                row = json.loads(change.value or "null")
            except ValueError:
                return True
            if not isinstance(row, dict) or any(col not in known for col in row):
                return True
        elif change.col != DELETE_COLUMN and change.col not in known:
            return True
    return False


def _ident(change: ChangeRow) -> tuple[str, str, str, str, str]:
    return (change.tbl, change.row_id, change.col, change.hlc, change.device_id)


def load_changes(conn: Connection, keys: Iterable[RowKey]) -> dict[RowKey, list[ChangeRow]]:
    """Every change row held for these rows (through the change_row index)."""
    by_table: dict[str, list[str]] = {}
    for tbl, row_id in set(keys):
        by_table.setdefault(tbl, []).append(row_id)
    found: dict[RowKey, list[ChangeRow]] = {}
    for tbl, ids in by_table.items():
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            marks = ",".join("?" for _ in chunk)
            for row_id, col, value, hlc, device_id in conn.execute(
                "SELECT row_id, col, value, hlc, device_id FROM change "  # noqa: S608 - marks
                f"WHERE tbl = ? AND row_id IN ({marks})",
                (tbl, *chunk),
            ):
                found.setdefault((tbl, row_id), []).append(
                    ChangeRow(hlc, device_id, tbl, row_id, col, value)
                )
    return found


def apply_changes(
    store: Store,
    incoming: Iterable[ChangeRow],
    *,
    then: Callable[[Connection], None] | None = None,
) -> Applied:
    """Apply remote change rows (any order, any repeats) in one transaction; `then` runs
    inside it last (moving the cursor). The caller has checked every table and column
    is known here (`unknown_to`)."""
    arriving = {_ident(c): c for c in incoming}
    with store.apply_remote() as tx:
        run = _Run(tx, store)
        new_rows = run.journal(list(arriving.values()))
        run.settle(run.dirty)
        if then is not None:
            then(tx.conn)
    return Applied(tx.changes, new_rows, run.conflicts_found)


def reapply_pending(store: Store) -> Applied:
    """Try the waiting rows again (after an update brought new tables, say)."""
    with store.apply_remote() as tx:
        run = _Run(tx, store)
        run.settle(set())
    return Applied(tx.changes, 0, run.conflicts_found)


def rematerialize_all(store: Store, then: Callable[[Connection], None] | None = None) -> Applied:
    """Merge every row of the journal again and write the result (repair after a digest
    mismatch: whatever the tables hold, they end as the change rows say). Table by
    table, parents first, a few thousand rows at a time, in one transaction."""
    with store.apply_remote() as tx:
        shape = _Shape(tx.conn, store.schema)
        found = 0
        for table in _parents_first(store.schema, shape):
            ids = [
                str(r)
                for (r,) in tx.conn.execute(
                    "SELECT DISTINCT row_id FROM change WHERE tbl = ?", (table,)
                )
            ]
            for start in range(0, len(ids), _REMERGE_CHUNK):
                run = _Run(tx, store, shape)
                run.settle({(table, r) for r in ids[start : start + _REMERGE_CHUNK]}, retry=False)
                found += run.conflicts_found
        run = _Run(tx, store, shape)
        run.settle(set())
        found += run.conflicts_found
        if then is not None:
            then(tx.conn)
    return Applied(tx.changes, 0, found)


_REMERGE_CHUNK = 2_000


def _parents_first(schema: Schema, shape: _Shape) -> list[str]:
    """Tables ordered so a table comes after those it refers to (self references aside)."""
    ordered: list[str] = []
    placed: set[str] = set()

    def place(table: str, seen: frozenset[str]) -> None:
        if table in placed or table in seen:
            return
        for ref in shape.refs.get(table, []):
            if ref.parent != table and ref.parent in schema.columns:
                place(ref.parent, seen | {table})
        placed.add(table)
        ordered.append(table)

    for table in sorted(schema.columns):
        place(table, frozenset())
    return ordered


class _Run:
    """One apply: the rows touched, what was removed, what must be checked."""

    def __init__(self, tx: RemoteTx, store: Store, shape: _Shape | None = None) -> None:
        self.tx = tx
        self.conn = tx.conn
        self.store = store
        self.schema = store.schema
        self.shape = shape or _Shape(self.conn, self.schema)
        self.dirty: set[RowKey] = set()
        self.conflicts_found = 0
        self._changes: dict[RowKey, list[ChangeRow]] = {}

    # --- 1, 2: the journal and the clock ---------------------------------------------

    def journal(self, arriving: Sequence[ChangeRow]) -> int:
        held = load_changes(self.conn, {(c.tbl, c.row_id) for c in arriving})
        known = {_ident(c) for rows in held.values() for c in rows}
        new = sorted(c for c in arriving if _ident(c) not in known)
        if not new:
            return 0
        self.tx.add_changes([(c.tbl, c.row_id, c.col, c.value, c.hlc, c.device_id) for c in new])
        latest = max(Hlc.decode(c.hlc) for c in new)
        self.store.clock.observe(latest)
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
            (HLC_FLOOR_KEY, latest.encode()),
        )
        for change in new:
            held.setdefault((change.tbl, change.row_id), []).append(change)
        for change in new:
            self.dirty.add((change.tbl, change.row_id))
        self._changes.update(held)
        return len(new)

    # --- 3, 4, 5: merge, write, keep references whole ------------------------------------

    def settle(self, keys: set[RowKey], *, retry: bool = True) -> None:
        """Merge and write these rows (and, with `retry`, every row still waiting)."""
        before = self._conflict_keys()
        self._settle(keys, retry)
        self.conflicts_found = len(self._conflict_keys() - before)

    def _conflict_keys(self) -> set[str]:
        return {str(k) for (k,) in self.conn.execute("SELECT key FROM local_sync_conflict")}

    def _settle(self, keys: set[RowKey], retry: bool) -> None:
        waiting: set[RowKey] = set()
        if retry:
            waiting = {
                (str(t), str(r))
                for t, r in self.conn.execute(
                    "SELECT tbl, row_id FROM local_sync_conflict WHERE kind IN (?, ?)", _RETRIED
                )
            }
        keys = {k for k in keys | waiting if k[0] in self.schema.columns}
        missing = [k for k in keys if k not in self._changes]
        self._changes.update(load_changes(self.conn, missing))
        states = merge(c for k in keys for c in self._changes.get(k, ()))
        gone: set[RowKey] = set()
        alive: set[RowKey] = set()
        for key in sorted(keys):
            self._forget(key, _RETRIED)
            state = states.get(key)
            if state is None:
                continue
            if state.deleted:
                self.tx.remove(*key)
                gone.add(key)
                self._record_late_edits(key, state)
            elif self._write(key, state, gone):
                alive.add(key)
        self._keep_references_whole(alive, gone)

    def _write(self, key: RowKey, state: RowState, gone: set[RowKey]) -> bool:
        """Write the merged row; False when it is not (yet) a row here."""
        table, row_id = key
        columns = self.schema.columns[table]
        values = {c: v for c, v in state.values().items() if c in columns and c != "id"}
        created = any(c.col == INSERT_COLUMN for c in self._changes.get(key, ()))
        if not created and self.tx.stored(table, row_id) is None:
            return False  # only edits so far: the row comes with its insert
        for _attempt in range(8):
            try:
                self.tx.put(table, row_id, values)
                return True
            except IntegrityError as exc:
                if "UNIQUE" not in str(exc).upper():
                    raise
                if not self._win_clash(key, values, gone):
                    return False
        return False

    def _born(self, key: RowKey) -> tuple[str, str]:
        rows = self._changes.get(key)
        if rows is None:
            rows = load_changes(self.conn, [key]).get(key, [])
            self._changes[key] = rows
        return min((c.stamp for c in rows), default=("", ""))

    def _win_clash(self, key: RowKey, values: dict[str, Any], gone: set[RowKey]) -> bool:
        """A unique value is held by another row: the row made first keeps it. True when
        `key` won (the others were set aside), False when it lost (it waits)."""
        table, row_id = key
        full = {**(self.tx.stored(table, row_id) or {}), **values}
        rivals: set[str] = set()
        for columns in self.shape.uniques.get(table, []):
            if any(full.get(c) is None for c in columns):
                continue  # NULLs never clash
            where = " AND ".join(f"{c} = ?" for c in columns)
            rivals |= {
                str(r)
                for (r,) in self.conn.execute(
                    f"SELECT id FROM {table} WHERE {where} AND id <> ?",  # noqa: S608
                    (*(full[c] for c in columns), row_id),
                )
            }
        if not rivals:
            raise IntegrityError("a unique value clashes with no row found")
        mine = self._born(key)
        first = min(rivals, key=lambda r: self._born((table, r)))
        if mine < self._born((table, first)):
            for rival in rivals:
                self.tx.remove(table, rival)
                gone.add((table, rival))
                self._note(DUPLICATE, (table, rival), {"kept": row_id})
            return True
        self.tx.remove(table, row_id)
        gone.add(key)
        self._note(DUPLICATE, key, {"kept": first})
        return False

    def _keep_references_whole(self, alive: set[RowKey], gone: set[RowKey]) -> None:
        """Until nothing changes: rows pointing at a row that is not there lose the
        reference (column may be empty) or wait (removed) — and whatever is removed,
        the rows pointing at it are looked at next."""
        check = set(alive) | self._children_of(gone)
        while check:
            removed: set[RowKey] = set()
            for key in sorted(check):
                table, row_id = key
                row = self.tx.stored(table, row_id)
                if row is None:
                    continue
                cleared: dict[str, Any] = {}
                for ref in self.shape.refs.get(table, []):
                    target = row.get(ref.column)
                    if target is None or self._exists(ref.parent, str(target)):
                        continue
                    detail = {
                        "column": ref.column,
                        "parent": ref.parent,
                        "parent_id": str(target),
                        "parent_deleted": self._deleted(ref.parent, str(target)),
                    }
                    self._note(PARENT_MISSING, key, detail)
                    if ref.nullable:
                        cleared[ref.column] = None
                    else:
                        self.tx.remove(table, row_id)
                        removed.add(key)
                        break
                else:
                    if cleared:
                        self.tx.put(table, row_id, cleared)
            check = self._children_of(removed)

    def _children_of(self, parents: set[RowKey]) -> set[RowKey]:
        found: set[RowKey] = set()
        by_table: dict[str, list[str]] = {}
        for table, row_id in parents:
            by_table.setdefault(table, []).append(row_id)
        for parent, ids in by_table.items():
            for child, column in self.shape.children.get(parent, []):
                for start in range(0, len(ids), _CHUNK):
                    chunk = ids[start : start + _CHUNK]
                    marks = ",".join("?" for _ in chunk)
                    found |= {
                        (child, str(r))
                        for (r,) in self.conn.execute(
                            f"SELECT id FROM {child} WHERE {column} IN ({marks})",  # noqa: S608
                            chunk,
                        )
                    }
        return found

    def _exists(self, table: str, row_id: str) -> bool:
        found = self.conn.execute(
            f"SELECT 1 FROM {table} WHERE id = ?",  # noqa: S608 - a schema table name
            (row_id,),
        ).fetchone()
        return found is not None

    def _deleted(self, table: str, row_id: str) -> bool:
        found = self.conn.execute(
            "SELECT 1 FROM change WHERE tbl = ? AND row_id = ? AND col = ? LIMIT 1",
            (table, row_id, DELETE_COLUMN),
        ).fetchone()
        return found is not None

    # --- conflicts -----------------------------------------------------------------------

    def _record_late_edits(self, key: RowKey, state: RowState) -> None:
        for change in state.conflicts:
            conflict_key = "/".join(
                (EDITED_AFTER_DELETE, change.tbl, change.row_id, change.col, *change.stamp)
            )
            self._insert_conflict(conflict_key, EDITED_AFTER_DELETE, change, "{}")

    def _note(self, kind: str, key: RowKey, detail: dict[str, Any]) -> None:
        table, row_id = key
        change = ChangeRow("", "", table, row_id, "", None)
        self._insert_conflict(
            f"{kind}/{table}/{row_id}", kind, change, json.dumps(detail, sort_keys=True)
        )

    def _insert_conflict(self, key: str, kind: str, change: ChangeRow, detail: str) -> None:
        self.conn.execute(
            "INSERT INTO local_sync_conflict "
            "(key, kind, tbl, row_id, col, hlc, device_id, detail, found_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET detail = excluded.detail",
            (
                key,
                kind,
                change.tbl,
                change.row_id,
                change.col,
                change.hlc,
                change.device_id,
                detail,
                utc_now(),
            ),
        )

    def _forget(self, key: RowKey, kinds: tuple[str, ...]) -> None:
        marks = ",".join("?" for _ in kinds)
        self.conn.execute(
            f"DELETE FROM local_sync_conflict WHERE tbl = ? AND row_id = ? AND kind IN ({marks})",  # noqa: S608
            (*key, *kinds),
        )
