"""Patients who may be the person about to be added, each with the reason in plain words.

A duplicate record splits a patient's history in two, so the new-patient form asks
before creating one. The checks are what a careful receptionist would compare: the
name (in either order, with or without accents, allowing a typo) together with the
birth date, or the same phone or email. A shared family name alone is not a reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from rapidfuzz import fuzz

from app.clinic import Clinic
from app.errors import InvalidInputError
from app.patients.model import PatientDraft, display_name
from app.patients.search import first_phones
from app.patients.search_index import name_tokens
from app.patients.validation import normalize_email, normalize_phone, parse_birth_date

SAME_NAME = 100.0
# fuzz.ratio of folded names: Jon/John 86, Katherine/Catherine 89, Ada/Adah 86,
# Okafor/Okafur 83; Smith/Smyth 80. Anything lower is another name.
SIMILAR_NAME = 80.0
# A name shared by more people than this is checked through birth date, phone and email.
_NAME_CANDIDATES = 200

# Most convincing first: the list shows the likeliest match on top.
_REASON_ORDER = (
    "same name and birth date",
    "similar name, same birth date",
    "same email",
    "same phone",
    "same name",
)


@dataclass(frozen=True)
class DuplicateCandidate:
    patient_id: str
    display_name: str
    birth_date: str | None
    phone: str | None  # E.164 of the preferred phone
    reason: str  # "same name and birth date", "same phone"...


@dataclass(frozen=True)
class _Person:
    id: str
    family: str
    given: str
    preferred: str
    birth_date: str | None


def _folded(name: str) -> str:
    return " ".join(name_tokens(name))


def _given_score(a: str, b: str) -> float:
    # "Ada" against "Ada Chioma": people give one or all of their given names.
    if not a or not b:
        return 0.0
    first_a, first_b = a.split()[0], b.split()[0]
    return max(fuzz.ratio(a, b), fuzz.ratio(first_a, first_b))


def name_score(family: str, given: str, other_family: str, other_given: str) -> float:
    """How alike two names are (0-100), the weaker of family and given name decides.

    Taking the weaker part is what keeps "Smith, John" from matching "Smith, Mary"; the
    swapped reading catches a name entered the other way round ("Ada, Okafor").
    """
    f1, g1, f2, g2 = (_folded(n) for n in (family, given, other_family, other_given))
    if not g1 or not g2:
        # Only one part to compare: it must carry the whole weight, in either field.
        one = f1 or g1
        return max(fuzz.ratio(one, f2), fuzz.ratio(one, g2)) if one else 0.0
    straight = min(fuzz.ratio(f1, f2), _given_score(g1, g2))
    swapped = min(fuzz.ratio(f1, g2), _given_score(g1, f2))
    return max(straight, swapped)


def _dates_compare(a: str | None, b: str | None) -> str:
    """'same', 'different', or 'unknown' when either is missing or only a year/month."""
    if not a or not b:
        return "unknown"
    if len(a) == 10 and len(b) == 10:
        return "same" if a == b else "different"
    shorter = min(len(a), len(b))
    return "unknown" if a[:shorter] == b[:shorter] else "different"


def _name_reason(score: float, dates: str) -> str | None:
    if dates == "same":
        if score >= SAME_NAME:
            return "same name and birth date"
        if score >= SIMILAR_NAME:
            return "similar name, same birth date"
    elif dates == "unknown" and score >= SAME_NAME:
        return "same name"
    return None


def similar_patients(
    clinic: Clinic,
    draft: PatientDraft,
    limit: int = 5,
) -> list[DuplicateCandidate]:
    """Patients the draft may describe, likeliest first; [] when nothing is alike.

    Typing mistakes in the draft's phone, email or birth date are ignored here (the
    form refuses them on its own), so the check never stands in the way of saving.
    Candidates come from the birth-date index, the phone/email index and the search
    index's name words, so it stays a few milliseconds on a 100k clinic.
    """
    conn = clinic.conn
    birth_date = _birth_date(clinic, draft.birth_date)
    phones = {p for p in (_phone(clinic, d.number) for d in draft.phones) if p}
    emails = {e for e in (_email(t) for t in draft.emails) if e}
    reasons: dict[str, set[str]] = {}

    def note(patient_id: str, reason: str) -> None:
        reasons.setdefault(patient_id, set()).add(reason)

    for kind, values in (("phone", phones), ("email", emails)):
        for value in values:
            for (patient_id,) in conn.execute(
                "SELECT patient_id FROM contact_point WHERE kind = ? AND value = ?",
                (kind, value),
            ):
                note(patient_id, f"same {kind}")

    candidates = _by_birth_date(clinic, birth_date) if birth_date else []
    known = {c.id for c in candidates}
    candidates += [p for p in _by_name(clinic, draft) if p.id not in known]
    for person in candidates:
        score = name_score(draft.family_name, draft.given_names, person.family, person.given)
        reason = _name_reason(score, _dates_compare(birth_date, person.birth_date))
        if reason:
            note(person.id, reason)
    return _ranked(clinic, reasons, limit)


def _birth_date(clinic: Clinic, text: str) -> str | None:
    if not text.strip():
        return None
    try:
        return parse_birth_date(text, today=date.today(), day_first=clinic.settings.day_first)
    except InvalidInputError:
        return None


def _phone(clinic: Clinic, text: str) -> str | None:
    try:
        return normalize_phone(text, clinic.settings.region)
    except InvalidInputError:
        return None


def _email(text: str) -> str | None:
    try:
        return normalize_email(text)
    except InvalidInputError:
        return None


_PEOPLE_SQL = (
    "SELECT id, family_name, given_names, preferred_name, birth_date FROM patient "
    "WHERE merged_into IS NULL AND "
)


def _by_birth_date(clinic: Clinic, birth_date: str) -> list[_Person]:
    # Same full date, or a stored partial date it may be (1975, 1975-03): few rows each
    # way, all through the birth-date index.
    partials = [birth_date[:4], birth_date[:7], birth_date]
    sql = _PEOPLE_SQL + "birth_date IN (?, ?, ?)"
    rows = clinic.conn.execute(sql, partials).fetchall()
    return [_Person(*r) for r in rows]


def _by_name(clinic: Clinic, draft: PatientDraft) -> list[_Person]:
    """Everyone whose indexed names hold every word of the draft's name, in any order.

    Without a birth date to compare, only an identical name is worth a warning, so the
    exact words of the search index suffice; the finder's fuzzy vocabulary would cost a
    scan of every name for candidates that could never qualify.
    """
    words = name_tokens(draft.family_name, draft.given_names)
    if not words:
        return []
    query = " AND ".join('names : "' + w.replace('"', '""') + '"' for w in words)
    ids = [
        r[0]
        for r in clinic.conn.execute(
            "SELECT d.patient_id FROM patient_search s "
            "JOIN patient_search_doc d ON d.doc = s.rowid WHERE patient_search MATCH ? LIMIT ?",
            (query, _NAME_CANDIDATES),
        )
    ]
    return _people(clinic, ids)


def _people(clinic: Clinic, ids: list[str]) -> list[_Person]:
    if not ids:
        return []
    marks = ",".join("?" for _ in ids)
    rows = clinic.conn.execute(_PEOPLE_SQL + f"id IN ({marks})", ids).fetchall()
    return [_Person(*r) for r in rows]


def _ranked(clinic: Clinic, reasons: dict[str, set[str]], limit: int) -> list[DuplicateCandidate]:
    if not reasons:
        return []
    people = {p.id: p for p in _people(clinic, list(reasons))}

    def strength(patient_id: str) -> tuple[int, int, str]:
        found = reasons[patient_id]
        best = min(_REASON_ORDER.index(r) for r in found)
        return (best, -len(found), patient_id)

    chosen = sorted((i for i in reasons if i in people), key=strength)[:limit]
    phones = first_phones(clinic.conn, chosen)
    result = []
    for patient_id in chosen:
        person = people[patient_id]
        found = sorted(reasons[patient_id], key=_REASON_ORDER.index)
        if "same name and birth date" in found or "similar name, same birth date" in found:
            found = [r for r in found if r != "same name"]
        result.append(
            DuplicateCandidate(
                patient_id=patient_id,
                display_name=_display_name(person),
                birth_date=person.birth_date,
                phone=phones.get(patient_id),
                reason=", ".join(found),
            )
        )
    return result


def _display_name(person: _Person) -> str:
    return display_name(person.family, person.given, person.preferred)
