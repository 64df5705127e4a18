"""Each quirk of real EMR exports, imported end to end into a real clinic database.

One test per quirk of the issue (point 1) and of the samples' README: small files are
written to a temp folder, imported with plan_import + run_import exactly as the wizard
and the command line do, and the test reads what landed in the database.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.clinic import Clinic
from app.importers.session import ImportResult, plan_import, run_import
from app.patients.search import PatientSearch
from tests.support.emr_samples import MISSING_REASON, PRESENT, samples

BULK_PATIENTS = samples("fhir", "bulk-ndjson", "Patient.000.ndjson")
NPI = "http://hl7.org/fhir/sid/us-npi"
ANIMAL = "http://hl7.org/fhir/StructureDefinition/patient-animal"


# --- helpers ----------------------------------------------------------------------------


@pytest.fixture
def export(tmp_path: Path) -> Path:
    """The folder an EMR export is saved to (tmp_path itself holds the clinic)."""
    folder = tmp_path / "export"
    folder.mkdir()
    return folder


def _import(clinic: Clinic, *paths: Path) -> ImportResult:
    return run_import(clinic, plan_import(clinic, list(paths)))


def _write(path: Path, value: Any) -> Path:
    path.write_text(json.dumps(value), encoding="utf-8")
    return path


def _ndjson(path: Path, resources: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in resources), encoding="utf-8")
    return path


def _patient(pid: str = "p1", family: str = "Lindqvist", **extra: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": pid,
        "name": [{"family": family, "given": ["Maren"]}],
        "birthDate": "1961-04-09",
    }
    resource.update(extra)
    return resource


def _encounter(eid: str, subject: str, **extra: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": eid,
        "status": "finished",
        "class": {"code": "AMB"},
        "subject": {"reference": subject},
        "period": {"start": "2023-03-14T09:30:00-05:00", "end": "2023-03-14T10:00:00-05:00"},
    }
    resource.update(extra)
    return resource


def _bundle(kind: str, *entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def _row(clinic: Clinic, sql: str, *params: Any) -> tuple[Any, ...]:
    row = clinic.conn.execute(sql, params).fetchone()
    assert row is not None, "expected a row"
    return tuple(row)


def _patients(clinic: Clinic) -> list[tuple[Any, ...]]:
    return [
        tuple(r)
        for r in clinic.conn.execute(
            "SELECT id, family_name, given_names, birth_date, deceased, deceased_date "
            "FROM patient ORDER BY family_name, given_names"
        )
    ]


def _patient_id(clinic: Clinic, fhir_id: str) -> str:
    return str(
        _row(
            clinic,
            "SELECT row_id FROM source_record WHERE tbl = 'patient' AND system = ? AND value = ?",
            "fhir:Patient",
            fhir_id,
        )[0]
    )


def _visit_patients(clinic: Clinic) -> list[str]:
    return [r[0] for r in clinic.conn.execute("SELECT patient_id FROM appointment")]


# --- dates --------------------------------------------------------------------------------


def test_partial_birth_dates_are_stored_as_partial_dates(clinic: Clinic, export: Path) -> None:
    _write(
        export / "people.json",
        _bundle(
            "collection",
            {"resource": _patient("year", "Year", birthDate="1974")},
            {"resource": _patient("month", "Month", birthDate="1974-12")},
            {"resource": _patient("day", "Day", birthDate="1974-12-03")},
        ),
    )
    result = _import(clinic, export / "people.json")
    assert result.counts["patients"].created == 3
    stored = dict(clinic.conn.execute("SELECT family_name, birth_date FROM patient").fetchall())
    assert stored == {"Year": "1974", "Month": "1974-12", "Day": "1974-12-03"}


def test_partial_condition_onset_is_stored_as_given(clinic: Clinic, export: Path) -> None:
    _write(
        export / "c.json",
        _bundle(
            "collection",
            {"resource": _patient()},
            {
                "resource": {
                    "resourceType": "Condition",
                    "id": "c1",
                    "subject": {"reference": "Patient/p1"},
                    "code": {"coding": [{"system": "http://snomed.info/sct", "code": "44054006"}]},
                    "onsetDateTime": "1998-07",
                }
            },
        ),
    )
    _import(clinic, export / "c.json")
    assert _row(clinic, "SELECT code, onset, patient_id FROM condition") == (
        "44054006",
        "1998-07",
        _patient_id(clinic, "p1"),
    )


def test_future_and_malformed_birth_dates_leave_the_patient_in_without_them(
    clinic: Clinic, export: Path
) -> None:
    # The edge-case samples hold "3000" and a 3-digit year: neither is a birth date.
    _write(
        export / "p.json",
        _bundle(
            "collection",
            {"resource": _patient("future", "Future", birthDate="3000")},
            {"resource": _patient("short", "Short", birthDate="999-01-01")},
            {"resource": _patient("old", "Old", birthDate="1800-02")},
        ),
    )
    result = _import(clinic, export / "p.json")
    stored = dict(clinic.conn.execute("SELECT family_name, birth_date FROM patient").fetchall())
    assert stored == {"Future": None, "Short": None, "Old": "1800-02"}
    about = {p.location for p in result.problems if p.kind == "patients" and not p.dropped}
    assert {"p.json entry 1", "p.json entry 2"} <= about


def test_birth_date_with_a_birth_time_extension_keeps_the_date(
    clinic: Clinic, export: Path
) -> None:
    birth_time = "http://hl7.org/fhir/StructureDefinition/patient-birthTime"
    extension = {"extension": [{"url": birth_time, "valueDateTime": "2017-05-09T17:11:00+01:00"}]}
    _write(export / "p.json", _patient(birthDate="2017-05-09", _birthDate=extension))
    _import(clinic, export / "p.json")
    assert _row(clinic, "SELECT birth_date FROM patient") == ("2017-05-09",)


# --- names ----------------------------------------------------------------------------------


def test_given_names_with_nulls_beside_their_extensions(clinic: Clinic, export: Path) -> None:
    qualifier = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-qualifier"
    name = {
        "family": "van Dijk",
        "given": ["Pieter", None, "Jan"],
        "_given": [None, {"extension": [{"url": qualifier, "valueCode": "IN"}]}, None],
    }
    _write(export / "p.json", _patient(name=[name]))
    result = _import(clinic, export / "p.json")
    assert result.counts["patients"].created == 1
    assert _row(clinic, "SELECT family_name, given_names FROM patient") == (
        "van Dijk",
        "Pieter Jan",
    )


def test_names_with_digits_apostrophes_and_accents_are_kept_as_given(
    clinic: Clinic, export: Path
) -> None:
    _write(
        export / "p.json",
        _bundle(
            "collection",
            {"resource": _patient("a", name=[{"family": "O'Keefe54", "given": ["Glenn0"]}])},
            {"resource": _patient("b", name=[{"family": "Mejía417", "given": ["Gustavo"]}])},
        ),
    )
    _import(clinic, export / "p.json")
    names = clinic.conn.execute(
        "SELECT family_name, given_names FROM patient ORDER BY family_name"
    ).fetchall()
    assert [tuple(n) for n in names] == [("Mejía417", "Gustavo"), ("O'Keefe54", "Glenn0")]
    found = PatientSearch(clinic.conn).search("O'Keefe54")
    assert [r.patient_id for r in found] == [_patient_id(clinic, "a")]


def test_upper_case_family_name_is_kept_and_found_in_any_case(clinic: Clinic, export: Path) -> None:
    _write(export / "p.json", _patient(name=[{"family": "CHALMERS", "given": ["Peter"]}]))
    _import(clinic, export / "p.json")
    assert _row(clinic, "SELECT family_name FROM patient") == ("CHALMERS",)
    assert [r.patient_id for r in PatientSearch(clinic.conn).search("chalmers peter")] == [
        _patient_id(clinic, "p1")
    ]


def test_a_name_given_only_as_text_is_stored(clinic: Clinic, export: Path) -> None:
    _write(export / "p.json", _patient(name=[{"text": "王秀英"}]))
    result = _import(clinic, export / "p.json")
    assert result.counts["patients"].created == 1
    family, given = _row(clinic, "SELECT family_name, given_names FROM patient")
    assert f"{family}{given}" == "王秀英"


def test_of_several_names_the_official_one_is_stored(clinic: Clinic, export: Path) -> None:
    names = [
        {"use": "maiden", "family": "Windsor", "given": ["Beverly"]},
        {"use": "usual", "given": ["Bev"]},
        {"use": "official", "family": "Chalmers", "given": ["Beverly", "Anne"]},
    ]
    _write(export / "p.json", _patient(name=names))
    _import(clinic, export / "p.json")
    assert _row(clinic, "SELECT family_name, given_names FROM patient") == (
        "Chalmers",
        "Beverly Anne",
    )


def test_patients_without_name_birth_date_or_gender_are_imported_with_a_note(
    clinic: Clinic, export: Path
) -> None:
    _write(export / "bare.json", {"resourceType": "Patient", "id": "bare"})
    result = _import(clinic, export / "bare.json")
    assert result.counts["patients"].created == 1
    assert _row(clinic, "SELECT family_name, given_names, birth_date, sex FROM patient") == (
        "",
        "",
        None,
        "unknown",
    )
    notes = [p for p in result.problems if p.location == "bare.json"]
    assert notes and not any(p.dropped for p in notes)


def test_several_patients_sharing_a_birth_date_stay_separate(clinic: Clinic, export: Path) -> None:
    _write(
        export / "p.json",
        _bundle(
            "collection",
            *({"resource": _patient(f"p{i}", f"Family{i}")} for i in range(4)),
        ),
    )
    result = _import(clinic, export / "p.json")
    assert result.counts["patients"].created == 4
    assert result.reviews == 0
    assert clinic.conn.execute("SELECT count(*) FROM merge_review").fetchone()[0] == 0


# --- JSON itself ----------------------------------------------------------------------------


def test_duplicate_json_keys_keep_the_last_value(clinic: Clinic, export: Path) -> None:
    (export / "dup.json").write_text(
        '{"resourceType": "Patient", "id": "dup", "birthDate": "1950-01-01",'
        ' "name": [{"family": "First"}], "name": [{"family": "Second", "given": ["Ida"]}],'
        ' "birthDate": "1951-02-02"}',
        encoding="utf-8",
    )
    result = _import(clinic, export / "dup.json")
    assert result.counts["patients"].created == 1
    assert _row(clinic, "SELECT family_name, given_names, birth_date FROM patient") == (
        "Second",
        "Ida",
        "1951-02-02",
    )


def test_unknown_extensions_everywhere_are_ignored(clinic: Clinic, export: Path) -> None:
    odd = [{"url": "http://example.org/fhir/StructureDefinition/shoe-size", "valueInteger": 44}]
    resource = _patient(
        extension=odd,
        name=[{"family": "Okafor", "given": ["Ada"], "extension": odd}],
        telecom=[{"system": "phone", "value": "(312) 555-0142", "extension": odd}],
        address=[{"line": ["1 Lake Shore Dr"], "city": "Chicago", "extension": odd}],
    )
    resource["_birthDate"] = {"extension": odd}
    resource["meta"] = {"extension": odd}
    _write(export / "p.json", resource)
    result = _import(clinic, export / "p.json")
    assert result.counts["patients"].created == 1
    assert [p for p in result.problems if p.dropped] == []
    pid = _patient_id(clinic, "p1")
    assert _row(clinic, "SELECT family_name, given_names, birth_date FROM patient") == (
        "Okafor",
        "Ada",
        "1961-04-09",
    )
    assert _row(clinic, "SELECT value FROM contact_point WHERE patient_id = ?", pid) == (
        "+13125550142",
    )
    assert _row(clinic, "SELECT city FROM address WHERE patient_id = ?", pid) == ("Chicago",)


# --- deceased, animals, identifiers, addresses ----------------------------------------------


def test_deceased_as_boolean_or_date_time(clinic: Clinic, export: Path) -> None:
    _write(
        export / "p.json",
        _bundle(
            "collection",
            {"resource": _patient("flag", "Flag", deceasedBoolean=True)},
            {"resource": _patient("date", "Date", deceasedDateTime="2015-02-14T13:42:00+10:00")},
            {"resource": _patient("alive", "Alive", deceasedBoolean=False)},
        ),
    )
    _import(clinic, export / "p.json")
    stored = {
        r[0]: (r[1], r[2])
        for r in clinic.conn.execute("SELECT family_name, deceased, deceased_date FROM patient")
    }
    assert stored == {"Flag": (1, None), "Date": (1, "2015-02-14"), "Alive": (0, None)}


@pytest.mark.skipif(not PRESENT, reason=MISSING_REASON)
def test_bulk_sample_patients_all_arrive_and_its_deceased_ones_are_marked(
    clinic: Clinic,
) -> None:
    lines = [json.loads(x) for x in BULK_PATIENTS.read_text(encoding="utf-8").splitlines() if x]
    dead = sum(1 for r in lines if r.get("deceasedDateTime") or r.get("deceasedBoolean"))
    assert (len(lines), dead) == (13, 3)  # what the samples' README says of this file
    _import(clinic, BULK_PATIENTS)
    assert _row(clinic, "SELECT count(*), sum(deceased) FROM patient") == (13, 3)


def test_a_veterinary_patient_is_refused_by_name_of_its_file(clinic: Clinic, export: Path) -> None:
    animal = _patient("dog", "Chalmers", extension=[{"url": ANIMAL, "extension": []}])
    _write(export / "a_dog.json", animal)
    _write(export / "b_person.json", _patient("person", "Person"))
    result = _import(clinic, export)
    assert [r[1] for r in _patients(clinic)] == ["Person"]
    refused = [p for p in result.problems if p.dropped and p.kind == "patients"]
    assert [p.location for p in refused] == [f"{export.name}/a_dog.json"]
    assert result.counts["patients"].failed == 1


def test_only_record_numbers_are_kept_of_the_identifiers(clinic: Clinic, export: Path) -> None:
    v2 = "http://terminology.hl7.org/CodeSystem/v2-0203"

    def ident(system: str, value: str, code: str | None) -> dict[str, Any]:
        found: dict[str, Any] = {"system": system, "value": value}
        if code:
            found["type"] = {"coding": [{"system": v2, "code": code}]}
        return found

    identifiers = [
        ident("http://hospital.example.org/mrn", "MRN-4411", "MR"),
        ident("http://hl7.org/fhir/sid/us-ssn", "999-55-1234", "SS"),
        ident("urn:oid:2.16.840.1.113883.4.3.25", "S99912345", "DL"),
        ident("http://standardhealthrecord.org/fhir/passport", "X12345678", "PPN"),
        ident("http://clinic.example.org/chart", "C-77", None),
    ]
    _write(export / "p.json", _patient(identifier=identifiers))
    _import(clinic, export / "p.json")
    stored = sorted(
        tuple(r) for r in clinic.conn.execute("SELECT system, value FROM patient_identifier")
    )
    assert stored == [
        ("http://clinic.example.org/chart", "C-77"),
        ("http://hospital.example.org/mrn", "MRN-4411"),
    ]
    everything = " ".join(
        str(v)
        for table in ("patient", "patient_identifier", "source_record", "contact_point")
        for row in clinic.conn.execute(f"SELECT * FROM {table}")
        for v in row
    )
    for secret in ("999-55-1234", "S99912345", "X12345678"):
        assert secret not in everything


def test_a_child_without_licence_or_passport_is_imported(clinic: Clinic, export: Path) -> None:
    mrn = {
        "system": "http://hospital.example.org/mrn",
        "value": "K-1",
        "type": {"coding": [{"code": "MR"}]},
    }
    _write(export / "p.json", _patient(birthDate="2019-06-30", identifier=[mrn]))
    result = _import(clinic, export / "p.json")
    assert result.counts["patients"].created == 1
    assert _row(clinic, "SELECT value FROM patient_identifier") == ("K-1",)


def test_postal_code_zeros_are_kept_as_text(clinic: Clinic, export: Path) -> None:
    address = {"line": ["12 Elm St"], "city": "Boston", "state": "MA", "postalCode": "00000"}
    other = {"line": ["3 Oak Ave"], "city": "Somerville", "state": "MA", "postalCode": "02155"}
    _write(export / "p.json", _patient(address=[address, other]))
    _import(clinic, export / "p.json")
    codes = [r[0] for r in clinic.conn.execute("SELECT postal_code FROM address ORDER BY rank")]
    assert codes == ["00000", "02155"]


# --- appointments ---------------------------------------------------------------------------


def test_appointment_with_only_a_requested_period(clinic: Clinic, export: Path) -> None:
    request = {
        "resourceType": "Appointment",
        "id": "req",
        "status": "proposed",
        "requestedPeriod": [{"start": "2026-06-08", "end": "2026-06-12"}],
        "participant": [{"actor": {"reference": "Patient/p1"}, "status": "needs-action"}],
    }
    _write(export / "a.json", _bundle("collection", {"resource": request}))
    _write(export / "p.json", _patient())
    result = _import(clinic, export)
    assert result.counts["appointments"].created == 1
    start, end, patient = _row(clinic, "SELECT start_at, end_at, patient_id FROM appointment")
    assert (start, end, patient) == (None, None, _patient_id(clinic, "p1"))


def test_appointment_request_keeps_the_requested_days_somewhere(
    clinic: Clinic, export: Path
) -> None:
    request = {
        "resourceType": "Appointment",
        "id": "req",
        "status": "proposed",
        "requestedPeriod": [{"start": "2026-06-08", "end": "2026-06-12"}],
        "participant": [{"actor": {"reference": "Patient/p1"}, "status": "needs-action"}],
    }
    _write(
        export / "a.json", _bundle("collection", {"resource": _patient()}, {"resource": request})
    )
    _import(clinic, export / "a.json")
    stored = " ".join(
        str(v) for v in _row(clinic, "SELECT kind, reason, start_at, end_at FROM appointment")
    )
    assert "2026-06-08" in stored or "June 8" in stored or "Jun 8" in stored


# --- references -------------------------------------------------------------------------


def test_urn_uuid_references_in_a_transaction_bundle(clinic: Clinic, export: Path) -> None:
    patient_url = "urn:uuid:6d9e0c2a-1c4e-4c3e-9a57-2b1f3c1d0e01"
    _write(
        export / "t.json",
        _bundle(
            "transaction",
            {
                "fullUrl": "urn:uuid:0b4a6f0e-0000-4000-8000-00000000e001",
                "resource": _encounter("e1", patient_url),
                "request": {"method": "POST", "url": "Encounter"},
            },
            {
                "fullUrl": patient_url,
                "resource": {k: v for k, v in _patient().items() if k != "id"},
                "request": {"method": "POST", "url": "Patient"},
            },
        ),
    )
    result = _import(clinic, export / "t.json")
    assert result.counts["visits"].created == 1
    assert [r[0] for r in _patients(clinic)] == _visit_patients(clinic)


def test_relative_absolute_and_versioned_references_find_one_patient(
    clinic: Clinic, export: Path
) -> None:
    _write(
        export / "e.json",
        _bundle(
            "collection",
            {"resource": _encounter("e1", "Patient/p1")},
            {"resource": _encounter("e2", "http://emr.example.org/fhir/Patient/p1")},
            {"resource": _encounter("e3", "Patient/p1/_history/3")},
            {"resource": _patient()},
        ),
    )
    result = _import(clinic, export / "e.json")
    assert result.counts["visits"].created == 3
    assert _visit_patients(clinic) == [_patient_id(clinic, "p1")] * 3


def test_encounter_file_before_patient_file_links_across_files(
    clinic: Clinic, export: Path
) -> None:
    # Sorted by name, the encounters are read first: the link must still be made.
    _ndjson(export / "Encounter.000.ndjson", [_encounter(f"e{i}", "Patient/p1") for i in range(3)])
    _ndjson(export / "Patient.000.ndjson", [_patient()])
    result = _import(clinic, export)
    assert result.counts["visits"].created == 3
    assert [p for p in result.problems if p.dropped] == []
    assert _visit_patients(clinic) == [_patient_id(clinic, "p1")] * 3


def test_references_to_a_patient_of_an_earlier_import(clinic: Clinic, export: Path) -> None:
    _write(export / "p.json", _patient())
    _import(clinic, export / "p.json")
    _write(export / "e.json", _encounter("e1", "Patient/p1"))
    result = _import(clinic, export / "e.json")
    assert result.counts["visits"].created == 1
    assert _visit_patients(clinic) == [_patient_id(clinic, "p1")]


def test_contained_practitioner_becomes_the_visits_provider(clinic: Clinic, export: Path) -> None:
    doctor = {
        "resourceType": "Practitioner",
        "id": "doc",
        "name": [{"family": "Okonkwo", "given": ["Chidi"], "prefix": ["Dr."]}],
    }
    encounter = _encounter(
        "e1",
        "Patient/p1",
        contained=[doctor],
        participant=[{"individual": {"reference": "#doc"}}],
    )
    _write(
        export / "e.json",
        _bundle("collection", {"resource": _patient()}, {"resource": encounter}),
    )
    result = _import(clinic, export / "e.json")
    assert result.counts["practitioners"].created == 1
    provider_id, family = _row(clinic, "SELECT id, family_name FROM provider")
    assert family == "Okonkwo"
    assert _row(clinic, "SELECT provider_id FROM appointment") == (provider_id,)


def test_conditional_references_resolve_by_identifier_in_another_file(
    clinic: Clinic, export: Path
) -> None:
    encounter = _encounter(
        "e1",
        "Patient/p1",
        participant=[{"individual": {"reference": f"Practitioner?identifier={NPI}|1234567893"}}],
        serviceProvider={
            "reference": "Organization?identifier=https://github.com/synthetichealth/synthea|org-9"
        },
        location=[
            {
                "location": {
                    "reference": "Location?identifier=https://github.com/synthetichealth/synthea|loc-3"
                }
            }
        ],
    )
    _ndjson(export / "Encounter.ndjson", [encounter])
    _ndjson(export / "Patient.ndjson", [_patient()])
    _ndjson(
        export / "Practitioner.ndjson",
        [
            {
                "resourceType": "Practitioner",
                "id": "pr-1",
                "identifier": [{"system": NPI, "value": "1234567893"}],
                "name": [{"family": "Haddad", "given": ["Lina"]}],
            }
        ],
    )
    _ndjson(
        export / "Location.ndjson",
        [
            {
                "resourceType": "Location",
                "id": "l-1",
                "identifier": [
                    {"system": "https://github.com/synthetichealth/synthea", "value": "loc-3"}
                ],
                "name": "Lakeside Clinic",
            }
        ],
    )
    result = _import(clinic, export)
    assert [p for p in result.problems if p.dropped] == []
    provider, location = _row(clinic, "SELECT provider_id, location_id FROM appointment")
    assert _row(clinic, "SELECT family_name FROM provider WHERE id = ?", provider) == ("Haddad",)
    assert _row(clinic, "SELECT name FROM location WHERE id = ?", location) == ("Lakeside Clinic",)


def test_a_reference_to_nobody_fails_only_that_visit(clinic: Clinic, export: Path) -> None:
    _write(
        export / "e.json",
        _bundle(
            "collection",
            {"resource": _patient()},
            {"resource": _encounter("good", "Patient/p1")},
            {"resource": _encounter("lost", "Patient/nobody")},
        ),
    )
    result = _import(clinic, export / "e.json")
    assert result.counts["visits"].created == 1
    assert result.counts["visits"].failed == 1
    failed = [p for p in result.problems if p.kind == "visits" and p.dropped]
    assert [p.location for p in failed] == ["e.json entry 3"]
    assert _visit_patients(clinic) == [_patient_id(clinic, "p1")]


# --- bundle types ---------------------------------------------------------------------------

BUNDLE_TYPES = [
    "collection",
    "transaction",
    "batch",
    "batch-response",
    "transaction-response",
    "searchset",
    "message",
    "document",
    "history",
]


@pytest.mark.parametrize("kind", BUNDLE_TYPES)
def test_every_bundle_type_is_read(clinic: Clinic, export: Path, kind: str) -> None:
    entry: dict[str, Any] = {"fullUrl": "http://emr.example.org/fhir/Patient/p1"}
    entry["resource"] = _patient()
    if kind.endswith("response"):
        entry["response"] = {"status": "201 Created"}
    elif kind in ("transaction", "batch"):
        entry["request"] = {"method": "PUT", "url": "Patient/p1"}
    elif kind == "searchset":
        entry["search"] = {"mode": "match"}
    _write(export / "b.json", _bundle(kind, entry))
    result = _import(clinic, export / "b.json")
    assert result.counts["patients"].created == 1
    assert [r[1] for r in _patients(clinic)] == ["Lindqvist"]


def test_bundles_nested_in_a_collection_are_read(clinic: Clinic, export: Path) -> None:
    inner = _bundle("searchset", {"resource": _patient("p2", "Inner")})
    _write(
        export / "b.json",
        _bundle("collection", {"resource": _patient("p1", "Outer")}, {"resource": inner}),
    )
    _import(clinic, export / "b.json")
    assert sorted(r[1] for r in _patients(clinic)) == ["Inner", "Outer"]


def test_a_single_resource_file_and_an_array_of_resources(clinic: Clinic, export: Path) -> None:
    _write(export / "one.json", _patient("p1", "Single"))
    _write(export / "many.json", [_patient("p2", "Listed"), _patient("p3", "Also")])
    _import(clinic, export)
    assert sorted(r[1] for r in _patients(clinic)) == ["Also", "Listed", "Single"]


# --- CSV (Synthea layouts) -----------------------------------------------------------------

OLD_PATIENTS_HEADER = (
    "Id,BIRTHDATE,DEATHDATE,SSN,DRIVERS,PASSPORT,PREFIX,FIRST,LAST,SUFFIX,MAIDEN,MARITAL,"
    "RACE,ETHNICITY,GENDER,BIRTHPLACE,ADDRESS,CITY,STATE,COUNTY,ZIP,LAT,LON,"
    "HEALTHCARE_EXPENSES,HEALTHCARE_COVERAGE"
)
NEW_PATIENTS_HEADER = (
    "Id,BIRTHDATE,DEATHDATE,SSN,DRIVERS,PASSPORT,PREFIX,FIRST,MIDDLE,LAST,SUFFIX,MAIDEN,"
    "MARITAL,RACE,ETHNICITY,GENDER,BIRTHPLACE,ADDRESS,CITY,STATE,COUNTY,FIPS,ZIP,LAT,LON,"
    "HEALTHCARE_EXPENSES,HEALTHCARE_COVERAGE,INCOME"
)


def _old_patient_row(pid: str, first: str, last: str, zip_code: str) -> str:
    return (
        f"{pid},1988-03-02,,999-11-2222,S999,X999,Mr.,{first},{last},,,M,white,nonhispanic,M,"
        f"Boston  MA  US,12 Elm St,Somerville,Massachusetts,Middlesex County,{zip_code},"
        "42.3,-71.1,1000.0,200.0"
    )


def test_older_synthea_patients_layout_with_utf8_names_and_zip_codes(
    clinic: Clinic, export: Path
) -> None:
    rows = [
        _old_patient_row("a1", "Víctor493", "Mejía417", "02155"),
        _old_patient_row("a2", "Glenn0", "O'Keefe54", ""),
    ]
    path = export / "patients.csv"
    path.write_bytes(("\n".join([OLD_PATIENTS_HEADER, *rows]) + "\n").encode("utf-8"))
    result = _import(clinic, path)
    assert result.counts["patients"].created == 2
    names = sorted(
        tuple(r) for r in clinic.conn.execute("SELECT given_names, family_name FROM patient")
    )
    assert names == [("Glenn0", "O'Keefe54"), ("Víctor493", "Mejía417")]
    zips = [r[0] for r in clinic.conn.execute("SELECT postal_code FROM address")]
    assert zips == ["02155"] or sorted(zips) == ["", "02155"]
    assert clinic.conn.execute("SELECT count(*) FROM patient_identifier").fetchone()[0] == 0


def test_newer_synthea_patients_layout_maps_by_header_name(clinic: Clinic, export: Path) -> None:
    row = (
        "b1,1990-07-15,,999-33-4444,,,Ms.,Ana,Lucía,Torres12,,,S,white,hispanic,F,"
        "Lima  Peru,7 Bay Rd,Quincy,Massachusetts,Norfolk County,25021,02169,42.2,-71.0,"
        "10.0,20.0,52000"
    )
    path = export / "patients.csv"
    path.write_text(f"{NEW_PATIENTS_HEADER}\n{row}\n", encoding="utf-8")
    _import(clinic, path)
    assert _row(clinic, "SELECT family_name, birth_date, sex FROM patient") == (
        "Torres12",
        "1990-07-15",
        "female",
    )
    given = _row(clinic, "SELECT given_names FROM patient")[0]
    assert given.startswith("Ana")
    assert _row(clinic, "SELECT postal_code, city FROM address") == ("02169", "Quincy")


def test_conditions_without_a_system_column_and_providers_named_in_one_field(
    clinic: Clinic, export: Path
) -> None:
    (export / "patients.csv").write_text(
        OLD_PATIENTS_HEADER + "\n" + _old_patient_row("a1", "Rosa7", "Lind3", "02155") + "\n",
        encoding="utf-8",
    )
    (export / "conditions.csv").write_text(
        "START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION\n2019-04-01,,a1,enc-1,44054006,Diabetes\n",
        encoding="utf-8",
    )
    (export / "providers.csv").write_text(
        "Id,ORGANIZATION,NAME,GENDER,SPECIALITY,ADDRESS,CITY,STATE,ZIP,LAT,LON,UTILIZATION\n"
        "pr1,org1,Ludivina884 Steuber698,F,GENERAL PRACTICE,211 PARK STREET,ATTLEBORO,MA,"
        "02703,41.9,-71.2,46\n",
        encoding="utf-8",
    )
    result = _import(clinic, export)
    assert result.counts["conditions"].created == 1
    code, onset, patient = _row(clinic, "SELECT code, onset, patient_id FROM condition")
    assert (code, onset) == ("44054006", "2019-04-01")
    assert patient == _row(clinic, "SELECT id FROM patient")[0]
    assert _row(clinic, "SELECT given_names, family_name FROM provider") == (
        "Ludivina884",
        "Steuber698",
    )
