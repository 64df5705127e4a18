"""The Today page on a real demo clinic: the day's book, opening patients, marking calls done."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time, timedelta

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QPushButton, QTableView
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.patients import records
from app.patients.model import PatientDraft
from app.patients.timeline import timeline
from app.scheduling import appointments
from app.today import CONFIRM_KIND, TASK_KIND, agenda, call_list, clinic_today, clinic_zone
from ui.bus import DataBus
from ui.today_page import STATUS_COLUMN, TodayPage


def make_page(qtbot: QtBot, clinic: Clinic, bus: DataBus | None = None) -> TodayPage:
    page = TodayPage(clinic, bus or DataBus())
    qtbot.addWidget(page)
    page.resize(1280, 720)
    page.show()
    page.activateWindow()
    qtbot.waitUntil(page.isActiveWindow)
    return page


def living_patient(clinic: Clinic) -> str:
    return str(
        clinic.conn.execute(
            "SELECT id FROM patient WHERE deceased = 0 AND do_not_contact = 0 "
            "AND birth_date < '2000' ORDER BY id LIMIT 1"
        ).fetchone()[0]
    )


def book_on(clinic: Clinic, days_ahead: int, hour: int = 12) -> tuple[str, str]:
    """A visit at `hour` o'clock clinic time, `days_ahead` days from the clinic's today."""
    patient = living_patient(clinic)
    day = clinic_today(clinic) + timedelta(days=days_ahead)
    start = datetime.combine(day, time(hour), tzinfo=clinic_zone(clinic))
    visit = appointments.book(clinic, patient, start, start + timedelta(minutes=20)).id
    return patient, visit


def row_of(page_rows: Sequence[object], attribute: str, value: str) -> int:
    for index, row in enumerate(page_rows):
        if getattr(row, attribute) == value:
            return index
    raise AssertionError(f"no row with {attribute} {value}")


def test_page_shows_todays_appointments_of_the_clinic(qtbot: QtBot, demo_clinic: Clinic) -> None:
    _, visit = book_on(demo_clinic, 0)

    page = make_page(qtbot, demo_clinic)

    shown = [r.appointment_id for r in page.today_model.rows]
    expected = [r.appointment_id for r in agenda(demo_clinic, clinic_today(demo_clinic))]
    assert shown == expected
    assert visit in shown
    assert page.today_table.isVisible()
    assert not page.today_section.empty.isVisible()
    assert page.heading.text().startswith(f"{clinic_today(demo_clinic):%A}")
    row = row_of(page.today_model.rows, "appointment_id", visit)
    status = page.today_model.index(row, STATUS_COLUMN).data()
    assert status == "Not confirmed"


def test_enter_on_an_appointment_opens_that_patient(qtbot: QtBot, demo_clinic: Clinic) -> None:
    patient, visit = book_on(demo_clinic, 0)
    page = make_page(qtbot, demo_clinic)
    page.today_table.setFocus()
    page.today_table.selectRow(row_of(page.today_model.rows, "appointment_id", visit))

    with qtbot.waitSignal(page.open_patient, timeout=1000) as opened:
        qtbot.keyClick(page.today_table, Qt.Key.Key_Return)

    assert opened.args == [patient]


def test_double_click_on_a_birthday_opens_that_patient(qtbot: QtBot, demo_clinic: Clinic) -> None:
    patient = living_patient(demo_clinic)
    today = clinic_today(demo_clinic)
    records.update_patient(demo_clinic, patient, {"birth_date": f"1980-{today:%m-%d}"})
    page = make_page(qtbot, demo_clinic)
    row = row_of(page.birthdays_model.rows, "patient_id", patient)
    assert page.birthdays_model.rows[row].turns == today.year - 1980
    rect = page.birthdays_table.visualRect(page.birthdays_model.index(row, 0))

    viewport = page.birthdays_table.viewport()

    with qtbot.waitSignal(page.open_patient, timeout=1000) as opened:
        # A real double click starts with a press; QTest's double click alone has none.
        qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.mouseDClick(viewport, Qt.MouseButton.LeftButton, pos=rect.center())

    assert opened.args == [patient]


def test_mark_done_logs_the_call_and_the_row_leaves_after_the_bus_refresh(
    qtbot: QtBot, demo_clinic: Clinic
) -> None:
    bus = DataBus()
    page = make_page(qtbot, demo_clinic, bus)
    tasks = [r for r in page.calls_model.rows if r.kind == TASK_KIND]
    assert tasks, "the demo clinic plants call-backs due by today"
    call = tasks[0]
    before = len(page.calls_model.rows)

    dialog = page.open_mark_done(page.calls_model.rows.index(call))
    assert dialog is not None
    with qtbot.waitSignal(bus.changed, timeout=1000):
        dialog.outcome_buttons["voicemail"].click()
        qtbot.keyClicks(dialog.note, "Left a message to ring back")
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)

    assert not dialog.isVisible()
    assert call.task_id not in [r.task_id for r in page.calls_model.rows]
    assert len(page.calls_model.rows) == before - 1
    logged = timeline(demo_clinic, call.patient_id, kinds={"call"})[0]
    assert logged.title == "Call · voicemail"


def test_a_confirmation_call_can_confirm_tomorrows_visit(qtbot: QtBot, demo_clinic: Clinic) -> None:
    _, visit = book_on(demo_clinic, 1, hour=9)
    page = make_page(qtbot, demo_clinic)
    row = row_of(page.calls_model.rows, "appointment_id", visit)
    assert page.calls_model.rows[row].kind == CONFIRM_KIND

    dialog = page.open_mark_done(row)
    assert dialog is not None
    assert not dialog.confirmed.isEnabled()  # only once the patient was reached
    dialog.outcome_buttons["reached"].click()
    dialog.confirmed.click()
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)

    assert visit not in [r.appointment_id for r in page.calls_model.rows]
    tomorrow = page.tomorrow_model.rows[row_of(page.tomorrow_model.rows, "appointment_id", visit)]
    assert tomorrow.confirmation == "Confirmed"


def test_mark_done_without_an_outcome_says_why_next_to_it(
    qtbot: QtBot, demo_clinic: Clinic
) -> None:
    page = make_page(qtbot, demo_clinic)
    dialog = page.open_mark_done(0)
    assert dialog is not None

    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)

    assert dialog.isVisible()
    assert dialog.error_text("outcome") == "Choose how the call went."
    assert len(call_list(demo_clinic, page.day)) == len(page.calls_model.rows)


def test_empty_lists_say_so_plainly(qtbot: QtBot, clinic: Clinic) -> None:
    page = make_page(qtbot, clinic)

    for section, sentence in (
        (page.today_section, "No appointments today."),
        (page.tomorrow_section, "Nothing booked in the coming week."),
        (page.calls_section, "No calls to make."),
        (page.birthdays_section, "No birthdays today."),
    ):
        assert section.empty.isVisible()
        assert section.empty.text() == sentence
        assert not section.table.isVisible()
    assert not page.mark_done_button.isEnabled()


def test_new_visit_booked_elsewhere_appears_after_the_bus_says_so(
    qtbot: QtBot, clinic: Clinic
) -> None:
    bus = DataBus()
    page = make_page(qtbot, clinic, bus)
    patient = records.create_patient(clinic, PatientDraft("Okafor", "Ada")).id
    start = datetime.combine(page.day, time(15), tzinfo=clinic_zone(clinic))
    booked = appointments.book(clinic, patient, start, start + timedelta(minutes=30))
    assert page.today_model.rows == []

    bus.publish(booked.changes)

    assert [r.patient_id for r in page.today_model.rows] == [patient]
    assert page.today_section.heading.text() == "Today's appointments (1)"


def test_tab_moves_from_list_to_list(qtbot: QtBot, demo_clinic: Clinic) -> None:
    book_on(demo_clinic, 0)
    book_on(demo_clinic, 1)
    page = make_page(qtbot, demo_clinic)
    page.today_table.setFocus()
    qtbot.waitUntil(page.today_table.hasFocus)

    seen = [QApplication.focusWidget()]
    for _ in range(3):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        seen.append(QApplication.focusWidget())

    assert seen == [
        page.today_table,
        page.tomorrow_table,
        page.calls_table,
        page.mark_done_button,
    ]


def test_every_list_and_button_has_an_accessible_name(qtbot: QtBot, clinic: Clinic) -> None:
    page = make_page(qtbot, clinic)

    lists = {t.accessibleName() for t in page.findChildren(QTableView)}
    buttons = [b.accessibleName() for b in page.findChildren(QPushButton)]

    assert lists == {
        "Today's appointments",
        "Next day's appointments",
        "Calls to make",
        "Birthdays today",
    }
    assert sorted(buttons) == ["Mark the selected call done", "Refresh Today"]
