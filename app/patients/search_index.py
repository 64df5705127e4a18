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
    for identifier in identifiers:
        folded = fold_text(identifier).replace(" ", "")
        # As printed ("12-345-678") and as bare letters and digits ("12345678"),
        # because people read record numbers out both ways.
        tokens.append(folded)
        tokens.append("".join(_WORD.findall(folded)))
    return list(dict.fromkeys(t for t in tokens if t))


# The tables whose rows the index is made of; the clinic registers the hook for these.
SOURCE_TABLES = ("patient", "contact_point", "patient_identifier")
_CHUNK = 500  # ids per IN (...) list; well under SQLite's variable limit


def reindex_patients(conn: Connection, patient_ids: Iterable[str]) -> None:
    """Replace the index entries of these patients; set-based, so a bulk import of
    100,000 patients costs a few queries per 500 rather than four per patient."""
    # Sorted: ids are time-ordered (UUIDv7), so neighbours share pages; in the hook's
    # set order a 100k import read its rows back from all over the file (4x slower).
    ids = sorted(set(patient_ids))
    for start in range(0, len(ids), _CHUNK):
        _reindex_chunk(conn, ids[start : start + _CHUNK])


def _reindex_chunk(conn: Connection, ids: list[str]) -> None:
    marks = ",".join("?" for _ in ids)
    # Numbered before the old entries go, so a refreshed patient never gets its old
    # number back: a changed doc number always means changed index content.
    next_doc = int(
        conn.execute("SELECT coalesce(max(doc), 0) FROM patient_search_doc").fetchone()[0]
    )
    old = [
        (doc,)
        for (doc,) in conn.execute(
            f"SELECT doc FROM patient_search_doc WHERE patient_id IN ({marks})", ids
        )
    ]
    conn.executemany("DELETE FROM patient_search WHERE rowid = ?", old)
    conn.executemany("DELETE FROM patient_search_doc WHERE doc = ?", old)
    patients = conn.execute(
        "SELECT id, family_name, given_names, preferred_name, birth_date FROM patient "
        f"WHERE id IN ({marks})",
        ids,
    ).fetchall()
    if not patients:  # all deleted: their entries went with them
        return
    phones: dict[str, list[str]] = {}
    emails: dict[str, list[str]] = {}
    for patient_id, kind, value in conn.execute(
        f"SELECT patient_id, kind, value FROM contact_point WHERE patient_id IN ({marks})", ids
    ):
        (phones if kind == "phone" else emails).setdefault(patient_id, []).append(value)
    identifiers: dict[str, list[str]] = {}
    for patient_id, value in conn.execute(
        f"SELECT patient_id, value FROM patient_identifier WHERE patient_id IN ({marks})", ids
    ):
        identifiers.setdefault(patient_id, []).append(value)
    entries = []
    docs = []
    for offset, (patient_id, family, given, preferred, birth_date) in enumerate(patients, 1):
        doc = next_doc + offset
        names = " ".join(name_tokens(family, given, preferred))
        other = " ".join(
            _other_tokens(
                birth_date,
                phones.get(patient_id, ()),
                emails.get(patient_id, ()),
                identifiers.get(patient_id, ()),
            )
        )
        entries.append((doc, names, other))
        docs.append((doc, patient_id))
    conn.executemany("INSERT INTO patient_search (rowid, names, other) VALUES (?, ?, ?)", entries)
    conn.executemany("INSERT INTO patient_search_doc (doc, patient_id) VALUES (?, ?)", docs)


def rebuild(conn: Connection) -> int:
    """Rebuild the whole index (after a bulk load, or if it is ever in doubt)."""
    conn.execute("DELETE FROM patient_search")
    conn.execute("DELETE FROM patient_search_doc")
    ids = [r[0] for r in conn.execute("SELECT id FROM patient")]
    reindex_patients(conn, ids)
    return len(ids)
