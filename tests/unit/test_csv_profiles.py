"""Mapping profiles and row validation: Synthea layouts of every release, a user's own
profile saved as JSON, and rows that fail without leaking what they held."""

from __future__ import annotations

import csv
import datetime
import io
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from app.errors import InvalidInputError
from app.importers.csv import (
    SYNTHEA_PROFILES,
    CsvAllergy,
    CsvCondition,
    CsvPatient,
    CsvProvider,
    CsvRow,
    DateFormat,
    Kind,
    MissingColumnsError,
    Profile,
    RecordStream,
    RowProblem,
    RowValidator,
    detect_profile,
    detect_synthea_table,
    plan_file,
)

TODAY = datetime.date(2025, 6, 1)

NEW_PATIENTS = [
    "Id",
    "BIRTHDATE",
    "DEATHDATE",
    "SSN",
    "DRIVERS",
    "PASSPORT",
    "PREFIX",
    "FIRST",
    "MIDDLE",
    "LAST",
    "SUFFIX",
    "MAIDEN",
    "MARITAL",
    "RACE",
    "ETHNICITY",
    "GENDER",
    "BIRTHPLACE",
    "ADDRESS",
    "CITY",
    "STATE",
    "COUNTY",
    "FIPS",
    "ZIP",
    "LAT",
    "LON",
    "HEALTHCARE_EXPENSES",
    "HEALTHCARE_COVERAGE",
    "INCOME",
]


def _write_dicts(path: Path, header: list[str], rows: list[dict[str, str]]) -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def test_newer_patients_layout_in_another_order_maps_by_name(tmp_path: Path) -> None:
    header = [*reversed(NEW_PATIENTS), "SOMETHING_NEW"]
    row = dict.fromkeys(header, "")
    row.update(
        Id="p-1",
        BIRTHDATE="1950-07-04",
        DEATHDATE="2020-01-31",
        FIRST="Glenn0",
        MIDDLE="Ray12",
        LAST="O'Keefe54",
        GENDER="F",
        ZIP="00501",
        DRIVERS="S99912345",
        PASSPORT="X1234567X",
        FIPS="25017",
        INCOME="51000",
    )
    path = _write_dicts(tmp_path / "export_patients_v3.csv", header, [row])
    plan = plan_file(path)
    assert plan.table == "patients"
    [patient] = [p for p in RecordStream(plan, today=TODAY) if isinstance(p, CsvPatient)]
    assert patient.given_names == "Glenn0 Ray12"
    assert patient.family_name == "O'Keefe54"
    assert patient.sex == "female"
    assert patient.deceased_date == datetime.date(2020, 1, 31)
    assert patient.address is not None and patient.address.postal_code == "00501"
    assert [i.kind for i in patient.identifiers] == ["DL", "PPN"]


@pytest.mark.parametrize(
    ("header", "file_name", "table"),
    [
        ("START,STOP,PATIENT,ENCOUNTER,SYSTEM,CODE,DESCRIPTION", None, "conditions"),
        ("START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION", "conditions.csv", "conditions"),
        ("START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION", "allergies.csv", "allergies"),
        ("START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION", "export.csv", None),
        ("START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION,UDI", "conditions.csv", "devices"),
        (
            "Id,NAME,ADDRESS,CITY,STATE,ZIP,LAT,LON,PHONE,REVENUE,UTILIZATION,NPI",
            None,
            "organizations",
        ),
        (
            "Id,ORGANIZATION,NAME,GENDER,SPECIALITY,ADDRESS,CITY,STATE,ZIP,LAT,LON,ENCOUNTERS,"
            "PROCEDURES,NPI",
            None,
            "providers",
        ),
        ("Id,NAME,OWNERSHIP,ADDRESS,CITY,STATE_HEADQUARTERED,ZIP,PHONE", None, "payers"),
        ("id,birthdate,first,last,gender,zip,email,phone", None, "patients"),
        ("MRN,Surname,Given", None, None),
    ],
)
def test_synthea_tables_are_recognised_by_header(
    header: str, file_name: str | None, table: str | None
) -> None:
    assert detect_synthea_table(header.split(","), file_name) == table


def test_tables_not_imported_have_no_profile() -> None:
    assert (
        detect_profile(["START", "STOP", "PATIENT", "ENCOUNTER", "CODE", "DESCRIPTION", "UDI"])
        is None
    )
    assert detect_profile(NEW_PATIENTS) is SYNTHEA_PROFILES["patients"]


def test_newer_conditions_and_allergies_use_their_system_column(tmp_path: Path) -> None:
    cond = _write_dicts(
        tmp_path / "conditions.csv",
        ["START", "STOP", "PATIENT", "ENCOUNTER", "SYSTEM", "CODE", "DESCRIPTION"],
        [{"START": "2020-01-01", "PATIENT": "p", "SYSTEM": "ICD-10", "CODE": "J06.9"}],
    )
    [condition] = [c for c in RecordStream(plan_file(cond), today=TODAY)]
    assert isinstance(condition, CsvCondition)
    assert condition.code_system == "http://hl7.org/fhir/sid/icd-10"
    allergy_header = [
        "START",
        "STOP",
        "PATIENT",
        "ENCOUNTER",
        "CODE",
        "SYSTEM",
        "DESCRIPTION",
        "TYPE",
        "CATEGORY",
        "REACTION1",
        "DESCRIPTION1",
        "SEVERITY1",
        "REACTION2",
        "DESCRIPTION2",
        "SEVERITY2",
    ]
    alg = _write_dicts(
        tmp_path / "allergies.csv",
        allergy_header,
        [
            {
                "START": "2009-09-27",
                "PATIENT": "p",
                "CODE": "1191",
                "SYSTEM": "RxNorm",
                "TYPE": "allergy",
                "CATEGORY": "medication",
                "REACTION1": "247472004",
                "DESCRIPTION1": "Wheal (finding)",
                "SEVERITY1": "MILD",
            }
        ],
    )
    [allergy] = list(RecordStream(plan_file(alg), today=TODAY))
    assert isinstance(allergy, CsvAllergy)
    assert allergy.code_system == "http://www.nlm.nih.gov/research/umls/rxnorm"
    assert [(r.code, r.severity) for r in allergy.reactions] == [("247472004", "mild")]


def test_provider_with_separate_name_columns(tmp_path: Path) -> None:
    path = _write_dicts(
        tmp_path / "providers.csv",
        ["Id", "NAME", "FIRST", "LAST", "NPI", "PHONE"],
        [{"Id": "d1", "FIRST": "Ada", "LAST": "Okafor", "NPI": "1234567893"}],
    )
    [provider] = list(RecordStream(plan_file(path), today=TODAY))
    assert isinstance(provider, CsvProvider)
    assert (provider.given_names, provider.family_name) == ("Ada", "Okafor")
    assert provider.identifiers[0].kind == "NPI"


def _user_profile() -> Profile:
    return Profile(
        name="Clinic EMR patients",
        kind=Kind.PATIENT,
        columns={
            "source_id": ("Chart No",),
            "last": ("Surname",),
            "first": ("Given name",),
            "birth_date": ("DOB",),
            "phone": ("Phone",),
            "email": ("E-mail",),
        },
    )


def test_user_profile_round_trips_through_json(tmp_path: Path) -> None:
    profile = _user_profile()
    profile.save(tmp_path / "profile.json")
    assert Profile.load(tmp_path / "profile.json") == profile
    # A hand-edited file may give one column as a plain string.
    text = profile.to_json().replace('[\n      "Surname"\n    ]', '"Surname"')
    assert Profile.from_json(text).columns["last"] == ("Surname",)


@pytest.mark.parametrize("text", ["", "[]", '{"name": "x"}', '{"kind": "pet", "columns": {}}'])
def test_damaged_profile_is_refused_plainly(text: str) -> None:
    with pytest.raises(InvalidInputError, match="damaged"):
        Profile.from_json(text)


def test_user_profile_reads_an_ambiguous_us_file_once_the_format_is_chosen(
    tmp_path: Path,
) -> None:
    header = ["Chart No", "Surname", "Given name", "DOB", "Phone", "E-mail"]
    path = _write_dicts(
        tmp_path / "emr.csv",
        header,
        [
            {
                "Chart No": "A1",
                "Surname": "Lee",
                "DOB": "03/04/1975",
                "Phone": "(415) 555-2671",
                "E-mail": "Ann.Lee@Example.com",
            },
            {
                "Chart No": "A2",
                "Surname": "Chu",
                "DOB": "11/12/1980",
                "Phone": "call me",
                "E-mail": "not-an-address",
            },
        ],
    )
    plan = plan_file(path, profile=_user_profile())
    assert plan.needs_date_choice and plan.dates is not None and plan.dates.ambiguous
    items = list(RecordStream(plan, date_format=DateFormat.EU, today=TODAY))
    patients = [i for i in items if isinstance(i, CsvPatient)]
    warnings = [i for i in items if isinstance(i, RowProblem)]
    assert [p.birth_date for p in patients] == ["1975-04-03", "1980-12-11"]
    assert patients[0].phones[0].number == "+14155552671"
    assert patients[0].emails == ("ann.lee@example.com",)
    assert {(w.line, w.field, w.severity) for w in warnings} == {
        (3, "Phone", "warning"),
        (3, "E-mail", "warning"),
    }
    assert all("call me" not in w.reason and "not-an-address" not in w.reason for w in warnings)


def test_missing_required_column_fails_before_reading(tmp_path: Path) -> None:
    path = _write_dicts(tmp_path / "emr.csv", ["Surname", "DOB"], [{"Surname": "Lee"}])
    plan = plan_file(path, profile=_user_profile())
    with pytest.raises(MissingColumnsError, match="Chart No") as caught:
        RecordStream(plan, date_format=DateFormat.ISO, today=TODAY)
    assert caught.value.fields == ("source_id",)


def test_bad_rows_name_line_and_field_but_not_the_value(tmp_path: Path) -> None:
    header = NEW_PATIENTS
    rows = [
        {"Id": "ok", "FIRST": "Ann", "LAST": "Lee", "BIRTHDATE": "1980-01-02"},
        {"Id": "", "FIRST": "No", "LAST": "Id", "BIRTHDATE": "1980-01-02"},
        {"Id": "x", "FIRST": "Bad", "LAST": "Date", "BIRTHDATE": "1980-13-45"},
        {"Id": "y", "FIRST": "", "LAST": "", "BIRTHDATE": "1980-01-02"},
        {"Id": "z", "FIRST": "Fut", "LAST": "Ure", "BIRTHDATE": "2099-01-01"},
    ]
    path = _write_dicts(tmp_path / "patients.csv", header, rows)
    items = list(RecordStream(plan_file(path), today=TODAY))
    problems = [i for i in items if isinstance(i, RowProblem)]
    assert [(p.line, p.field) for p in problems] == [
        (3, "Id"),
        (4, "BIRTHDATE"),
        (5, "LAST"),
        (6, "BIRTHDATE"),
    ]
    assert all(p.severity == "error" for p in problems)
    assert "1980-13-45" not in problems[1].reason
    assert "YYYY-MM-DD" in problems[1].reason
    assert str(problems[0]).startswith("patients.csv, line 3, Id:")
    assert sum(isinstance(i, CsvPatient) for i in items) == 1


def _all_columns(profile: Profile) -> list[str]:
    return [names[0] for names in profile.columns.values()]


@settings(max_examples=300, deadline=None)
@given(
    table=st.sampled_from(sorted(SYNTHEA_PROFILES)),
    values=st.lists(st.text(max_size=40), min_size=30, max_size=30),
    fmt=st.sampled_from(list(DateFormat)),
)
@example(  # found by CI: the date format named in a message is not the data echoed
    table="allergies",
    values=["0", "", "", "0", "", "0", *[""] * 23, "YYYY-MM-"],
    fmt=DateFormat.ISO,
)
def test_random_field_strings_never_crash_the_validator(
    table: str, values: list[str], fmt: DateFormat
) -> None:
    profile = SYNTHEA_PROFILES[table]
    header = _all_columns(profile)
    validator = RowValidator(profile.bind(header), file_name="f.csv", date_format=fmt, today=TODAY)
    row = CsvRow(7, dict(zip(header, values, strict=False)))
    record, problems = validator.validate(row)
    assert (record is None) == any(p.severity == "error" for p in problems)
    for problem in problems:
        assert problem.line == 7 and problem.file_name == "f.csv"
        # Long enough not to be a word of our own messages by chance.
        for value in values:
            shown = value.strip()
            if len(shown) >= 8 and shown in problem.reason:
                # Hypothesis also tries the code's own literals ("YYYY-MM-" of the date
                # format named in a message): that is our wording, not the data, when it
                # stays once the fields holding it say something else.
                other = ["0" if v == value else v for v in values]
                _record, again = validator.validate(
                    CsvRow(7, dict(zip(header, other, strict=False)))
                )
                assert any(shown in p.reason for p in again)
