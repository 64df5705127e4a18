"""Keeps the patient search index (FTS5) exactly in step with the patient data.

It runs inside the same transaction as the write that changed a patient, so the
index can never show a name that was not saved, or miss one that was.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from app.patients.validation import fold_text, phone_search_keys
from app.store.database import Connection

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def name_tokens(*names: str) -> list[str]:
    """Folded words of a name; a hyphenated or apostrophe name also counts as one word
    (O'Keefe finds 'okeefe' and 'keefe'), because people type it both ways."""
    tokens: list[str] = []
    for name in names:
        folded = fold_text(name)
        for chunk in folded.split():
            parts = _WORD.findall(chunk)
            tokens.extend(parts)
            if len(parts) > 1:
                tokens.append("".join(parts))
    return list(dict.fromkeys(t for t in tokens if t))


def _other_tokens(
    birth_date: str | None,
    phones: Iterable[str],
    emails: Iterable[str],
    identifiers: Iterable[str],
) -> list[str]:
    tokens: list[str] = []
    if birth_date and len(birth_date) == 10:
        tokens.append("d" + birth_date.replace("-", ""))
    for phone in phones:
        tokens.extend(phone_search_keys(phone))
    tokens.extend(e.lower() for e in emails)
    tokens.extend(fold_text(i).replace(" ", "") for i in identifiers)
    return list(dict.fromkeys(t for t in tokens if t))


def reindex_patients(conn: Connection, patient_ids: Iterable[str]) -> None:
    for patient_id in patient_ids:
        _reindex_one(conn, patient_id)


def _reindex_one(conn: Connection, patient_id: str) -> None:
    old = conn.execute(
        "SELECT doc FROM patient_search_doc WHERE patient_id = ?", (patient_id,)
    ).fetchone()
    if old is not None:
        conn.execute("DELETE FROM patient_search WHERE rowid = ?", (old[0],))
        conn.execute("DELETE FROM patient_search_doc WHERE doc = ?", (old[0],))
    row = conn.execute(
        "SELECT family_name, given_names, preferred_name, birth_date FROM patient WHERE id = ?",
        (patient_id,),
    ).fetchone()
    if row is None:  # the patient was deleted: the index entry goes with it
        return
    family, given, preferred, birth_date = row
    contacts = conn.execute(
        "SELECT kind, value FROM contact_point WHERE patient_id = ?", (patient_id,)
    ).fetchall()
    identifiers = [
        r[0]
        for r in conn.execute(
            "SELECT value FROM patient_identifier WHERE patient_id = ?", (patient_id,)
        )
    ]
    names = " ".join(name_tokens(family, given, preferred))
    other = " ".join(
        _other_tokens(
            birth_date,
            (v for k, v in contacts if k == "phone"),
            (v for k, v in contacts if k == "email"),
            identifiers,
        )
    )
    cursor = conn.execute("INSERT INTO patient_search (names, other) VALUES (?, ?)", (names, other))
    conn.execute(
        "INSERT INTO patient_search_doc (doc, patient_id) VALUES (?, ?)",
        (cursor.lastrowid, patient_id),
    )


def rebuild(conn: Connection) -> int:
    """Rebuild the whole index (after a bulk load, or if it is ever in doubt)."""
    conn.execute("DELETE FROM patient_search")
    conn.execute("DELETE FROM patient_search_doc")
    ids = [r[0] for r in conn.execute("SELECT id FROM patient")]
    reindex_patients(conn, ids)
    return len(ids)
