"""Bad input never stops an import: each bad file is named in a problem, the good files
of the same import arrive, and nothing of a bad file is half-written.

Every test imports a folder holding one bad file beside `good.json` (one patient) into a
real clinic. The last test is a hypothesis property: valid resources mutated (fields
dropped, wrong types, huge strings, bad dates, broken references) inside a Bundle that
also holds a known good patient.
"""

from __future__ import annotations

import csv
import itertools
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.clinic import Clinic
from app.importers.fhir.sources import ReadLimits
from app.importers.session import ImportResult, plan_import, run_import, write_error_report
from app.importers.targets import ImportProblem

MiB = 1024 * 1024
GOOD = {
    "resourceType": "Patient",
    "id": "good",
    "name": [{"family": "Goodwin", "given": ["Tess"]}],
    "birthDate": "1980-05-17",
}
PATIENT_CSV_HEADER = (
    "Id,BIRTHDATE,DEATHDATE,SSN,DRIVERS,PASSPORT,PREFIX,FIRST,LAST,SUFFIX,MAIDEN,MARITAL,"
    "RACE,ETHNICITY,GENDER,BIRTHPLACE,ADDRESS,CITY,STATE,COUNTY,ZIP,LAT,LON,"
    "HEALTHCARE_EXPENSES,HEALTHCARE_COVERAGE"
)


# --- helpers ----------------------------------------------------------------------------


@pytest.fixture
def export(tmp_path: Path) -> Path:
    """An export folder with one good patient file; the test adds the bad one."""
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "good.json").write_text(json.dumps(GOOD), encoding="utf-8")
    return folder


def _import(clinic: Clinic, *paths: Path) -> ImportResult:
    return run_import(clinic, plan_import(clinic, list(paths)))


def _families(clinic: Clinic) -> list[str]:
    return sorted(r[0] for r in clinic.conn.execute("SELECT family_name FROM patient"))


def _about(result: ImportResult, location: str) -> list[ImportProblem]:
    return [p for p in result.problems if p.location == location]


def _patient_line(pid: str, family: str) -> str:
    return json.dumps({"resourceType": "Patient", "id": pid, "name": [{"family": family}]})


def _csv_row(pid: str, last: str) -> str:
    return (
        f"{pid},1988-03-02,,,,,,Ann,{last},,,,white,nonhispanic,F,Boston  MA  US,"
        "12 Elm St,Somerville,Massachusetts,Middlesex County,02155,42.3,-71.1,1.0,2.0"
    )


# --- one bad file beside a good one -------------------------------------------------------


def test_a_file_that_is_neither_json_nor_csv(clinic: Clinic, export: Path) -> None:
    (export / "scan.pdf").write_bytes(b"%PDF-1.7\n\x00\xff binary")
    result = _import(clinic, export)
    (problem,) = _about(result, "export/scan.pdf")
    assert problem.kind == "file" and problem.dropped
    assert _families(clinic) == ["Goodwin"]


def test_a_json_file_holding_text_that_is_not_json(clinic: Clinic, export: Path) -> None:
    (export / "notes.json").write_text("Patient list, exported Tuesday\n", encoding="utf-8")
    result = _import(clinic, export)
    assert len(_about(result, "export/notes.json")) == 1
    assert _families(clinic) == ["Goodwin"]


def test_json_that_is_not_fhir(clinic: Clinic, export: Path) -> None:
    (export / "config.json").write_text(
        json.dumps({"name": "Lakeside", "patients": [{"family": "Nobody"}]}), encoding="utf-8"
    )
    result = _import(clinic, export)
    (problem,) = _about(result, "export/config.json")
    assert "not a FHIR resource" in problem.reason
    assert _families(clinic) == ["Goodwin"]


@pytest.mark.parametrize("name", ["empty.json", "empty.ndjson", "empty.csv", "empty.zip"])
def test_an_empty_file(clinic: Clinic, export: Path, name: str) -> None:
    (export / name).write_bytes(b"")
    result = _import(clinic, export)
    problems = _about(result, f"export/{name}")
    assert len(problems) == 1 and problems[0].dropped
    assert _families(clinic) == ["Goodwin"]


def test_a_truncated_bundle_writes_nothing_of_it(clinic: Clinic, export: Path) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": {"resourceType": "Patient", "id": f"t{i}", "name": [{"family": "Cut"}]}}
            for i in range(5)
        ],
    }
    text = json.dumps(bundle)
    (export / "cut.json").write_text(text[: len(text) * 2 // 3], encoding="utf-8")
    result = _import(clinic, export)
    assert len(_about(result, "export/cut.json")) == 1
    assert _families(clinic) == ["Goodwin"]


def test_a_truncated_ndjson_keeps_its_whole_lines_and_names_the_cut_one(
    clinic: Clinic, export: Path
) -> None:
    lines = [_patient_line("n1", "Whole"), _patient_line("n2", "Entire")]
    cut = _patient_line("n3", "Halved")
    (export / "Patient.ndjson").write_text(
        "\n".join(lines) + "\n" + cut[: len(cut) // 2], encoding="utf-8"
    )
    result = _import(clinic, export)
    (problem,) = _about(result, "export/Patient.ndjson line 3")
    assert problem.dropped
    assert _families(clinic) == ["Entire", "Goodwin", "Whole"]


def test_a_json_file_past_the_size_limit_is_refused_unread(clinic: Clinic, export: Path) -> None:
    # Sparse: 200 MB on paper, nothing on disk. The reader's limit for one JSON
    # document is 128 MB (ReadLimits); a bigger one must be refused, not parsed.
    assert ReadLimits().max_json_bytes < 200 * MiB
    with (export / "everything.json").open("wb") as stream:
        stream.truncate(200 * MiB)
    result = _import(clinic, export)
    (problem,) = _about(result, "export/everything.json")
    assert "too large" in problem.reason and "NDJSON" in problem.reason
    assert _families(clinic) == ["Goodwin"]


def test_a_2_gb_json_file_is_refused_when_planning(clinic: Clinic, export: Path) -> None:
    # Sparse again: 2 GB on paper. The plan already says why, so the import neither
    # checksums nor reads it (a receptionist should not wait to be told no).
    with (export / "huge.json").open("wb") as stream:
        stream.truncate(2048 * MiB)
    plan = plan_import(clinic, [export])
    huge = next(f for f in plan.files if f.name == "export/huge.json")
    assert huge.problem is not None and "2.0 GB" in huge.problem and "NDJSON" in huge.problem
    result = run_import(clinic, plan)
    (problem,) = _about(result, "export/huge.json")
    assert problem.dropped and "too large" in problem.reason
    assert _families(clinic) == ["Goodwin"]


def test_a_zip_bomb_member_is_refused_and_the_rest_of_the_zip_read(
    clinic: Clinic, export: Path
) -> None:
    with zipfile.ZipFile(export / "export.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb.json", b" " * (8 * MiB))  # compresses about 1000 to 1
        archive.writestr("Patient.ndjson", _patient_line("z1", "Zipped") + "\n")
    result = _import(clinic, export)
    (problem,) = _about(result, "export/export.zip/bomb.json")
    assert "zip bomb" in problem.reason
    assert _families(clinic) == ["Goodwin", "Zipped"]


def test_a_csv_inside_a_zip_asks_to_unzip_and_the_json_beside_it_imports(
    clinic: Clinic, export: Path
) -> None:
    with zipfile.ZipFile(export / "export.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("patients.csv", "Id,FIRST,LAST,BIRTHDATE\np9,Ann,Zipcsv,1970-01-01\n")
        archive.writestr("Patient.ndjson", _patient_line("z2", "Zipjson") + "\n")
    result = _import(clinic, export)
    (problem,) = _about(result, "export/export.zip/patients.csv")
    assert "unzip" in problem.reason
    assert _families(clinic) == ["Goodwin", "Zipjson"]


def test_a_csv_with_a_ragged_row_names_its_line_and_keeps_the_others(
    clinic: Clinic, export: Path
) -> None:
    rows = [_csv_row("c1", "Row2"), "c2,1990-01-01,,,,,,Bo,Short", _csv_row("c3", "Row4")]
    (export / "patients.csv").write_text(
        "\n".join([PATIENT_CSV_HEADER, *rows]) + "\n", encoding="utf-8"
    )
    result = _import(clinic, export)
    ragged = [p for p in result.problems if p.location.startswith("export/patients.csv")]
    assert [p.location for p in ragged] == ["export/patients.csv, line 3"]
    assert "Short" not in _families(clinic)
    assert _families(clinic) == ["Goodwin", "Row2", "Row4"]


def test_a_bundle_entry_without_a_resource(clinic: Clinic, export: Path) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": {"resourceType": "Patient", "id": "b1", "name": [{"family": "First"}]}},
            {"fullUrl": "urn:uuid:0b4a6f0e-0000-4000-8000-000000000002"},
            {"request": {"method": "DELETE", "url": "Patient/b9"}},
            {"resource": {"resourceType": "Patient", "id": "b3", "name": [{"family": "Third"}]}},
        ],
    }
    (export / "b.json").write_text(json.dumps(bundle), encoding="utf-8")
    result = _import(clinic, export)
    assert len(_about(result, "export/b.json entry 2")) == 1
    assert len(_about(result, "export/b.json entry 3")) == 1
    assert _families(clinic) == ["First", "Goodwin", "Third"]


def test_every_bad_file_at_once_still_imports_the_good_one(clinic: Clinic, export: Path) -> None:
    (export / "scan.pdf").write_bytes(b"%PDF-1.7")
    (export / "empty.json").write_bytes(b"")
    (export / "config.json").write_text('{"a": 1}', encoding="utf-8")
    (export / "cut.json").write_text('{"resourceType": "Bundle", "entry": [', encoding="utf-8")
    result = _import(clinic, export)
    named = {p.location for p in result.problems}
    assert {
        "export/scan.pdf",
        "export/empty.json",
        "export/config.json",
        "export/cut.json",
    } <= named
    assert _families(clinic) == ["Goodwin"]
    assert result.batch_id is not None


# --- property: mutated resources beside a good patient ---------------------------------------

_SERIAL = itertools.count()
_DATE_FIELDS = {
    "Patient": "birthDate",
    "Encounter": "period",
    "Appointment": "start",
    "Condition": "onsetDateTime",
    "Practitioner": "birthDate",
}
_REF_FIELDS = {"Encounter": "subject", "Condition": "subject", "Appointment": "participant"}


def _base(kind: str, rid: str) -> dict[str, Any]:
    subject = {"reference": "Patient/good"}
    bases: dict[str, dict[str, Any]] = {
        "Patient": {
            "name": [{"family": "Mutant", "given": ["Max"]}],
            "birthDate": "1970-01-01",
            "gender": "male",
            "telecom": [{"system": "phone", "value": "(312) 555-0100"}],
            "address": [{"line": ["1 Main St"], "city": "Chicago", "postalCode": "60601"}],
            "identifier": [{"system": "http://emr.example.org/mrn", "value": f"M-{rid}"}],
        },
        "Practitioner": {
            "name": [{"family": "Okoye", "given": ["Ife"]}],
            "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567893"}],
        },
        "Encounter": {
            "status": "finished",
            "class": {"code": "AMB"},
            "subject": subject,
            "period": {"start": "2023-03-14T09:30:00-05:00", "end": "2023-03-14T10:00:00-05:00"},
        },
        "Appointment": {
            "status": "booked",
            "start": "2026-06-01T15:00:00Z",
            "end": "2026-06-01T15:30:00Z",
            "participant": [{"actor": subject, "status": "accepted"}],
        },
        "Condition": {
            "subject": subject,
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "44054006"}]},
            "onsetDateTime": "1998-07",
        },
    }
    return {"resourceType": kind, "id": rid, **bases[kind]}


_JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),  # JSON has neither
    st.text(max_size=20),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
_BAD_DATES = st.sampled_from(
    ["", "2023-13-45", "yesterday", "99999", "0000-00-00", "1974-1", "2023-02-30T25:61:00Z", "3000"]
)
_BAD_REFS = st.one_of(
    st.sampled_from(
        ["Patient/missing", "urn:uuid:nope", "#nope", "Patient?identifier=x|y", "", "http://x/"]
    ).map(lambda r: {"reference": r}),
    _JUNK,
)


@st.composite
def _mutated(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(sorted(_DATE_FIELDS)))
    resource = _base(kind, f"m{next(_SERIAL)}")
    fields = sorted(k for k in resource if k not in ("resourceType",))
    for _ in range(draw(st.integers(1, 3))):
        how = draw(st.sampled_from(["drop", "junk", "huge", "date", "ref"]))
        if how == "drop":
            resource.pop(draw(st.sampled_from(fields)), None)
        elif how == "junk":
            resource[draw(st.sampled_from(fields))] = draw(_JUNK)
        elif how == "huge":
            field = draw(st.sampled_from(["name", "id", "status", "gender"]))
            text = "x" * draw(st.sampled_from([10_000, 300_000]))
            resource[field] = [{"family": text}] if field == "name" else text
        elif how == "date":
            bad = draw(_BAD_DATES)
            field = _DATE_FIELDS[kind]
            resource[field] = {"start": bad} if field == "period" else bad
        else:
            field = _REF_FIELDS.get(kind, "managingOrganization")
            ref = draw(_BAD_REFS)
            resource[field] = [{"actor": ref}] if field == "participant" else ref
    return resource


_ISO_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(bad=_mutated())
def test_mutated_resources_never_break_the_import_of_the_good_patient(
    clinic: Clinic, tmp_path: Path, bad: dict[str, Any]
) -> None:
    # One clinic for every example: the good patient arrives once and is "unchanged" after.
    folder = tmp_path / "property"
    folder.mkdir(exist_ok=True)
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": GOOD}, {"resource": bad}],
    }
    path = folder / "mutated.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")

    rid = bad.get("id")

    def rows_of_rid() -> int:
        # Earlier examples share the clinic and may have stored a resource of that id.
        query = "SELECT count(*) FROM source_record WHERE value = ?"
        return int(clinic.conn.execute(query, (rid,)).fetchone()[0]) if isinstance(rid, str) else 0

    before = rows_of_rid()
    result = _import(clinic, path)  # no exception, whatever the mutation

    assert "Goodwin" in _families(clinic)
    good = result.counts["patients"]
    assert good.created + good.unchanged >= 1
    reported = [p for p in result.problems if p.location.startswith("mutated.json entry 2")]
    handled = sum(sum(c.as_dict().values()) for c in result.counts.values()) - 1
    assert reported or handled >= 1 or result.skipped_types, "the bad resource vanished"
    for problem in result.problems:
        assert len(problem.reason) < 500  # reasons never quote the huge values
    stored = sum(c.created + c.updated + c.unchanged for c in result.counts.values()) - 1
    if any(p.dropped for p in reported) and stored == 0:
        # Left out: not one row of it was added (nothing half-written).
        assert rows_of_rid() == before
    _assert_stored_sanely(clinic)


def _assert_stored_sanely(clinic: Clinic) -> None:
    for (birth,) in clinic.conn.execute("SELECT birth_date FROM patient"):
        assert birth is None or _ISO_DATE.match(birth), birth
    for start, end in clinic.conn.execute("SELECT start_at, end_at FROM appointment"):
        assert start is None or _UTC.match(start), start
        assert end is None or _UTC.match(end), end
    for (onset,) in clinic.conn.execute("SELECT onset FROM condition"):
        assert onset is None or _ISO_DATE.match(onset), onset
    orphans = clinic.conn.execute(
        "SELECT count(*) FROM appointment a LEFT JOIN patient p ON p.id = a.patient_id "
        "WHERE p.id IS NULL"
    ).fetchone()[0]
    assert orphans == 0


def test_the_error_report_never_runs_a_file_name_as_a_formula(
    clinic: Clinic, export: Path, tmp_path: Path
) -> None:
    # A file name is chosen by whoever made the export; in a spreadsheet it must stay text.
    (export / "=HYPERLINK(1).json").write_text("{not json", encoding="utf-8")
    result = _import(clinic, export)
    report = tmp_path / "report.csv"

    write_error_report(result, report)

    with report.open(encoding="utf-8-sig", newline="") as stream:
        rows = list(csv.reader(stream))
    assert rows[0] == ["Where", "Kind", "Problem", "Record left out"]
    bad = [row for row in rows[1:] if "HYPERLINK" in row[0]]
    assert bad and all(row[0].startswith("'") or not row[0].startswith("=") for row in bad)
    assert bad[0][0].startswith("export/=") and bad[0][3] == "yes"
    assert oct(report.stat().st_mode & 0o777) == "0o600"
    assert _families(clinic) == ["Goodwin"]


def test_deeply_nested_json_is_refused_by_name_and_the_rest_imports(
    clinic: Clinic, export: Path
) -> None:
    patient = {"resourceType": "Patient", "id": "deep", "name": [{"family": "Deep"}]}
    (export / "deep.json").write_text("[" * 1000 + json.dumps(patient) + "]" * 1000)
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "collection", "entry": []}
    inner = bundle
    for _ in range(40):  # bundles in bundles, far deeper than any export
        nested: dict[str, Any] = {"resourceType": "Bundle", "type": "collection", "entry": []}
        inner["entry"].append({"resource": nested})
        inner = nested
    (export / "nested-bundles.json").write_text(json.dumps(bundle))
    result = _import(clinic, export)  # no RecursionError escapes
    for name in ("export/deep.json", "export/nested-bundles.json"):
        found = [p for p in result.problems if p.location.startswith(name)]
        assert [p.reason for p in found] == [
            "is nested too deeply to be a FHIR export; it was skipped"
        ]
    assert _families(clinic) == ["Goodwin"]


def test_a_small_zip_of_many_compressible_members_is_refused_as_a_bomb(
    clinic: Clinic, export: Path
) -> None:
    # Each member stays under the per-member floor; together they unpack thousands to one.
    with zipfile.ZipFile(export / "small-bomb.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        for number in range(3):
            archive.writestr(f"part{number}.json", "[" + "0," * (2 * MiB - 10) + "0]")
    result = _import(clinic, export)
    (problem,) = _about(result, "export/small-bomb.zip")
    assert "zip bomb" in problem.reason
    assert _families(clinic) == ["Goodwin"]


def test_a_million_broken_lines_are_counted_not_kept_one_by_one(
    clinic: Clinic, export: Path
) -> None:
    from app.importers.writer import MAX_PROBLEMS

    lines = MAX_PROBLEMS + 2_500
    (export / "broken.ndjson").write_text("1\n" * lines, encoding="utf-8")
    result = _import(clinic, export)
    assert len(result.problems) == MAX_PROBLEMS  # memory stays bounded
    assert len(result.problems) + result.problems_not_listed == lines
    assert result.as_json()["problems_not_listed"] == 2_500
    assert _families(clinic) == ["Goodwin"]


def test_a_file_gone_between_plan_and_run_is_a_problem_not_a_failure(
    clinic: Clinic, export: Path
) -> None:
    (export / "Jane_Doe_1980.json").write_text(_patient_line("jd", "Doe"), encoding="utf-8")
    plan = plan_import(clinic, [export])
    (export / "Jane_Doe_1980.json").unlink()  # a sync tool moved it, say

    result = run_import(clinic, plan)

    (problem,) = _about(result, "export/Jane_Doe_1980.json")
    assert "could not be read any more" in problem.reason
    assert "Jane" not in problem.reason  # the name is the location's, never the reason's
    assert _families(clinic) == ["Goodwin"]


def test_a_csv_line_of_millions_of_fields_is_skipped_without_reading_it_whole(
    clinic: Clinic, export: Path
) -> None:
    header = "Id,BIRTHDATE,FIRST,LAST\n"
    good = "a1,1970-01-01,Ann,Linewell\n"
    huge = "2," * (3 * MiB) + "2\n"  # 6 MB on one line: no EMR row is like it
    after = "a2,1971-02-02,Bo,Afterline\n"
    (export / "patients.csv").write_text(header + good + huge + after, encoding="utf-8")
    result = _import(clinic, export)
    (problem,) = _about(result, "export/patients.csv, line 3")
    assert "longer than 4 MB" in problem.reason
    assert _families(clinic) == ["Afterline", "Goodwin", "Linewell"]
    assert not [p for p in result.problems if p.location.endswith("line 4")]
