"""Creating and changing patients (app.patients.records), and the change journal it leaves."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest

from app.clinic import Clinic
from app.errors import (
    InvalidDateError,
    InvalidEmailError,
    InvalidInputError,
    InvalidPhoneError,
    RecordNotFoundError,
    StoreWriteError,
)
from app.patients import records
from app.patients.model import AddressDraft, IdentifierDraft, PatientDraft, PhoneDraft

TABLES = (
    "patient",
    "contact_point",
    "address",
    "patient_identifier",
    "patient_tag",
    "change",
    "patient_search_doc",
)


def counts(clinic: Clinic) -> dict[str, int]:
    return {t: clinic.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


def full_draft(**overrides: Any) -> PatientDraft:
    fields: dict[str, Any] = {
        "family_name": "Okafor",
        "given_names": "Ada",
        "preferred_name": "Addie",
        "birth_date": "3/4/1975",
        "sex": "female",
        "language": "en",
        "acquisition_source": "Google search",
        "phones": (PhoneDraft("(612) 555-0142"), PhoneDraft("651.555.0199", "home")),
        "emails": ("Ada.Okafor@Example.com",),
        "addresses": (AddressDraft("120 Lakeside Dr", city="Lakeside", postal_code="55401"),),
        "identifiers": (IdentifierDraft("urn:clinic:mrn", "MRN0042137", "MR"),),
        "tags": ("vip", " vip ", "new"),
    }
    fields.update(overrides)
    return PatientDraft(**fields)


def change_rows(clinic: Clinic, table: str, row_id: str) -> list[tuple[str, str | None]]:
    return clinic.conn.execute(
        "SELECT col, value FROM change WHERE tbl = ? AND row_id = ? ORDER BY seq",
        (table, row_id),
    ).fetchall()


def stored_row(clinic: Clinic, table: str, row_id: str) -> dict[str, Any]:
    cursor = clinic.conn.execute(f"SELECT * FROM {table} WHERE id = ?", (row_id,))
    names = [d[0] for d in cursor.description]
    return dict(zip(names, cursor.fetchone(), strict=True))


# --- validation before any write ------------------------------------------------------


@pytest.mark.parametrize(
    ("draft", "error"),
    [
        (
            full_draft(phones=(PhoneDraft("(612) 555-0142"), PhoneDraft("555-01"))),
            InvalidPhoneError,
        ),
        (full_draft(phones=(PhoneDraft("1-800-FLOWERS"),)), InvalidPhoneError),
        (full_draft(emails=("ada.okafor@example.com", "ada at example.com")), InvalidEmailError),
        (full_draft(emails=("ada@localhost",)), InvalidEmailError),
        (full_draft(birth_date=(date.today() + timedelta(days=1)).isoformat()), InvalidDateError),
        (full_draft(birth_date="3/4/75"), InvalidDateError),
        (full_draft(sex="f"), InvalidInputError),
        (full_draft(family_name="  ", given_names=""), InvalidInputError),
        (full_draft(addresses=(AddressDraft("1 Main St", use="holiday"),)), InvalidInputError),
        (full_draft(identifiers=(IdentifierDraft("urn:clinic:mrn", "  "),)), InvalidInputError),
    ],
)
def test_invalid_input_raises_a_typed_error_and_writes_nothing(
    clinic: Clinic, draft: PatientDraft, error: type[InvalidInputError]
) -> None:
    before = counts(clinic)

    with pytest.raises(error) as raised:
        records.create_patient(clinic, draft)

    assert str(raised.value)
    assert counts(clinic) == before


def test_future_birth_date_message_says_so(clinic: Clinic) -> None:
    tomorrow = (date.today() + timedelta(days=1)).isoformat()

    with pytest.raises(InvalidDateError, match="future"):
        records.create_patient(clinic, PatientDraft("Okafor", birth_date=tomorrow))


def test_duplicate_record_number_writes_nothing(clinic: Clinic) -> None:
    records.create_patient(clinic, full_draft())
    before = counts(clinic)

    with pytest.raises(StoreWriteError, match="Nothing was saved"):
        records.create_patient(clinic, full_draft(family_name="Other"))

    assert counts(clinic) == before


# --- what a created patient holds -----------------------------------------------------


def test_created_patient_is_stored_cleaned_and_normalised(clinic: Clinic) -> None:
    created = records.create_patient(
        clinic, full_draft(family_name="  Okafor   Eze ", given_names=" Ada  ")
    )

    patient = records.get_patient(clinic, created.id)

    assert (patient.family_name, patient.given_names) == ("Okafor Eze", "Ada")
    assert patient.birth_date == "1975-03-04"
    assert [(c.kind, c.value, c.use, c.rank) for c in patient.contact_points] == [
        ("email", "ada.okafor@example.com", "home", 1),
        ("phone", "+16125550142", "mobile", 1),
        ("phone", "+16515550199", "home", 2),
    ]
    assert [(a.line1, a.city, a.postal_code, a.rank) for a in patient.addresses] == [
        ("120 Lakeside Dr", "Lakeside", "55401", 1)
    ]
    assert [(i.system, i.value, i.kind) for i in patient.identifiers] == [
        ("urn:clinic:mrn", "MRN0042137", "MR")
    ]
    assert patient.tags == ("new", "vip")
    assert patient.display_name == "Okafor Eze, Ada (Addie)"


def test_created_changes_name_every_table_written_and_the_patient(clinic: Clinic) -> None:
    created = records.create_patient(clinic, full_draft())

    assert created.changes.tables == frozenset(
        {"patient", "contact_point", "address", "patient_identifier", "patient_tag"}
    )
    assert created.changes.patient_ids == frozenset({created.id})


def test_minimal_patient_changes_name_only_the_patient_table(clinic: Clinic) -> None:
    created = records.create_patient(clinic, PatientDraft("Okafor"))

    assert created.changes.tables == frozenset({"patient"})


def test_unknown_patient_is_not_found(clinic: Clinic) -> None:
    with pytest.raises(RecordNotFoundError):
        records.get_patient(clinic, "no-such-id")


# --- the change journal ----------------------------------------------------------------


def test_every_inserted_row_is_journalled_once_as_a_star_row(clinic: Clinic) -> None:
    before = counts(clinic)

    created = records.create_patient(clinic, full_draft())

    after = counts(clinic)
    written = sum(after[t] - before[t] for t in TABLES[:5])
    rows = clinic.conn.execute(
        "SELECT tbl, row_id, col FROM change ORDER BY seq DESC LIMIT ?", (written,)
    ).fetchall()
    assert after["change"] - before["change"] == written == 8
    assert {col for _, _, col in rows} == {"*"}
    assert ("patient", created.id, "*") in rows


def test_insert_journal_json_matches_the_stored_values(clinic: Clinic) -> None:
    created = records.create_patient(clinic, full_draft())
    row = stored_row(clinic, "patient", created.id)

    ((col, value),) = change_rows(clinic, "patient", created.id)
    journalled = json.loads(value or "null")

    assert col == "*"
    assert journalled["id"] == created.id
    assert {k: row[k] for k in journalled} == journalled


def test_insert_journal_holds_the_whole_row_including_defaults(clinic: Clinic) -> None:
    # db/migrations/0001_core.sql: "An insert is one row with column '*' and the whole
    # row as JSON (all columns at one clock)".
    created = records.create_patient(clinic, PatientDraft("Okafor", "Ada"))

    ((_, value),) = change_rows(clinic, "patient", created.id)

    assert json.loads(value or "null") == stored_row(clinic, "patient", created.id)


def test_update_journals_one_row_per_changed_column(clinic: Clinic) -> None:
    created = records.create_patient(clinic, full_draft())

    records.update_patient(
        clinic, created.id, {"family_name": "Eze", "language": "es", "given_names": "Ada"}
    )

    updates = change_rows(clinic, "patient", created.id)[1:]
    by_column = {col: json.loads(value or "null") for col, value in updates}
    assert len(updates) == len(by_column)
    assert set(by_column) - {"updated_at", "version"} == {"family_name", "language"}
    assert (by_column["family_name"], by_column["language"]) == ("Eze", "es")
    patient = records.get_patient(clinic, created.id)
    assert (patient.family_name, patient.language) == ("Eze", "es")


def test_update_with_no_real_change_writes_no_change_row(clinic: Clinic) -> None:
    created = records.create_patient(clinic, full_draft())
    before = counts(clinic)
    stored = stored_row(clinic, "patient", created.id)

    changes = records.update_patient(
        clinic,
        created.id,
        {"family_name": "  Okafor ", "birth_date": "1975-03-04", "do_not_contact": False},
    )

    assert not changes
    assert counts(clinic) == before
    assert stored_row(clinic, "patient", created.id) == stored


def test_delete_leaves_a_tombstone(clinic: Clinic) -> None:
    created = records.create_patient(clinic, full_draft())
    contact = records.get_patient(clinic, created.id).contact_points[0]

    changes = records.remove_contact_point(clinic, contact.id)

    assert changes.tables == frozenset({"contact_point"})
    assert changes.patient_ids == frozenset({created.id})
    assert change_rows(clinic, "contact_point", contact.id)[-1] == ("-", None)
    remaining = records.get_patient(clinic, created.id).contact_points
    assert contact.id not in {c.id for c in remaining}


def test_deleting_a_missing_row_journals_nothing(clinic: Clinic) -> None:
    before = counts(clinic)

    changes = records.remove_contact_point(clinic, "no-such-id")

    assert not changes
    assert counts(clinic) == before


def test_change_rows_carry_this_device_and_increasing_clock(clinic: Clinic) -> None:
    created = records.create_patient(clinic, full_draft())
    records.update_patient(clinic, created.id, {"family_name": "Eze"})
    device = clinic.conn.execute("SELECT value FROM meta WHERE key = 'device_id'").fetchone()[0]

    rows = clinic.conn.execute("SELECT hlc, device_id FROM change ORDER BY seq").fetchall()

    clocks = [hlc for hlc, _ in rows]
    # Never backwards; the rows of one writer call share a clock (an edit's fields and
    # its version bump), so equal neighbours are allowed, repeats further apart are not.
    assert clocks == sorted(clocks)
    runs = [hlc for i, hlc in enumerate(clocks) if i == 0 or hlc != clocks[i - 1]]
    assert len(runs) == len(set(runs))
    assert {d for _, d in rows} == {device}


# --- edits with rules of their own -------------------------------------------------------


def test_fields_with_their_own_calls_cannot_be_edited_directly(clinic: Clinic) -> None:
    created = records.create_patient(clinic, PatientDraft("Okafor"))

    with pytest.raises(ValueError, match="not editable"):
        records.update_patient(clinic, created.id, {"deceased": 1})


def test_edited_birth_date_is_validated_like_on_entry(clinic: Clinic) -> None:
    created = records.create_patient(clinic, PatientDraft("Okafor"))
    before = counts(clinic)

    with pytest.raises(InvalidDateError):
        records.update_patient(clinic, created.id, {"birth_date": "31/02/1975"})

    assert counts(clinic) == before


def test_marking_deceased_keeps_the_patient_with_the_date(clinic: Clinic) -> None:
    created = records.create_patient(clinic, PatientDraft("Okafor"))

    records.mark_deceased(clinic, created.id, "2024-02-29")

    patient = records.get_patient(clinic, created.id)
    assert (patient.deceased, patient.deceased_date) == (True, "2024-02-29")


def test_added_phone_is_normalised_and_ranked_after_the_others(clinic: Clinic) -> None:
    created = records.create_patient(clinic, full_draft())

    added = records.add_phone(clinic, created.id, "+1 (763) 555-0111", "work")

    phone = next(
        c for c in records.get_patient(clinic, created.id).contact_points if c.id == added.id
    )
    assert (phone.value, phone.use, phone.rank) == ("+17635550111", "work", 3)


def test_adding_to_a_missing_patient_is_refused(clinic: Clinic) -> None:
    before = counts(clinic)

    with pytest.raises(RecordNotFoundError):
        records.add_email(clinic, "no-such-id", "ada@example.com")

    assert counts(clinic) == before


# --- consent history ---------------------------------------------------------------------


def test_newest_consent_decision_per_channel_and_purpose_is_in_force(clinic: Clinic) -> None:
    patient = records.create_patient(clinic, PatientDraft("Okafor")).id
    decisions = [
        ("sms", "appointment", True, "form", "2024-01-01T10:00:00Z"),
        ("sms", "appointment", False, "sms-stop", "2024-03-01T10:00:00Z"),
        ("sms", "appointment", True, "phone", "2024-02-01T10:00:00Z"),
        ("email", "billing", True, "form", "2024-01-05T10:00:00Z"),
    ]
    for channel, purpose, granted, source, when in decisions:
        records.record_consent(clinic, patient, channel, purpose, granted, source, when)

    found = records.get_patient(clinic, patient)

    sms = found.consent_for("sms", "appointment")
    assert sms is not None
    assert (sms.granted, sms.source) == (False, "sms-stop")
    assert sms.recorded_at == "2024-03-01T10:00:00Z"
    email = found.consent_for("email", "billing")
    assert email is not None and email.granted
    assert found.consent_for("letter", "recall") is None
    assert len(found.consents) == 2


def test_every_consent_decision_stays_on_record(clinic: Clinic) -> None:
    patient = records.create_patient(clinic, PatientDraft("Okafor")).id
    for granted, when in ((True, "2024-01-01T10:00:00Z"), (False, "2024-02-01T10:00:00Z")):
        records.record_consent(clinic, patient, "email", "marketing", granted, "form", when)

    rows = clinic.conn.execute(
        "SELECT granted FROM consent WHERE patient_id = ? ORDER BY recorded_at", (patient,)
    ).fetchall()

    assert rows == [(1,), (0,)]


def test_later_decision_in_the_same_second_wins(clinic: Clinic) -> None:
    # recorded_at defaults to utc_now(), which has one-second resolution: a patient who
    # opts in and at once opts out (or a receptionist correcting a click) leaves two rows
    # with the same recorded_at. The decision taken last must be the one in force.
    patient = records.create_patient(clinic, PatientDraft("Okafor")).id
    same_second = "2024-05-01T10:00:00Z"
    records.record_consent(clinic, patient, "sms", "recall", True, "form", same_second)
    records.record_consent(clinic, patient, "sms", "recall", False, "phone", same_second)

    consent = records.get_patient(clinic, patient).consent_for("sms", "recall")

    assert consent is not None
    assert (consent.granted, consent.source) == (False, "phone")


@pytest.mark.parametrize(
    ("channel", "purpose", "source"),
    [("fax", "recall", "form"), ("sms", "spam", "form"), ("sms", "recall", "   ")],
)
def test_consent_with_unknown_channel_purpose_or_no_source_is_refused(
    clinic: Clinic, channel: str, purpose: str, source: str
) -> None:
    patient = records.create_patient(clinic, PatientDraft("Okafor")).id
    before = counts(clinic)

    with pytest.raises(InvalidInputError):
        records.record_consent(clinic, patient, channel, purpose, True, source)

    assert counts(clinic) == before
