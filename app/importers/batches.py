"""Past imports and taking one back.

An import batch remembers the journal range it wrote (first_seq..last_seq): every
row it created is an insert there, and every row it changed kept its earlier values
in import_undo. Undo deletes the one and restores the other, in one transaction,
walking the journal backwards so children go before their parents.

Undo is refused while newer work depends on the batch: a row it wrote was changed
since, or something new hangs off a record it created (a call logged on an imported
patient, a merge). Then it says what, so the person can decide.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import groupby

from app.clinic import Clinic
from app.errors import InvalidInputError, RecordNotFoundError, UndoBlockedError
from app.ops import Progress, no_progress
from app.patients.model import display_name
from app.store.changes import Changes
from app.store.database import Connection
from app.store.writer import INSERT_COLUMN, utc_now

__all__ = ["BatchInfo", "list_batches", "undo_batch", "undo_blockers"]

_MAX_REASONS = 10

# What a row of a table is, in words, for "… was added after the import".
_ROW_WORDS = {
    "interaction": "a call, message or note",
    "appointment": "an appointment",
    "appointment_status": "an appointment change",
    "charge": "a charge",
    "payment": "a payment",
    "consent": "a consent decision",
    "task": "a task",
    "patient_tag": "a tag",
    "contact_point": "a phone number or email",
    "address": "an address",
    "patient_identifier": "an identifier",
    "condition": "a condition",
    "allergy": "an allergy",
    "coverage": "an insurance",
    "merge_review": "a merge decision",
    "source_record": "a later import",
    "household": "a household",
}


@dataclass(frozen=True)
class BatchInfo:
    id: str
    started_at: str
    finished_at: str | None
    status: str  # done, undone
    created_by: str  # the user's name, "" when unknown
    files: tuple[str, ...]
    counts: dict[str, dict[str, int]]
    undone_at: str | None = None


def list_batches(clinic: Clinic, limit: int = 50) -> list[BatchInfo]:
    """The newest imports first."""
    conn = clinic.conn
    rows = conn.execute(
        "SELECT b.id, b.started_at, b.finished_at, b.status, coalesce(u.name, ''), b.summary, "
        "b.undone_at FROM import_batch b LEFT JOIN app_user u ON u.id = b.created_by "
        "ORDER BY b.started_at DESC, b.rowid DESC LIMIT ?",
        (limit,),
    ).fetchall()
    result = []
    for batch_id, started, finished, status, user, summary, undone_at in rows:
        files = tuple(
            r[0]
            for r in conn.execute(
                "SELECT name FROM import_file WHERE batch_id = ? ORDER BY name", (batch_id,)
            )
        )
        counts = json.loads(summary or "{}").get("counts", {})
        result.append(
            BatchInfo(batch_id, started, finished, status, user, files, counts, undone_at)
        )
    return result


def _batch(conn: Connection, batch_id: str) -> tuple[str, int | None, int | None]:
    row = conn.execute(
        "SELECT status, first_seq, last_seq FROM import_batch WHERE id = ?", (batch_id,)
    ).fetchone()
    if row is None:
        raise RecordNotFoundError("That import is not on this computer's list of imports.")
    return str(row[0]), row[1], row[2]


def _load_rows(conn: Connection, batch_id: str, first: int | None, last: int | None) -> None:
    """temp.undo_rows: every row the batch created (made=1) or changed (made=0)."""
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS undo_rows "
        "(tbl TEXT, row_id TEXT, made INTEGER, seq INTEGER, PRIMARY KEY (tbl, row_id))"
    )
    conn.execute("DELETE FROM temp.undo_rows")
    if first is not None and last is not None:
        conn.execute(
            "INSERT OR IGNORE INTO temp.undo_rows SELECT tbl, row_id, 1, seq FROM change "
            "WHERE seq BETWEEN ? AND ? AND col = ?",
            (first, last, INSERT_COLUMN),
        )
    conn.execute(
        "INSERT OR IGNORE INTO temp.undo_rows SELECT tbl, row_id, 0, seq FROM import_undo "
        "WHERE batch_id = ?",
        (batch_id,),
    )


def undo_blockers(clinic: Clinic, batch_id: str) -> list[str]:
    """Why the import cannot be undone now, one sentence each; [] when it can.

    The sentences may name patients: they are for the screen, not for logs.
    """
    conn = clinic.conn
    status, first, last = _batch(conn, batch_id)
    if status == "undone":
        return ["This import has already been undone."]
    _load_rows(conn, batch_id, first, last)
    after = last if last is not None else _max_seq(conn)
    found: list[tuple[str, str | None]] = []  # (what, patient id)
    for table, row_id in conn.execute(
        "SELECT DISTINCT c.tbl, c.row_id FROM temp.undo_rows u "
        "JOIN change c ON c.tbl = u.tbl AND c.row_id = u.row_id WHERE c.seq > ?",
        (after,),
    ).fetchall():
        if table == "source_record":
            what = "A later import updated a record this import brought in"
        else:
            what = f"{_words(table)} from this import was changed since"
        found.append((what, _owner(conn, table, row_id)))
        if len(found) > _MAX_REASONS:
            break
    # A later import may have named a record of this one by a key of its own (a
    # practitioner role): deleting the record would leave that key pointing nowhere.
    for table, row_id in conn.execute(
        "SELECT s.tbl, s.row_id FROM source_record s "
        "JOIN temp.undo_rows u ON u.made = 1 AND u.tbl = s.tbl AND u.row_id = s.row_id "
        "WHERE NOT EXISTS (SELECT 1 FROM temp.undo_rows v "
        "WHERE v.tbl = 'source_record' AND v.row_id = s.id) LIMIT ?",
        (_MAX_REASONS + 1,),
    ).fetchall():
        what = "A later import linked to a record this import brought in"
        found.append((what, row_id if table == "patient" else None))
    schema = clinic.store.schema
    for parent in ("patient", "provider", "location", "organization", "appointment"):
        for child, column in schema.referenced_by.get(parent, []):
            rows = conn.execute(
                f"SELECT x.id, x.{column} FROM {child} x "  # noqa: S608 - names from the schema
                f"JOIN temp.undo_rows u ON u.tbl = ? AND u.made = 1 AND u.row_id = x.{column} "
                "WHERE NOT EXISTS (SELECT 1 FROM temp.undo_rows v "
                "WHERE v.tbl = ? AND v.row_id = x.id) LIMIT ?",
                (parent, child, _MAX_REASONS + 1),
            ).fetchall()
            for row_id, parent_id in rows:
                owner = parent_id if parent == "patient" else _owner(conn, child, row_id)
                found.append((f"{_words(child)} was added after the import", owner))
    return _sentences(conn, found)


def _max_seq(conn: Connection) -> int:
    return int(conn.execute("SELECT coalesce(max(seq), 0) FROM change").fetchone()[0])


def _words(table: str) -> str:
    text = _ROW_WORDS.get(table, "a " + table.replace("_", " "))
    return text[0].upper() + text[1:]


def _owner(conn: Connection, table: str, row_id: str) -> str | None:
    if table == "patient":
        return row_id
    if "patient_id" not in _columns(conn, table):
        return None
    row = conn.execute(
        f"SELECT patient_id FROM {table} WHERE id = ?",  # noqa: S608 - a table of PRAGMA's list
        (row_id,),
    ).fetchone()
    return str(row[0]) if row else None


def _columns(conn: Connection, table: str) -> set[str]:
    """Columns of a table named by the journal; an unknown name has none."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if table not in tables:
        return set()
    return {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}


def _sentences(conn: Connection, found: list[tuple[str, str | None]]) -> list[str]:
    sentences: list[str] = []
    for what, patient_id in dict.fromkeys(found):
        who = _patient_words(conn, patient_id)
        sentences.append(f"{what} ({who})." if who else f"{what}.")
    if len(sentences) > _MAX_REASONS:
        more = len(sentences) - _MAX_REASONS
        sentences = [*sentences[:_MAX_REASONS], f"…and {more} more."]
    return sentences


def _patient_words(conn: Connection, patient_id: str | None) -> str:
    if not patient_id:
        return ""
    row = conn.execute(
        "SELECT family_name, given_names, preferred_name FROM patient WHERE id = ?",
        (patient_id,),
    ).fetchone()
    return display_name(*row) if row else ""


def undo_batch(clinic: Clinic, batch_id: str, progress: Progress = no_progress) -> Changes:
    """Take the import back: delete what it created, restore what it changed.

    Raises UndoBlockedError (with the reasons) when newer work depends on it.
    """
    if _batch(clinic.conn, batch_id)[0] == "undone":
        raise InvalidInputError("This import has already been undone.")
    conn = clinic.conn
    with clinic.store.write() as tx:
        # Checked under the write lock: nothing can come to depend on the batch between
        # the check and the undo (another workstation's save waits).
        reasons = undo_blockers(clinic, batch_id)
        if reasons:
            raise UndoBlockedError(
                "This import cannot be undone, because newer work depends on it.", reasons
            )
        restores = conn.execute(
            "SELECT tbl, row_id, before FROM import_undo WHERE batch_id = ? ORDER BY seq DESC",
            (batch_id,),
        ).fetchall()
        made = [
            (str(t), str(r))
            for t, r in conn.execute(
                "SELECT tbl, row_id FROM temp.undo_rows WHERE made = 1 ORDER BY seq DESC"
            )
        ]
        made_set = set(made)
        total = len(restores) + len(made)
        done = 0
        for table, row_id, before in restores:
            if (table, row_id) not in made_set:
                tx.update(table, row_id, json.loads(before))
            done += 1
        for table, group in groupby(made, key=lambda pair: pair[0]):
            ids = [row_id for _, row_id in group]
            tx.delete_many(table, ids)
            done += len(ids)
            progress(done, total, "Undoing the import")
        conn.execute(
            "UPDATE import_batch SET status = 'undone', undone_at = ?, undone_by = ? WHERE id = ?",
            (utc_now(), clinic.acting_user_id or "", batch_id),
        )
    return tx.changes
