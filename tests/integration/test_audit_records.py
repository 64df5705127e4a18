"""What the core writes to the audit log when data leaves or enters: exports and imports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from app.audit.log import head
from app.clinic import Clinic
from app.exports.csv_export import HEADER, export_patient_list
from app.importers.session import plan_import, run_import
from app.patients.listing import PatientListQuery
from app.reports.figure import Figure, write_csv
from app.users import add_user
from tests.integration.test_import_reimport import _first_export


def entries(clinic: Clinic, after: int = 0) -> list[dict[str, Any]]:
    return [
        json.loads(r[0])
        for r in clinic.conn.execute(
            "SELECT body FROM audit_event WHERE seq > ? ORDER BY seq", (after,)
        )
    ]


def test_a_patient_list_export_is_recorded_with_its_size_and_columns_not_its_search(
    demo_clinic: Clinic, tmp_path: Path
):
    manager = add_user(demo_clinic, "Morgan Ellis", "manager").id
    demo_clinic.acting_user_id = manager
    before = head(demo_clinic.conn).seq
    surname = demo_clinic.conn.execute("SELECT family_name FROM patient LIMIT 1").fetchone()[0]

    rows = export_patient_list(demo_clinic, PatientListQuery(text=surname), tmp_path / "list.csv")

    (entry,) = entries(demo_clinic, before)
    assert (entry["action"], entry["user_id"], entry["target"]) == (
        "export",
        manager,
        "list.csv",
    )
    assert entry["detail"]["rows"] == rows and entry["detail"]["columns"] == list(HEADER)
    assert entry["detail"]["filters"] == ["search"]
    assert surname not in json.dumps(entry)


def test_a_report_saved_as_csv_is_recorded_by_name_and_size(clinic: Clinic, tmp_path: Path):
    figure = Figure("Visits by month", ("Month", "Visits"), (("Mar 2025", 12), ("Apr 2025", 9)))
    before = head(clinic.conn).seq

    write_csv(figure, tmp_path / "visits.csv", clinic=clinic)

    (entry,) = entries(clinic, before)
    assert (entry["action"], entry["target"]) == ("export", "visits.csv")
    assert entry["detail"] == {
        "report": "Visits by month",
        "rows": 2,
        "columns": ["Month", "Visits"],
    }


def test_an_import_is_recorded_with_its_counts_in_the_same_transaction(
    clinic: Clinic, tmp_path: Path
):
    folder = tmp_path / "export"
    folder.mkdir()
    before = head(clinic.conn).seq

    result = run_import(clinic, plan_import(clinic, [_first_export(folder)]))

    imported, change = entries(clinic, before)  # the change entry is written at commit
    assert change["action"] == "change" and change["detail"]["tables"]["patient"] == 1
    assert imported["action"] == "import" and imported["target"] == result.batch_id
    assert imported["detail"]["records"]["patients"]["created"] == 1
    assert imported["detail"]["files"] == 1
    assert "export.json" not in json.dumps(imported)  # file names may name a patient
    assert "Lindqvist" not in json.dumps([change, imported])


def test_a_dry_run_import_leaves_no_entry(clinic: Clinic, tmp_path: Path):
    folder = tmp_path / "export"
    folder.mkdir()
    before = head(clinic.conn)

    run_import(clinic, plan_import(clinic, [_first_export(folder)]), dry_run=True)

    assert head(clinic.conn) == before
