"""FHIR records to the writer's targets: fields, identity keys and links, times, problems.

Every record here is made by the real reading layers (map_resource against a
reference index built from the same resources), so the tests prove the converter
on what the importer really hands it.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest

from app.importers.fhir import read_import
from app.importers.fhir.convert import fhir_target
from app.importers.fhir.mapping import map_resource
from app.importers.fhir.references import build_index
from app.importers.fhir.sources import SourceItem
from app.importers.targets import (
    AddressIn,
    AllergyIn,
    ConditionIn,
    CoverageIn,
    IdentifierIn,
    ImportProblem,
    Link,
    LocationIn,
    OrganizationIn,
    PatientIn,
    PhoneIn,
    ProviderIn,
    RoleIn,
    Target,
    VisitIn,
)
from tests.support.emr_samples import samples

T = TypeVar("T")
CHICAGO = ZoneInfo("America/Chicago")
TODAY = date(2025, 6, 1)
FHIR_SAMPLES = samples("fhir")

MR = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}
SS = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "SS"}]}
DL = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "DL"}]}
NPI = "http://hl7.org/fhir/sid/us-npi"
SNOMED = "http://snomed.info/sct"
SYNTHEA = "https://github.com/synthetichealth/synthea"


def entry(resource: dict[str, Any], full_url: str | None = None) -> SourceItem:
    return SourceItem(f"test.json entry {resource.get('id')}", resource, full_url=full_url)


def convert_all(
    *entries: SourceItem, today: date = TODAY
) -> list[tuple[Target | None, list[ImportProblem]]]:
    """Index every entry, map each, convert every record: what an import does."""
    index = build_index(entries)
    results = []
    for item in entries:
        assert item.resource is not None
        mapped = map_resource(item.resource, index, location=item.location, full_url=item.full_url)
        for record in mapped.records:
            results.append(fhir_target(record, zone=CHICAGO, today=today))
    return results


def convert(
    resource: dict[str, Any], *others: dict[str, Any], today: date = TODAY
) -> tuple[Target | None, list[ImportProblem]]:
    """The target of the first resource, with the others in the same import."""
    return convert_all(entry(resource), *(entry(o) for o in others), today=today)[0]


def target_of(kind: type[T], resource: dict[str, Any], *others: dict[str, Any]) -> T:
    target, _ = convert(resource, *others)
    assert isinstance(target, kind)
    return target


# --- patients -----------------------------------------------------------------------


PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "p1",
    "identifier": [
        {"system": SYNTHEA, "value": "syn-1"},
        {"type": MR, "system": "http://hospital.example/mrn", "value": "MRN-7"},
        {"type": SS, "system": "http://hl7.org/fhir/sid/us-ssn", "value": "999-11-2222"},
        {"type": DL, "system": "urn:oid:2.16.840.1.113883.4.3.25", "value": "S999"},
        {"value": "no-system"},
    ],
    "name": [
        {"use": "official", "family": "O'Keefe54", "given": ["Ana", "María"], "prefix": ["Ms."]},
        {"use": "nickname", "given": ["Annie"]},
    ],
    "gender": "female",
    "birthDate": "1974-12",
    "deceasedDateTime": "2020-03-04T23:30:00-06:00",
    "telecom": [
        {"system": "phone", "value": "(415) 555-2671", "use": "mobile"},
        {"system": "phone", "value": "555-929-9025", "use": "home"},
        {"system": "sms", "value": "+1 312 555 0134"},
        {"system": "phone", "value": "+1 415 555 2672", "use": "temp"},
        {"system": "email", "value": "Ana.OKeefe@Example.COM"},
        {"system": "email", "value": "not an address"},
        {"system": "fax", "value": "+1 415 555 2673"},
    ],
    "address": [
        {
            "use": "home",
            "line": ["12 Main St", "Apt 4"],
            "city": "Springfield",
            "state": "IL",
            "postalCode": "62701",
            "country": "USA",
        },
        {"use": "old", "line": ["1 Old Rd"], "city": "Gone", "country": "US"},
        {"use": "work", "line": ["5 Platz"], "city": "Berlin", "country": "Deutschland"},
        {"use": "temp", "line": ["9 Beach"], "city": "Nice", "country": "fr"},
    ],
    "communication": [{"language": {"coding": [{"code": "es-MX"}]}, "preferred": True}],
}


def test_patient_fields_are_taken_over_one_by_one() -> None:
    patient, problems = convert(PATIENT)
    assert isinstance(patient, PatientIn)
    assert patient.location == "test.json entry p1"
    assert (patient.family_name, patient.given_names) == ("O'Keefe54", "Ana María")
    assert patient.preferred_name == "Annie"
    assert patient.birth_date == "1974-12"  # partial dates stay partial
    assert patient.sex == "female"
    assert patient.language == "es"
    assert patient.deceased is True
    assert patient.deceased_date == "2020-03-04"  # the date as the source wrote it
    assert patient.phones == (
        PhoneIn("+14155552671", "mobile"),
        PhoneIn("+13125550134", "mobile"),  # sms without a use is a mobile
        PhoneIn("+14155552672", "other"),  # temp
    )
    assert patient.emails == ("ana.okeefe@example.com",)
    assert patient.addresses == (
        AddressIn("12 Main St", "Apt 4", "Springfield", "IL", "62701", "US", "home"),
        AddressIn("5 Platz", "", "Berlin", "", "", "", "work"),
        AddressIn("9 Beach", "", "Nice", "", "", "FR", "other"),
    )
    assert patient.identifiers == (
        IdentifierIn(SYNTHEA, "syn-1", ""),
        IdentifierIn("http://hospital.example/mrn", "MRN-7", "MR"),
        # The SSN and the driver's licence in the resource stay in the EMR.
    )
    assert [(p.kind, p.reason, p.dropped) for p in problems] == [
        ("patients", "a phone number could not be read; it was left out", False),
        ("patients", "an email address could not be read; it was left out", False),
    ]


def test_patient_keys_are_the_resource_and_record_numbers_never_government_numbers() -> None:
    patient = target_of(PatientIn, PATIENT)
    assert patient.keys == (
        ("fhir:Patient", "p1"),
        (SYNTHEA, "syn-1"),
        ("http://hospital.example/mrn", "MRN-7"),
    )


@pytest.mark.parametrize(
    "identifier",
    [
        {"type": {"text": "Social Security Number"}, "system": "urn:x", "value": "1"},
        {"type": {"text": "Passport"}, "system": "urn:x", "value": "1"},
        {"system": "http://hl7.org/fhir/sid/us-ssn", "value": "999-11-2222"},
        {"type": {"coding": [{"code": "TAX"}]}, "system": "urn:x", "value": "1"},
    ],
)
def test_government_numbers_are_neither_stored_nor_keys(identifier: dict[str, Any]) -> None:
    patient = target_of(
        PatientIn,
        {
            "resourceType": "Patient",
            "id": "g",
            "name": [{"family": "X"}],
            "identifier": [identifier],
        },
    )
    assert patient.keys == (("fhir:Patient", "g"),)
    assert patient.identifiers == ()  # left in the EMR


def test_problems_never_quote_the_values_they_left_out() -> None:
    _, problems = convert(PATIENT)
    text = " ".join(p.reason for p in problems)
    assert "555" not in text and "not an address" not in text


def test_year_only_birth_date_and_deceased_boolean() -> None:
    patient = target_of(
        PatientIn,
        {"resourceType": "Patient", "id": "y", "birthDate": "1974", "deceasedBoolean": True},
    )
    assert patient.birth_date == "1974"
    assert (patient.deceased, patient.deceased_date) == (True, None)
    assert (patient.family_name, patient.sex, patient.language) == ("", "unknown", "")


def test_text_only_names_are_split_by_the_mapping() -> None:
    western = target_of(
        PatientIn, {"resourceType": "Patient", "id": "t", "name": [{"text": "Peter van Dam"}]}
    )
    assert (western.family_name, western.given_names) == ("Dam", "Peter van")
    chinese = target_of(
        PatientIn, {"resourceType": "Patient", "id": "c", "name": [{"text": "張無忌"}]}
    )
    assert (chinese.family_name, chinese.given_names) == ("張無忌", "")


def test_given_names_with_nulls_from_given_extensions_are_skipped() -> None:
    patient = target_of(
        PatientIn,
        {
            "resourceType": "Patient",
            "id": "g",
            "name": [{"family": "Lee", "given": ["Jo", None, "Ann"]}],
            "_name": [{"given": [None, {"extension": []}, None]}],
        },
    )
    assert patient.given_names == "Jo Ann"


def test_a_patient_without_a_name_is_kept_and_noted() -> None:
    patient, problems = convert({"resourceType": "Patient", "id": "anon", "gender": "male"})
    assert isinstance(patient, PatientIn)
    assert [(p.reason, p.dropped) for p in problems] == [
        ("has no name; imported without one", False)
    ]


def test_an_animal_is_not_a_patient() -> None:
    animal = {
        "resourceType": "Patient",
        "id": "dog",
        "name": [{"family": "Chalmers", "given": ["Kenzi"]}],
        "extension": [
            {"url": "http://hl7.org/fhir/StructureDefinition/patient-animal", "extension": []}
        ],
    }
    target, problems = convert(animal)
    assert target is None
    assert problems == [
        ImportProblem(
            "test.json entry dog",
            "patients",
            "a veterinary (animal) record; Frontdesk keeps people only",
            True,
        )
    ]


def test_phone_without_country_code_is_read_in_the_clinic_region() -> None:
    resource = {
        "resourceType": "Patient",
        "id": "uk",
        "name": [{"family": "Brown"}],
        "telecom": [{"system": "phone", "value": "020 7946 0958"}],
    }
    index = build_index([entry(resource)])
    [record] = map_resource(resource, index, location="x").records
    in_us, us_problems = fhir_target(record, zone=CHICAGO, today=TODAY)
    in_gb, gb_problems = fhir_target(record, zone=CHICAGO, today=TODAY, region="GB")
    assert isinstance(in_us, PatientIn) and isinstance(in_gb, PatientIn)
    assert in_us.phones == () and len(us_problems) == 1
    assert in_gb.phones == (PhoneIn("+442079460958", "home"),) and gb_problems == []


# --- practitioners, organizations, locations ----------------------------------------


PRACTITIONER: dict[str, Any] = {
    "resourceType": "Practitioner",
    "id": "dr1",
    "identifier": [{"system": NPI, "value": "9999912345"}],
    "name": [{"family": "Careful", "given": ["Adam", "B"], "prefix": ["Dr.", "Prof."]}],
    "active": False,
}


def test_practitioner_becomes_a_provider_keyed_by_resource_and_npi() -> None:
    provider, problems = convert(PRACTITIONER)
    assert provider == ProviderIn(
        location="test.json entry dr1",
        keys=(("fhir:Practitioner", "dr1"), (NPI, "9999912345")),
        family_name="Careful",
        given_names="Adam B",
        title="Dr.",
        npi="9999912345",
        active=False,
    )
    assert problems == []


def test_practitioner_without_npi_or_active_flag() -> None:
    provider = target_of(
        ProviderIn, {"resourceType": "Practitioner", "id": "d2", "name": [{"family": "Ng"}]}
    )
    assert (provider.keys, provider.npi, provider.active) == (
        (("fhir:Practitioner", "d2"),),
        None,
        True,
    )


def test_practitioner_without_a_family_name_is_left_out() -> None:
    target, problems = convert(
        {"resourceType": "Practitioner", "id": "d3", "name": [{"given": ["Sam"]}]}
    )
    assert target is None
    assert [(p.kind, p.reason, p.dropped) for p in problems] == [
        ("practitioners", "has no name", True)
    ]


def test_practitioner_role_names_its_practitioner_and_specialty() -> None:
    role = {
        "resourceType": "PractitionerRole",
        "id": "r1",
        "practitioner": {"reference": "Practitioner/dr1"},
        "specialty": [{"text": "Cardiology"}],
    }
    target, problems = convert(role, PRACTITIONER)
    assert problems == []
    assert target == RoleIn(
        location=target.location if target else "",
        keys=(("fhir:PractitionerRole", "r1"),),
        provider=Link("provider", ("fhir:Practitioner", "dr1"), ""),
        specialty="Cardiology",
    )


def test_practitioner_role_without_practitioner_is_reported() -> None:
    role = {"resourceType": "PractitionerRole", "id": "r2", "specialty": [{"text": "ENT"}]}
    target, problems = convert(role, PRACTITIONER)
    assert target is None
    assert [(p.kind, p.dropped) for p in problems] == [("practitioner roles", True)]


@pytest.mark.parametrize(
    ("types", "kind"),
    [
        ([{"coding": [{"code": "ins", "display": "Insurance Company"}]}], "payer"),
        ([{"coding": [{"code": "pay", "display": "Payer"}]}], "payer"),
        ([{"text": "insurer"}], "payer"),
        ([{"coding": [{"code": "prov", "display": "Healthcare Provider"}]}], "provider"),
        ([{"coding": [{"code": "prov"}]}], "provider"),
        ([{"coding": [{"code": "edu", "display": "Educational Institute"}]}], "other"),
        ([], "other"),
    ],
)
def test_organization_kind(types: list[Any], kind: str) -> None:
    org = target_of(
        OrganizationIn, {"resourceType": "Organization", "id": "o", "name": "X", "type": types}
    )
    assert org.kind == kind


def test_organization_fields() -> None:
    org, problems = convert(
        {
            "resourceType": "Organization",
            "id": "hosp",
            "name": "Springfield General",
            "telecom": [
                {"system": "phone", "value": "555-000-0000"},
                {"system": "phone", "value": "312-555-0199"},
            ],
            "address": [
                {"use": "old", "line": ["1 Old Rd"], "city": "Gone"},
                {"line": ["100 Hospital Dr"], "city": "Springfield", "state": "IL"},
            ],
            "active": True,
        }
    )
    assert org == OrganizationIn(
        location="test.json entry hosp",
        keys=(("fhir:Organization", "hosp"),),
        name="Springfield General",
        kind="other",
        phone="+13125550199",
        line1="100 Hospital Dr",
        city="Springfield",
        region="IL",
    )
    assert [(p.kind, p.dropped) for p in problems] == [("organizations", False)]


def test_location_fields_and_name_required() -> None:
    place = target_of(
        LocationIn,
        {
            "resourceType": "Location",
            "id": "loc",
            "name": "South Wing",
            "status": "inactive",
            "address": {"line": ["2 Side St"], "postalCode": "60601", "country": "US"},
            "telecom": [{"system": "phone", "value": "+1 312 555 0100"}],
        },
    )
    assert place == LocationIn(
        location="test.json entry loc",
        keys=(("fhir:Location", "loc"),),
        name="South Wing",
        line1="2 Side St",
        postal_code="60601",
        country="US",
        phone="+13125550100",
        active=False,
    )
    target, problems = convert({"resourceType": "Location", "id": "x", "status": "active"})
    assert target is None
    assert [(p.kind, p.reason) for p in problems] == [("locations", "has no name")]


# --- appointments -------------------------------------------------------------------


def appointment(**fields: Any) -> dict[str, Any]:
    return {
        "resourceType": "Appointment",
        "id": "a1",
        "status": "booked",
        "participant": [
            {"actor": {"reference": "Patient/p1", "display": "Ana"}},
            {"actor": {"reference": "PractitionerRole/r1"}},
            {"actor": {"reference": "Practitioner/dr1", "display": "Dr Careful"}},
            {"actor": {"reference": "Location/loc", "display": "South Wing"}},
        ],
        **fields,
    }


ROLE = {"resourceType": "PractitionerRole", "id": "r1"}
LOCATION = {"resourceType": "Location", "id": "loc", "name": "South Wing"}


def test_appointment_fields_and_links_match_their_targets_keys() -> None:
    resource = appointment(
        start="2025-07-01T09:00:00-05:00",
        end="2025-07-01T09:30:00-05:00",
        appointmentType={"coding": [{"code": "FOLLOWUP", "display": "A follow up visit"}]},
        description="Check the knee",
    )
    results = convert_all(
        entry(resource), entry(PATIENT), entry(PRACTITIONER), entry(ROLE), entry(LOCATION)
    )
    visit, problems = results[0]
    assert visit == VisitIn(
        location="test.json entry a1",
        keys=(("fhir:Appointment", "a1"),),
        patient=Link("patient", ("fhir:Patient", "p1"), "Ana"),
        status="booked",
        start_at="2025-07-01T14:00:00Z",
        end_at="2025-07-01T14:30:00Z",
        kind="A follow up visit",
        reason="Check the knee",  # no reasonCode: the description
        provider=Link("provider", ("fhir:Practitioner", "dr1"), "Dr Careful"),
        place=Link("location", ("fhir:Location", "loc"), "South Wing"),
        counted_as="appointments",
    )
    assert problems == []
    by_type = {type(t): t for t, _ in results if t is not None}
    assert visit.patient.key in by_type[PatientIn].keys
    assert visit.provider is not None and visit.provider.key in by_type[ProviderIn].keys
    assert visit.place is not None and visit.place.key in by_type[LocationIn].keys


def test_appointment_with_only_a_requested_period() -> None:
    resource = appointment(
        status="proposed",
        minutesDuration=15,
        reasonCode=[{"coding": [{"system": SNOMED, "code": "413095006"}], "text": "Review"}],
        requestedPeriod=[{"start": "2016-06-02", "end": "2016-06-09T10:00:00Z"}],
    )
    visit = target_of(VisitIn, resource, PATIENT)
    assert (visit.start_at, visit.end_at) == (None, None)
    assert visit.status == "booked"
    assert visit.reason == "Review"
    assert visit.note == "asked for a time from 2016-06-02 to 2016-06-09"


def test_waitlisted_appointment_keeps_its_note() -> None:
    visit = target_of(VisitIn, appointment(status="waitlist", start="2025-07-01T09:00:00Z"))
    assert (visit.status, visit.note) == ("booked", "on the waiting list")


def test_appointment_end_from_minutes_when_no_end_is_given() -> None:
    visit = target_of(VisitIn, appointment(start="2025-07-01T09:00:00Z", minutesDuration=20))
    assert (visit.start_at, visit.end_at) == ("2025-07-01T09:00:00Z", "2025-07-01T09:20:00Z")


def test_appointment_without_patient_links_to_nobody() -> None:
    resource = {"resourceType": "Appointment", "id": "np", "status": "booked"}
    visit = target_of(VisitIn, resource)
    assert visit.patient == Link("patient", None, "")
    assert (visit.provider, visit.place, visit.start_at) == (None, None, None)


def test_reference_to_a_patient_outside_the_import_keeps_its_key_and_display() -> None:
    # An earlier import may hold them: the writer looks them up by these keys.
    visit = target_of(VisitIn, appointment(start="2025-07-01T09:00:00Z"))
    assert visit.patient == Link("patient", ("fhir:Patient", "p1"), "Ana")
    assert visit.provider == Link("provider", ("fhir:Practitioner", "dr1"), "Dr Careful")


def test_conditional_reference_by_npi_links_to_the_practitioner() -> None:
    resource = appointment(
        start="2025-07-01T09:00:00Z",
        participant=[
            {"actor": {"reference": "Patient/p1"}},
            {"actor": {"reference": f"Practitioner?identifier={NPI}|9999912345"}},
        ],
    )
    results = convert_all(entry(resource), entry(PATIENT), entry(PRACTITIONER))
    visit, provider = results[0][0], results[2][0]
    assert isinstance(visit, VisitIn) and isinstance(provider, ProviderIn)
    assert visit.provider is not None and visit.provider.key in provider.keys


# --- encounters ---------------------------------------------------------------------


def encounter(status: str | None = "finished", **fields: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": "e1",
        "class": {"code": "AMB"},
        "subject": {"reference": "urn:uuid:patient-uuid"},
        "period": {"start": "2025-03-09T10:00:00-05:00", "end": "2025-03-09T10:30:00-05:00"},
        **fields,
    }
    if status is not None:
        resource["status"] = status
    return resource


def synthea_patient() -> SourceItem:
    return entry(
        {
            "resourceType": "Patient",
            "id": "fhir-id-differs",
            "identifier": [{"system": SYNTHEA, "value": "syn-9"}],
            "name": [{"family": "Hoeger", "given": ["Chet"]}],
        },
        full_url="urn:uuid:patient-uuid",
    )


def test_encounter_fields_and_patient_link_through_urn_uuid() -> None:
    results = convert_all(
        entry(
            encounter(
                type=[{"coding": [{"code": "185349003", "display": "Check up"}]}],
                reasonCode=[{"coding": [{"display": "Sprain"}]}],
                participant=[{"individual": {"reference": "Practitioner/dr1"}}],
                location=[{"location": {"reference": "Location/loc"}}],
            )
        ),
        synthea_patient(),
        entry(PRACTITIONER),
        entry(LOCATION),
    )
    visit, problems = results[0]
    patient = results[1][0]
    assert isinstance(visit, VisitIn) and isinstance(patient, PatientIn)
    assert visit == VisitIn(
        location="test.json entry e1",
        keys=(("fhir:Encounter", "e1"),),
        patient=Link("patient", ("fhir:Patient", "fhir-id-differs"), ""),
        status="fulfilled",
        start_at="2025-03-09T15:00:00Z",
        end_at="2025-03-09T15:30:00Z",
        kind="Check up",
        reason="Sprain",
        provider=Link("provider", ("fhir:Practitioner", "dr1"), ""),
        place=Link("location", ("fhir:Location", "loc"), ""),
    )
    assert problems == []
    assert visit.patient.key in patient.keys
    assert visit.counted_as == "visits"


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("planned", "booked"),
        ("arrived", "arrived"),
        ("triaged", "arrived"),
        ("in-progress", "arrived"),
        ("onleave", "arrived"),
        ("finished", "fulfilled"),
        ("cancelled", "cancelled"),
        ("entered-in-error", "cancelled"),
    ],
)
def test_encounter_status_mapping(status: str, expected: str) -> None:
    assert target_of(VisitIn, encounter(status)).status == expected


@pytest.mark.parametrize(
    ("status", "start", "expected"),
    [
        ("unknown", "2025-05-31T12:00:00Z", "fulfilled"),
        (None, "2025-06-02", "booked"),
        (None, "2025-06-01", "booked"),  # today is not before today
        (None, "2025-05-31", "fulfilled"),
        # 03:00 UTC on June 1st is still May 31st in Chicago: a past day there.
        ("unknown", "2025-06-01T03:00:00Z", "fulfilled"),
        ("unknown", "2025-06-01T06:00:00Z", "booked"),
    ],
)
def test_encounter_without_a_known_status_is_past_or_to_come_by_the_clinic_day(
    status: str | None, start: str, expected: str
) -> None:
    visit = target_of(VisitIn, encounter(status, period={"start": start}))
    assert visit.status == expected


@pytest.mark.parametrize(
    ("day", "utc"),
    [
        ("2025-03-08", "2025-03-08T18:00:00Z"),  # CST, the day before clocks go forward
        ("2025-03-09", "2025-03-09T17:00:00Z"),  # CDT from 2 am that day
        ("2025-11-01", "2025-11-01T17:00:00Z"),  # CDT, the day before clocks go back
        ("2025-11-02", "2025-11-02T18:00:00Z"),  # CST again
    ],
)
def test_date_only_start_is_noon_clinic_time_across_dst(day: str, utc: str) -> None:
    visit = target_of(VisitIn, encounter(period={"start": day, "end": day}))
    assert (visit.start_at, visit.end_at) == (utc, None)
    booked = target_of(VisitIn, appointment(start=day))
    assert booked.start_at == utc


def test_encounter_without_a_full_start_date_is_left_out() -> None:
    for period in ({"end": "2025-01-01T10:00:00Z"}, {"start": "2024-05"}, None):
        resource = encounter(period=period) if period else encounter()
        if period is None:
            del resource["period"]
        target, problems = convert(resource)
        assert target is None
        assert [(p.kind, p.reason, p.dropped) for p in problems] == [
            ("visits", "has no date", True)
        ]


@pytest.mark.parametrize(
    ("klass", "kind"),
    [
        ("AMB", "ambulatory"),
        ("EMER", "emergency"),
        ("IMP", "inpatient"),
        ("VR", "virtual"),
        ("HH", "home health"),
        ("OBSENC", "OBSENC"),
    ],
)
def test_encounter_kind_from_its_class_when_it_has_no_type(klass: str, kind: str) -> None:
    assert target_of(VisitIn, encounter(**{"class": {"code": klass}})).kind == kind


# --- conditions, allergies, coverage ------------------------------------------------


def condition(code: dict[str, Any] | None, **fields: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "id": "c1",
        "subject": {"reference": "Patient/p1"},
        **fields,
    }
    if code is not None:
        resource["code"] = code
    return resource


def test_condition_prefers_snomed_and_keeps_partial_dates() -> None:
    code = {
        "coding": [
            {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "E11.9", "display": "T2DM"},
            {"system": SNOMED, "code": "44054006", "display": "Diabetes mellitus type 2"},
        ],
        "text": "Diabetes",
    }
    results = convert_all(
        entry(
            condition(
                code,
                clinicalStatus={"coding": [{"code": "resolved"}]},
                onsetDateTime="1974-12",
                abatementDateTime="2020-01-02T10:00:00Z",
            )
        ),
        entry(PATIENT),
    )
    found, problems = results[0]
    assert found == ConditionIn(
        location="test.json entry c1",
        keys=(("fhir:Condition", "c1"),),
        patient=Link("patient", ("fhir:Patient", "p1"), ""),
        system=SNOMED,
        code="44054006",
        display="Diabetes mellitus type 2",
        onset="1974-12",
        abated="2020-01-02",
        clinical_status="resolved",
    )
    assert problems == []
    patient = results[1][0]
    assert isinstance(patient, PatientIn) and found.patient.key in patient.keys


def test_condition_falls_back_to_icd10_then_any_code_then_words() -> None:
    icd = target_of(
        ConditionIn,
        condition(
            {
                "coding": [
                    {"system": "http://example.org/local", "code": "L1"},
                    {"system": "http://hl7.org/fhir/sid/icd-10", "code": "J45"},
                ]
            }
        ),
    )
    assert (icd.system, icd.code, icd.display) == ("http://hl7.org/fhir/sid/icd-10", "J45", "")
    local = target_of(
        ConditionIn,
        condition({"coding": [{"system": "http://example.org/local", "code": "L1"}]}),
    )
    assert (local.system, local.code) == ("http://example.org/local", "L1")
    # A chosen code without words borrows the words of another coding of the concept.
    borrowed = target_of(
        ConditionIn,
        condition(
            {
                "coding": [
                    {"system": "http://example.org/local", "code": "L1", "display": "Asthma"},
                    {"system": SNOMED, "code": "195967001"},
                ]
            }
        ),
    )
    assert (borrowed.system, borrowed.code, borrowed.display) == (SNOMED, "195967001", "Asthma")
    words = target_of(ConditionIn, condition({"text": "Burnt ear"}))
    assert (words.system, words.code, words.display) == ("", "", "Burnt ear")


def test_condition_without_code_or_words_is_left_out() -> None:
    target, problems = convert(condition(None))
    assert target is None
    assert [(p.kind, p.dropped) for p in problems] == [("conditions", True)]


def test_entered_in_error_or_refuted_conditions_are_skipped_without_a_problem() -> None:
    for status in ("entered-in-error", "refuted"):
        resource = condition({"text": "Asthma"}, verificationStatus={"coding": [{"code": status}]})
        assert convert(resource) == (None, [])


def test_allergy_fields() -> None:
    allergy = target_of(
        AllergyIn,
        {
            "resourceType": "AllergyIntolerance",
            "id": "al1",
            "patient": {"reference": "Patient/p1"},
            "code": {"coding": [{"system": SNOMED, "code": "91935009", "display": "Peanut"}]},
            "clinicalStatus": {"coding": [{"code": "active"}]},
            "type": "allergy",
            "category": ["food"],
            "criticality": "high",
            "onsetDateTime": "2004",
            "reaction": [
                {"manifestation": [{"text": "Hives"}, {"text": "Swelling"}]},
                {"manifestation": [{"text": "Hives"}]},
            ],
        },
        PATIENT,
    )
    assert allergy == AllergyIn(
        location="test.json entry al1",
        keys=(("fhir:AllergyIntolerance", "al1"),),
        patient=Link("patient", ("fhir:Patient", "p1"), ""),
        system=SNOMED,
        code="91935009",
        display="Peanut",
        category="food",
        kind="allergy",
        criticality="high",
        clinical_status="active",
        reactions="Hives, Swelling",
        onset="2004",
    )


def test_entered_in_error_allergy_is_skipped() -> None:
    resource = {
        "resourceType": "AllergyIntolerance",
        "id": "al2",
        "code": {"text": "Latex"},
        "verificationStatus": {"coding": [{"code": "entered-in-error"}]},
    }
    assert convert(resource) == (None, [])


PAYER = {"resourceType": "Organization", "id": "ins", "name": "Acme Health", "type": []}


def test_coverage_links_its_payer_organization() -> None:
    results = convert_all(
        entry(
            {
                "resourceType": "Coverage",
                "id": "cov",
                "status": "active",
                "beneficiary": {"reference": "Patient/p1"},
                "payor": [{"reference": "Organization/ins", "display": "Acme"}],
                "subscriberId": "M-55",
                "relationship": {"coding": [{"code": "self", "display": "Self"}]},
                "class": [{"value": "G-1", "name": "Gold plan"}],
                "period": {"start": "2024-01-01", "end": "2024-12"},
            }
        ),
        entry(PATIENT),
        entry(PAYER),
    )
    coverage = results[0][0]
    assert coverage == CoverageIn(
        location="test.json entry cov",
        keys=(("fhir:Coverage", "cov"),),
        patient=Link("patient", ("fhir:Patient", "p1"), ""),
        payer=Link("organization", ("fhir:Organization", "ins"), "Acme"),
        member_id="M-55",
        plan="Gold plan",
        relationship="Self",
        status="active",
        start_on="2024-01-01",
        end_on="2024-12",
    )
    payer = results[2][0]
    assert isinstance(payer, OrganizationIn) and coverage.payer is not None
    assert coverage.payer.key in payer.keys


def test_coverage_paid_by_a_person_keeps_only_the_name_and_falls_back_to_identifier() -> None:
    coverage = target_of(
        CoverageIn,
        {
            "resourceType": "Coverage",
            "id": "self-pay",
            "identifier": [{"system": "http://example.org/member", "value": "ID-1"}],
            "beneficiary": {"reference": "Patient/p1"},
            "payor": [{"reference": "Patient/p1", "display": "Ana"}],
        },
        PATIENT,
    )
    assert coverage.payer == Link("organization", None, "Ana")
    assert coverage.member_id == "ID-1"
    assert (coverage.start_on, coverage.end_on, coverage.status) == (None, None, "")


# --- every sample file ----------------------------------------------------------------


def _walk_files(root: Path) -> list[dict[str, Any]]:
    """Every resource (and contained resource with an id) in the files, read with the stdlib."""
    found: list[dict[str, Any]] = []

    def walk(value: Any) -> None:
        if not isinstance(value, dict):
            return
        if value.get("resourceType") == "Bundle":
            for item in value.get("entry") or []:
                walk(item.get("resource") if isinstance(item, dict) else None)
            return
        if "resourceType" in value:
            found.append(value)
            for inner in value.get("contained") or []:
                if isinstance(inner, dict) and inner.get("id"):
                    found.append(inner)

    for path in sorted(root.rglob("*")):
        if path.suffix == ".ndjson":
            for line in path.read_text(encoding="utf-8").splitlines():
                with contextlib.suppress(ValueError):
                    walk(json.loads(line))
        elif path.suffix == ".json":
            with contextlib.suppress(ValueError):
                walk(json.loads(path.read_text(encoding="utf-8-sig")))
    return found


_FULL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _expected_counts(root: Path) -> Counter[str]:
    """People (animals are not), and visits: every appointment, and every encounter
    with a full start date."""
    counts: Counter[str] = Counter()
    for resource in _walk_files(root):
        kind = resource.get("resourceType")
        if kind == "Patient":
            urls = [e.get("url") for e in resource.get("extension") or [] if isinstance(e, dict)]
            if "http://hl7.org/fhir/StructureDefinition/patient-animal" not in urls:
                counts["patients"] += 1
        elif kind == "Appointment":
            counts["visits"] += 1
        elif kind == "Encounter":
            period = resource.get("period")
            start = period.get("start") if isinstance(period, dict) else None
            if isinstance(start, str) and _FULL_DATE.match(start):
                counts["visits"] += 1
    return counts


def _convert_samples(root: Path) -> list[tuple[Target | None, list[ImportProblem]]]:
    return [
        fhir_target(record, zone=CHICAGO, today=TODAY)
        for item in read_import(root)
        for record in item.records
    ]


def test_every_sample_converts_and_patient_and_visit_counts_match_the_files() -> None:
    results = _convert_samples(FHIR_SAMPLES)
    counts = Counter(type(t).__name__ for t, _ in results)
    expected = _expected_counts(FHIR_SAMPLES)
    assert counts["PatientIn"] == expected["patients"]
    assert counts["VisitIn"] == expected["visits"]
    assert expected["patients"] > 50 and expected["visits"] > 1000
    for _, problems in results:
        for problem in problems:
            assert problem.kind in {
                "patients",
                "practitioners",
                "organizations",
                "locations",
                "visits",
                "appointments",
                "conditions",
                "allergies",
                "coverages",
            }


def test_every_visit_and_condition_in_the_bulk_export_links_to_a_patient_of_it() -> None:
    results = _convert_samples(FHIR_SAMPLES / "bulk-ndjson")
    patient_keys = {k for t, _ in results if isinstance(t, PatientIn) for k in t.keys}
    linked = [t for t, _ in results if isinstance(t, VisitIn | ConditionIn | AllergyIn)]
    assert len(linked) > 1000
    assert all(t.patient.key in patient_keys for t in linked)
    providers = {k for t, _ in results if isinstance(t, ProviderIn) for k in t.keys}
    with_provider = [t for t in linked if isinstance(t, VisitIn) and t.provider is not None]
    assert with_provider
    assert all(t.provider is not None and t.provider.key in providers for t in with_provider)


def test_synthea_bundle_patients_carry_the_synthea_id_as_a_key() -> None:
    results = _convert_samples(FHIR_SAMPLES / "synthea-bundles")
    patients = [t for t, _ in results if isinstance(t, PatientIn)]
    assert len(patients) == 14
    for patient in patients:
        systems = [system for system, _ in patient.keys]
        assert SYNTHEA in systems
        assert "http://hl7.org/fhir/sid/us-ssn" not in systems
