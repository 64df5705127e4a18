"""The Patients page on the demo clinic: lazy table, sorting, filtering, opening, export."""

from __future__ import annotations

import csv
import os
from pathlib import Path

from PySide6.QtCore import QModelIndex, QPoint, Qt
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.exports.csv_export import HEADER
from app.patients.listing import PatientListQuery, count
from app.patients.records import add_tag
from tests.support.acting import administrator_acting  # noqa: F401
from ui.bus import DataBus
from ui.patients_page import COLUMNS, PAGE_SIZE, PatientsPage


def _page(qtbot: QtBot, clinic: Clinic) -> PatientsPage:
    page = PatientsPage(clinic, DataBus())
    qtbot.addWidget(page)
    page.resize(1280, 720)
    page.show()
    page.activateWindow()
    qtbot.waitUntil(page.isActiveWindow)
    qtbot.waitUntil(lambda: not page.counting, timeout=10_000)
    return page


def _names(page: PatientsPage) -> list[str]:
    model = page.model
    return [model.index(r, 0).data() for r in range(model.rowCount())]


def test_table_loads_a_page_at_a_time_as_it_is_scrolled(qtbot: QtBot, demo_clinic: Clinic) -> None:
    page = _page(qtbot, demo_clinic)
    living = count(demo_clinic, PatientListQuery())
    assert living > PAGE_SIZE  # the demo clinic needs more than one page
    assert page.model.rowCount() == PAGE_SIZE
    assert page.model.canFetchMore(QModelIndex())
    page.model.fetchMore(QModelIndex())
    assert page.model.rowCount() == living
    assert not page.model.canFetchMore(QModelIndex())
    assert page.count_label.text() == f"{living:,} patients"


def _click_heading(qtbot: QtBot, page: PatientsPage, title: str) -> None:
    column = [c.title for c in COLUMNS].index(title)
    header = page.table.horizontalHeader()
    x = header.sectionViewportPosition(column) + header.sectionSize(column) // 2
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, 5))


def test_clicking_a_heading_sorts_by_it_and_again_reverses(
    qtbot: QtBot, demo_clinic: Clinic
) -> None:
    page = _page(qtbot, demo_clinic)
    _click_heading(qtbot, page, "Birth date")
    assert page.query.sort == "birth_date"
    births = [page.model.row(r).birth_date or "" for r in range(page.model.rowCount())]
    assert births == sorted(births)
    _click_heading(qtbot, page, "Birth date")
    assert page.query.descending
    births = [page.model.row(r).birth_date or "" for r in range(page.model.rowCount())]
    assert births == sorted(births, reverse=True)


def test_clicking_a_heading_without_an_order_changes_nothing(
    qtbot: QtBot, demo_clinic: Clinic
) -> None:
    page = _page(qtbot, demo_clinic)
    before = _names(page)
    _click_heading(qtbot, page, "Email")
    assert page.query.sort == "name"
    assert _names(page) == before
    assert page.table.horizontalHeader().sortIndicatorSection() == 0


def test_typing_a_filter_narrows_the_list_after_a_pause(qtbot: QtBot, demo_clinic: Clinic) -> None:
    page = _page(qtbot, demo_clinic)
    family = page.model.index(0, 0).data().split(",")[0]
    qtbot.keyClicks(page.filter, family)
    qtbot.waitUntil(lambda: page.query.text == family)
    names = _names(page)
    assert names and len(names) < PAGE_SIZE
    assert all(family.lower() in n.lower() for n in names)
    qtbot.waitUntil(lambda: not page.counting, timeout=10_000)
    assert page.count_label.text().startswith(f"{len(names)} patient")


def test_enter_in_the_table_opens_the_patient(qtbot: QtBot, demo_clinic: Clinic) -> None:
    page = _page(qtbot, demo_clinic)
    page.filter.setFocus()
    qtbot.keyClick(page.filter, Qt.Key.Key_Down)  # from the filter into the table
    assert page.table.hasFocus()
    qtbot.keyClick(page.table, Qt.Key.Key_Down)
    expected = page.model.patient_id(1)
    with qtbot.waitSignal(page.open_patient) as opened:
        qtbot.keyClick(page.table, Qt.Key.Key_Return)
    assert opened.args == [expected]


def test_toggles_filter_by_upcoming_appointment_and_tag(qtbot: QtBot, demo_clinic: Clinic) -> None:
    page = _page(qtbot, demo_clinic)
    everyone = count(demo_clinic, PatientListQuery())
    page.upcoming.setChecked(True)
    qtbot.waitUntil(lambda: not page.counting, timeout=10_000)
    upcoming = count(demo_clinic, PatientListQuery(upcoming_only=True))
    assert 0 < upcoming < everyone
    assert page.count_label.text() == f"{upcoming:,} patients"
    page.upcoming.setChecked(False)

    someone = page.model.patient_id(3)
    assert someone is not None
    bus_changes = add_tag(demo_clinic, someone, "interpreter")
    page.bus.publish(bus_changes)  # the page refreshes its choices from the bus
    page.tag.setCurrentIndex(page.tag.findData("interpreter"))
    assert [page.model.patient_id(r) for r in range(page.model.rowCount())] == [someone]


def test_export_writes_the_list_as_shown(qtbot: QtBot, demo_clinic: Clinic, tmp_path: Path) -> None:
    page = _page(qtbot, demo_clinic)
    page.upcoming.setChecked(True)
    target = tmp_path / "patients-2026-11-28.csv"
    page.export_to(target)
    qtbot.waitUntil(lambda: page.status.text().startswith("Saved"), timeout=30_000)
    with target.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == HEADER
    written = count(demo_clinic, PatientListQuery(upcoming_only=True))
    assert len(rows) - 1 == written
    assert page.status.text() == f"Saved {written:,} patients to {target.name}."
    page.model.fetchMore(QModelIndex())
    shown = [n.replace("  (deceased)", "") for n in _names(page)]
    assert [r[0].lstrip("'") for r in rows[1:]] == shown


def test_screenshot_of_the_patients_page(qtbot: QtBot, demo_clinic: Clinic, tmp_path: Path) -> None:
    """FRONTDESK_SCREENSHOTS=1 writes it to docs/screenshots/ for the user guide; a plain
    test run leaves the checkout as it was."""
    page = _page(qtbot, demo_clinic)
    page.table.selectRow(2)
    docs = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    target = (docs if os.environ.get("FRONTDESK_SCREENSHOTS") else tmp_path) / "patients.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    assert page.grab().save(str(target))
