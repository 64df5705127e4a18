"""Several workstations of one clinic for sync tests: real encrypted copies, own device ids.

Each desk is a copy of the same clinic folder (as a new workstation gets it from a
snapshot) with a device id of its own, opened as the desktop opens it, optionally with
a wall clock of its own (skew). Helpers move change rows between desks directly
(payload bytes, no relay) and compare what the desks hold.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.clinic import Clinic
from app.store import database, lifecycle
from app.store.hlc import HybridLogicalClock
from app.store.migrations import latest_version
from app.store.writer import last_stamp
from app.sync import journal, payload
from app.sync.apply import Applied, apply_changes, unknown_to
from app.sync.merge import DELETE_COLUMN, INSERT_COLUMN, ChangeRow, merge

WallClock = Callable[[], int]


def copy_desk(source: Path, target: Path, data_key: bytes) -> Path:
    """A copy of a clinic folder that is a workstation of its own (new device id)."""
    shutil.copytree(source, target)
    conn = database.connect(target / "clinic.db", data_key)
    conn.execute("UPDATE meta SET value = ? WHERE key = 'device_id'", (str(uuid.uuid4()),))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return target


def open_desk(home: Path, wall_clock: WallClock | None = None) -> Clinic:
    """Open a desk (through the keyring) with its own wall clock when given."""
    opened = lifecycle.unlock(home)
    clock = HybridLogicalClock(last_stamp(opened.conn), wall_clock=wall_clock)
    return Clinic(opened, clock=clock)


def outgoing(
    desk: Clinic, after_seq: int = 0, max_rows: int = journal.MAX_BATCH_ROWS
) -> tuple[int, list[bytes]]:
    """Every own change after `after_seq` as payloads, and the journal position reached."""
    batches: list[bytes] = []
    while True:
        batch = journal.next_batch(
            desk.conn, desk.store.device_id, after_seq, latest_version(), max_rows=max_rows
        )
        if batch is None:
            return after_seq, batches
        batches.append(batch.payload)
        after_seq = batch.upto_seq


def deliver(desk: Clinic, data: bytes, sender: str) -> Applied:
    rows = payload.decode(data, sender).changes
    assert not unknown_to(desk.store.schema, rows)
    return apply_changes(desk.store, rows)


def domain_state(desk: Clinic) -> dict[str, list[tuple[Any, ...]]]:
    """Every synced table's rows, in id order: what must be the same on every desk."""
    state: dict[str, list[tuple[Any, ...]]] = {}
    for table in sorted(desk.store.schema.columns):
        state[table] = desk.conn.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
    return state


def journal_rows(desk: Clinic) -> set[ChangeRow]:
    return {
        ChangeRow(hlc, device, tbl, row_id, col, value)
        for tbl, row_id, col, value, hlc, device in desk.conn.execute(
            "SELECT tbl, row_id, col, value, hlc, device_id FROM change"
        )
    }


def lost_edits(desk: Clinic) -> list[ChangeRow]:
    """Change rows that are neither the winner of their column, nor superseded by a later
    stamp for it (or by the row's delete), nor a recorded conflict: must be none."""
    rows = journal_rows(desk)
    states = merge(rows)
    recorded = {
        (t, r, c, h, d)
        for t, r, c, h, d in desk.conn.execute(
            "SELECT tbl, row_id, col, hlc, device_id FROM local_sync_conflict"
        )
    }
    lost: list[ChangeRow] = []
    for change in rows:
        if change.col == DELETE_COLUMN:
            continue
        state = states[(change.tbl, change.row_id)]
        if state.deleted_by is not None:
            key = (change.tbl, change.row_id, change.col, change.hlc, change.device_id)
            if change.stamp > state.deleted_by.stamp and key not in recorded:
                lost.append(change)
            continue
        columns = (
            list(json.loads(change.value or "{}")) if change.col == INSERT_COLUMN else [change.col]
        )
        for col in columns:
            winner = state.columns[col][1]
            if winner.stamp < change.stamp:
                lost.append(change)
    return lost


# --- random desk work, for the convergence tests -------------------------------------------

TAGS = ("vip", "interpreter", "wheelchair")
NAMES = ("Okafor", "Nwosu", "Lindqvist", "García", "Tanaka", "O'Brien")


def patient_ids(desk: Clinic) -> list[str]:
    return [str(r[0]) for r in desk.conn.execute("SELECT id FROM patient ORDER BY id")]


def do_work(desk: Clinic, kind: str, pick: int, word: int) -> None:
    """One piece of front-desk work through the real write paths: create, edit, add a
    phone or tag, remove a tag or phone, delete a patient (children first, as the
    writer demands). Work on a patient this desk does not have is skipped."""
    from app.patients.model import PatientDraft
    from app.patients.records import (
        add_phone,
        add_tag,
        create_patient,
        remove_contact_point,
        remove_tag,
        update_patient,
    )

    if kind == "create":
        create_patient(desk, PatientDraft(NAMES[word % len(NAMES)], f"Given{word}"))
        return
    ids = patient_ids(desk)
    if not ids:
        return
    patient = ids[pick % len(ids)]
    if kind == "edit":
        column = ("preferred_name", "language", "family_name")[word % 3]
        update_patient(desk, patient, {column: f"{column[:4]}{word}"})
    elif kind == "phone":
        add_phone(desk, patient, f"+1312555{word % 10_000:04d}")
    elif kind == "tag":
        add_tag(desk, patient, TAGS[word % len(TAGS)])
    elif kind == "untag":
        remove_tag(desk, patient, TAGS[word % len(TAGS)])
    elif kind == "unphone":
        phones = desk.conn.execute(
            "SELECT id FROM contact_point WHERE patient_id = ? ORDER BY id", (patient,)
        ).fetchall()
        if phones:
            remove_contact_point(desk, str(phones[word % len(phones)][0]))
    elif kind == "delete":
        delete_patient(desk, patient)
    else:
        raise ValueError(kind)


# Weighted by repetition: mostly creating and editing, sometimes removing.
WORK = (
    ("create",) * 3 + ("edit",) * 4 + ("phone",) * 2 + ("tag",) * 2 + ("untag", "unphone", "delete")
)


def delete_patient(desk: Clinic, patient_id: str) -> None:
    """A patient and what hangs off them, children first (the writer refuses otherwise)."""
    with desk.store.write() as tx:
        for table in ("contact_point", "patient_tag", "patient_identifier", "address"):
            for (row_id,) in tx.conn.execute(
                f"SELECT id FROM {table} WHERE patient_id = ?", (patient_id,)
            ).fetchall():
                tx.delete(table, row_id)
        tx.delete("patient", patient_id)


def tables_match_merge(desk: Clinic) -> list[str]:
    """Rows whose stored values differ from what merging their change rows says, apart
    from rows listed as waiting (parent missing, duplicate): must be none."""
    states = merge(journal_rows(desk))
    waiting = {
        (str(t), str(r))
        for t, r in desk.conn.execute(
            "SELECT tbl, row_id FROM local_sync_conflict WHERE kind <> 'edited_after_delete'"
        )
    }
    wrong: list[str] = []
    for (table, row_id), state in states.items():
        if (table, row_id) in waiting or table not in desk.store.schema.columns:
            continue
        columns = desk.store.schema.columns[table]
        row = desk.conn.execute(f"SELECT * FROM {table} WHERE id = ?", (row_id,)).fetchone()
        if state.deleted:
            if row is not None:
                wrong.append(f"{table} {row_id} should be deleted")
            continue
        if row is None:
            wrong.append(f"{table} {row_id} missing")
            continue
        stored = dict(zip(columns, row, strict=True))
        for col, value in state.values().items():
            if col in stored and stored[col] != value:
                wrong.append(f"{table} {row_id} {col}")
    return wrong
