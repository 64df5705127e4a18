"""CSV records to the writer's targets: fields, identity keys and links, times.

Every record here comes from a real file written to tmp_path and read by the real
CSV layers (plan_file, RecordStream), as an import reads it.
"""

from __future__ import annotations

import csv
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.importers.csv import (
    CsvRecord,
    DateFormat,
    Kind,
    Profile,
    RecordStream,
    RowProblem,
    plan_file,
)
from app.importers.csv.convert import SYNTHEA_SYSTEM, csv_target
from app.importers.fhir.convert import fhir_target
from app.importers.fhir.mapping import map_resource
from app.importers.fhir.references import ReferenceIndex
from app.importers.targets import (
    AddressIn,
    AllergyIn,
    ConditionIn,
    IdentifierIn,
    ImportProblem,
    Link,
    OrganizationIn,
    PatientIn,
    PhoneIn,
    ProviderIn,
    Target,
    VisitIn,
)
from tests.support.emr_samples import samples

CHICAGO = ZoneInfo("America/Chicago")
TODAY = date(2025, 6, 1)
CSV_SAMPLES = samples("csv")
CLINIC = "csv:Clinic EMR"

PATIENTS_HEADER = (
    "Id,BIRTHDATE,DEATHDATE,SSN,DRIVERS,PASSPORT,PREFIX,FIRST,LAST,SUFFIX,MAIDEN,MARITAL,"
    "RACE,ETHNICITY,GENDER,BIRTHPLACE,ADDRESS,CITY,STATE,COUNTY,ZIP,LAT,LON,"
    "HEALTHCARE_EXPENSES,HEALTHCARE_COVERAGE"
)
ENCOUNTERS_HEADER = (
    "Id,START,STOP,PATIENT,ORGANIZATION,PROVIDER,PAYER,ENCOUNTERCLASS,CODE,DESCRIPTION,"
    "BASE_ENCOUNTER_COST,TOTAL_CLAIM_COST,PAYER_COVERAGE,REASONCODE,REASONDESCRIPTION"
)


def write(tmp_path: Path, name: str, *lines: str) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def read(path: Path, profile: Profile | None = None) -> list[CsvRecord]:
    plan = plan_file(path, profile=profile)
    items = list(RecordStream(plan, profile=profile, today=TODAY))
    return [item for item in items if not isinstance(item, RowProblem)]


def convert(
    path: Path, profile: Profile | None = None, *, system: str = SYNTHEA_SYSTEM
) -> list[tuple[Target | None, list[ImportProblem]]]:
    return [
        csv_target(r, system=system, zone=CHICAGO, today=TODAY, file_name=path.name)
        for r in read(path, profile)
    ]


def targets(
    path: Path, profile: Profile | None = None, *, system: str = SYNTHEA_SYSTEM
) -> list[Any]:
    results = convert(path, profile, system=system)
    assert all(problems == [] for _, problems in results)
    return [t for t, _ in results]


# --- patients -----------------------------------------------------------------------


def synthea_patients(tmp_path: Path) -> Path:
    return write(
        tmp_path,
        "patients.csv",
        PATIENTS_HEADER,
        "syn-1,1974-12-25,2020-03-04,999-17-5017,S9991,X123,Mr.,Glenn0,O'Keefe54,,,M,white,"
        "nonhispanic,M,Boston MA US,784 Stamm Lock Unit 46,Somerville,Massachusetts,"
        "Middlesex County,02155,42.1,-71.1,100,200",
        "syn-2,2014-10-06,,,,,,Víctor493,Mejía,,,,white,hispanic,F,,,,,,,,,0,0",
    )


def test_synthea_patient_fields_keys_and_identifiers(tmp_path: Path) -> None:
    first, second = targets(synthea_patients(tmp_path))
    assert first == PatientIn(
        location="patients.csv, line 2",
        keys=((SYNTHEA_SYSTEM, "syn-1"),),
        family_name="O'Keefe54",
        given_names="Glenn0",
        birth_date="1974-12-25",
        sex="male",
        deceased=True,
        deceased_date="2020-03-04",
        addresses=(
            AddressIn(
                "784 Stamm Lock Unit 46", "", "Somerville", "Massachusetts", "02155", "", "home"
            ),
        ),
        identifiers=(),  # SSN, licence and passport stay in the EMR
    )
    assert second.location == "patients.csv, line 3"
    assert (second.family_name, second.given_names, second.sex) == ("Mejía", "Víctor493", "female")
    assert (second.deceased, second.deceased_date, second.addresses) == (False, None, ())
    assert second.identifiers == ()


CLINIC_PATIENTS = Profile(
    name="Clinic EMR patients",
    kind=Kind.PATIENT,
    columns={
        "source_id": ("Chart No",),
        "mrn": ("MRN",),
        "last": ("Surname",),
        "first": ("Given name",),
        "birth_date": ("DOB",),
        "phone": ("Phone",),
        "mobile": ("Mobile",),
        "email": ("E-mail",),
        "country": ("Country",),
        "city": ("City",),
    },
    date_format=DateFormat.US,
    source_system="",
)


def test_clinic_patient_keys_include_the_mrn_and_phones_are_e164(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "export.csv",
        "Chart No,MRN,Surname,Given name,DOB,Phone,Mobile,E-mail,Country,City",
        "c-1,M-77,Brown,Jo,12/25/1974,(415) 555-2671,555-929-9025,Jo@Example.com,USA,Austin",
    )
    plan = plan_file(path, profile=CLINIC_PATIENTS)
    items = list(RecordStream(plan, profile=CLINIC_PATIENTS, today=TODAY))
    # The phone that cannot be dialled is left out (with a warning) by the reading layer.
    assert [type(i).__name__ for i in items] == ["RowProblem", "CsvPatient"]
    [patient] = targets(path, CLINIC_PATIENTS, system=CLINIC)
    assert patient.keys == ((CLINIC, "c-1"), (CLINIC + "/mrn", "M-77"))
    # The MRN is stored under the system its key names, so either finds the patient.
    assert patient.identifiers == (IdentifierIn(CLINIC + "/mrn", "M-77", "MR"),)
    assert patient.phones == (PhoneIn("+14155552671", "home"),)
    assert patient.emails == ("jo@example.com",)
    assert patient.birth_date == "1974-12-25"
    assert patient.addresses == (AddressIn(city="Austin", country="US"),)


def test_partial_birth_date_is_kept_partial(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "export.csv",
        "Chart No,Surname,DOB",
        "c-1,Brown,1974",
        "c-2,Green,",
    )
    profile = Profile(
        name="p",
        kind=Kind.PATIENT,
        columns={"source_id": ("Chart No",), "last": ("Surname",), "birth_date": ("DOB",)},
        date_format=DateFormat.ISO,
    )
    first, second = targets(path, profile, system=CLINIC)
    assert first.birth_date == "1974"
    assert second.birth_date is None


# --- encounters ---------------------------------------------------------------------


def test_synthea_encounter_links_to_its_patient_and_provider(tmp_path: Path) -> None:
    patients = targets(synthea_patients(tmp_path))
    path = write(
        tmp_path,
        "encounters.csv",
        ENCOUNTERS_HEADER,
        "enc-1,2023-01-27T16:17:47Z,2023-01-27T16:32:47Z,syn-1,org-1,prov-1,pay-1,ambulatory,"
        "185345009,Encounter for symptom,77.49,3798.09,0.00,195662009,Acute viral pharyngitis",
        "enc-2,2025-07-01T15:00:00Z,,syn-2,org-1,,pay-1,wellness,1,Checkup,0,0,0,,",
    )
    past, future = targets(path)
    assert past == VisitIn(
        location="encounters.csv, line 2",
        keys=((SYNTHEA_SYSTEM + "/encounter", "enc-1"),),
        patient=Link("patient", (SYNTHEA_SYSTEM, "syn-1")),
        status="fulfilled",
        start_at="2023-01-27T16:17:47Z",
        end_at="2023-01-27T16:32:47Z",
        kind="Encounter for symptom",
        reason="Acute viral pharyngitis",
        provider=Link("provider", (SYNTHEA_SYSTEM + "/provider", "prov-1")),
        place=None,
    )
    assert (future.status, future.end_at, future.provider, future.reason) == (
        "booked",
        None,
        None,
        "",
    )
    assert past.patient.key in patients[0].keys
    assert future.patient.key in patients[1].keys


CLINIC_VISITS = Profile(
    name="Clinic EMR visits",
    kind=Kind.ENCOUNTER,
    columns={
        "patient": ("Chart No",),
        "start": ("When",),
        "stop": ("Until",),
        "description": ("Type",),
    },
    date_format=DateFormat.ISO,
)


@pytest.mark.parametrize(
    ("when", "utc"),
    [
        ("2025-03-08", "2025-03-08T18:00:00Z"),  # a date alone: noon, still CST
        ("2025-03-09", "2025-03-09T17:00:00Z"),  # noon CDT, clocks went forward at 2 am
        ("2025-11-01", "2025-11-01T17:00:00Z"),
        ("2025-11-02", "2025-11-02T18:00:00Z"),  # back to CST
        ("2025-03-09 10:00", "2025-03-09T15:00:00Z"),  # a time without zone is clinic time
        ("2025-03-08 10:00", "2025-03-08T16:00:00Z"),
        ("2025-03-09T10:00:00+02:00", "2025-03-09T08:00:00Z"),  # an offset is kept
    ],
)
def test_visit_times_without_a_zone_are_clinic_time_across_dst(
    tmp_path: Path, when: str, utc: str
) -> None:
    path = write(tmp_path, "visits.csv", "Chart No,When,Until,Type", f"c-1,{when},,Checkup")
    [visit] = targets(path, CLINIC_VISITS, system=CLINIC)
    assert visit.start_at == utc
    assert visit.patient == Link("patient", (CLINIC, "c-1"))
    assert visit.kind == "Checkup"


def test_visits_without_an_id_get_a_stable_key_and_status_by_day(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "visits.csv",
        "Chart No,When,Until,Type",
        "c-1,2025-05-31 23:30,2025-06-01 00:15,Late",  # before today in Chicago
        "c-1,2025-06-01,2025-06-01,Today",  # a date-only stop is no end
        "c-2,2025-06-02 09:00,2025-06-02 09:30,Soon",
    )
    first = targets(path, CLINIC_VISITS, system=CLINIC)
    again = targets(path, CLINIC_VISITS, system=CLINIC)
    assert [v.keys for v in first] == [v.keys for v in again]
    assert len({v.keys for v in first}) == 3
    assert all(key[0] == CLINIC + "/encounter" for v in first for key in v.keys)
    assert [v.status for v in first] == ["fulfilled", "booked", "booked"]
    assert [v.end_at for v in first] == ["2025-06-01T05:15:00Z", None, "2025-06-02T14:30:00Z"]


# --- conditions and allergies -------------------------------------------------------


def test_conditions_are_keyed_by_patient_visit_code_and_start(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "conditions.csv",
        "START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION",
        "2023-01-27,2023-02-09,syn-1,enc-1,195662009,Acute viral pharyngitis (disorder)",
        "2019-05-02,,syn-1,enc-0,44054006,Diabetes",
    )
    resolved, active = targets(path)
    assert resolved == ConditionIn(
        location="conditions.csv, line 2",
        keys=((SYNTHEA_SYSTEM + "/condition", "syn-1|enc-1|195662009|2023-01-27"),),
        patient=Link("patient", (SYNTHEA_SYSTEM, "syn-1")),
        system="http://snomed.info/sct",
        code="195662009",
        display="Acute viral pharyngitis (disorder)",
        onset="2023-01-27",
        abated="2023-02-09",
        clinical_status="resolved",
    )
    assert (active.abated, active.clinical_status) == (None, "active")
    patient = targets(synthea_patients(tmp_path))[0]
    assert resolved.patient.key in patient.keys


def test_allergy_fields_and_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "allergies.csv",
        "START,STOP,PATIENT,ENCOUNTER,CODE,SYSTEM,DESCRIPTION,TYPE,CATEGORY,REACTION1,"
        "DESCRIPTION1,SEVERITY1,REACTION2,DESCRIPTION2,SEVERITY2",
        "2009-09-27,,syn-2,enc-9,111088007,SNOMED-CT,Latex (substance),allergy,environment,"
        "418290006,Itching (finding),MODERATE,271807003,Eruption of skin (disorder),MILD",
    )
    [allergy] = targets(path)
    assert allergy == AllergyIn(
        location="allergies.csv, line 2",
        keys=((SYNTHEA_SYSTEM + "/allergy", "syn-2|enc-9|111088007|2009-09-27"),),
        patient=Link("patient", (SYNTHEA_SYSTEM, "syn-2")),
        system="http://snomed.info/sct",
        code="111088007",
        display="Latex (substance)",
        category="environment",
        kind="allergy",
        clinical_status="active",
        reactions="Itching (finding), Eruption of skin (disorder)",
        onset="2009-09-27",
    )


# --- providers, organizations, payers -----------------------------------------------


def test_synthea_provider_organization_and_payer(tmp_path: Path) -> None:
    providers = write(
        tmp_path,
        "providers.csv",
        "Id,ORGANIZATION,NAME,GENDER,SPECIALITY,ADDRESS,CITY,STATE,ZIP,LAT,LON,UTILIZATION",
        "prov-1,org-1,Ludivina884 Steuber698,F,GENERAL PRACTICE,211 PARK STREET,ATTLEBORO,"
        "MA,02703,41.9,-71.2,46",
    )
    organizations = write(
        tmp_path,
        "organizations.csv",
        "Id,NAME,ADDRESS,CITY,STATE,ZIP,LAT,LON,PHONE,REVENUE,UTILIZATION",
        "org-1,STURDY MEMORIAL HOSPITAL,211 PARK STREET,ATTLEBORO,MA,02703,41.9,-71.2,"
        "5082225200,0.0,46",
    )
    payers = write(
        tmp_path,
        "payers.csv",
        "Id,NAME,ADDRESS,CITY,STATE_HEADQUARTERED,ZIP,PHONE,AMOUNT_COVERED,AMOUNT_UNCOVERED,"
        "REVENUE,COVERED_ENCOUNTERS,UNCOVERED_ENCOUNTERS,COVERED_MEDICATIONS,"
        "UNCOVERED_MEDICATIONS,COVERED_PROCEDURES,UNCOVERED_PROCEDURES,"
        "COVERED_IMMUNIZATIONS,UNCOVERED_IMMUNIZATIONS,UNIQUE_CUSTOMERS,QOLS_AVG,MEMBER_MONTHS",
        "pay-1,Dual Eligible,7500 Security Blvd,Baltimore,MD,21244,1-877-267-2323,"
        "0,0,0,0,0,0,0,0,0,0,0,0,NaN,0",
    )
    [provider] = targets(providers)
    assert provider == ProviderIn(
        location="providers.csv, line 2",
        keys=((SYNTHEA_SYSTEM + "/provider", "prov-1"),),
        family_name="Steuber698",
        given_names="Ludivina884",
        specialty="GENERAL PRACTICE",
    )
    [organization] = targets(organizations)
    assert organization == OrganizationIn(
        location="organizations.csv, line 2",
        keys=((SYNTHEA_SYSTEM + "/organization", "org-1"),),
        name="STURDY MEMORIAL HOSPITAL",
        kind="provider",
        phone="+15082225200",
        line1="211 PARK STREET",
        city="ATTLEBORO",
        region="MA",
        postal_code="02703",
    )
    [payer] = targets(payers)
    assert (payer.keys, payer.kind, payer.name) == (
        ((SYNTHEA_SYSTEM + "/payer", "pay-1"),),
        "payer",
        "Dual Eligible",
    )
    assert payer.phone == "+18772672323"
    encounters = write(
        tmp_path,
        "encounters.csv",
        ENCOUNTERS_HEADER,
        "enc-1,2023-01-27T16:17:47Z,,syn-1,org-1,prov-1,pay-1,ambulatory,1,Visit,0,0,0,,",
    )
    [visit] = targets(encounters)
    assert visit.provider is not None and visit.provider.key in provider.keys


def test_clinic_provider_with_npi_and_a_single_name(tmp_path: Path) -> None:
    profile = Profile(
        name="Clinic EMR providers",
        kind=Kind.PROVIDER,
        columns={
            "source_id": ("Code",),
            "first": ("First",),
            "last": ("Last",),
            "prefix": ("Title",),
            "npi": ("NPI",),
        },
        date_format=DateFormat.ISO,
    )
    path = write(
        tmp_path,
        "staff.csv",
        "Code,First,Last,Title,NPI",
        "d1,Adam,Careful,Dr.,9999912345",
        "d2,Cher,,,",
    )
    full, single = targets(path, profile, system=CLINIC)
    assert full.keys == (
        (CLINIC + "/provider", "d1"),
        ("http://hl7.org/fhir/sid/us-npi", "9999912345"),
    )
    assert (full.family_name, full.given_names, full.title, full.npi) == (
        "Careful",
        "Adam",
        "Dr.",
        "9999912345",
    )
    assert (single.family_name, single.given_names, single.npi) == ("Cher", "", None)


# --- the same Synthea patient from both exports -------------------------------------


def test_synthea_csv_and_fhir_patient_share_a_key(tmp_path: Path) -> None:
    [csv_patient] = [t for t in targets(synthea_patients(tmp_path)) if "syn-1" in str(t.keys)]
    resource = {
        "resourceType": "Patient",
        "id": "27de96c6-other-id",
        "identifier": [
            {"system": SYNTHEA_SYSTEM, "value": "syn-1"},
            {
                "type": {"coding": [{"code": "SS"}]},
                "system": "http://hl7.org/fhir/sid/us-ssn",
                "value": "999-17-5017",
            },
        ],
        "name": [{"family": "O'Keefe54", "given": ["Glenn0"]}],
    }
    [record] = map_resource(resource, ReferenceIndex(), location="bundle.json entry 1").records
    fhir_patient, _ = fhir_target(record, zone=CHICAGO, today=TODAY)
    assert isinstance(fhir_patient, PatientIn)
    assert set(csv_patient.keys) & set(fhir_patient.keys) == {(SYNTHEA_SYSTEM, "syn-1")}


# --- every sample file ----------------------------------------------------------------


def _plain_count(path: Path) -> int:
    with path.open(encoding="utf-8", newline="") as stream:
        return sum(1 for _ in csv.DictReader(stream))


def _convert_samples() -> list[Target]:
    converted: list[Target] = []
    for path in sorted(CSV_SAMPLES.rglob("*.csv")):
        plan = plan_file(path)
        if plan.skipped:
            continue
        for item in RecordStream(plan, today=TODAY):
            if isinstance(item, RowProblem):
                continue
            target, problems = csv_target(
                item, system=SYNTHEA_SYSTEM, zone=CHICAGO, today=TODAY, file_name=path.name
            )
            assert problems == []
            assert target is not None
            converted.append(target)
    return converted


def test_every_sample_converts_and_patient_and_visit_counts_match_the_files() -> None:
    converted = _convert_samples()
    counts = Counter(type(t) for t in converted)
    folder = CSV_SAMPLES / "synthea-dbt"
    assert counts[PatientIn] == _plain_count(folder / "patients.csv") == 27
    assert counts[VisitIn] == _plain_count(folder / "encounters.csv")
    assert counts[ConditionIn] == _plain_count(folder / "conditions.csv")
    assert counts[ProviderIn] == _plain_count(folder / "providers.csv")


def test_every_sample_record_links_to_a_patient_and_keys_are_unique() -> None:
    converted = _convert_samples()
    patient_keys = {k for t in converted if isinstance(t, PatientIn) for k in t.keys}
    linked = [t for t in converted if isinstance(t, VisitIn | ConditionIn | AllergyIn)]
    assert linked and all(t.patient.key in patient_keys for t in linked)
    provider_keys = {k for t in converted if isinstance(t, ProviderIn) for k in t.keys}
    visits = [t for t in converted if isinstance(t, VisitIn)]
    assert all(v.provider is None or v.provider.key in provider_keys for v in visits)
    # Two records with one key would be written as one: every row must keep its own.
    keys = [k for t in converted for k in t.keys]
    assert len(keys) == len(set(keys))
