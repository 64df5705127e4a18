"""Every shared EMR sample imports into a real clinic, and the database holds what the
files hold.

The expected numbers come from a small counting script here (stdlib json and csv only,
nothing of the importer): it counts Patient, Practitioner, Appointment and Encounter
resources per Bundle entry / NDJSON line / single file, once per resource identity (the
same resource repeated across files is one record), and Synthea CSV rows per table.
It leaves out exactly what the importer refuses on purpose:
- Patients with the patient-animal extension (Frontdesk keeps people only);
- Encounters without a period start (a visit needs a date to sit on the timeline).
"""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from app.clinic import Clinic
from app.importers.session import ImportResult, plan_import, run_import
from app.importers.writer import KindCounts
from tests.support.emr_samples import MISSING_REASON, PRESENT, samples

ROOT = samples()
FHIR = samples("fhir")
CSV = samples("csv")
FOLDERS = [
    samples("fhir", "hl7-r4-examples"),
    samples("fhir", "edge-cases"),
    samples("fhir", "synthea-bundles"),
    samples("fhir", "bulk-ndjson"),
    samples("csv", "synthea-dbt"),
]
DATA = [FHIR, CSV]

pytestmark = pytest.mark.skipif(not PRESENT, reason=MISSING_REASON)

ANIMAL = "http://hl7.org/fhir/StructureDefinition/patient-animal"
COUNTED = ("Patient", "Practitioner", "Appointment", "Encounter")
# Synthea CSV tables and the resource type their rows stand for.
CSV_TABLES = {
    "patients.csv": "Patient",
    "providers.csv": "Practitioner",
    "encounters.csv": "Encounter",
}
# Tables that record the import itself: a second import adds its own batch there (and
# its entry in the audit log, which only ever grows).
BATCH_TABLES = {"import_batch", "import_file", "audit_event"}


# --- the independent count --------------------------------------------------------------


def _walk(
    value: Any, where: str, full_url: str | None
) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(resourceType, identity, resource) for every resource in a parsed document."""
    if isinstance(value, list):
        for number, element in enumerate(value):
            yield from _walk(element, f"{where} item {number}", None)
        return
    if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
        return
    if value["resourceType"] == "Bundle":
        for number, entry in enumerate(value.get("entry") or []):
            if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
                yield from _walk(entry["resource"], f"{where} entry {number}", entry.get("fullUrl"))
        return
    rid = value.get("id")
    identity = rid if isinstance(rid, str) and rid else (full_url or where)
    yield value["resourceType"], identity, value
    for inner in value.get("contained") or []:
        if isinstance(inner, dict) and isinstance(inner.get("id"), str):
            yield str(inner.get("resourceType")), f"{identity}#{inner['id']}", inner


def _resources(path: Path) -> Iterator[tuple[str, str, dict[str, Any]]]:
    if path.suffix == ".ndjson":
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            try:
                value = json.loads(line) if line.strip() else None
            except ValueError:  # the edge-case validation lines include broken JSON
                continue
            yield from _walk(value, f"{path}:{number}", None)
    elif path.suffix == ".json":
        try:
            value = json.loads(path.read_text(encoding="utf-8-sig"))
        except ValueError:  # a few edge-case files are not JSON documents at all
            return
        yield from _walk(value, str(path), None)


def _refused(kind: str, resource: dict[str, Any]) -> bool:
    if kind == "Patient":
        extensions = resource.get("extension") or []
        return any(isinstance(e, dict) and e.get("url") == ANIMAL for e in extensions)
    if kind == "Encounter":
        period = resource.get("period")
        return not (isinstance(period, dict) and period.get("start"))
    return False


@dataclass
class Expected:
    kept: Counter[str]  # distinct records that must be in the database
    refused: Counter[str]  # distinct records the importer must refuse


def _count(folders: list[Path]) -> Expected:
    kept: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    seen: set[tuple[str, str]] = set()
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            if path.suffix == ".csv":
                kind = CSV_TABLES.get(path.name)
                if kind is not None:
                    with path.open(encoding="utf-8", newline="") as stream:
                        kept[kind] += sum(1 for _ in csv.DictReader(stream))
                continue
            for kind, identity, resource in _resources(path):
                if kind not in COUNTED or (kind, identity) in seen:
                    continue
                seen.add((kind, identity))
                (refused if _refused(kind, resource) else kept)[kind] += 1
    return Expected(kept, refused)


# --- database side ------------------------------------------------------------------------


def _import(clinic: Clinic, paths: list[Path]) -> ImportResult:
    return run_import(clinic, plan_import(clinic, paths))


def _table_counts(clinic: Clinic) -> dict[str, int]:
    names = [
        r[0]
        for r in clinic.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "AND name NOT LIKE '%fts%' ORDER BY name"
        )
    ]
    return {
        name: clinic.conn.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
        for name in names
        if name not in BATCH_TABLES
    }


def _stored(clinic: Clinic) -> dict[str, int]:
    def count(sql: str) -> int:
        return int(clinic.conn.execute(sql).fetchone()[0])

    return {
        "Patient": count("SELECT count(*) FROM patient"),
        "Practitioner": count("SELECT count(*) FROM provider"),
        "visits": count("SELECT count(*) FROM appointment"),
    }


def _assert_matches(clinic: Clinic, result: ImportResult, expected: Expected) -> None:
    kept = expected.kept
    stored = _stored(clinic)
    assert stored == {
        "Patient": kept["Patient"],
        "Practitioner": kept["Practitioner"],
        "visits": kept["Encounter"] + kept["Appointment"],
    }
    counts = defaultdict(KindCounts, result.counts)
    assert counts["patients"].created == kept["Patient"]
    assert counts["practitioners"].created == kept["Practitioner"]
    assert counts["visits"].created == kept["Encounter"]
    assert counts["appointments"].created == kept["Appointment"]
    assert counts["patients"].failed == expected.refused["Patient"]
    assert counts["visits"].failed == expected.refused["Encounter"]
    # Appointments and encounters land in one table: the split shows in where they came from.
    by_origin = dict(
        clinic.conn.execute(
            "SELECT system, count(DISTINCT row_id) FROM source_record WHERE tbl = 'appointment' "
            "AND system IN ('fhir:Appointment', 'fhir:Encounter') GROUP BY system"
        ).fetchall()
    )
    assert by_origin.get("fhir:Appointment", 0) == kept["Appointment"]


def _problems_name_their_file(result: ImportResult) -> None:
    for problem in result.problems:
        assert problem.location, problem
        assert problem.reason, problem


# --- tests -----------------------------------------------------------------------------------


def test_the_counting_script_sees_what_the_readme_lists() -> None:
    # Guards the count itself: the README's numbers for the HL7 examples and the bulk set.
    hl7 = _count([FOLDERS[0]])
    assert hl7.kept["Appointment"] == 3
    assert hl7.refused["Patient"] == 1  # the animal
    bulk = _count([FOLDERS[3]])
    assert bulk.kept["Patient"] == 13
    assert sum(_count([FOLDERS[4]]).kept.values()) > 0


def test_all_samples_in_one_import_match_the_independent_count(clinic: Clinic) -> None:
    plan = plan_import(clinic, [ROOT])
    # README and MANIFEST are refused by name; the license texts beside the data are
    # .txt, read as CSV, and refused as prose (one column is no table). Nothing waits.
    assert plan.needs_choices == []
    refused = {f.name: f.problem for f in plan.files if f.problem}
    licenses = {"emr-samples/LICENSES/Apache-2.0.txt", "emr-samples/LICENSES/CC0-1.0.txt"}
    assert set(refused) == {"emr-samples/README.md", "emr-samples/MANIFEST.sha256"} | licenses
    assert all("not a table" in str(refused[name]) for name in licenses)

    result = run_import(clinic, plan)

    _assert_matches(clinic, result, _count(DATA))
    assert result.batch_id is not None
    file_problems = {p.location for p in result.problems if p.kind == "file"}
    assert set(refused) <= file_problems
    _problems_name_their_file(result)
    assert result.skipped_types["Observation"] > 0


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_each_sample_folder_alone_matches_the_independent_count(
    clinic: Clinic, folder: Path
) -> None:
    result = _import(clinic, [folder])
    _assert_matches(clinic, result, _count([folder]))
    _problems_name_their_file(result)


REIMPORT_CASES = [
    pytest.param(DATA, id="everything"),
    *(pytest.param([folder], id=folder.name) for folder in FOLDERS),
]


@pytest.mark.parametrize("folders", REIMPORT_CASES)
def test_importing_the_same_files_again_writes_nothing(clinic: Clinic, folders: list[Path]) -> None:
    _import(clinic, folders)
    tables = _table_counts(clinic)
    journal = _table_counts(clinic)["change"]

    again = _import(clinic, folders)

    totals = again.totals()
    assert (totals.created, totals.updated) == (0, 0)
    assert totals.unchanged > 0
    assert _table_counts(clinic) == tables
    assert _table_counts(clinic)["change"] == journal
    notes = clinic.conn.execute(
        "SELECT count(*) FROM interaction WHERE subject = 'Details updated by an import'"
    ).fetchone()[0]
    assert notes == 0
