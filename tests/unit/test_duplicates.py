"""Warning before a second record for the same person (app.patients.duplicates)."""

from __future__ import annotations

import pytest

from app.clinic import Clinic
from app.patients import records
from app.patients.duplicates import similar_patients
from app.patients.model import PatientDraft, PhoneDraft


@pytest.fixture
def ada(clinic: Clinic) -> str:
    return records.create_patient(
        clinic,
        PatientDraft(
            "Okafor",
            "Ada",
            birth_date="1975-03-04",
            phones=(PhoneDraft("(612) 555-0142"),),
            emails=("ada.okafor@example.com",),
        ),
    ).id


def reasons(clinic: Clinic, draft: PatientDraft) -> dict[str, str]:
    return {c.patient_id: c.reason for c in similar_patients(clinic, draft)}


def test_same_name_and_birth_date_is_found(clinic: Clinic, ada: str) -> None:
    found = similar_patients(clinic, PatientDraft("Okafor", "Ada", birth_date="3/4/1975"))
    assert [c.patient_id for c in found] == [ada]
    assert found[0].reason == "same name and birth date"
    assert found[0].display_name == "Okafor, Ada"
    assert found[0].birth_date == "1975-03-04"
    assert found[0].phone == "+16125550142"


def test_swapped_given_and_family_names_are_found(clinic: Clinic, ada: str) -> None:
    draft = PatientDraft("Ada", "Okafor", birth_date="1975-03-04")
    assert reasons(clinic, draft) == {ada: "same name and birth date"}


def test_accents_and_case_do_not_hide_a_duplicate(clinic: Clinic) -> None:
    jose = records.create_patient(clinic, PatientDraft("Núñez", "José", birth_date="1990-11-02")).id
    draft = PatientDraft("NUNEZ", "jose", birth_date="11/2/1990")
    assert reasons(clinic, draft) == {jose: "same name and birth date"}


def test_a_typo_in_the_name_with_the_same_birth_date_is_similar(clinic: Clinic, ada: str) -> None:
    draft = PatientDraft("Okafur", "Ada", birth_date="1975-03-04")
    assert reasons(clinic, draft) == {ada: "similar name, same birth date"}


def test_same_phone_typed_another_way_is_found(clinic: Clinic, ada: str) -> None:
    draft = PatientDraft("Bello", "Tunde", phones=(PhoneDraft("+1 612.555.0142"),))
    assert reasons(clinic, draft) == {ada: "same phone"}


def test_same_email_in_other_case_is_found(clinic: Clinic, ada: str) -> None:
    draft = PatientDraft("Bello", "Tunde", emails=("Ada.Okafor@EXAMPLE.com",))
    assert reasons(clinic, draft) == {ada: "same email"}


def test_several_reasons_are_all_named_strongest_first(clinic: Clinic, ada: str) -> None:
    draft = PatientDraft(
        "Okafor", "Ada", birth_date="1975-03-04", phones=(PhoneDraft("612-555-0142"),)
    )
    assert reasons(clinic, draft) == {ada: "same name and birth date, same phone"}


def test_same_common_family_name_alone_is_not_a_duplicate(clinic: Clinic) -> None:
    for given, born in (("Mary", "1980-01-01"), ("Robert", "1975-03-04"), ("Li", "1962-07-30")):
        records.create_patient(clinic, PatientDraft("Smith", given, birth_date=born))
    assert reasons(clinic, PatientDraft("Smith", "John", birth_date="1975-03-04")) == {}
    assert reasons(clinic, PatientDraft("Smith", "John")) == {}


def test_same_name_with_a_different_birth_date_is_another_person(clinic: Clinic, ada: str) -> None:
    assert reasons(clinic, PatientDraft("Okafor", "Ada", birth_date="1991-06-12")) == {}


def test_same_name_without_a_birth_date_to_compare_is_worth_a_look(
    clinic: Clinic, ada: str
) -> None:
    assert reasons(clinic, PatientDraft("Okafor", "Ada")) == {ada: "same name"}


def test_bad_phone_or_date_in_the_draft_does_not_stop_the_check(clinic: Clinic, ada: str) -> None:
    draft = PatientDraft("Okafor", "Ada", birth_date="31/31/1975", phones=(PhoneDraft("12"),))
    assert reasons(clinic, draft) == {ada: "same name"}


def test_a_merged_record_is_never_offered(clinic: Clinic, ada: str) -> None:
    keeper = records.create_patient(clinic, PatientDraft("Okafor", "Ada")).id
    with clinic.store.write() as tx:
        tx.update("patient", ada, {"merged_into": keeper})
    found = reasons(clinic, PatientDraft("Okafor", "Ada", phones=(PhoneDraft("6125550142"),)))
    assert found == {keeper: "same name"}


def test_results_are_limited_and_likeliest_first(demo_clinic: Clinic) -> None:
    row = demo_clinic.conn.execute(
        "SELECT id, family_name, given_names, birth_date FROM patient "
        "WHERE length(birth_date) = 10 AND given_names != '' LIMIT 1"
    ).fetchone()
    found = similar_patients(demo_clinic, PatientDraft(row[1], row[2], birth_date=row[3]), limit=2)
    assert 1 <= len(found) <= 2
    assert found[0].patient_id == row[0]
    assert found[0].reason.startswith("same name and birth date")
