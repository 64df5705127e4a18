"""Messages ▸ Outbox on a real demo clinic: filters with counts, details and history, send
again and cancel through the buttons and their questions, Enter opens the patient, the
banner, paging, and the messages on the patient's timeline."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.clinic import Clinic, put_setting
from app.patients.records import update_patient
from app.reminders import outbox
from app.reminders.sender import PROBLEM_SETTING
from app.reminders.settings import claim_sender, update_settings
from app.store.changes import Changes
from app.store.writer import utc_now, utc_text
from app.users import act_as_default_user, add_user
from tests.support.outbox_rows import make_message, make_rule
from tests.ui.test_accessibility import unnamed_controls
from ui.bus import DataBus
from ui.messages.outbox_view import (
    NOTHING_SENT,
    OTHER_SENDER,
    PAGE_SIZE,
    SENDING_OFF,
    STATE_COLUMN,
    WRITTEN_LATER,
    OutboxView,
)
from ui.messages.page import INBOX_TAB, MessagesPage

REPO = Path(__file__).resolve().parents[2]
NOW = datetime.now(UTC)
MAYBE = (
    "May have been sent: the connection to the mail server was lost just after the "
    "message was handed over. Check with the patient before sending it again."
)


def patients(clinic: Clinic, count: int) -> list[str]:
    rows = clinic.conn.execute(
        "SELECT id FROM patient WHERE deceased = 0 ORDER BY rowid LIMIT ?", (count,)
    ).fetchall()
    return [str(r[0]) for r in rows]


@pytest.fixture
def messages(demo_clinic: Clinic) -> dict[str, str]:
    """One message in each state (two failed: a plain one and one that may have gone),
    due an hour apart, newest first in this order."""
    reminders = make_rule(demo_clinic, "Appointment reminders")
    balance = make_rule(demo_clinic, "Balance reminders", kind="billing")
    people = patients(demo_clinic, 9)
    made: dict[str, str] = {}
    plan = [
        ("planned", reminders, "sms", ""),
        ("due", reminders, "sms", ""),
        ("sent", reminders, "sms", ""),
        ("failed", balance, "email", "The mail server refused the address"),
        ("maybe", balance, "email", MAYBE),
        ("to_print", balance, "letter", ""),
        ("skipped", reminders, "sms", "Patient asked not to get texts"),
        ("cancelled", reminders, "sms", ""),
        ("sending", reminders, "sms", ""),
    ]
    for hour, (name, rule, channel, reason) in enumerate(plan):
        state = "failed" if name == "maybe" else name
        made[name] = make_message(
            demo_clinic,
            people[hour],
            rule,
            state,
            due_at=NOW - timedelta(hours=hour),
            sent_at=NOW - timedelta(hours=hour),
            channel=channel,
            recipient="ada@example.com" if channel == "email" else "+16125550134",
            subject="Your balance" if channel == "email" else "",
            body="Hi Ada, see you Tue at 10:00.\nReply C to confirm."
            if state in ("sent", "failed", "to_print")
            else "",
            reason=reason,
        )
    return made


def make_view(qtbot: QtBot, clinic: Clinic, bus: DataBus | None = None) -> OutboxView:
    view = OutboxView(clinic, bus or DataBus())
    qtbot.addWidget(view)
    view.resize(1100, 660)
    view.show()
    view.activateWindow()
    qtbot.waitUntil(view.isActiveWindow)
    return view


def select(view: OutboxView, message_id: str) -> None:
    row = view.model.row_of(message_id)
    assert row is not None, "the message is not on the page"
    view.table.selectRow(row)
    assert view.current_message_id() == message_id


def shown_states(view: OutboxView) -> list[str]:
    return [r.message.state for r in view.model.rows]


# --- the list ------------------------------------------------------------------------------


def test_the_list_is_newest_due_first_with_states_and_channels_in_words(
    qtbot: QtBot, demo_clinic: Clinic, messages: dict[str, str]
) -> None:
    view = make_view(qtbot, demo_clinic)

    assert [r.message.id for r in view.model.rows] == list(messages.values())
    row = view.model.row_of(messages["to_print"])
    assert row is not None
    cells = [view.model.index(row, c).data() for c in range(view.model.columnCount())]
    assert cells[1:5] == [
        view.model.rows[row].patient_name,
        "Balance reminders",
        "Letter",
        "Waiting for print",
    ]
    failed = view.model.row_of(messages["failed"])
    assert view.model.index(failed, 5).data() == "The mail server refused the address"
    planned = view.model.row_of(messages["planned"])
    assert view.model.index(planned, 3).data() == ""  # no channel chosen before sending


def test_the_state_filter_shows_counts_and_keeps_only_that_state(
    qtbot: QtBot, demo_clinic: Clinic, messages: dict[str, str]
) -> None:
    view = make_view(qtbot, demo_clinic)
    items = [view.state_filter.itemText(i) for i in range(view.state_filter.count())]
    assert items == [
        "All (9)",
        "Planned (1)",
        "Due (1)",
        "Sending (1)",
        "Waiting for print (1)",
        "Sent (1)",
        "Failed (2)",
        "Skipped (1)",
        "Cancelled (1)",
    ]

    view.set_state_filter("failed")

    assert shown_states(view) == ["failed", "failed"]
    assert view.page_label.text() == "Messages 1–2 of 2, newest due first"
    view.set_state_filter("to_print")
    assert [r.message.id for r in view.model.rows] == [messages["to_print"]]


def test_the_channel_filter_combines_with_the_state(
    qtbot: QtBot, demo_clinic: Clinic, messages: dict[str, str]
) -> None:
    view = make_view(qtbot, demo_clinic)
    view.channel_filter.setCurrentText("Email")
    assert {r.message.channel for r in view.model.rows} == {"email"}
    assert len(view.model.rows) == 2
    view.set_state_filter("sent")
    assert view.model.rows == []
    assert view.empty.isVisible() and not view.table.isVisible()
    assert "No messages match" in view.empty.text()


def test_find_a_patient_narrows_the_list_after_a_pause_and_esc_shows_everyone(
    qtbot: QtBot, demo_clinic: Clinic, messages: dict[str, str]
) -> None:
    failed = outbox.get_message(demo_clinic, messages["failed"])
    update_patient(demo_clinic, failed.patient_id, {"family_name": "Zabrowski-Quill"})
    view = make_view(qtbot, demo_clinic)
    assert view.find_patient.accessibleName() == "Find a patient in the list"

    view.find_patient.setFocus()
    qtbot.keyClicks(view.find_patient, "zabrow")
    assert len(view.model.rows) == len(messages)  # not yet: it waits for a pause
    qtbot.waitUntil(lambda: len(view.model.rows) < len(messages))

    assert [r.message.id for r in view.model.rows] == [messages["failed"]]
    assert view.page_label.text() == "Messages 1–1, newest due first"
    assert view.state_filter.itemText(0) == "All (9)"  # the counts stay the whole outbox's

    qtbot.keyClick(view.find_patient, Qt.Key.Key_Escape)
    assert view.find_patient.text() == ""
    assert len(view.model.rows) == len(messages)


def test_find_a_patient_combines_with_the_state_and_says_when_nobody_matches(
    qtbot: QtBot, demo_clinic: Clinic, messages: dict[str, str]
) -> None:
    failed = outbox.get_message(demo_clinic, messages["failed"])
    update_patient(demo_clinic, failed.patient_id, {"family_name": "Zabrowski-Quill"})
    view = make_view(qtbot, demo_clinic)
    view.set_state_filter("sent")
    view.find_patient.setText("quill")
    qtbot.keyClick(view.find_patient, Qt.Key.Key_Return)  # Enter does not wait for the pause
    assert view.model.rows == []
    view.set_state_filter("failed")
    assert [r.message.id for r in view.model.rows] == [messages["failed"]]

    view.find_patient.setText("Zzyzx Qwv")
    qtbot.keyClick(view.find_patient, Qt.Key.Key_Return)
    assert view.empty.isVisible() and not view.table.isVisible()
    assert "Press Esc to show every patient" in view.empty.text()


def test_an_empty_outbox_says_what_will_come(qtbot: QtBot, demo_clinic: Clinic) -> None:
    view = make_view(qtbot, demo_clinic)
    assert view.empty.isVisible()
    assert view.empty.text().startswith("No messages yet.")
    assert not view.details.send_again_button.isEnabled()


def test_pages_of_200_with_next_and_previous(qtbot: QtBot, demo_clinic: Clinic) -> None:
    rule = make_rule(demo_clinic)
    people = patients(demo_clinic, 5)
    now = utc_now()
    rows = [
        outbox.new_row(
            idem=outbox.idem_key(rule, 0, people[n % 5], str(n)),
            rule_id=rule,
            touch=0,
            purpose="appointment",
            patient_id=people[n % 5],
            subject_kind="appointment",
            subject_id="",
            occurrence=str(n),
            due_at=utc_text(NOW - timedelta(minutes=n)),
            stale_at=utc_text(NOW),
            now=now,
        )
        for n in range(PAGE_SIZE + 5)
    ]
    with demo_clinic.store.write() as tx:
        tx.insert_many("outbox", rows)
    view = make_view(qtbot, demo_clinic)

    assert len(view.model.rows) == PAGE_SIZE
    assert view.page_label.text() == "Messages 1–200 of 205, newest due first"
    assert not view.previous_button.isEnabled()
    view.next_button.click()
    assert [r.message.occurrence for r in view.model.rows] == [str(n) for n in range(200, 205)]
    assert view.page_label.text() == "Messages 201–205 of 205, newest due first"
    assert not view.next_button.isEnabled()
    view.previous_button.click()
    assert view.model.rows[0].message.occurrence == "0"


# --- the details ---------------------------------------------------------------------------


def test_details_show_what_was_sent_to_whom_and_the_history(
    qtbot: QtBot, demo_clinic: Clinic, messages: dict[str, str]
) -> None:
    view = make_view(qtbot, demo_clinic)
    select(view, messages["failed"])
    details = view.details

    assert details.title.text() == "Email · Balance reminders"
    assert details.state.text() == "Failed: The mail server refused the address"
    assert details.fact_labels["To"].text() == "ada@example.com"
    assert details.subject.text() == "Subject: Your balance"
    assert details.body.toPlainText() == "Hi Ada, see you Tue at 10:00.\nReply C to confirm."
    history = [details.history.item(i).text() for i in range(details.history.count())]
    states = [e.state_label for e in outbox.history(demo_clinic, messages["failed"])]
    assert [line.split("\n")[0].rsplit(" · ", 1)[1] for line in history] == states
    assert states == ["Planned", "Due", "Sending", "Failed"]
    assert history[-1].endswith("\nThe mail server refused the address")
    assert details.send_again_button.isEnabled() and details.cancel_button.isEnabled()


def test_a_planned_message_says_its_text_is_written_when_it_is_sent(
    qtbot: QtBot, demo_clinic: Clinic, messages: dict[str, str]
) -> None:
    view = make_view(qtbot, demo_clinic)
    select(view, messages["planned"])
    details = view.details
    assert details.text_note.text() == WRITTEN_LATER
    assert not details.body.isVisible()
    assert details.fact_labels["To"].text() == "Chosen when it is sent"
    assert details.fact_labels["Sent"].text() == "Not yet"
    assert not details.send_again_button.isEnabled()
    assert details.cancel_button.isEnabled()
    select(view, messages["skipped"])
    assert details.text_note.text() == NOTHING_SENT
    assert details.state.text() == "Skipped: Patient asked not to get texts"


@pytest.mark.parametrize("state", ["sent", "skipped", "cancelled", "sending"])
def test_finished_or_sending_messages_offer_neither_send_again_nor_cancel(
    qtbot: QtBot, demo_clinic: Clinic, messages: dict[str, str], state: str
) -> None:
    view = make_view(qtbot, demo_clinic)
    select(view, messages[state])
    assert not view.details.send_again_button.isEnabled()
    assert not view.details.cancel_button.isEnabled()
    assert view.details.open_button.isEnabled()
    assert view.send_again() is None and view.cancel_message() is None


# --- acting on a message -------------------------------------------------------------------


def test_send_again_puts_a_failed_message_back_in_line_and_tells_every_view(
    qtbot: QtBot, demo_clinic: Clinic, messages: dict[str, str]
) -> None:
    add_user(demo_clinic, "Dana Reyes", "receptionist")
    act_as_default_user(demo_clinic)
    bus = DataBus()
    view = make_view(qtbot, demo_clinic, bus)
    select(view, messages["failed"])

    with qtbot.waitSignal(bus.changed) as published:
        view.details.send_again_button.click()

    assert view.confirm_box is None  # a plain failure needs no question
    message = outbox.get_message(demo_clinic, messages["failed"])
    assert message.state == "due"
    assert outbox.history(demo_clinic, message.id)[-1].reason == (
        "Sent again at the desk by Dana Reyes"
    )
    assert published.args[0].touches("outbox")
    assert view.current_message_id() == message.id  # still chosen after the reload
    assert view.model.index(view.model.row_of(message.id), STATE_COLUMN).data() == "Due"
    assert view.state_filter.itemText(6) == "Failed (1)"


def test_a_message_that_may_have_arrived_asks_before_sending_again(
    qtbot: QtBot, demo_clinic: Clinic, messages: dict[str, str]
) -> None:
    view = make_view(qtbot, demo_clinic)
    select(view, messages["maybe"])

    view.details.send_again_button.click()
    box = view.confirm_box
    assert box is not None and box.isVisible()
    assert "may already have reached the patient" in box.text()
    assert box.defaultButton().text() == "Don't send"
    box.defaultButton().click()
    assert outbox.get_message(demo_clinic, messages["maybe"]).state == "failed"

    view.details.send_again_button.click()
    box = view.confirm_box
    assert box is not None
    yes = next(b for b in box.buttons() if b.text() == "Send again")
    yes.click()
    assert outbox.get_message(demo_clinic, messages["maybe"]).state == "due"
    assert view.confirm_box is None


@pytest.mark.parametrize("state", ["planned", "due", "failed", "to_print"])
def test_cancel_asks_first_and_then_stops_the_message(
    qtbot: QtBot, demo_clinic: Clinic, messages: dict[str, str], state: str
) -> None:
    view = make_view(qtbot, demo_clinic)
    select(view, messages[state])

    view.details.cancel_button.click()
    box = view.confirm_box
    assert box is not None and box.isVisible()
    assert ("printed" if state == "to_print" else "sent") in box.text()
    qtbot.keyClick(box, Qt.Key.Key_Escape)  # Esc keeps it
    assert outbox.get_message(demo_clinic, messages[state]).state == state

    view.details.cancel_button.click()
    box = view.confirm_box
    assert box is not None
    next(b for b in box.buttons() if b.text() == "Cancel message").click()

    message = outbox.get_message(demo_clinic, messages[state])
    assert message.state == "cancelled"
    assert outbox.history(demo_clinic, message.id)[-1].reason.startswith("Cancelled at the desk")
    assert not view.details.cancel_button.isEnabled()


def test_a_message_moved_on_elsewhere_is_explained_not_crashed_on(
    qtbot: QtBot, demo_clinic: Clinic, messages: dict[str, str]
) -> None:
    view = make_view(qtbot, demo_clinic)
    select(view, messages["failed"])
    outbox.cancel(demo_clinic, messages["failed"])  # another desk, a moment ago

    view.details.send_again_button.click()

    assert view.details.error.isVisible()
    assert view.details.error.text() == "Only a failed message can be sent again."
    assert view.details.state.text().startswith("Cancelled")


def test_enter_and_double_click_and_the_button_open_the_patient(
    qtbot: QtBot, demo_clinic: Clinic, messages: dict[str, str]
) -> None:
    view = make_view(qtbot, demo_clinic)
    select(view, messages["sent"])
    patient = outbox.get_message(demo_clinic, messages["sent"]).patient_id
    view.table.setFocus()

    with qtbot.waitSignal(view.open_patient) as opened:
        qtbot.keyClick(view.table, Qt.Key.Key_Return)
    assert opened.args == [patient]
    with qtbot.waitSignal(view.open_patient) as opened:
        view.details.open_button.click()
    assert opened.args == [patient]
    row = view.model.row_of(messages["sent"])
    with qtbot.waitSignal(view.open_patient) as opened:
        view.table.doubleClicked.emit(view.model.index(row, 1))
    assert opened.args == [patient]


def test_a_change_on_the_bus_reloads_the_list(
    qtbot: QtBot, demo_clinic: Clinic, messages: dict[str, str]
) -> None:
    bus = DataBus()
    view = make_view(qtbot, demo_clinic, bus)
    select(view, messages["due"])
    changes = outbox.cancel(demo_clinic, messages["due"])  # e.g. the planner's pass

    bus.publish(changes)

    assert view.details.state.text().startswith("Cancelled")
    assert view.state_filter.itemText(2) == "Due (0)"


# --- the banner ----------------------------------------------------------------------------


def test_the_banner_says_when_sending_is_off_or_done_by_another_computer(
    qtbot: QtBot, demo_clinic: Clinic
) -> None:
    bus = DataBus()
    view = make_view(qtbot, demo_clinic, bus)
    assert view.banner.isVisible() and view.banner.text() == SENDING_OFF

    update_settings(demo_clinic, enabled=True, sender_device="another-computer")
    bus.publish(Changes(frozenset({"setting"})))
    assert view.banner.isVisible() and view.banner.text() == OTHER_SENDER

    claim_sender(demo_clinic)
    bus.publish(Changes(frozenset({"setting"})))
    assert not view.banner.isVisible()


def test_the_banner_names_a_channel_whose_account_was_refused(
    qtbot: QtBot, demo_clinic: Clinic
) -> None:
    bus = DataBus()
    claim_sender(demo_clinic)
    update_settings(demo_clinic, enabled=True)
    view = make_view(qtbot, demo_clinic, bus)
    assert not view.banner.isVisible()
    refused = {"at": "2026-11-28T15:00:00Z", "reason": "The SMS service refused the sign-in."}
    with demo_clinic.store.write() as tx:
        put_setting(tx, PROBLEM_SETTING + "sms", json.dumps(refused))
    bus.publish(Changes(frozenset({"setting"})))
    assert view.banner.isVisible()
    assert view.banner.text() == (
        "Texts cannot be sent: The SMS service refused the sign-in. "
        "Fix it in Settings ▸ Email and text messages."
    )


# --- keyboard and names --------------------------------------------------------------------


def test_every_control_has_a_name_and_tab_reaches_the_actions(
    qtbot: QtBot, demo_clinic: Clinic, messages: dict[str, str]
) -> None:
    page = MessagesPage(demo_clinic, DataBus())
    qtbot.addWidget(page)
    page.resize(1100, 660)
    page.show()
    page.activateWindow()
    qtbot.waitUntil(page.isActiveWindow)
    view = page.outbox
    select(view, messages["failed"])
    assert unnamed_controls(page) == []
    page.tabs.setCurrentIndex(INBOX_TAB)
    assert unnamed_controls(page) == []
    page.tabs.setCurrentIndex(0)
    view.state_filter.setFocus()
    reached = []
    for _ in range(8):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        reached.append(QApplication.focusWidget())
    assert view.table in reached
    assert view.details.send_again_button in reached
    assert view.details.cancel_button in reached


# --- the page and the window ---------------------------------------------------------------


def test_the_inbox_tab_counts_replies_waiting(qtbot: QtBot, demo_clinic: Clinic) -> None:
    from app.store.writer import new_id

    bus = DataBus()
    page = MessagesPage(demo_clinic, bus)
    qtbot.addWidget(page)
    assert page.tabs.tabText(INBOX_TAB) == "Inbox"
    with demo_clinic.store.write() as tx:
        tx.insert(
            "inbound_message",
            {
                "id": new_id(),
                "provider_ref": new_id(),
                "sender": "+16125550134",
                "body": "Running late",
                "received_at": utc_now(),
                "meaning": "other",
            },
        )
    bus.publish(tx.changes)
    assert page.tabs.tabText(INBOX_TAB) == "Inbox (1)"


def test_the_window_shows_messages_on_ctrl_3_and_opens_the_patient_from_there(
    qtbot: QtBot, demo_clinic: Clinic, messages: dict[str, str]
) -> None:
    from ui.main_window import MainWindow

    window = MainWindow(demo_clinic)
    qtbot.addWidget(window)
    window.resize(1280, 720)
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    qtbot.keyClick(window, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    assert window.stack.currentWidget() is window.messages
    view = window.messages.outbox
    select(view, messages["failed"])
    view.table.setFocus()
    qtbot.keyClick(view.table, Qt.Key.Key_Return)
    patient = outbox.get_message(demo_clinic, messages["failed"]).patient_id
    assert window.stack.currentWidget() is window.patient_view
    assert window.patient_view.patient_id == patient
    entries = window.patient_view.timeline.model.entries
    assert [e.title for e in entries if e.kind == "message"] == ["Email failed · Balance reminders"]


def test_the_patient_timeline_shows_messages_and_the_reminders_chip_keeps_only_them(
    qtbot: QtBot, demo_clinic: Clinic, messages: dict[str, str]
) -> None:
    from ui.patient.view import PatientView

    patient = outbox.get_message(demo_clinic, messages["sent"]).patient_id
    view = PatientView(demo_clinic, DataBus())
    qtbot.addWidget(view)
    view.show_patient(patient)
    timeline = view.timeline
    for name, chip in timeline.chips.items():
        chip.setChecked(name == "Reminders")
    (entry,) = timeline.model.entries
    assert (entry.kind, entry.title) == ("message", "Text sent · Appointment reminders")
    spoken = timeline.model.data(timeline.model.index(0), Qt.ItemDataRole.AccessibleTextRole)
    assert str(spoken).startswith("Automatic message: ")
    assert str(spoken).endswith("Hi Ada, see you Tue at 10:00.")


# --- how it looks --------------------------------------------------------------------------


def test_screenshots_of_messages_at_1280_by_720_and_at_double_density(
    qtbot: QtBot, demo_clinic: Clinic, messages: dict[str, str], tmp_path: Path
) -> None:
    """FRONTDESK_SCREENSHOTS=1 also writes docs/screenshots/messages.png for the guide."""
    from ui.main_window import MainWindow

    out = REPO / "docs" / "screenshots" if os.environ.get("FRONTDESK_SCREENSHOTS") else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    add_user(demo_clinic, "Dana Reyes", "receptionist")
    act_as_default_user(demo_clinic)
    window = MainWindow(demo_clinic, start_page="Messages")
    qtbot.addWidget(window)
    window.resize(1280, 720)
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    select(window.messages.outbox, messages["maybe"])
    qtbot.wait(50)  # let the details panel settle its wrapped lines
    image = window.grab()
    assert image.width() >= 1280
    assert image.save(str(out / "messages.png"))
    assert (out / "messages.png").stat().st_size > 10_000

    # Twice the pixels for the same layout: what a 200 % display draws.
    sharp = QPixmap(window.size() * 2)
    sharp.setDevicePixelRatio(2)
    window.render(sharp)
    assert sharp.width() == window.width() * 2
    assert sharp.save(str(tmp_path / "messages@2x.png"))
