"""The window's reminder runner: status bar state, passes reaching the GUI thread, the tray."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QSystemTrayIcon
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.patients.model import PatientDraft
from app.patients.records import create_patient
from app.reminders.accounts import save_email_settings
from app.reminders.email_channel import SmtpSettings
from app.reminders.rules import Rule, Touch, save_rule
from app.reminders.service import MODE_OFF, MODE_SENDING, set_keep_running_in_tray
from app.reminders.settings import update_settings
from app.scheduling.appointments import book
from app.store.changes import Changes
from tests.support.fake_smtp import Mailbox, running_smtp
from ui.bus import DataBus
from ui.reminder_runner import PASS_TABLES, PassCounts, ReminderRunner, attach_reminders

WAIT_MS = 30_000  # the longest a test waits for the scheduler's thread (not a speed target)


class Desk(QMainWindow):
    """A main window wired the way MainWindow is asked to wire the runner."""

    def __init__(self, clinic: Clinic) -> None:
        super().__init__()
        self.bus = DataBus(self)
        self.reminders = attach_reminders(self, clinic, self.bus, start_after_ms=60_000)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.reminders.should_stay_in_tray():
            event.ignore()
            self.reminders.hide_to_tray()
            return
        self.reminders.stop()
        super().closeEvent(event)


@pytest.fixture
def desk(qtbot: QtBot, clinic: Clinic) -> Iterator[Desk]:
    window = Desk(clinic)
    qtbot.addWidget(window)
    yield window
    window.reminders.stop()
    QApplication.setQuitOnLastWindowClosed(True)


@pytest.fixture
def mailbox(clinic: Clinic) -> Iterator[Mailbox]:
    with running_smtp() as (box, port):
        save_email_settings(
            clinic,
            SmtpSettings(
                host="127.0.0.1", port=port, security="none", sender_address="d@lakeside.example"
            ),
        )
        yield box


def _due_email_reminder(clinic: Clinic) -> None:
    """A visit tomorrow whose reminder came due a minute ago, by email, any hour of the day."""
    clinic.update_settings(address="120 Lake Street, Chicago, IL", phone="+1 312 555 0100")
    zone = ZoneInfo(clinic.settings.timezone)
    touch = (datetime.now(UTC) - timedelta(minutes=1)).astimezone(zone)
    touch = touch.replace(second=0, microsecond=0)
    save_rule(
        clinic,
        Rule(
            id="",
            kind="appointment",
            name="Day before",
            touches=(Touch(days=-1, at=touch.time()),),
            channels=("email",),
            quiet_start=time(0, 0),
            quiet_end=time(0, 0),
        ),
    )
    patient = create_patient(
        clinic, PatientDraft(family_name="Quispe", emails=("ana@example.org",))
    ).id
    visit = datetime.combine(touch.date() + timedelta(days=1), touch.time(), touch.tzinfo)
    book(clinic, patient, visit, visit + timedelta(minutes=30))


def test_the_status_bar_says_reminders_are_off_on_a_new_clinic(desk: Desk) -> None:
    status = desk.reminders.status
    assert status in desk.statusBar().findChildren(QLabel)
    assert status.accessibleName() == "Reminders status"
    assert status.text() == "Reminders: off"


def test_turning_sending_on_shows_on_and_another_sender_is_named(
    desk: Desk, clinic: Clinic
) -> None:
    update_settings(clinic, enabled=True)
    desk.bus.publish(Changes(frozenset({"setting"})))
    assert desk.reminders.status.text() == "Reminders: on"

    update_settings(clinic, sender_device="the-other-desk")
    desk.bus.publish(Changes(frozenset({"setting"})))
    assert desk.reminders.status.text() == "Reminders: sent by another computer"


def test_a_pass_on_the_scheduler_thread_reaches_the_window_as_counts_and_refreshes_pages(
    qtbot: QtBot, desk: Desk, clinic: Clinic, mailbox: Mailbox
) -> None:
    _due_email_reminder(clinic)
    update_settings(clinic, enabled=True)
    published: list[Changes] = []
    desk.bus.changed.connect(published.append)

    with qtbot.waitSignal(desk.reminders.pass_done, timeout=WAIT_MS) as blocker:
        desk.reminders.start()

    counts = blocker.args[0]
    assert isinstance(counts, PassCounts)
    assert counts.mode == MODE_SENDING and counts.sent == 1 and counts.changed
    assert len(mailbox.messages()) == 1
    assert "Quispe" not in repr(counts) and "ana@example.org" not in repr(counts)
    assert any(c.tables == PASS_TABLES for c in published)
    text = desk.reminders.status.text()
    assert text.startswith("Reminders: on · last pass ")
    assert "Last pass: Reminders: sent 1" in desk.reminders.status.toolTip()


def test_a_failed_message_is_counted_in_the_status_bar(
    qtbot: QtBot, desk: Desk, clinic: Clinic
) -> None:
    _due_email_reminder(clinic)
    update_settings(clinic, enabled=True)
    # The mail server refuses the recipient for good: the message fails.
    with running_smtp(Mailbox(rcpt_reply="550 No such user")) as (_box, port):
        save_email_settings(
            clinic,
            SmtpSettings(
                host="127.0.0.1", port=port, security="none", sender_address="d@l.example"
            ),
        )
        with qtbot.waitSignal(desk.reminders.pass_done, timeout=WAIT_MS) as blocker:
            desk.reminders.start()
    assert blocker.args[0].failed == 1
    assert desk.reminders.status.text().endswith("· 1 failed")


def test_closing_keeps_sending_only_on_the_sender_with_the_preference_on(
    desk: Desk, clinic: Clinic
) -> None:
    runner = desk.reminders
    assert runner.mode() == MODE_OFF and not runner.wants_tray()
    update_settings(clinic, enabled=True)
    assert runner.wants_tray()
    set_keep_running_in_tray(clinic, False)
    assert not runner.wants_tray()
    set_keep_running_in_tray(clinic, True)
    update_settings(clinic, sender_device="the-other-desk")
    assert not runner.wants_tray()


def test_without_a_tray_closing_the_window_closes_it(
    qtbot: QtBot, desk: Desk, clinic: Clinic
) -> None:
    update_settings(clinic, enabled=True)
    desk.reminders.tray = None  # as on a desktop without a system tray
    desk.show()
    qtbot.waitExposed(desk)
    desk.reminders.start()
    assert desk.close()
    assert not desk.isVisible() and not desk.reminders.scheduler.running


def test_closing_hides_to_the_tray_and_quit_closes_for_real(
    qtbot: QtBot, desk: Desk, clinic: Clinic
) -> None:
    if not QSystemTrayIcon.isSystemTrayAvailable():  # asked once a QApplication exists
        pytest.skip("no system tray on this display (offscreen): the icon cannot be shown")
    update_settings(clinic, enabled=True)
    desk.show()
    qtbot.waitExposed(desk)
    desk.reminders.start()

    assert not desk.close()
    assert not desk.isVisible() and desk.reminders.scheduler.running
    assert desk.reminders.tray is not None and desk.reminders.tray.isVisible()

    desk.reminders.open_window()
    assert desk.isVisible()
    desk.reminders.quit()
    assert not desk.isVisible() and not desk.reminders.scheduler.running


def test_send_now_starts_a_pass(qtbot: QtBot, desk: Desk) -> None:
    runner: ReminderRunner = desk.reminders
    with qtbot.waitSignal(runner.pass_done, timeout=WAIT_MS):
        runner.send_now()
    with qtbot.waitSignal(runner.pass_done, timeout=WAIT_MS):
        runner.send_now()
