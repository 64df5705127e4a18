"""Reading the audit log (app.audit.query): filters, pages, names, and the CSV export."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

import pytest

from app.audit import actions
from app.audit.log import record
from app.audit.query import AuditFilter, cursor_of, entries, export_csv
from app.clinic import Clinic
from app.errors import InvalidInputError, PermissionDeniedError
from app.patients import records
from app.patients.model import PatientDraft
from app.users import add_user


@pytest.fixture
def manager(clinic: Clinic) -> str:
    user = add_user(clinic, "Morgan Ellis", "manager").id
    clinic.acting_user_id = user
    return user


def test_filters_narrow_by_person_kind_and_patient_and_name_them(clinic: Clinic, manager: str):
    dana = add_user(clinic, "Dana Reyes", "receptionist").id
    patient = records.create_patient(clinic, PatientDraft("Okafor", "Adaeze")).id
    record(clinic, actions.PATIENT_VIEW, patient_id=patient, user_id=dana)
    record(clinic, actions.PRINT, detail={"letters": 3}, user_id=dana)
    record(clinic, actions.PATIENT_VIEW, patient_id=patient)

    dana_views = entries(clinic, AuditFilter(user_id=dana, actions=(actions.PATIENT_VIEW,)))
    assert [(r.user_name, r.patient_name, r.kind) for r in dana_views] == [
        ("Dana Reyes", "Okafor, Adaeze", "Patient opened")
    ]
    about_her = entries(clinic, AuditFilter(patient_id=patient))
    assert [r.action for r in about_her] == ["patient.view", "patient.view", "change"]
    printed = entries(clinic, AuditFilter(actions=(actions.PRINT,)))
    assert printed[0].summary == "3 letters"


def test_days_are_the_clinics_and_an_empty_range_is_refused(clinic: Clinic, manager: str):
    record(clinic, actions.SIGN_IN)
    today = date.today()
    assert entries(clinic, AuditFilter(first=today - timedelta(days=1), last=today + timedelta(1)))
    assert not entries(clinic, AuditFilter(last=today - timedelta(days=2)))
    with pytest.raises(InvalidInputError):
        AuditFilter(first=today, last=today - timedelta(days=1))


def test_pages_follow_each_other_newest_first_without_repeats(clinic: Clinic, manager: str):
    for i in range(25):
        record(clinic, actions.PATIENT_VIEW, patient_id=f"p{i}")
    seen: list[int] = []
    page = entries(clinic, AuditFilter(), limit=10)
    while page:
        seen.extend(r.seq for r in page)
        page = entries(clinic, AuditFilter(), after=cursor_of(page[-1]), limit=10)
    assert seen == sorted(seen, reverse=True) and len(seen) == len(set(seen))
    assert len(seen) == clinic.conn.execute("SELECT count(*) FROM audit_event").fetchone()[0]


def test_a_receptionist_cannot_read_the_log(clinic: Clinic, dana: str):
    with pytest.raises(PermissionDeniedError):
        entries(clinic, AuditFilter())


def test_the_export_is_formula_safe_names_patients_by_id_and_is_itself_recorded(
    clinic: Clinic, manager: str, tmp_path: Path
):
    add_user(clinic, "=HYPERLINK(1)", "receptionist")
    odd = clinic.conn.execute("SELECT id FROM app_user WHERE name LIKE '=%'").fetchone()[0]
    patient = records.create_patient(clinic, PatientDraft("Okafor", "Adaeze")).id
    record(clinic, actions.PATIENT_VIEW, patient_id=patient, user_id=odd)

    rows = export_csv(clinic, AuditFilter(user_id=odd), tmp_path / "audit.csv")

    with (tmp_path / "audit.csv").open(encoding="utf-8-sig", newline="") as f:
        table = list(csv.reader(f))
    assert rows == 1 and table[0][0] == "Entry"
    assert table[1][3] == "'=HYPERLINK(1)" and table[1][8] == patient
    assert "Okafor" not in (tmp_path / "audit.csv").read_text(encoding="utf-8-sig")
    newest = entries(clinic, AuditFilter(actions=(actions.AUDIT_EXPORT,)))
    assert newest[0].target == "audit.csv" and newest[0].detail["entries"] == 1
