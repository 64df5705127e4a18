"""Creating, reading and changing patients, their contact points and consents.

Every function validates all of its input before the first write, so a bad phone
number on the third line of a form leaves nothing half-saved.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from app.clinic import Clinic
from app.errors import EditConflictError, InvalidInputError, RecordNotFoundError
from app.patients import model
from app.patients.model import AddressDraft, PatientDraft
from app.patients.validation import normalize_email, normalize_phone, parse_birth_date
from app.store.changes import Changes, Created
from app.store.writer import Tx, new_id, utc_now

_PATIENT_COLUMNS = (
    "id, family_name, given_names, preferred_name, birth_date, sex, gender_identity, "
    "language, deceased, deceased_date, do_not_contact, acquisition_source, household_id, "
    "household_role, merged_into, created_at, updated_at, preferred_channel, version, moved_on"
)
# Fields a plain edit may change; deceased, merge and household have their own calls
# because each has rules of its own.
_EDITABLE = {
    "family_name",
    "given_names",
    "preferred_name",
    "birth_date",
    "sex",
    "gender_identity",
    "language",
    "do_not_contact",
    "acquisition_source",
    "preferred_channel",
    "moved_on",
}


def _clean_name(text: str) -> str:
    return " ".join(text.split())


def _check_choice(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise InvalidInputError(f"The {what} must be one of: {', '.join(allowed)}.")
    return value


def _birth_date(clinic: Clinic, text: str) -> str | None:
    text = text.strip()
    if not text:
        return None
    return parse_birth_date(text, today=date.today(), day_first=clinic.settings.day_first)


def _address_row(patient_id: str, draft: AddressDraft, rank: int) -> dict[str, Any]:
    _check_choice(draft.use, model.ADDRESS_USES, "address use")
    return {
        "id": new_id(),
        "patient_id": patient_id,
        "use": draft.use,
        "line1": draft.line1.strip(),
        "line2": draft.line2.strip(),
        "city": draft.city.strip(),
        "region": draft.region.strip(),
        "postal_code": draft.postal_code.strip().upper(),
        "country": draft.country.strip().upper(),
        "rank": rank,
    }


def create_patient(clinic: Clinic, draft: PatientDraft) -> Created:
    family = _clean_name(draft.family_name)
    given = _clean_name(draft.given_names)
    if not family and not given:
        raise InvalidInputError("A patient needs at least a family name or a given name.")
    _check_choice(draft.sex, model.SEXES, "sex")
    birth_date = _birth_date(clinic, draft.birth_date)
    region = clinic.settings.region
    phones = [
        (normalize_phone(p.number, region), _check_choice(p.use, model.PHONE_USES, "phone use"))
        for p in draft.phones
    ]
    emails = [normalize_email(e) for e in draft.emails]
    now = utc_now()
    patient_id = new_id()
    addresses = [_address_row(patient_id, a, i + 1) for i, a in enumerate(draft.addresses)]
    with clinic.store.write() as tx:
        tx.insert(
            "patient",
            {
                "id": patient_id,
                "family_name": family,
                "given_names": given,
                "preferred_name": _clean_name(draft.preferred_name),
                "birth_date": birth_date,
                "sex": draft.sex,
                "gender_identity": draft.gender_identity.strip(),
                "language": draft.language.strip(),
                "acquisition_source": draft.acquisition_source.strip(),
                "created_at": now,
                "updated_at": now,
            },
        )
        for rank, (number, use) in enumerate(phones, start=1):
            _insert_contact(tx, patient_id, "phone", number, use, rank)
        for rank, email in enumerate(emails, start=1):
            _insert_contact(tx, patient_id, "email", email, "home", rank)
        for row in addresses:
            tx.insert("address", row)
        for ident in draft.identifiers:
            _insert_identifier(tx, patient_id, ident.system, ident.value, ident.kind)
        for tag in dict.fromkeys(t.strip() for t in draft.tags if t.strip()):
            tx.insert("patient_tag", {"patient_id": patient_id, "tag": tag})
    return Created(patient_id, tx.changes)


def _insert_contact(tx: Tx, patient_id: str, kind: str, value: str, use: str, rank: int) -> str:
    return tx.insert(
        "contact_point",
        {"patient_id": patient_id, "kind": kind, "value": value, "use": use, "rank": rank},
    )


def _insert_identifier(tx: Tx, patient_id: str, system: str, value: str, kind: str) -> str:
    if not system.strip() or not value.strip():
        raise InvalidInputError("An identifier needs both its system and its value.")
    return tx.insert(
        "patient_identifier",
        {"patient_id": patient_id, "system": system.strip(), "value": value.strip(), "kind": kind},
    )


def update_patient(
    clinic: Clinic,
    patient_id: str,
    values: Mapping[str, Any],
    *,
    expected_version: int | None = None,
) -> Changes:
    """Change demographic fields; birth dates are validated like on entry.

    A form passes the version it was loaded with: if someone saved the patient in the
    meantime the save is refused with EditConflictError instead of overwriting them.
    """
    clean = _clean_values(clinic, values)
    with clinic.store.write() as tx:
        check_version(tx, patient_id, expected_version)
        if tx.update("patient", patient_id, clean):
            bump_version(tx, patient_id)
    return tx.changes


def _moved_on(text: str) -> str | None:
    # A local date or nothing; the details form checks it is not in the future.
    text = text.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise InvalidInputError("Give the day they moved away as a date.") from None


def _clean_values(clinic: Clinic, values: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(values) - _EDITABLE
    if unknown:
        raise ValueError(f"not editable here: {sorted(unknown)}")
    clean: dict[str, Any] = {}
    for key, value in values.items():
        if key == "birth_date":
            clean[key] = _birth_date(clinic, str(value or ""))
        elif key == "sex":
            clean[key] = _check_choice(str(value), model.SEXES, "sex")
        elif key == "preferred_channel":
            clean[key] = _check_choice(str(value), ("", *model.CHANNELS), "preferred channel")
        elif key == "do_not_contact":
            clean[key] = 1 if value else 0
        elif key == "moved_on":
            clean[key] = _moved_on(str(value or ""))
        elif key in ("family_name", "given_names", "preferred_name"):
            clean[key] = _clean_name(str(value))
        else:
            clean[key] = str(value).strip()
    both = "family_name" in clean and "given_names" in clean
    if both and not (clean["family_name"] or clean["given_names"]):
        raise InvalidInputError("A patient needs a family name or a given name.")
    return clean


def check_version(tx: Tx, patient_id: str, expected: int | None) -> None:
    """Refuse a save made from a stale copy of the patient (see update_patient)."""
    row = tx.conn.execute("SELECT version FROM patient WHERE id = ?", (patient_id,)).fetchone()
    if row is None:
        raise RecordNotFoundError("That patient is no longer on file.")
    if expected is not None and int(row[0]) != expected:
        raise EditConflictError(
            "Someone else saved changes to this patient while you were editing. "
            "Your changes were not saved: close the form, reopen it to see theirs, "
            "and make your changes again."
        )


def bump_version(tx: Tx, patient_id: str) -> None:
    row = tx.conn.execute("SELECT version FROM patient WHERE id = ?", (patient_id,)).fetchone()
    tx.update("patient", patient_id, {"version": int(row[0]) + 1, "updated_at": utc_now()})


def mark_deceased(clinic: Clinic, patient_id: str, on: str | None = None) -> Changes:
    """Deceased patients stay on file but are never contacted and sort last in search."""
    death = _birth_date(clinic, on) if on else None
    with clinic.store.write() as tx:
        check_version(tx, patient_id, None)
        tx.update("patient", patient_id, {"deceased": 1, "deceased_date": death})
        bump_version(tx, patient_id)
    return tx.changes


def add_phone(
    clinic: Clinic, patient_id: str, number: str, use: str = "mobile", rank: int | None = None
) -> Created:
    e164 = normalize_phone(number, clinic.settings.region)
    _check_choice(use, model.PHONE_USES, "phone use")
    with clinic.store.write() as tx:
        _require_patient(tx, patient_id)
        rank = rank or _next_rank(tx, patient_id, "phone")
        contact_id = _insert_contact(tx, patient_id, "phone", e164, use, rank)
    return Created(contact_id, tx.changes)


def add_email(clinic: Clinic, patient_id: str, email: str, rank: int | None = None) -> Created:
    address = normalize_email(email)
    with clinic.store.write() as tx:
        _require_patient(tx, patient_id)
        rank = rank or _next_rank(tx, patient_id, "email")
        contact_id = _insert_contact(tx, patient_id, "email", address, "home", rank)
    return Created(contact_id, tx.changes)


def add_address(clinic: Clinic, patient_id: str, draft: AddressDraft) -> Created:
    with clinic.store.write() as tx:
        _require_patient(tx, patient_id)
        count = tx.conn.execute(
            "SELECT count(*) FROM address WHERE patient_id = ?", (patient_id,)
        ).fetchone()[0]
        address_id = tx.insert("address", _address_row(patient_id, draft, count + 1))
    return Created(address_id, tx.changes)


def add_identifier(
    clinic: Clinic, patient_id: str, system: str, value: str, kind: str = ""
) -> Created:
    with clinic.store.write() as tx:
        _require_patient(tx, patient_id)
        ident_id = _insert_identifier(tx, patient_id, system, value, kind)
    return Created(ident_id, tx.changes)


def add_tag(clinic: Clinic, patient_id: str, tag: str) -> Changes:
    """Tags are free words ('wheelchair', 'interpreter'); adding one twice is a no-op."""
    tag = " ".join(tag.split())
    if not tag:
        raise InvalidInputError("A tag needs at least one letter.")
    with clinic.store.write() as tx:
        _require_patient(tx, patient_id)
        exists = tx.conn.execute(
            "SELECT 1 FROM patient_tag WHERE patient_id = ? AND tag = ?", (patient_id, tag)
        ).fetchone()
        if not exists:
            tx.insert("patient_tag", {"patient_id": patient_id, "tag": tag})
    return tx.changes


def remove_tag(clinic: Clinic, patient_id: str, tag: str) -> Changes:
    with clinic.store.write() as tx:
        row = tx.conn.execute(
            "SELECT id FROM patient_tag WHERE patient_id = ? AND tag = ?", (patient_id, tag)
        ).fetchone()
        if row is not None:
            tx.delete("patient_tag", row[0])
    return tx.changes


def remove_contact_point(clinic: Clinic, contact_id: str) -> Changes:
    with clinic.store.write() as tx:
        tx.delete("contact_point", contact_id)
    return tx.changes


def record_consent(
    clinic: Clinic,
    patient_id: str,
    channel: str,
    purpose: str,
    granted: bool,
    source: str,
    at: str | None = None,
    recorded_by: str | None = None,
) -> Created:
    """Consent is a new row each time, so what the patient said and when stays on record."""
    _check_choice(channel, model.CHANNELS, "channel")
    _check_choice(purpose, model.PURPOSES, "purpose")
    if not source.strip():
        raise InvalidInputError("Say how the patient gave or withdrew consent.")
    with clinic.store.write() as tx:
        _require_patient(tx, patient_id)
        consent_id = tx.insert(
            "consent",
            {
                "patient_id": patient_id,
                "channel": channel,
                "purpose": purpose,
                "granted": 1 if granted else 0,
                "source": source.strip(),
                "recorded_at": at or utc_now(),
                "recorded_by": clinic.acting_user_id if recorded_by is None else recorded_by,
            },
        )
    return Created(consent_id, tx.changes)


def _require_patient(tx: Tx, patient_id: str) -> None:
    if tx.conn.execute("SELECT 1 FROM patient WHERE id = ?", (patient_id,)).fetchone() is None:
        raise RecordNotFoundError("That patient is no longer on file.")


def _next_rank(tx: Tx, patient_id: str, kind: str) -> int:
    row = tx.conn.execute(
        "SELECT coalesce(max(rank), 0) + 1 FROM contact_point WHERE patient_id = ? AND kind = ?",
        (patient_id, kind),
    ).fetchone()
    return int(row[0])


def get_patient(clinic: Clinic, patient_id: str) -> model.Patient:
    conn = clinic.conn
    row = conn.execute(
        f"SELECT {_PATIENT_COLUMNS} FROM patient WHERE id = ?",  # noqa: S608 - constant list
        (patient_id,),
    ).fetchone()
    if row is None:
        raise RecordNotFoundError("That patient is no longer on file.")
    contacts = tuple(
        model.ContactPoint(r[0], r[1], r[2], r[3], r[4], bool(r[5]))
        for r in conn.execute(
            "SELECT id, kind, value, use, rank, verified FROM contact_point "
            "WHERE patient_id = ? ORDER BY kind, rank",
            (patient_id,),
        )
    )
    addresses = tuple(
        model.Address(*r)
        for r in conn.execute(
            "SELECT id, use, line1, line2, city, region, postal_code, country, rank "
            "FROM address WHERE patient_id = ? ORDER BY rank",
            (patient_id,),
        )
    )
    identifiers = tuple(
        model.Identifier(*r)
        for r in conn.execute(
            "SELECT id, system, value, kind FROM patient_identifier WHERE patient_id = ? "
            "ORDER BY system, value",
            (patient_id,),
        )
    )
    tags = tuple(
        r[0]
        for r in conn.execute(
            "SELECT tag FROM patient_tag WHERE patient_id = ? ORDER BY tag", (patient_id,)
        )
    )
    return model.Patient(
        id=row[0],
        family_name=row[1],
        given_names=row[2],
        preferred_name=row[3],
        birth_date=row[4],
        sex=row[5],
        gender_identity=row[6],
        language=row[7],
        deceased=bool(row[8]),
        deceased_date=row[9],
        do_not_contact=bool(row[10]),
        acquisition_source=row[11],
        household_id=row[12],
        household_role=row[13],
        merged_into=row[14],
        created_at=row[15],
        updated_at=row[16],
        preferred_channel=row[17],
        version=int(row[18]),
        moved_on=row[19],
        contact_points=contacts,
        addresses=addresses,
        identifiers=identifiers,
        tags=tags,
        consents=current_consents(clinic, patient_id),
    )


def current_consents(clinic: Clinic, patient_id: str) -> tuple[model.Consent, ...]:
    """The decision in force per channel and purpose: the newest row of each pair."""
    # Two decisions in the same second: the later row wins (rowid breaks the tie).
    rows = clinic.conn.execute(
        "SELECT channel, purpose, granted, source, recorded_at, recorded_by FROM ("
        "  SELECT *, row_number() OVER ("
        "    PARTITION BY channel, purpose ORDER BY recorded_at DESC, rowid DESC) AS newest"
        "  FROM consent WHERE patient_id = ?"
        ") WHERE newest = 1 ORDER BY channel, purpose",
        (patient_id,),
    ).fetchall()
    return tuple(model.Consent(r[0], r[1], bool(r[2]), r[3], r[4], r[5]) for r in rows)
