"""Mapping FHIR resources to Frontdesk records: sample counts, each listed quirk, bad data."""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from app.importers.fhir import read_import, summarize
from app.importers.fhir.mapping import map_resource
from app.importers.fhir.model import (
    FhirDate,
    ImportedAppointment,
    ImportedCondition,
    ImportedEncounter,
    ImportedPatient,
)
from app.importers.fhir.references import ReferenceIndex, ResourceKey
from tests.support.emr_samples import samples

SAMPLES = samples("fhir")
HL7 = SAMPLES / "hl7-r4-examples"


def count_in_files(root: Path) -> Counter[str]:
    """Independent count: open every .json/.ndjson with the stdlib, walk Bundles by hand."""
    counts: Counter[str] = Counter()

    def walk(value: Any) -> None:
        if not isinstance(value, dict):
            return
        if value.get("resourceType") == "Bundle":
            for entry in value.get("entry") or []:
                walk(entry.get("resource"))
            return
        if "resourceType" in value:
            counts[value["resourceType"]] += 1
            for inner in value.get("contained") or []:
                if isinstance(inner, dict) and inner.get("id"):
                    counts[inner.get("resourceType", "")] += 1

    for path in sorted(root.rglob("*")):
        if path.suffix == ".ndjson":
            for line in path.read_text(encoding="utf-8").splitlines():
                with contextlib.suppress(ValueError):
                    walk(json.loads(line))
        elif path.suffix == ".json":
            with contextlib.suppress(ValueError):
                walk(json.loads(path.read_text(encoding="utf-8-sig")))
    return counts


def map_one(resource: dict[str, Any], index: ReferenceIndex | None = None) -> Any:
    mapped = map_resource(resource, index or ReferenceIndex(), location="test.json")
    return mapped


def patient(**fields: Any) -> ImportedPatient:
    mapped = map_one({"resourceType": "Patient", "id": "p", **fields})
    [record] = mapped.records
    assert isinstance(record, ImportedPatient)
    return record


def test_patient_practitioner_appointment_encounter_counts_match_the_files() -> None:
    expected = count_in_files(SAMPLES)
    summary = summarize(read_import(SAMPLES))
    for resource_type in ("Patient", "Practitioner", "Appointment", "Encounter"):
        assert summary.mapped[resource_type] == expected[resource_type], resource_type
    assert summary.mapped["Patient"] > 50 and summary.mapped["Encounter"] > 1000
    assert not summary.failed


def test_bulk_export_has_thirteen_patients_three_deceased() -> None:
    records = [r for i in read_import(SAMPLES / "bulk-ndjson") for r in i.records]
    patients = [r for r in records if isinstance(r, ImportedPatient)]
    assert len(patients) == 13
    assert sum(p.deceased for p in patients) == 3


def test_unknown_types_are_counted_and_skipped() -> None:
    summary = summarize(read_import(SAMPLES / "bulk-ndjson"))
    assert summary.skipped["Procedure"] == 2056
    assert summary.skipped["MedicationRequest"] == 1745
    assert "Procedure" not in summary.mapped


def test_encounter_becomes_a_visit_with_resolved_people_and_places() -> None:
    visits = [
        r
        for i in read_import(SAMPLES / "bulk-ndjson")
        for r in i.records
        if isinstance(r, ImportedEncounter)
    ]
    visit = visits[0]
    assert visit.start is not None and visit.start.utc_iso is not None
    assert visit.class_code == "AMB" and visit.kind
    assert visit.patient is not None and visit.patient.key is not None
    assert visit.practitioners[0].key is not None
    assert visit.service_provider is not None and visit.service_provider.key is not None
    assert visit.locations[0].key is not None


def test_synthea_names_with_digits_apostrophes_and_accents_are_kept_as_given() -> None:
    names = [
        r.name
        for folder in ("bulk-ndjson", "synthea-bundles")
        for i in read_import(SAMPLES / folder)
        for r in i.records
        if isinstance(r, ImportedPatient) and r.name
    ]
    families = {n.family for n in names}
    assert "O'Keefe54" in families
    assert "Mejía" in families
    assert any(g[-1].isdigit() for n in names for g in n.given)


def test_given_with_nulls_from_given_extensions_are_skipped() -> None:
    record = patient(
        name=[
            {
                "family": "Chalmers",
                "given": ["Peter", None, "James"],
                "_given": [None, {"extension": [{"url": "x", "valueString": "y"}]}, None],
            }
        ]
    )
    assert record.name is not None and record.name.given == ("Peter", "James")


def test_name_only_as_chinese_text_becomes_the_family_name() -> None:
    [item] = list(read_import(HL7 / "Patient-ch-example.json"))
    [record] = item.records
    assert isinstance(record, ImportedPatient)
    assert record.name is not None and record.name.family == "张无忌"
    assert record.telecom[0].value == "18337177888"


def test_several_names_prefer_official_and_keep_the_nickname() -> None:
    record = patient(
        name=[
            {"use": "nickname", "given": ["Jim"]},
            {"use": "old", "family": "Before"},
            {"use": "official", "family": "Chalmers", "given": ["James"]},
        ]
    )
    assert record.name is not None and record.name.family == "Chalmers"
    assert record.preferred_name == "Jim"


def test_animal_patient_is_flagged() -> None:
    [item] = list(read_import(HL7 / "Patient-animal.json"))
    [record] = item.records
    assert isinstance(record, ImportedPatient) and record.is_animal


def test_deceased_boolean_and_datetime() -> None:
    assert patient(deceasedBoolean=True).deceased
    assert not patient(deceasedBoolean=False).deceased
    record = patient(deceasedDateTime="2015-02-14T13:42:00+10:00")
    assert record.deceased and record.deceased_at is not None
    assert record.deceased_at.utc_iso == "2015-02-14T03:42:00Z"


def test_partial_birth_dates_keep_their_precision() -> None:
    assert patient(birthDate="1974").birth_date == FhirDate(1974)
    assert patient(birthDate="1974-12").birth_date == FhirDate(1974, 12)
    full = patient(birthDate="1974-12-25").birth_date
    assert full is not None and full.as_date() is not None and not full.is_partial


def test_birth_time_extension_on_birth_date_is_read() -> None:
    [item] = list(read_import(HL7 / "Patient-infant-twin-1.json"))
    record = item.records[0]
    assert isinstance(record, ImportedPatient)
    assert record.birth_date is not None
    assert record.birth_time is not None and record.birth_time.at is not None


@pytest.mark.parametrize("bad", ["385-07-25", "0385-07-25", "1974-13", "1974-02-30", "74", 1974])
def test_bad_birth_dates_are_left_out_and_reported(bad: Any) -> None:
    mapped = map_one({"resourceType": "Patient", "id": "p", "birthDate": bad})
    [record] = mapped.records
    assert isinstance(record, ImportedPatient) and record.birth_date is None
    [problem] = mapped.problems
    assert problem.reason.startswith("birthDate") and not problem.dropped
    assert str(bad) not in problem.reason


def test_three_digit_year_says_it_needs_four_digits() -> None:
    mapped = map_one({"resourceType": "Encounter", "period": {"start": "385-07-25T07:06:40Z"}})
    assert "4-digit year" in mapped.problems[0].reason


def test_identifier_type_codes_are_kept() -> None:
    [item] = list(
        read_import(
            SAMPLES / "synthea-bundles" / "Liz_Conn_27c911c6-f045-4ffa-af5d-6eba57ac94b2.json"
        )
    )[:1]
    record = next(r for r in item.records)
    assert isinstance(record, ImportedPatient)
    codes = {i.type_code for i in record.identifiers}
    assert {"MR", "SS"} <= codes


def test_appointment_with_only_requested_period_has_no_time_yet() -> None:
    [item] = list(read_import(HL7 / "Appointment-examplereq.json"))
    [record] = item.records
    assert isinstance(record, ImportedAppointment)
    assert record.start is None and record.status == "booked"
    assert record.requested_periods[0].start is not None
    assert record.patient is not None and record.patient.display == "Peter James Chalmers"


@pytest.mark.parametrize(
    ("fhir", "ours"),
    [
        ("proposed", "booked"),
        ("pending", "booked"),
        ("booked", "booked"),
        ("arrived", "arrived"),
        ("checked-in", "arrived"),
        ("fulfilled", "fulfilled"),
        ("cancelled", "cancelled"),
        ("entered-in-error", "cancelled"),
        ("noshow", "noshow"),
        ("waitlist", "booked"),
    ],
)
def test_appointment_status_maps_to_ours(fhir: str, ours: str) -> None:
    [record] = map_one({"resourceType": "Appointment", "status": fhir}).records
    assert isinstance(record, ImportedAppointment) and record.status == ours
    assert (record.note is not None) == (fhir == "waitlist")


def test_appointment_without_a_known_status_is_reported_and_left_out() -> None:
    mapped = map_one({"resourceType": "Appointment", "status": "maybe"})
    assert mapped.records == ()
    assert mapped.problems[0].dropped


def test_appointment_participants_resolve_to_patient_practitioner_location() -> None:
    index = ReferenceIndex()
    for resource in (
        {"resourceType": "Patient", "id": "a"},
        {"resourceType": "Practitioner", "id": "b"},
        {"resourceType": "Location", "id": "c"},
    ):
        index.add_resource(resource, None, "x")
    [record] = map_one(
        {
            "resourceType": "Appointment",
            "status": "booked",
            "start": "2026-11-28T09:00:00-06:00",
            "participant": [
                {"actor": {"reference": "Patient/a"}},
                {"actor": {"reference": "Practitioner/b"}},
                {"actor": {"reference": "Location/c"}},
                {"type": [{"text": "attender"}]},
            ],
        },
        index,
    ).records
    assert isinstance(record, ImportedAppointment)
    assert record.start is not None and record.start.utc_iso == "2026-11-28T15:00:00Z"
    assert record.patient is not None and record.patient.key == ResourceKey("Patient", "a")
    assert [r.key for r in record.practitioners] == [ResourceKey("Practitioner", "b")]
    assert [r.key for r in record.locations] == [ResourceKey("Location", "c")]


def test_condition_and_allergy_are_coded() -> None:
    conditions = [
        r
        for i in read_import(SAMPLES / "bulk-ndjson" / "Condition.000.ndjson")
        for r in i.records
        if isinstance(r, ImportedCondition)
    ]
    first = conditions[0]
    assert first.code is not None and first.code.codings[0].system == "http://snomed.info/sct"
    assert first.code.codings[0].code and first.code.display
    assert first.clinical_status in ("active", "resolved", "inactive")
    assert first.onset is not None


def test_coverage_keeps_payer_and_subscriber_id() -> None:
    [record] = map_one(
        {
            "resourceType": "Coverage",
            "status": "active",
            "subscriberId": "AB1234",
            "beneficiary": {"reference": "Patient/p"},
            "payor": [{"reference": "Organization/ins", "display": "Acme Insurance"}],
            "class": [{"type": {"text": "plan"}, "value": "B1", "name": "Silver"}],
        }
    ).records
    assert record.subscriber_id == "AB1234" and record.plan == "Silver"
    assert record.payers[0].display == "Acme Insurance"
    assert record.payers[0].target_type == "Organization"


def test_contained_practitioner_is_mapped_under_its_container() -> None:
    mapped = map_one(
        {
            "resourceType": "Encounter",
            "id": "e1",
            "contained": [{"resourceType": "Practitioner", "id": "p1", "name": [{"family": "X"}]}],
            "participant": [{"individual": {"reference": "#p1"}}],
        }
    )
    encounter, practitioner = mapped.records
    assert practitioner.key == ResourceKey("Practitioner", "e1#p1")
    assert isinstance(encounter, ImportedEncounter)
    assert encounter.practitioners[0].key == practitioner.key


def test_unknown_extensions_and_elements_are_ignored() -> None:
    record = patient(
        extension=[{"url": "http://example.org/whatever", "valueString": "x"}],
        somethingNew={"a": 1},
        maritalStatus={"text": "married"},
    )
    assert record.sex == "unknown"


def test_gender_maps_to_sex() -> None:
    assert patient(gender="female").sex == "female"
    assert patient().sex == "unknown"
    assert patient(gender="robot").sex == "unknown"


def test_telecom_keeps_phones_and_emails_by_rank() -> None:
    record = patient(
        telecom=[
            {"system": "email", "value": "a@b.org", "rank": 2},
            {"system": "phone", "value": "555-0100", "use": "mobile", "rank": 1},
            {"system": "fax", "value": "555-0199"},
            {"use": "home"},
        ]
    )
    assert [(t.system, t.use) for t in record.telecom] == [("phone", "mobile"), ("email", None)]


def test_postal_code_with_zeros_and_language_are_kept() -> None:
    record = patient(
        address=[{"line": ["1 Main St"], "city": "X", "postalCode": "00000"}],
        communication=[{"language": {"coding": [{"code": "es"}]}, "preferred": True}],
    )
    assert record.addresses[0].postal_code == "00000"
    assert record.language == "es"
