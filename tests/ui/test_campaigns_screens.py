"""The Campaigns area: campaigns listed apart from reminders, a campaign nobody can be sent
is not turned on and says why, a campaign to (nearly) everyone asks first, and the
reactivation worklist is exactly the lapsed patients."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.engagement.audience import audience
from app.growth.reactivation import lapsed_count, lapsed_patients
from app.growth.segments import MATCHES_EVERYONE_WARNING
from app.patients.model import PatientDraft, PhoneDraft
from app.patients.records import create_patient
from app.reminders.rules import (
    ENGAGEMENT_KINDS,
    KIND_LABELS,
    default_rules,
    get_rule,
    load_rules,
    save_rule,
)
from app.scheduling import appointments
from tests.support.acting import administrator_acting  # noqa: F401
from tests.ui.test_accessibility import unnamed_controls
from ui.bus import DataBus
from ui.campaigns.campaigns_tab import STARTERS, CampaignDialog, CampaignRow, CampaignsTab
from ui.campaigns.page import CampaignsPage
from ui.campaigns.reactivation_tab import ReactivationTab
from ui.reminder_settings.page import RemindersTab


def _patient(clinic: Clinic, name: str, *, seen_days_ago: int | None = None) -> str:
    draft = PatientDraft(
        family_name=name,
        given_names="Pat",
        birth_date="1985-02-10",
        phones=(PhoneDraft(f"312-555-01{10 + len(name)}"),),
        emails=(f"{name.lower()}@example.com",),
    )
    pid = create_patient(clinic, draft).id
    if seen_days_ago is not None:
        zone = ZoneInfo(clinic.settings.timezone)
        day = datetime.now(zone).date() - timedelta(days=seen_days_ago)
        start = datetime.combine(day, time(10), zone)
        booked = appointments.book(clinic, pid, start, start + timedelta(minutes=20))
        appointments.set_status(clinic, booked.id, "fulfilled")
    return pid


@pytest.fixture
def tab(qtbot: QtBot, clinic: Clinic, app_looks: QApplication) -> Iterator[CampaignsTab]:
    widget = CampaignsTab(clinic, DataBus())
    qtbot.addWidget(widget)
    widget.resize(1280, 720)
    widget.show()
    yield widget
    widget.figures.close()


def _open(qtbot: QtBot, dialog: CampaignDialog) -> CampaignDialog:
    qtbot.waitUntil(dialog.isVisible)
    return dialog


def test_settings_reminders_lists_no_campaign_kinds(
    qtbot: QtBot, clinic: Clinic, app_looks: QApplication
) -> None:
    reminders = RemindersTab(clinic, DataBus())
    qtbot.addWidget(reminders)
    reminders.show()
    qtbot.waitUntil(lambda: len(reminders.rules) == 5)
    save_rule(clinic, STARTERS["education"])
    save_rule(clinic, STARTERS["survey"])
    reminders.refresh()
    assert len(load_rules(clinic)) == len(default_rules()) + 2

    assert not {r.kind for r in reminders.rules} & set(ENGAGEMENT_KINDS)
    menu = reminders.new_button.menu()
    assert menu is not None
    offered = [a.text() for a in menu.actions()]
    assert offered == [
        KIND_LABELS[k] for k in ("appointment", "recall", "billing", "no_show", "birthday")
    ]


def test_the_campaigns_tab_lists_only_campaigns_with_who_they_reach(
    qtbot: QtBot, tab: CampaignsTab, clinic: Clinic
) -> None:
    for name in ("Ann", "Bob"):
        _patient(clinic, name, seen_days_ago=800)
    reactivation = save_rule(clinic, STARTERS["reactivation"])
    save_rule(clinic, STARTERS["survey"])
    tab.refresh()

    def row() -> CampaignRow:
        return next(r for r in tab.rows if r.rule.id == reactivation.id)

    qtbot.waitUntil(lambda: tab.figures.idle and row().reaches is not None)
    assert {r.rule.kind for r in tab.rows} == {"reactivation", "survey"}
    assert row().reaches == audience(clinic, reactivation).reachable == 2
    assert row().sent == 0
    assert tab.model.data(tab.model.index(tab.rows.index(row()), 0)) == "On"


def test_a_campaign_nobody_can_be_sent_is_not_turned_on_and_says_why(
    qtbot: QtBot, tab: CampaignsTab, clinic: Clinic
) -> None:
    for name in ("Ann", "Bob", "Cy"):
        _patient(clinic, name)  # nobody said yes to health information (opt-in)
    dialog = _open(qtbot, tab.new_campaign("education"))
    assert dialog.on_check.isChecked()

    dialog.save()
    qtbot.waitUntil(lambda: bool(dialog.error_text("active")), timeout=10_000)

    assert dialog.isVisible()
    assert dialog.error_text("active").startswith("Nobody")
    assert "It stays off." in dialog.error_text("active")
    assert [r for r in load_rules(clinic) if r.kind == "education"] == []
    found = audience(clinic, dialog.edited_rule())
    assert found.reachable == 0
    if found.matched:
        assert "no consent for health information (3)" in dialog.error_text("active")


def test_a_campaign_to_everyone_asks_first_and_no_keeps_it_off(
    qtbot: QtBot, tab: CampaignsTab, clinic: Clinic
) -> None:
    for name in ("Ann", "Bob", "Cy"):
        _patient(clinic, name, seen_days_ago=800)
    dialog = _open(qtbot, tab.new_campaign("reactivation"))

    dialog.save()
    qtbot.waitUntil(lambda: dialog.question.box is not None, timeout=10_000)
    box = dialog.question.box
    assert box is not None
    assert box.text() == MATCHES_EVERYONE_WARNING
    assert box.informativeText().startswith("This will reach 3 patients.")
    dialog.question.answer(False)

    assert dialog.isVisible()
    assert [r for r in load_rules(clinic) if r.kind == "reactivation"] == []

    dialog.save()
    qtbot.waitUntil(lambda: dialog.question.box is not None, timeout=10_000)
    dialog.question.answer(True)
    qtbot.waitUntil(lambda: not dialog.isVisible())
    saved = [r for r in load_rules(clinic) if r.kind == "reactivation"]
    assert len(saved) == 1 and saved[0].active
    assert "This will reach 3 patients." in tab.status.text()


def test_a_campaign_saved_paused_needs_no_check_and_resuming_checks(
    qtbot: QtBot, tab: CampaignsTab, clinic: Clinic
) -> None:
    _patient(clinic, "Ann")
    dialog = _open(qtbot, tab.new_campaign("education"))
    dialog.on_check.setChecked(False)
    assert dialog.save()
    saved = next(r for r in load_rules(clinic) if r.kind == "education")
    assert not saved.active

    tab.select(saved.id)
    assert tab.pause_button.text() == "&Resume"
    tab.toggle_active()
    qtbot.waitUntil(lambda: not tab.error.isHidden(), timeout=10_000)

    assert "stays paused" in tab.error.text()
    assert not get_rule(clinic, saved.id).active


def test_the_worklist_is_exactly_the_lapsed_patients(
    qtbot: QtBot, demo_clinic: Clinic, app_looks: QApplication
) -> None:
    worklist = ReactivationTab(demo_clinic, DataBus())
    qtbot.addWidget(worklist)
    worklist.resize(1280, 720)
    worklist.show()
    try:
        qtbot.waitUntil(lambda: worklist.loader.idle and worklist.total is not None)
        assert worklist.months.value() == 18
        assert worklist.rows == lapsed_patients(demo_clinic, months=18)
        assert worklist.total == lapsed_count(demo_clinic, months=18)

        worklist.months.setValue(6)
        six = lapsed_count(demo_clinic, months=6)
        qtbot.waitUntil(lambda: worklist.loader.idle and worklist.total == six)
        assert worklist.rows == lapsed_patients(demo_clinic, months=6)
        assert worklist.model.rowCount() == len(worklist.rows) > 0

        opened: list[str] = []
        worklist.open_patient.connect(opened.append)
        worklist.table.setFocus()
        worklist.table.selectRow(0)
        QTest.keyClick(worklist.table, Qt.Key.Key_Return)
        assert opened == [worklist.rows[0].patient_id]
    finally:
        worklist.loader.close()


def test_starting_a_campaign_from_the_worklist_fills_in_its_months_and_kinds(
    qtbot: QtBot, demo_clinic: Clinic, app_looks: QApplication
) -> None:
    page = CampaignsPage(demo_clinic, DataBus())
    qtbot.addWidget(page)
    page.show()
    try:
        page.tabs.setCurrentWidget(page.reactivation)
        page.reactivation.months.setValue(24)
        page.reactivation.start_button.click()

        dialog = page.campaigns.dialog
        assert dialog is not None
        qtbot.waitUntil(dialog.isVisible)
        assert page.tabs.currentWidget() is page.campaigns
        rule = dialog.edited_rule()
        assert (rule.kind, rule.recall_months) == ("reactivation", 24)
        assert [t.channels for t in rule.touches] == [("sms", "email"), ("call",), ("letter",)]
        assert date.fromisoformat(rule.start_on) == dialog.today()
    finally:
        for closer in (page.campaigns.figures, page.segments.counter, page.reactivation.loader):
            closer.close()


def test_pausing_needs_no_check_and_the_words_open_for_a_campaign(
    qtbot: QtBot, tab: CampaignsTab, clinic: Clinic
) -> None:
    saved = save_rule(clinic, STARTERS["reactivation"])
    tab.refresh()
    tab.select(saved.id)

    tab.toggle_active()
    assert not get_rule(clinic, saved.id).active
    assert tab.status.text() == "“We miss you” is paused."

    editor = tab.edit_words()
    assert editor is not None
    qtbot.waitUntil(editor.isVisible)
    editor.reject()


@pytest.mark.parametrize("kind", ["education", "allergy", "reactivation", "survey", "review"])
def test_every_control_of_the_area_and_its_editor_has_a_name(
    qtbot: QtBot, demo_clinic: Clinic, app_looks: QApplication, kind: str
) -> None:
    page = CampaignsPage(demo_clinic, DataBus())
    qtbot.addWidget(page)
    page.show()
    try:
        for index in range(page.tabs.count()):
            page.tabs.setCurrentIndex(index)
            assert unnamed_controls(page) == []
        dialog = page.campaigns.new_campaign(kind)
        qtbot.waitUntil(dialog.isVisible)
        for index in range(dialog.tabs.count()):
            dialog.tabs.setCurrentIndex(index)
            assert unnamed_controls(dialog) == []
        dialog.reject()
    finally:
        for closer in (page.campaigns.figures, page.segments.counter, page.reactivation.loader):
            closer.close()
