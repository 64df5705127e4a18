"""The Audit log tab: managers read, filter, check and save it; receptionists are told why not."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import QModelIndex
from pytestqt.qtbot import QtBot

from app.audit import actions
from app.audit.log import record
from app.clinic import Clinic
from app.patients import records
from app.patients.model import PatientDraft
from app.users import add_user
from tests.ui.test_accessibility import unnamed_controls
from ui.audit.viewer import AuditTab
from ui.bus import DataBus


@pytest.fixture
def manager(clinic: Clinic) -> str:
    user = add_user(clinic, "Morgan Ellis", "manager").id
    clinic.acting_user_id = user
    return user


def make_tab(qtbot: QtBot, clinic: Clinic) -> AuditTab:
    tab = AuditTab(clinic, DataBus())
    qtbot.addWidget(tab)
    tab.resize(1280, 720)
    tab.show()
    return tab


def test_a_receptionist_is_told_the_log_is_for_managers(qtbot: QtBot, clinic: Clinic, dana: str):
    record(clinic, actions.SIGN_IN)
    tab = make_tab(qtbot, clinic)
    assert tab.notice.isVisible() and not tab.body.isVisible()
    assert tab.model.rowCount() == 0


def test_entries_show_who_what_and_whom_and_load_as_scrolled(
    qtbot: QtBot, clinic: Clinic, manager: str
):
    patient = records.create_patient(clinic, PatientDraft("Okafor", "Adaeze")).id
    for _ in range(450):
        record(clinic, actions.PATIENT_VIEW, patient_id=patient)
    tab = make_tab(qtbot, clinic)

    assert tab.model.rowCount() == 200 and tab.model.canFetchMore(QModelIndex())
    newest = [tab.model.data(tab.model.index(0, c)) for c in range(7)]
    assert newest[1:4] == ["Morgan Ellis", "Patient opened", "Okafor, Adaeze"]
    tab.table.scrollToBottom()
    qtbot.waitUntil(lambda: tab.model.rowCount() > 200)
    assert not unnamed_controls(tab)


def test_filters_by_kind_and_by_patient(qtbot: QtBot, clinic: Clinic, manager: str):
    patient = records.create_patient(clinic, PatientDraft("Okafor", "Adaeze")).id
    record(clinic, actions.PATIENT_VIEW, patient_id=patient)
    record(clinic, actions.PRINT, detail={"letters": 2})
    tab = make_tab(qtbot, clinic)

    tab.kind.setCurrentIndex(tab.kind.findData(actions.PRINT))
    assert [r.action for r in tab.model.rows] == ["print"]
    tab.kind.setCurrentIndex(0)
    tab.patient.setText("Okafor")
    menu = tab.find_patient()
    assert menu is not None
    menu.actions()[0].trigger()
    assert tab.patient_id == patient
    assert {r.patient_id for r in tab.model.rows} == {patient}
    tab.patient.clear()
    assert not tab.patient_id and len(tab.model.rows) > 2


def test_check_the_chain_says_intact_then_names_a_changed_entry(
    qtbot: QtBot, clinic: Clinic, manager: str
):
    record(clinic, actions.SIGN_IN)
    tab = make_tab(qtbot, clinic)
    op = tab.check_chain()
    qtbot.waitUntil(lambda: op.finished, timeout=10_000)
    assert tab.result.text().startswith("The audit log is intact:")
    newest = clinic.conn.execute("SELECT action FROM audit_event ORDER BY seq DESC").fetchone()
    assert newest[0] == "audit.verify"  # the check is on record too

    clinic.conn.execute("DROP TRIGGER audit_event_no_update")
    clinic.conn.execute("UPDATE audit_event SET hash = zeroblob(32) WHERE seq = 2")
    op = tab.check_chain()
    qtbot.waitUntil(lambda: op.finished, timeout=10_000)
    assert "The audit log is broken: entry 2 (" in tab.result.text()


def test_save_as_csv_writes_the_entries_shown(
    qtbot: QtBot, clinic: Clinic, manager: str, tmp_path: Path
):
    record(clinic, actions.PRINT, detail={"letters": 2})
    tab = make_tab(qtbot, clinic)
    tab.kind.setCurrentIndex(tab.kind.findData(actions.PRINT))

    op = tab.save_csv_to(tmp_path / "audit.csv")
    assert op is not None
    qtbot.waitUntil(lambda: op.finished, timeout=10_000)

    lines = (tmp_path / "audit.csv").read_text(encoding="utf-8-sig").splitlines()
    assert len(lines) == 2 and "Printed" in lines[1]
    assert tab.result.text() == "Saved 1 entry to audit.csv."
    if os.environ.get("FRONTDESK_SCREENSHOTS"):
        tab.grab().save(str(Path(os.environ["FRONTDESK_SCREENSHOTS"]) / "audit-viewer.png"))
