"""The Patients page's Group box: a saved group narrows the list, its count and export."""

from __future__ import annotations

import csv
from pathlib import Path

from PySide6.QtCore import QModelIndex
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.growth import segments
from app.growth.segments import Segment, SegmentTerms
from app.store.changes import Changes
from tests.support.acting import administrator_acting  # noqa: F401
from ui.bus import DataBus
from ui.patients_page import PatientsPage


def _page(qtbot: QtBot, clinic: Clinic, bus: DataBus | None = None) -> PatientsPage:
    page = PatientsPage(clinic, bus or DataBus())
    qtbot.addWidget(page)
    page.resize(1280, 720)
    page.show()
    page.activateWindow()
    qtbot.waitUntil(page.isActiveWindow)
    qtbot.waitUntil(lambda: not page.counting, timeout=10_000)
    return page


def _save(clinic: Clinic, name: str, terms: SegmentTerms) -> Segment:
    return segments.save_segment(clinic, Segment("", name, terms))


def _choose(qtbot: QtBot, page: PatientsPage, segment_id: str) -> None:
    page.group.setCurrentIndex(page.group.findData(segment_id))
    qtbot.waitUntil(lambda: not page.counting, timeout=10_000)


def _shown_ids(page: PatientsPage) -> list[str]:
    while page.model.canFetchMore(QModelIndex()):
        page.model.fetchMore(QModelIndex())
    return [page.model.row(r).id for r in range(page.model.rowCount())]


def _csv_names(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return [row[0] for row in list(csv.reader(f))[1:]]


def test_group_box_lists_saved_groups_and_follows_a_group_saved_elsewhere(
    qtbot: QtBot, demo_clinic: Clinic
) -> None:
    _save(demo_clinic, "Lapsed adults", SegmentTerms(age_min=18, last_visit_before_months=18))
    bus = DataBus()
    page = _page(qtbot, demo_clinic, bus)
    names = [page.group.itemText(i) for i in range(page.group.count())]
    assert names == ["All patients", "Lapsed adults"]

    children = _save(demo_clinic, "Children", SegmentTerms(age_max=17))
    bus.publish(Changes(frozenset({"segment"})))  # as the Groups of patients tab does
    names = [page.group.itemText(i) for i in range(page.group.count())]
    assert names == ["All patients", "Children", "Lapsed adults"]
    assert page.group.findData(children.id) == 1
    assert page.query.segment_id == ""  # saving a group elsewhere leaves this list alone


def test_choosing_a_group_shows_counts_and_exports_exactly_its_patients(
    qtbot: QtBot, demo_clinic: Clinic, tmp_path: Path
) -> None:
    group = _save(demo_clinic, "Adults 40 to 60", SegmentTerms(age_min=40, age_max=60))
    page = _page(qtbot, demo_clinic)
    _choose(qtbot, page, group.id)

    members = segments.patient_ids(demo_clinic, group.terms)
    shown = _shown_ids(page)
    assert sorted(shown) == sorted(members)
    assert page.count_label.text() == f"{len(members):,} patients"

    target = tmp_path / "group.csv"
    page.export_to(target)
    qtbot.waitUntil(lambda: page.status.text().startswith("Saved"), timeout=30_000)
    names = [page.model.row(r).display_name for r in range(page.model.rowCount())]
    assert _csv_names(target) == names

    page.group.setCurrentIndex(0)  # All patients again
    qtbot.waitUntil(lambda: not page.counting, timeout=10_000)
    assert page.query.segment_id == ""
    assert page.count_label.text() != f"{len(members):,} patients"


def test_an_empty_group_shows_no_one_and_exports_nothing(
    qtbot: QtBot, demo_clinic: Clinic, tmp_path: Path
) -> None:
    group = _save(demo_clinic, "Nobody", SegmentTerms(age_min=120))
    page = _page(qtbot, demo_clinic)
    _choose(qtbot, page, group.id)
    assert page.model.rowCount() == 0
    assert page.count_label.text() == "0 patients"
    target = tmp_path / "nobody.csv"
    page.export_to(target)
    qtbot.waitUntil(lambda: page.status.text().startswith("Saved"), timeout=30_000)
    assert _csv_names(target) == []


def test_a_group_removed_meanwhile_is_said_in_the_status(qtbot: QtBot, demo_clinic: Clinic) -> None:
    group = _save(demo_clinic, "Soon gone", SegmentTerms(age_min=18))
    page = _page(qtbot, demo_clinic)
    segments.delete_segment(demo_clinic, group.id)  # on another desk: no bus message here
    _choose(qtbot, page, group.id)
    assert page.status.text() == "That group of patients no longer exists."
    assert page.model.rowCount() == 0

    page.refresh()  # the box catches up and the list shows everyone again
    qtbot.waitUntil(lambda: not page.counting, timeout=10_000)
    assert page.group.findData(group.id) == -1
    assert page.query.segment_id == ""
    assert page.model.rowCount() > 0


def test_group_box_is_named_and_comes_after_the_tag_box(qtbot: QtBot, demo_clinic: Clinic) -> None:
    page = _page(qtbot, demo_clinic)
    assert page.group.accessibleName() == "Group of patients"
    assert _tab_after(page.tag) is page.group
    assert _tab_after(page.group) is page.upcoming


def _tab_after(widget: QWidget) -> QWidget:
    following = widget.nextInFocusChain()
    while not following.focusPolicy() & following.focusPolicy().TabFocus:
        following = following.nextInFocusChain()
    return following
