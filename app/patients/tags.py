"""Patient tags the clinic has already typed, offered back as suggestions so the same
thing is spelled the same way (appointment types live in app/scheduling/kinds.py)."""

from __future__ import annotations

from app.clinic import Clinic


def all_tags(clinic: Clinic) -> list[str]:
    """Every tag in use on any patient, alphabetical regardless of case."""
    rows = clinic.conn.execute(
        "SELECT DISTINCT tag FROM patient_tag ORDER BY tag COLLATE NOCASE, tag"
    ).fetchall()
    return [str(r[0]) for r in rows]


def existing_spelling(typed: str, known: list[str]) -> str:
    """'Wheelchair' becomes 'wheelchair' when the clinic already uses that, so a list
    filtered by tag finds everyone; a new word is kept as typed (spaces tidied)."""
    tidy = " ".join(typed.split())
    folded = tidy.casefold()
    return next((k for k in known if k.casefold() == folded), tidy)
