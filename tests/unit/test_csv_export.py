"""Exporting the patients list: safe in a spreadsheet, complete, in order, all or nothing."""

from __future__ import annotations

import csv
import os
import stat
import sys
from pathlib import Path

import pytest

from app.clinic import Clinic
from app.exports.csv_export import HEADER, export_patient_list, safe_cell
from app.growth.acquisition import labels, set_patient_source
from app.ops import CancelToken, OperationCancelledError
from app.patients.listing import PatientListQuery, page
from app.patients.model import PatientDraft, PhoneDraft
from app.patients.records import add_tag, create_patient
from tests.support.acting import administrator_acting  # noqa: F401


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("+1 612 555 0101", "'+1 612 555 0101"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\rcmd", "'\rcmd"),
        ("  =1+1", "'  =1+1"),  # leading spaces do not disarm a formula
        ("＝1+1", "'＝1+1"),  # full-width equals
        ("＋1", "'＋1"),
        ("－1", "'－1"),
        ("＠A1", "'＠A1"),
        ("(612) 555-0101", "(612) 555-0101"),  # national phone form stays as it is
        ("O'Brien, Mary-Kate", "O'Brien, Mary-Kate"),
        ("1975-03-14", "1975-03-14"),
        ("", ""),
    ],
)
def test_cells_that_a_spreadsheet_would_run_are_made_text(value: str, expected: str) -> None:
    assert safe_cell(value) == expected


def _read(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f))


@pytest.fixture
def patients(clinic: Clinic) -> list[str]:
    ids = [
        create_patient(
            clinic,
            PatientDraft(
                family_name="=cmd|' /C calc'!A0",
                given_names="Eve",
                birth_date="1980-01-02",
                phones=(PhoneDraft("(612) 555-0199"),),
            ),
        ).id,
        create_patient(
            clinic, PatientDraft(family_name="Núñez", given_names="José, Jr.", birth_date="1990")
        ).id,
        create_patient(clinic, PatientDraft(family_name="Smith", given_names="Ирина")).id,
        create_patient(clinic, PatientDraft(family_name="Smith", given_names="Bob")).id,
    ]
    add_tag(clinic, ids[1], "@risk")
    return ids


def test_export_round_trips_through_the_csv_module_with_bom_and_header(
    clinic: Clinic, patients: list[str], tmp_path: Path
) -> None:
    target = tmp_path / "patients-2026-11-28.csv"
    written = export_patient_list(clinic, PatientListQuery(), target)
    assert written == 4
    assert target.read_bytes().startswith(b"\xef\xbb\xbf")
    rows = _read(target)
    assert tuple(rows[0]) == HEADER
    names = [r[0] for r in rows[1:]]
    shown = [r.display_name for r in page(clinic, PatientListQuery(), 0, 10)]
    assert names == [safe_cell(n) for n in shown]  # same rows, same order as the screen
    assert "'=cmd|' /C calc'!A0, Eve" in names
    assert "Núñez, José, Jr." in names
    assert rows[names.index("Núñez, José, Jr.") + 1][8] == "'@risk"
    eve = rows[names.index("'=cmd|' /C calc'!A0, Eve") + 1]
    assert eve[3] == "(612) 555-0199"
    assert not list(tmp_path.glob(".frontdesk-export-*"))  # no temp file left


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
def test_export_is_readable_by_its_owner_only(
    clinic: Clinic, patients: list[str], tmp_path: Path
) -> None:
    target = tmp_path / "out.csv"
    export_patient_list(clinic, PatientListQuery(), target)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600


def test_export_holds_only_the_rows_of_the_filter_in_its_order(
    clinic: Clinic, patients: list[str], tmp_path: Path
) -> None:
    target = tmp_path / "smiths.csv"
    query = PatientListQuery(text="smith", sort="name", descending=True)
    assert export_patient_list(clinic, query, target) == 2
    assert [r[0] for r in _read(target)[1:]] == ["Smith, Ирина", "Smith, Bob"]


def test_cancelled_export_leaves_no_file_behind(
    clinic: Clinic, patients: list[str], tmp_path: Path
) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    target = folder / "cancelled.csv"
    cancel = CancelToken()

    def progress(done: int, total: int, what: str) -> None:
        if done:
            cancel.cancel()

    with pytest.raises(OperationCancelledError):
        export_patient_list(clinic, PatientListQuery(), target, progress, cancel)
    assert list(folder.iterdir()) == []


def test_cancelled_export_keeps_an_older_file_of_the_same_name(
    clinic: Clinic, patients: list[str], tmp_path: Path
) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    target = folder / "list.csv"
    target.write_text("yesterday's list", "utf-8")
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(OperationCancelledError):
        export_patient_list(clinic, PatientListQuery(), target, cancel=cancel)
    assert target.read_text("utf-8") == "yesterday's list"
    assert [p.name for p in folder.iterdir()] == ["list.csv"]


def test_the_source_column_reads_as_the_channel_the_desk_chose_not_its_key(
    clinic: Clinic, tmp_path: Path
) -> None:
    pid = create_patient(clinic, PatientDraft(family_name="Okafor", given_names="Ada")).id
    set_patient_source(clinic, pid, "search")
    target = tmp_path / "out.csv"
    export_patient_list(clinic, PatientListQuery(), target)
    rows = _read(target)
    source = rows[1][HEADER.index("Acquisition source")]
    assert source == labels(clinic)["search"]
    assert source != "search"


def test_a_receptionist_cannot_export_the_patients_list(clinic: Clinic, tmp_path: Path) -> None:
    from app.errors import PermissionDeniedError
    from app.patients.listing import PatientListQuery
    from app.users import add_user

    clinic.acting_user_id = add_user(clinic, "Dana Reyes", "receptionist").id
    target = tmp_path / "patients.csv"
    with pytest.raises(PermissionDeniedError, match="Only a manager or administrator"):
        export_patient_list(clinic, PatientListQuery(), target)
    assert not target.exists()
