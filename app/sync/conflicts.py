"""Conflicts sync found, for a manager to look at and settle: listing them and deciding.

Three kinds, all derived from the change rows alike on every desk (app/sync/apply.py):
- an edit made on one desk after the record was deleted on another (the record stays
  deleted; the edit is kept here, never dropped silently);
- a record whose parent is gone (a phone added to a patient deleted elsewhere): it is
  not shown, or it shows without the link when the link may be empty;
- a record holding a value that must be unique (a record number) that an earlier record
  got first: the earlier one keeps it.

A decision is a sync_resolution row (journalled, so every desk stops listing the
conflict): "dismissed" (leave it as it is), or "restored" for a deleted record edited
afterwards: the record comes back as a new record carrying its last values and the late
edit (a delete always wins for its own id, so the old id cannot come back).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from app.errors import InvalidInputError
from app.security.permissions import require
from app.store.changes import Changes
from app.store.database import IntegrityError
from app.store.hlc import Hlc
from app.store.writer import Tx, new_id, utc_now
from app.sync.apply import DUPLICATE, EDITED_AFTER_DELETE, PARENT_MISSING, load_changes
from app.sync.merge import DELETE_COLUMN, merge

if TYPE_CHECKING:
    from app.clinic import Clinic

Resolution = Literal["dismissed", "restored"]

# Tables in desk words, for the list (the UI may word them better still).
_TABLE_WORDS = {
    "patient": "patient",
    "contact_point": "phone or email",
    "address": "address",
    "patient_tag": "tag",
    "patient_identifier": "record number",
    "appointment": "appointment",
    "interaction": "call or message note",
    "consent": "consent",
    "charge": "charge",
    "payment": "payment",
}


@dataclass(frozen=True)
class Conflict:
    """One open conflict: what, where, when, and in plain words (no patient data in
    `words`: the screen shows the record itself next to it)."""

    key: str
    kind: str
    table: str
    row_id: str
    column: str  # the edited field ('' for a whole record)
    value: Any  # the edit kept (edited after a delete), else None
    made_at: datetime | None  # when the edit was made (its clock reading)
    device_id: str
    device_name: str
    patient_id: str  # the patient the record belongs to ('' when none)
    detail: dict[str, Any]
    words: str


def _table_words(table: str) -> str:
    return _TABLE_WORDS.get(table, table.replace("_", " "))


def _moment(hlc: str) -> datetime | None:
    if not hlc:
        return None
    return datetime.fromtimestamp(Hlc.decode(hlc).wall_ms / 1000, tz=UTC)


def _patient_of(clinic: Clinic, table: str, row_id: str) -> str:
    """The patient a record belongs to, from its change rows (it may be deleted)."""
    if table == "patient":
        return row_id
    states = merge(load_changes(clinic.conn, [(table, row_id)]).get((table, row_id), []))
    state = states.get((table, row_id))
    if state is None:
        return ""
    value = state.values().get("patient_id")
    return str(value) if value else ""


def open_conflicts(clinic: Clinic) -> list[Conflict]:
    """Every conflict no manager has decided yet, newest first."""
    names = {str(d): str(n) for d, n in clinic.conn.execute("SELECT id, name FROM sync_device")}
    rows = clinic.conn.execute(
        "SELECT c.key, c.kind, c.tbl, c.row_id, c.col, c.hlc, c.device_id, c.detail "
        "FROM local_sync_conflict c WHERE NOT EXISTS "
        "(SELECT 1 FROM sync_resolution r WHERE r.conflict_key = c.key) "
        "ORDER BY c.found_at DESC, c.key"
    ).fetchall()
    found: list[Conflict] = []
    for key, kind, table, row_id, column, hlc, device_id, detail_text in rows:
        detail = json.loads(detail_text or "{}")
        value = None
        if kind == EDITED_AFTER_DELETE:
            held = clinic.conn.execute(
                "SELECT value FROM change WHERE tbl = ? AND row_id = ? AND col = ? AND hlc = ? "
                "AND device_id = ?",
                (table, row_id, column, hlc, device_id),
            ).fetchone()
            value = json.loads(held[0]) if held and held[0] is not None else None
        device_name = names.get(device_id, "") or (device_id[:8] if device_id else "")
        found.append(
            Conflict(
                key=key,
                kind=kind,
                table=table,
                row_id=row_id,
                column=column,
                value=value,
                made_at=_moment(hlc),
                device_id=device_id,
                device_name=device_name,
                patient_id=_patient_of(clinic, table, row_id),
                detail=detail,
                words=_words(kind, table, column, device_name, detail),
            )
        )
    return found


def _words(kind: str, table: str, column: str, device: str, detail: dict[str, Any]) -> str:
    what = _table_words(table)
    if kind == EDITED_AFTER_DELETE:
        field = "the whole record" if column == "*" else column.replace("_", " ")
        where = f" on {device}" if device else ""
        return (
            f"A {what} was deleted on one workstation while it was being changed{where} "
            f"({field}). It stays deleted; the change is kept here."
        )
    if kind == PARENT_MISSING:
        parent = _table_words(str(detail.get("parent", "")))
        if detail.get("parent_deleted"):
            return (
                f"A {what} belongs to a {parent} that was deleted on another workstation; "
                "it is not shown."
            )
        return f"A {what} waits for its {parent} to arrive from another workstation."
    if kind == DUPLICATE:
        return (
            f"A {what} was entered on two workstations with the same value; the one entered "
            "first is kept."
        )
    return f"A {what} needs a look."


def _require_decider(clinic: Clinic) -> None:
    require(clinic, "sync.resolve")


def resolve(clinic: Clinic, key: str, resolution: Resolution) -> Changes:
    """Record a manager's decision (synced: every desk stops listing it). "restored"
    brings a deleted record back as a new one (edited after the delete only)."""
    _require_decider(clinic)
    found = {c.key: c for c in open_conflicts(clinic)}
    conflict = found.get(key)
    if conflict is None:
        raise InvalidInputError("This conflict was settled already (perhaps at another desk).")
    if resolution == "restored" and conflict.kind != EDITED_AFTER_DELETE:
        raise InvalidInputError("Only a deleted record that was changed afterwards can come back.")
    with clinic.store.write() as tx:
        if resolution == "restored":
            _restore(clinic, tx, conflict)
        tx.insert(
            "sync_resolution",
            {
                "id": new_id(),
                "conflict_key": key,
                "resolution": resolution,
                "resolved_by": clinic.acting_user_id,
                "resolved_at": utc_now(),
            },
        )
    return tx.changes


def _restore(clinic: Clinic, tx: Tx, conflict: Conflict) -> None:
    """The record's values as merged from all its change rows but the delete (so the late
    edits are in), under a new id; a parent that is gone makes it impossible."""
    rows = load_changes(clinic.conn, [(conflict.table, conflict.row_id)])
    alive = [c for c in rows.get((conflict.table, conflict.row_id), []) if c.col != DELETE_COLUMN]
    state = merge(alive).get((conflict.table, conflict.row_id))
    columns = clinic.store.schema.columns.get(conflict.table, ())
    if state is None or not any(c.col == "*" for c in alive):
        raise InvalidInputError("This record's first version never reached this workstation.")
    values = {c: v for c, v in state.values().items() if c in columns and c != "id"}
    values["id"] = new_id()
    try:
        tx.insert(conflict.table, values)
    except IntegrityError as exc:  # a parent gone, or a unique value used since
        raise InvalidInputError(
            f"The {_table_words(conflict.table)} cannot come back: what it belonged to is gone "
            "too, or its details are used by another record."
        ) from exc
