"""The baseline search: what a first version of the search box would do with LIKE.

Every word must appear somewhere in the patient's names, birth date, contact values
or identifiers (`LIKE '%word%'`, case-insensitive for ASCII as SQLite does it). It is
fair rather than a straw man: the same connection and results limit as the real
search, the indexes on contact_point(patient_id) and patient_identifier(patient_id)
for the joins, and no ORDER BY, so a common word stops after the first 20 hits
instead of scanning every patient. It is meant to be slow where the real search is
fast: words that match nobody (typos, dates and phones typed another way than they
are stored) scan all patients.
"""

from __future__ import annotations

from typing import Any

_WORD_MATCH = (
    "(p.family_name LIKE :{n} OR p.given_names LIKE :{n} OR p.preferred_name LIKE :{n}"
    " OR p.birth_date LIKE :{n}"
    " OR EXISTS (SELECT 1 FROM contact_point c WHERE c.patient_id = p.id AND c.value LIKE :{n})"
    " OR EXISTS (SELECT 1 FROM patient_identifier i"
    " WHERE i.patient_id = p.id AND i.value LIKE :{n}))"
)


def naive_search(conn: Any, text: str, limit: int = 20) -> list[tuple[Any, ...]]:
    words = text.replace(",", " ").split()
    if not words:
        return []
    where = " AND ".join(_WORD_MATCH.format(n=f"w{i}") for i in range(len(words)))
    params: dict[str, Any] = {f"w{i}": f"%{w}%" for i, w in enumerate(words)}
    params["limit"] = limit
    return conn.execute(
        "SELECT p.id, p.family_name, p.given_names, p.preferred_name, p.birth_date "
        f"FROM patient p WHERE {where} LIMIT :limit",
        params,
    ).fetchall()
