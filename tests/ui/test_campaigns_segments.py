"""Groups of patients: the count beside the filter is the segment's own count after every
edit, bad terms say why inline, a group of everyone warns, and groups are saved."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.growth.segments import (
    MATCHES_EVERYONE_WARNING,
    SegmentTerms,
    count,
    everyone,
    load_segments,
)
from ui.bus import DataBus
from ui.campaigns.background import LatestWork
from ui.campaigns.segment_editor import SegmentsTab, count_text, parse_conditions


@pytest.fixture
def tab(qtbot: QtBot, demo_clinic: Clinic, app_looks: QApplication) -> Iterator[SegmentsTab]:
    widget = SegmentsTab(demo_clinic, DataBus())
    qtbot.addWidget(widget)
    widget.resize(1280, 720)
    widget.show()
    qtbot.waitUntil(lambda: widget.settled and widget.shown_count is not None)
    yield widget
    widget.counter.close()


def _settle(qtbot: QtBot, tab: SegmentsTab) -> None:
    qtbot.waitUntil(lambda: tab.settled, timeout=10_000)


def test_live_count_equals_the_segment_count_after_each_edit(
    qtbot: QtBot, tab: SegmentsTab, demo_clinic: Clinic
) -> None:
    form = tab.form
    form.age_min.setValue(30)
    form.age_max.setValue(60)
    _settle(qtbot, tab)
    aged = SegmentTerms(age_min=30, age_max=60)
    assert form.terms() == aged
    assert tab.shown_count == (count(demo_clinic, aged), everyone(demo_clinic))

    form.reach_channel.setCurrentIndex(form.reach_channel.findData("email"))
    form.reach_purpose.setCurrentIndex(form.reach_purpose.findData("education"))
    form.not_seen.setValue(6)
    _settle(qtbot, tab)
    narrowed = SegmentTerms(
        age_min=30, age_max=60, last_visit_before_months=6, reachable_by=("email", "education")
    )
    assert form.terms() == narrowed
    matched = count(demo_clinic, narrowed)
    assert tab.shown_count == (matched, everyone(demo_clinic))
    assert tab.count_label.text() == count_text(matched, everyone(demo_clinic))
    assert matched < count(demo_clinic, aged)


def test_terms_that_cannot_work_say_why_inline_and_show_no_count(
    qtbot: QtBot, tab: SegmentsTab
) -> None:
    tab.form.age_min.setValue(60)
    tab.form.age_max.setValue(30)
    _settle(qtbot, tab)

    assert not tab.error.isHidden()
    assert tab.error.text() == "The lowest age is above the highest; swap them."
    assert tab.shown_count is None
    assert tab.count_label.text() == "—"


def test_a_condition_that_is_no_code_is_refused_inline(qtbot: QtBot, tab: SegmentsTab) -> None:
    tab.form.conditions.setText("E11, asthma")
    _settle(qtbot, tab)

    assert "“asthma” is neither an ICD-10 code" in tab.error.text()
    assert parse_conditions("e11.9, 44054006")[0][1] == "E11.9"


def test_a_group_of_everyone_warns(qtbot: QtBot, tab: SegmentsTab, demo_clinic: Clinic) -> None:
    tab.new_segment()
    _settle(qtbot, tab)

    total = everyone(demo_clinic)
    assert tab.shown_count == (total, total)
    assert not tab.warning.isHidden()
    assert tab.warning.text() == MATCHES_EVERYONE_WARNING


def test_a_saved_group_is_stored_with_its_terms_and_listed(
    qtbot: QtBot, tab: SegmentsTab, demo_clinic: Clinic
) -> None:
    tab.new_segment()
    tab.form.name_edit.setText("Adults away a year")
    tab.form.age_min.setValue(18)
    tab.form.not_seen.setValue(12)
    tab.save()

    saved = load_segments(demo_clinic)
    assert [(s.name, s.terms) for s in saved] == [
        ("Adults away a year", SegmentTerms(age_min=18, last_visit_before_months=12))
    ]
    assert tab.list.count() == 1
    assert tab.list.currentItem().text() == "Adults away a year"
    assert not tab.dirty


def test_a_group_without_a_name_is_not_saved(tab: SegmentsTab, demo_clinic: Clinic) -> None:
    tab.new_segment()
    assert tab.save() is None

    assert load_segments(demo_clinic) == []
    assert "name" in tab.error.text()


def test_an_older_answer_is_dropped_when_a_newer_one_was_asked(
    qtbot: QtBot, demo_clinic: Clinic
) -> None:
    worker = LatestWork(demo_clinic, "test")
    release = threading.Event()
    shown: list[object] = []

    def taken() -> None:
        outcome = worker.take()
        if outcome is not None:
            shown.append(outcome.value)

    worker.ready.connect(taken)
    try:
        worker.request(lambda _c: release.wait(5) and "old")
        worker.request(lambda _c: "new")
        release.set()
        qtbot.waitUntil(lambda: worker.idle)
        assert shown == ["new"]
    finally:
        worker.close()
