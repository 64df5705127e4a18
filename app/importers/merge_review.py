"""Deciding whether an imported patient is someone the clinic already has.

The import never merges by itself: a wrong merge mixes two people's records, which
is worse than a duplicate. A person compares the two side by side and decides.
Merging keeps the existing patient and moves everything of the imported one onto
it (visits, calls, phones, identifiers, where the import found it), so nothing is
lost; the imported record stays, marked as merged (search lists it last, flagged),
and the merge can be undone:
the rows it moved are listed on the review and move back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from app.clinic import Clinic
from app.errors import MergeError, RecordNotFoundError
from app.patients.model import display_name
from app.patients.records import bump_version
from app.store.changes import Changes
from app.store.writer import Tx, utc_now

__all__ = [
    "ReviewItem",
    "ReviewPerson",
    "count_open",
    "decided_reviews",
    "keep_apart",
    "merge",
    "open_reviews",
    "undo_decision",
]

# A patient's rows that move with a merge. Tags are unique per patient: a tag both
# have stays behind on the merged record (it shows nowhere), every other one moves.
_MOVED_TABLES = (
    "appointment",
    "interaction",
    "charge",
    "payment",
    "consent",
    "task",
    "contact_point",
    "address",
    "patient_identifier",
    "patient_tag",
    "condition",
    "allergy",
    "coverage",
)
_NOTE_SUBJECT = "Merged with a duplicate record"


@dataclass(frozen=True)
class ReviewPerson:
    patient_id: str
    display_name: str
    birth_date: str | None
    phone: str
    email: str
    address: str
    identifiers: tuple[str, ...]
    visits: int


@dataclass(frozen=True)
class ReviewItem:
    id: str
    reason: str
    status: str  # open, merged, kept-apart
    created_at: str
    imported: ReviewPerson
    existing: ReviewPerson
    decided_at: str | None = None


_SELECT = (
    "SELECT id, reason, status, created_at, patient_id, candidate_id, decided_at FROM merge_review "
)


def open_reviews(clinic: Clinic, limit: int = 200) -> list[ReviewItem]:
    """Undecided pairs, oldest first; pairs where either record is gone or merged away
    since are left out (there is nothing to decide any more)."""
    rows = clinic.conn.execute(
        _SELECT + "WHERE status = 'open' ORDER BY created_at, id LIMIT ?", (limit * 2,)
    ).fetchall()
    items = [item for item in (_item(clinic, row) for row in rows) if item is not None]
    return items[:limit]


def count_open(clinic: Clinic) -> int:
    return int(
        clinic.conn.execute(
            "SELECT count(*) FROM merge_review r "
            "JOIN patient a ON a.id = r.patient_id AND a.merged_into IS NULL "
            "JOIN patient b ON b.id = r.candidate_id AND b.merged_into IS NULL "
            "WHERE r.status = 'open'"
        ).fetchone()[0]
    )


def decided_reviews(clinic: Clinic, limit: int = 50) -> list[ReviewItem]:
    """The latest decisions, newest first, for taking one back."""
    rows = clinic.conn.execute(
        _SELECT + "WHERE status != 'open' ORDER BY decided_at DESC LIMIT ?", (limit,)
    ).fetchall()
    return [item for item in (_item(clinic, row, decided=True) for row in rows) if item]


def _item(clinic: Clinic, row: tuple[str, ...], *, decided: bool = False) -> ReviewItem | None:
    review_id, reason, status, created_at, patient_id, candidate_id, decided_at = row
    imported = _person(clinic, patient_id, allow_merged=decided)
    existing = _person(clinic, candidate_id, allow_merged=False)
    if imported is None or existing is None:
        return None
    return ReviewItem(review_id, reason, status, created_at, imported, existing, decided_at)


def _person(clinic: Clinic, patient_id: str, *, allow_merged: bool) -> ReviewPerson | None:
    conn = clinic.conn
    row = conn.execute(
        "SELECT family_name, given_names, preferred_name, birth_date, merged_into "
        "FROM patient WHERE id = ?",
        (patient_id,),
    ).fetchone()
    if row is None or (row[4] is not None and not allow_merged):
        return None
    contacts = dict(
        conn.execute(
            "SELECT kind, value FROM contact_point WHERE patient_id = ? "
            "ORDER BY rank DESC",  # the preferred one (rank 1) is the last written
            (patient_id,),
        ).fetchall()
    )
    address = conn.execute(
        "SELECT line1, city, postal_code FROM address WHERE patient_id = ? ORDER BY rank LIMIT 1",
        (patient_id,),
    ).fetchone()
    identifiers = tuple(
        f"{kind or 'ID'} {value}"
        for kind, value in conn.execute(
            "SELECT kind, value FROM patient_identifier WHERE patient_id = ? ORDER BY kind",
            (patient_id,),
        )
    )
    visits = conn.execute(
        "SELECT count(*) FROM appointment WHERE patient_id = ?", (patient_id,)
    ).fetchone()[0]
    return ReviewPerson(
        patient_id=patient_id,
        display_name=display_name(row[0], row[1], row[2]),
        birth_date=row[3],
        phone=contacts.get("phone", ""),
        email=contacts.get("email", ""),
        address=", ".join(p for p in (address or ()) if p),
        identifiers=identifiers,
        visits=int(visits),
    )


def _open_review(tx: Tx, review_id: str) -> tuple[str, str, str]:
    row = tx.conn.execute(
        "SELECT status, patient_id, candidate_id FROM merge_review WHERE id = ?", (review_id,)
    ).fetchone()
    if row is None:
        raise RecordNotFoundError("That merge review no longer exists.")
    return str(row[0]), str(row[1]), str(row[2])


def merge(clinic: Clinic, review_id: str) -> Changes:
    """They are the same person: keep the existing patient, move the imported one's rows."""
    with clinic.store.write() as tx:
        status, imported, existing = _open_review(tx, review_id)
        if status != "open":
            raise MergeError("This pair has already been decided.")
        for patient_id in (imported, existing):
            merged = tx.conn.execute(
                "SELECT merged_into FROM patient WHERE id = ?", (patient_id,)
            ).fetchone()
            if merged is None or merged[0] is not None:
                raise MergeError("One of the two records was merged or removed since.")
        moved = _move(tx, imported, existing)
        note_id = tx.insert(
            "interaction",
            {
                "patient_id": existing,
                "kind": "note",
                "subject": _NOTE_SUBJECT,
                "body": "A record brought in by an import was found to be this patient; "
                "its visits, contacts and history are now here.",
                "occurred_at": utc_now(),
                "recorded_by": clinic.acting_user_id or "",
            },
        )
        tx.update("patient", imported, {"merged_into": existing})
        bump_version(tx, existing)
        _decide(tx, clinic, review_id, "merged", {"moved": moved, "note": note_id})
    return tx.changes


def _move(tx: Tx, source: str, target: str) -> list[list[str]]:
    """Move the rows of `source` onto `target`; returns [table, row id] of each moved row."""
    conn = tx.conn
    moved: list[list[str]] = []
    target_tags = {
        r[0] for r in conn.execute("SELECT tag FROM patient_tag WHERE patient_id = ?", (target,))
    }
    for table in _MOVED_TABLES:
        rows = conn.execute(
            f"SELECT id{', tag' if table == 'patient_tag' else ''} FROM {table} "  # noqa: S608 - constant names
            "WHERE patient_id = ?",
            (source,),
        ).fetchall()
        for row in rows:
            if table == "patient_tag" and row[1] in target_tags:
                continue
            tx.update(table, row[0], {"patient_id": target})
            moved.append([table, row[0]])
    # A re-import of the same export now finds the kept patient.
    for (source_id,) in conn.execute(
        "SELECT id FROM source_record WHERE tbl = 'patient' AND row_id = ?", (source,)
    ).fetchall():
        tx.update("source_record", source_id, {"row_id": target})
        moved.append(["source_record", source_id])
    return moved


def _decide(tx: Tx, clinic: Clinic, review_id: str, status: str, moved: dict[str, object]) -> None:
    tx.update(
        "merge_review",
        review_id,
        {
            "status": status,
            "decided_at": utc_now(),
            "decided_by": clinic.acting_user_id or "",
            "moved": json.dumps(moved) if moved else "",
        },
    )


def keep_apart(clinic: Clinic, review_id: str) -> Changes:
    """They are different people: close the review and leave both as they are."""
    with clinic.store.write() as tx:
        status, _, _ = _open_review(tx, review_id)
        if status != "open":
            raise MergeError("This pair has already been decided.")
        _decide(tx, clinic, review_id, "kept-apart", {})
    return tx.changes


def undo_decision(clinic: Clinic, review_id: str) -> Changes:
    """Take a decision back: a merge moves every moved row back; both reopen the review."""
    with clinic.store.write() as tx:
        row = tx.conn.execute(
            "SELECT status, patient_id, candidate_id, moved FROM merge_review WHERE id = ?",
            (review_id,),
        ).fetchone()
        if row is None:
            raise RecordNotFoundError("That merge review no longer exists.")
        status, imported, existing, moved_text = row
        if status == "open":
            raise MergeError("This pair has not been decided yet.")
        if status == "merged":
            _unmerge(tx, imported, existing, json.loads(moved_text or "{}"))
        tx.update(
            "merge_review",
            review_id,
            {"status": "open", "decided_at": None, "decided_by": "", "moved": ""},
        )
    return tx.changes


def _unmerge(tx: Tx, imported: str, existing: str, record: dict[str, object]) -> None:
    conn = tx.conn
    merged = conn.execute("SELECT merged_into FROM patient WHERE id = ?", (imported,)).fetchone()
    if merged is None or merged[0] != existing:
        raise MergeError("The imported record is no longer merged into this patient.")
    kept = conn.execute("SELECT merged_into FROM patient WHERE id = ?", (existing,)).fetchone()
    if kept is None or kept[0] is not None:
        raise MergeError(
            "The kept patient was merged into another one since; undo that merge first."
        )
    moved = record.get("moved", [])
    assert isinstance(moved, list)
    back = []
    for table, row_id in moved:
        column = "row_id" if table == "source_record" else "patient_id"
        current = tx.current(table, row_id, [column])
        if current is None:
            continue  # deleted since (a call removed, say): nothing to move back
        if current[column] != existing:
            # Moved on by a later merge: taking this one back would split what that one
            # joined. The later decision has to be undone first.
            raise MergeError("Something of this merge was merged on since; undo that first.")
        back.append((table, row_id, column))
    for table, row_id, column in back:
        tx.update(table, row_id, {column: imported})
    note = record.get("note")
    if isinstance(note, str):
        tx.delete("interaction", note)
    tx.update("patient", imported, {"merged_into": None})
    bump_version(tx, existing)
