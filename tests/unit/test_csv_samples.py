"""Every sample CSV export reads to the end with its detected profile, and the counts
of records equal a plain count of the file made here with the stdlib csv module."""

from __future__ import annotations

import csv
import datetime
from collections import Counter
from pathlib import Path

import pytest

from app.importers.csv import (
    CsvEncounter,
    CsvPatient,
    CsvProvider,
    RecordStream,
    RowProblem,
    plan_file,
)
from tests.support.emr_samples import samples

SAMPLES = samples("csv")
SAMPLE_FILES = sorted(SAMPLES.rglob("*.csv"))
TODAY = datetime.date(2025, 6, 1)

pytestmark = pytest.mark.skipif(not SAMPLE_FILES, reason="EMR samples not present")


def _count_data_rows(path: Path) -> int:
    with path.open(encoding="utf-8", newline="") as stream:
        return sum(1 for _ in csv.DictReader(stream))


def _records(path: Path) -> Counter[type]:
    plan = plan_file(path)
    assert plan.profile is not None
    return Counter(type(item) for item in RecordStream(plan, today=TODAY))


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.name)
def test_every_sample_file_reads_to_the_end_without_problems(path: Path) -> None:
    plan = plan_file(path)
    assert plan.table is not None, "every sample is a Synthea table"
    if plan.skipped:
        return
    items = list(RecordStream(plan, today=TODAY))
    problems = [item for item in items if isinstance(item, RowProblem)]
    assert problems == []
    assert len(items) == _count_data_rows(path)


def test_patient_count_equals_plain_count() -> None:
    path = SAMPLES / "synthea-dbt" / "patients.csv"
    assert _records(path)[CsvPatient] == _count_data_rows(path) == 27


def test_encounter_count_equals_plain_count() -> None:
    path = SAMPLES / "synthea-dbt" / "encounters.csv"
    assert _records(path)[CsvEncounter] == _count_data_rows(path)


def test_provider_count_equals_plain_count() -> None:
    path = SAMPLES / "synthea-dbt" / "providers.csv"
    assert _records(path)[CsvProvider] == _count_data_rows(path)


def test_sample_tables_are_recognised_by_header_and_name() -> None:
    tables = {path.stem: plan_file(path).table for path in SAMPLE_FILES}
    assert tables == {stem: stem for stem in tables}


def test_patient_names_keep_digit_suffixes_and_zips_keep_leading_zeros() -> None:
    path = SAMPLES / "synthea-dbt" / "patients.csv"
    patients = [p for p in RecordStream(plan_file(path), today=TODAY) if isinstance(p, CsvPatient)]
    first = patients[0]
    assert first.given_names == "Maynard46"
    assert first.family_name == "Mosciski958"
    assert first.address is not None
    assert first.address.postal_code == "02155"
    assert first.identifiers[0].kind == "SS"
    assert any(p.address is not None and p.address.postal_code == "" for p in patients)


def test_provider_name_is_split_into_given_and_family() -> None:
    path = SAMPLES / "synthea-dbt" / "providers.csv"
    providers = [
        p for p in RecordStream(plan_file(path), today=TODAY) if isinstance(p, CsvProvider)
    ]
    victor = next(p for p in providers if p.given_names == "Víctor493")
    assert victor.family_name == "Noriega353"


def test_encounter_times_are_aware_utc() -> None:
    path = SAMPLES / "synthea-dbt" / "encounters.csv"
    encounter = next(
        e for e in RecordStream(plan_file(path), today=TODAY) if isinstance(e, CsvEncounter)
    )
    assert encounter.start == datetime.datetime(2023, 1, 27, 16, 17, 47, tzinfo=datetime.UTC)
    assert encounter.encounter_class == "ambulatory"


def test_old_conditions_without_system_column_are_snomed() -> None:
    path = SAMPLES / "synthea-dbt" / "conditions.csv"
    systems = {
        getattr(item, "code_system", None) for item in RecordStream(plan_file(path), today=TODAY)
    }
    assert systems == {"http://snomed.info/sct"}
