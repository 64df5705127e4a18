"""Saving the contact-details form (app.patients.editing): only what changed, no overwrites."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from app.clinic import Clinic
from app.errors import EditConflictError
from app.patients import records
from app.patients.editing import (
    DetailsEdit,
    DetailsInvalidError,
    birth_date_text,
    load_details,
    save_details,
)
from app.patients.model import AddressDraft, PatientDraft, PhoneDraft
from app.patients.timeline import timeline


@pytest.fixture
def ada(clinic: Clinic) -> str:
    return records.create_patient(
        clinic,
        PatientDraft(
            "Okafor",
            "Ada",
            birth_date="1975-03-04",
            sex="female",
            phones=(PhoneDraft("(612) 555-0142"), PhoneDraft("651.555.0199", "home")),
            emails=("ada.okafor@example.com",),
            addresses=(AddressDraft("120 Lakeside Dr", city="Lakeside", postal_code="55401"),),
        ),
    ).id


def journal_after(clinic: Clinic, seq: int) -> list[tuple[str, str, str]]:
    return clinic.conn.execute(
        "SELECT tbl, row_id, col FROM change WHERE seq > ? ORDER BY seq", (seq,)
    ).fetchall()


def last_seq(clinic: Clinic) -> int:
    return int(clinic.conn.execute("SELECT coalesce(max(seq), 0) FROM change").fetchone()[0])


def test_loaded_details_saved_unchanged_write_nothing(clinic: Clinic, ada: str) -> None:
    details = load_details(clinic, ada)
    before = last_seq(clinic)
    changes = save_details(clinic, ada, details.as_edit(), details.version)
    assert not changes
    assert journal_after(clinic, before) == []
    assert load_details(clinic, ada).version == details.version


def test_loaded_details_hold_the_form_values_in_rank_order(clinic: Clinic, ada: str) -> None:
    details = load_details(clinic, ada)
    assert details.phones == (("+16125550142", "mobile"), ("+16515550199", "home"))
    assert details.emails == ("ada.okafor@example.com",)
    assert details.address.line1 == "120 Lakeside Dr"
    assert details.birth_date == "1975-03-04"
    assert details.as_edit().birth_date == "3/4/1975"


def test_changing_one_phone_journals_only_that_row_the_version_and_the_note(
    clinic: Clinic, ada: str, dana: str
) -> None:
    details = load_details(clinic, ada)
    mobile_id = records.get_patient(clinic, ada).contact_points[0].id
    before = last_seq(clinic)
    edit = replace(details.as_edit(), phones=(("612 555 0142", "mobile"), ("651-555-0123", "home")))
    changes = save_details(clinic, ada, edit, details.version)

    rows = journal_after(clinic, before)
    tables = [(t, c) for t, _, c in rows]
    # The unchanged mobile keeps its row; the replaced home number is one delete and one
    # insert; the patient row only gets its version and timestamp; one timeline note.
    assert all(row_id != mobile_id for _, row_id, _ in rows)
    assert tables.count(("contact_point", "-")) == 1
    assert tables.count(("contact_point", "*")) == 1
    # updated_at is journalled only when the second has moved on since the patient was made.
    patient_cols = [c for t, c in tables if t == "patient"]
    assert "version" in patient_cols and set(patient_cols) <= {"version", "updated_at"}
    assert tables.count(("interaction", "*")) == 1
    assert {t for t, _ in tables} == {"contact_point", "patient", "interaction"}
    assert changes.touches("contact_point") and ada in changes.patient_ids
    assert load_details(clinic, ada).phones[1] == ("+16515550123", "home")
    assert load_details(clinic, ada).version == details.version + 1


def test_reordering_phones_only_updates_ranks(clinic: Clinic, ada: str) -> None:
    details = load_details(clinic, ada)
    before = last_seq(clinic)
    save_details(
        clinic, ada, replace(details.as_edit(), phones=details.phones[::-1]), details.version
    )
    contact_cols = [c for t, _, c in journal_after(clinic, before) if t == "contact_point"]
    assert contact_cols == ["rank", "rank"]
    assert load_details(clinic, ada).phones == details.phones[::-1]


def test_clearing_the_address_deletes_it_and_typing_one_adds_it(clinic: Clinic, ada: str) -> None:
    details = load_details(clinic, ada)
    save_details(clinic, ada, replace(details.as_edit(), address=AddressDraft()), details.version)
    assert records.get_patient(clinic, ada).addresses == ()
    details = load_details(clinic, ada)
    new_home = AddressDraft("9 Elm St", city="Lakeside", country="us")
    save_details(clinic, ada, replace(details.as_edit(), address=new_home), details.version)
    (address,) = records.get_patient(clinic, ada).addresses
    assert (address.line1, address.country, address.use) == ("9 Elm St", "US", "home")


def test_second_window_saving_a_stale_copy_gets_a_conflict_and_writes_nothing(
    clinic: Clinic, ada: str
) -> None:
    first = load_details(clinic, ada)
    second = load_details(clinic, ada)
    save_details(clinic, ada, replace(first.as_edit(), emails=("ada@work.example",)), first.version)
    before = last_seq(clinic)
    stale_edit = replace(second.as_edit(), family_name="Okafor-Bello", emails=())
    with pytest.raises(EditConflictError):
        save_details(clinic, ada, stale_edit, second.version)
    assert journal_after(clinic, before) == []
    now = records.get_patient(clinic, ada)
    assert now.family_name == "Okafor"
    assert [c.value for c in now.contact_points if c.kind == "email"] == ["ada@work.example"]


def test_every_bad_field_is_reported_at_once_and_nothing_is_written(
    clinic: Clinic, ada: str
) -> None:
    details = load_details(clinic, ada)
    tomorrow = date.today() + timedelta(days=1)
    edit = replace(
        details.as_edit(),
        family_name=" ",
        given_names="",
        birth_date=tomorrow.isoformat(),
        phones=(("612 555 0142", "mobile"), ("12", "home")),
        emails=("ada@example",),
        address=AddressDraft("1 Main St", country="United States"),
    )
    before = last_seq(clinic)
    with pytest.raises(DetailsInvalidError) as caught:
        save_details(clinic, ada, edit, details.version)
    errors = caught.value.errors
    assert set(errors) == {"family_name", "birth_date", "phones.1", "emails.0", "address.country"}
    assert "future" in errors["birth_date"]
    assert "dot" in errors["emails.0"]
    assert journal_after(clinic, before) == []


def test_error_messages_carry_no_patient_data(clinic: Clinic, ada: str) -> None:
    details = load_details(clinic, ada)
    edit = replace(details.as_edit(), phones=(("555-ABCD", "mobile"),), emails=("okafor@",))
    with pytest.raises(DetailsInvalidError) as caught:
        save_details(clinic, ada, edit, details.version)
    text = " ".join([str(caught.value), *caught.value.errors.values()]).lower()
    assert "okafor" not in text and "abcd" not in text


def test_timeline_note_names_the_kinds_of_fields_changed_never_the_values(
    clinic: Clinic, ada: str, dana: str
) -> None:
    details = load_details(clinic, ada)
    edit = replace(
        details.as_edit(),
        phones=(("(612) 555-0177", "mobile"),),
        emails=("ada.new@example.com",),
    )
    save_details(clinic, ada, edit, details.version)
    entry = timeline(clinic, ada, kinds={"note"})[0]
    assert entry.title == "Note · details updated"
    assert entry.detail == "Phone, email changed"
    row = clinic.conn.execute(
        "SELECT subject, body, recorded_by FROM interaction WHERE id = ?", (entry.record_id,)
    ).fetchone()
    assert row == ("Phone, email changed", "", dana)
    assert "0177" not in row[0] and "example" not in row[0]


def test_name_and_flags_saved_from_the_form(clinic: Clinic, ada: str) -> None:
    details = load_details(clinic, ada)
    edit = replace(
        details.as_edit(),
        preferred_name="  Addie ",
        preferred_channel="sms",
        do_not_contact=True,
        birth_date="1975-03",
    )
    save_details(clinic, ada, edit, details.version)
    patient = records.get_patient(clinic, ada)
    assert patient.preferred_name == "Addie"
    assert patient.preferred_channel == "sms"
    assert patient.do_not_contact is True
    assert patient.birth_date == "1975-03"
    note = timeline(clinic, ada, kinds={"note"})[0]
    assert note.detail == "Name, birth date, preferred channel, do not contact changed"


def test_empty_lines_of_a_list_are_ignored(clinic: Clinic, ada: str) -> None:
    details = load_details(clinic, ada)
    edit = replace(details.as_edit(), phones=(*details.phones, ("  ", "mobile")), emails=("",))
    save_details(clinic, ada, edit, details.version)
    assert load_details(clinic, ada).phones == details.phones
    assert load_details(clinic, ada).emails == ()


def test_birth_date_text_reads_back_in_the_clinics_habit() -> None:
    assert birth_date_text("1975-03-14") == "3/14/1975"
    assert birth_date_text("1975-03-14", day_first=True) == "14/3/1975"
    assert birth_date_text("1975-03") == "1975-03"
    assert birth_date_text(None) == ""


def test_new_edit_defaults_are_a_valid_empty_form(clinic: Clinic, ada: str) -> None:
    details = load_details(clinic, ada)
    with pytest.raises(DetailsInvalidError) as caught:
        save_details(clinic, ada, DetailsEdit(), details.version)
    assert set(caught.value.errors) == {"family_name"}


def test_birth_date_hint_says_how_the_typed_date_was_read() -> None:
    from datetime import date

    from app.patients.editing import birth_date_hint

    today = date(2026, 11, 28)
    assert birth_date_hint("3/4/1975", today=today, day_first=False) == (
        "4 March 1975 · 51 years old"
    )
    assert birth_date_hint("3/4/1975", today=today, day_first=True).startswith("3 April 1975")
    assert birth_date_hint("1974-12", today=today, day_first=False).startswith("December 1974")
    assert birth_date_hint("31/31/1975", today=today, day_first=False) == ""
    assert birth_date_hint("  ", today=today, day_first=False) == ""
