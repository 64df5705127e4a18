"""The quick-action forms of the patient view save through the core, refuse bad input
next to the field, publish what they changed, and ask before throwing edits away."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import QDate, Qt, QTime
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QComboBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QWidget,
)
from pytestqt.qtbot import QtBot

from app.billing.ledger import balance, post_charge
from app.clinic import Clinic
from app.directory import add_provider
from app.patients.model import PatientDraft
from app.patients.records import add_tag, create_patient, get_patient
from app.patients.timeline import TimelineEntry, timeline
from app.scheduling.appointments import book, get, set_status
from app.store.changes import Changes
from app.tasks import open_tasks
from ui.bus import DataBus
from ui.forms.appointment import AppointmentDialog
from ui.forms.base import FieldError, FormDialog
from ui.forms.call import LogCallDialog
from ui.forms.note import NoteDialog
from ui.forms.payment import PaymentDialog
from ui.forms.tag import TagDialog


class _EchoForm(FormDialog):
    """A two-field form whose save refuses an empty name, to test the base alone."""

    def __init__(self, clinic: Clinic, bus: DataBus) -> None:
        super().__init__(clinic, bus, "Echo")
        self.name = QLineEdit()
        self.text = QPlainTextEdit()
        self.add_field("&Name", self.name, "name")
        self.add_field("&Text", self.text, "text")
        self.name.setText("prefilled")
        self.mark_clean()

    def _save(self) -> Changes:
        if not self.name.text().strip():
            raise FieldError("name", "Type a name.")
        return Changes(frozenset({"patient"}), frozenset({"p1"}))


def _published(bus: DataBus) -> list[Changes]:
    seen: list[Changes] = []
    bus.changed.connect(seen.append)
    return seen


def test_form_base_shows_field_error_under_field_and_keeps_dialog_open(
    qtbot: QtBot, clinic: Clinic
) -> None:
    bus = DataBus()
    seen = _published(bus)
    form = _EchoForm(clinic, bus)
    qtbot.addWidget(form)
    form.show()
    form.name.clear()
    assert form.save() is False
    assert form.error_text("name") == "Type a name."
    assert form.error_label("name").accessibleName() == "Name error"
    assert form.isVisible() and not seen


def test_ctrl_enter_in_multiline_text_saves_and_publishes(qtbot: QtBot, clinic: Clinic) -> None:
    bus = DataBus()
    seen = _published(bus)
    form = _EchoForm(clinic, bus)
    qtbot.addWidget(form)
    form.show()
    form.activateWindow()
    qtbot.waitUntil(form.isActiveWindow)
    form.text.setFocus()
    qtbot.keyClicks(form.text, "hello")
    qtbot.keyClick(form.text, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert seen and seen[0].patient_ids == frozenset({"p1"})
    assert not form.isVisible()
    assert "hello" in form.text.toPlainText() and "\n" not in form.text.toPlainText()


def test_closing_a_dirty_form_asks_and_no_keeps_it_open(qtbot: QtBot, clinic: Clinic) -> None:
    form = _EchoForm(clinic, DataBus())
    qtbot.addWidget(form)
    form.show()
    form.reject()
    assert not form.isVisible() and form.discard_box is None  # nothing typed: closes at once
    form = _EchoForm(clinic, DataBus())
    qtbot.addWidget(form)
    form.show()
    form.name.setText("changed")
    form.close()
    assert form.discard_box is not None
    assert form.discard_box.text() == "Discard your changes?"
    form.answer_discard(False)
    assert form.isVisible() and form.discard_box is None
    qtbot.keyClick(form, Qt.Key.Key_Escape)
    assert form.discard_box is not None
    form.answer_discard(True)
    assert not form.isVisible()


def _tab_stops(start: QWidget) -> list[QWidget]:
    """The widgets Tab visits from `start`, in order, once round."""
    stops = [start]
    widget = start.nextInFocusChain()
    while widget is not start:
        if widget.focusPolicy() & Qt.FocusPolicy.TabFocus and widget.isVisibleTo(start.window()):
            stops.append(widget)
        widget = widget.nextInFocusChain()
    return stops


def test_tab_goes_through_fields_in_order_then_buttons(qtbot: QtBot, clinic: Clinic) -> None:
    form = _EchoForm(clinic, DataBus())
    qtbot.addWidget(form)
    form.show()
    stops = _tab_stops(form.name)
    assert stops[1] is form.text
    assert set(stops[2:4]) == {form.save_button, form.cancel_button}


# --- the quick actions, on a real clinic -------------------------------------------


@pytest.fixture
def patient_id(clinic: Clinic) -> str:
    return create_patient(clinic, PatientDraft("Okafor", "Ada", birth_date="1974-03-02")).id


@pytest.fixture
def bus() -> DataBus:
    return DataBus()


def _open(qtbot: QtBot, dialog: FormDialog) -> FormDialog:
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def _clinic_today(clinic: Clinic) -> date:
    return datetime.now(ZoneInfo(clinic.settings.timezone)).date()


def _interactions(clinic: Clinic, patient_id: str, kind: str) -> list[TimelineEntry]:
    return timeline(clinic, patient_id, kinds={kind})


def test_logging_a_call_with_follow_up_puts_call_on_timeline_and_task_on_call_list(
    qtbot: QtBot, clinic: Clinic, patient_id: str, bus: DataBus
) -> None:
    seen = _published(bus)
    dialog = _open(qtbot, LogCallDialog(clinic, bus, patient_id))
    assert isinstance(dialog, LogCallDialog)
    dialog.direction_buttons["in"].click()
    dialog.outcome_buttons["voicemail"].click()
    dialog.note.setPlainText("Asked about her results")
    assert dialog.call_back.isChecked()  # a voicemail means calling back
    follow_up = _clinic_today(clinic) + timedelta(days=3)
    dialog.follow_up.setDate(QDate(follow_up.year, follow_up.month, follow_up.day))

    assert dialog.save()

    calls = _interactions(clinic, patient_id, "call")
    assert len(calls) == 1
    assert calls[0].title == "Call · voicemail" and calls[0].direction == "in"
    tasks = open_tasks(clinic, follow_up, patient_id=patient_id)
    assert len(tasks) == 1 and tasks[0].due_on == follow_up.isoformat()
    assert tasks[0].interaction_id == calls[0].record_id
    assert "results" in tasks[0].note
    assert seen and seen[0].touches("interaction", "task") and patient_id in seen[0].patient_ids
    assert not dialog.isVisible()


def test_call_without_outcome_is_refused_next_to_outcome_and_nothing_saved(
    qtbot: QtBot, clinic: Clinic, patient_id: str, bus: DataBus
) -> None:
    seen = _published(bus)
    dialog = _open(qtbot, LogCallDialog(clinic, bus, patient_id))
    assert isinstance(dialog, LogCallDialog)
    dialog.note.setPlainText("Line was busy")
    assert not dialog.save()
    assert dialog.error_text("outcome") == "Choose how the call went."
    assert dialog.isVisible() and not seen
    assert _interactions(clinic, patient_id, "call") == []


def test_past_call_back_date_is_refused_and_no_call_logged(
    qtbot: QtBot, clinic: Clinic, patient_id: str, bus: DataBus
) -> None:
    dialog = _open(qtbot, LogCallDialog(clinic, bus, patient_id))
    assert isinstance(dialog, LogCallDialog)
    dialog.outcome_buttons["no answer"].click()
    dialog.call_back.setChecked(True)
    yesterday = _clinic_today(clinic) - timedelta(days=1)
    dialog.follow_up.setDate(QDate(yesterday.year, yesterday.month, yesterday.day))
    assert not dialog.save()
    assert "passed" in dialog.error_text("follow_up")
    assert dialog.error_text("outcome") == ""
    assert _interactions(clinic, patient_id, "call") == []
    assert open_tasks(clinic, _clinic_today(clinic) + timedelta(days=400), patient_id) == []


def test_call_by_keyboard_only_ctrl_enter_logs_it(
    qtbot: QtBot, clinic: Clinic, patient_id: str, bus: DataBus
) -> None:
    dialog = _open(qtbot, LogCallDialog(clinic, bus, patient_id))
    assert isinstance(dialog, LogCallDialog)
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow)
    qtbot.keyClick(dialog, Qt.Key.Key_R, Qt.KeyboardModifier.AltModifier)  # &Reached
    qtbot.waitUntil(lambda: dialog.outcome() == "reached")  # a mnemonic clicks animated
    qtbot.keyClick(dialog, Qt.Key.Key_N, Qt.KeyboardModifier.AltModifier)  # &Note
    qtbot.keyClicks(dialog.focusWidget(), "Booked her in")
    qtbot.keyClick(dialog.focusWidget(), Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    calls = _interactions(clinic, patient_id, "call")
    assert [c.title for c in calls] == ["Call · reached"]
    assert calls[0].detail == "Booked her in"


def test_empty_note_is_refused_and_written_note_is_on_timeline(
    qtbot: QtBot, clinic: Clinic, patient_id: str, bus: DataBus
) -> None:
    seen = _published(bus)
    dialog = _open(qtbot, NoteDialog(clinic, bus, patient_id))
    assert isinstance(dialog, NoteDialog)
    dialog.text.setPlainText("   \n ")
    assert not dialog.save()
    assert dialog.error_text("text") == "Write the note before saving it."
    assert _interactions(clinic, patient_id, "note") == []

    dialog.subject.setText("Parking")
    dialog.text.setPlainText("Needs a disabled parking space")
    assert dialog.save()
    notes = _interactions(clinic, patient_id, "note")
    assert [n.detail for n in notes] == ["Parking"]
    assert len(seen) == 1


def _next_january_day(clinic: Clinic) -> date:
    return date(_clinic_today(clinic).year + 1, 1, 12)


def test_booking_at_nine_chicago_time_stores_fifteen_utc_and_shows_on_timeline(
    qtbot: QtBot, clinic: Clinic, patient_id: str, bus: DataBus
) -> None:
    seen = _published(bus)
    dialog = _open(qtbot, AppointmentDialog(clinic, bus, patient_id))
    assert isinstance(dialog, AppointmentDialog)
    day = _next_january_day(clinic)
    dialog.day.setDate(QDate(day.year, day.month, day.day))
    dialog.start.setTime(QTime(9, 0))
    dialog.duration.setCurrentIndex(dialog.duration.findData(30))
    dialog.kind.setEditText("checkup")
    dialog.reason.setText("yearly")
    assert dialog.save()

    entries = timeline(clinic, patient_id, kinds={"appointment"})
    assert len(entries) == 1
    assert entries[0].at == f"{day.isoformat()}T15:00:00Z"
    assert entries[0].title == "Appointment booked" and entries[0].detail == "checkup yearly"
    booked = get(clinic, entries[0].record_id)
    assert booked.end_at == f"{day.isoformat()}T15:30:00Z"
    assert seen and seen[0].touches("appointment")


def test_time_skipped_by_spring_forward_is_refused_with_the_reason(
    qtbot: QtBot, clinic: Clinic, patient_id: str, bus: DataBus
) -> None:
    dialog = _open(qtbot, AppointmentDialog(clinic, bus, patient_id))
    assert isinstance(dialog, AppointmentDialog)
    dialog.day.setDate(QDate(2027, 3, 14))
    dialog.start.setTime(QTime(2, 30))
    assert not dialog.save()
    assert "clocks go forward" in dialog.error_text("time")
    assert timeline(clinic, patient_id, kinds={"appointment"}) == []


def test_booking_in_the_past_is_refused(
    qtbot: QtBot, clinic: Clinic, patient_id: str, bus: DataBus
) -> None:
    dialog = _open(qtbot, AppointmentDialog(clinic, bus, patient_id))
    assert isinstance(dialog, AppointmentDialog)
    last_week = _clinic_today(clinic) - timedelta(days=7)
    dialog.day.setDate(QDate(last_week.year, last_week.month, last_week.day))
    assert not dialog.save()
    assert "already passed" in dialog.error_text("time")
    assert timeline(clinic, patient_id, kinds={"appointment"}) == []


def _booked(clinic: Clinic, patient_id: str) -> str:
    day = _next_january_day(clinic)
    start = datetime(day.year, day.month, day.day, 15, 0, tzinfo=UTC)
    return book(clinic, patient_id, start, start + timedelta(minutes=20), kind="checkup").id


def test_confirm_button_confirms_the_appointment(
    qtbot: QtBot, clinic: Clinic, patient_id: str, bus: DataBus
) -> None:
    appointment_id = _booked(clinic, patient_id)
    seen = _published(bus)
    dialog = _open(qtbot, AppointmentDialog(clinic, bus, None, appointment_id=appointment_id))
    assert isinstance(dialog, AppointmentDialog)
    assert dialog.start.time() == QTime(9, 0)  # shown on the clinic's clock
    assert dialog.duration.currentData() == 20
    assert not dialog.status_buttons["noshow"].isHidden()
    dialog.status_buttons["confirmed"].click()
    assert get(clinic, appointment_id).status == "confirmed"
    assert seen and seen[0].touches("appointment")
    assert not dialog.isVisible()


def test_moving_an_appointment_stores_the_new_time(
    qtbot: QtBot, clinic: Clinic, patient_id: str, bus: DataBus
) -> None:
    appointment_id = _booked(clinic, patient_id)
    dialog = _open(qtbot, AppointmentDialog(clinic, bus, None, appointment_id=appointment_id))
    assert isinstance(dialog, AppointmentDialog)
    dialog.start.setTime(QTime(10, 30))
    assert dialog.save()
    assert get(clinic, appointment_id).start_at is not None
    assert get(clinic, appointment_id).start_at.endswith("T16:30:00Z")  # type: ignore[union-attr]


def test_editing_provider_and_reason_saves_them_and_leaves_time_and_state(
    qtbot: QtBot, clinic: Clinic, patient_id: str, bus: DataBus
) -> None:
    doctor = add_provider(clinic, "Mensah", "Kofi", title="Dr").id
    appointment_id = _booked(clinic, patient_id)
    set_status(clinic, appointment_id, "confirmed")
    before = get(clinic, appointment_id)
    seen = _published(bus)
    dialog = _open(qtbot, AppointmentDialog(clinic, bus, None, appointment_id=appointment_id))
    assert isinstance(dialog, AppointmentDialog)
    assert dialog.provider.isEnabled() and dialog.reason.isEnabled()
    assert dialog.hint_text("reason") == ""
    dialog.provider.setCurrentIndex(dialog.provider.findData(doctor))
    dialog.reason.setText("  knee pain ")
    assert dialog.save()

    after = get(clinic, appointment_id)
    assert (after.provider_id, after.reason) == (doctor, "knee pain")
    assert (after.start_at, after.end_at, after.kind) == (before.start_at, before.end_at, "checkup")
    assert after.status == "confirmed"  # not moved, so it need not be confirmed again
    assert len(seen) == 1 and seen[0].touches("appointment")


def test_new_time_and_type_are_both_saved_in_one_go(
    qtbot: QtBot, clinic: Clinic, patient_id: str, bus: DataBus
) -> None:
    appointment_id = _booked(clinic, patient_id)
    seen = _published(bus)
    dialog = _open(qtbot, AppointmentDialog(clinic, bus, None, appointment_id=appointment_id))
    assert isinstance(dialog, AppointmentDialog)
    dialog.start.setTime(QTime(11, 0))
    dialog.kind.setEditText("vaccination")
    assert dialog.save()
    after = get(clinic, appointment_id)
    assert after.kind == "vaccination"
    assert after.start_at is not None and after.start_at.endswith("T17:00:00Z")
    assert len(seen) == 1 and seen[0].touches("appointment")


def test_a_refused_time_saves_none_of_the_other_changes(
    qtbot: QtBot, clinic: Clinic, patient_id: str, bus: DataBus
) -> None:
    appointment_id = _booked(clinic, patient_id)
    dialog = _open(qtbot, AppointmentDialog(clinic, bus, None, appointment_id=appointment_id))
    assert isinstance(dialog, AppointmentDialog)
    dialog.day.setDate(QDate(2027, 3, 14))
    dialog.start.setTime(QTime(2, 30))
    dialog.reason.setText("knee pain")
    assert not dialog.save()
    assert "clocks go forward" in dialog.error_text("time")
    assert get(clinic, appointment_id).reason == ""


def test_closed_appointment_opens_read_only_with_the_reason(
    qtbot: QtBot, clinic: Clinic, patient_id: str, bus: DataBus
) -> None:
    appointment_id = _booked(clinic, patient_id)
    set_status(clinic, appointment_id, "cancelled")
    dialog = _open(qtbot, AppointmentDialog(clinic, bus, None, appointment_id=appointment_id))
    assert isinstance(dialog, AppointmentDialog)
    assert not dialog.day.isEnabled() and not dialog.save_button.isVisible()
    for field in (dialog.provider, dialog.location, dialog.kind, dialog.reason):
        assert not field.isEnabled()
    assert dialog.status_buttons == {}
    texts = [label.text() for label in dialog.findChildren(QLabel)]
    assert any("cancelled, so it cannot be changed" in t for t in texts)
    assert not dialog.save()


def test_payment_of_twelve_fifty_is_stored_as_cents(
    qtbot: QtBot, clinic: Clinic, patient_id: str, bus: DataBus
) -> None:
    seen = _published(bus)
    dialog = _open(qtbot, PaymentDialog(clinic, bus, patient_id))
    assert isinstance(dialog, PaymentDialog)
    dialog.amount.setText("$12.50")
    dialog.method.setCurrentIndex(dialog.method.findData("cash"))
    dialog.reference.setText("R-1001")
    assert dialog.save()
    assert balance(clinic, patient_id).paid_cents == 1250
    payments = timeline(clinic, patient_id, kinds={"payment"})
    assert [(p.title, p.amount_cents) for p in payments] == [("Payment (cash)", 1250)]
    assert seen and seen[0].touches("payment")


@pytest.mark.parametrize(
    ("typed", "reason"),
    [("12.505", "more than two decimals"), ("abc", "not a number"), ("", "Type the amount")],
)
def test_bad_payment_amount_is_refused_next_to_the_amount(
    qtbot: QtBot, clinic: Clinic, patient_id: str, bus: DataBus, typed: str, reason: str
) -> None:
    dialog = _open(qtbot, PaymentDialog(clinic, bus, patient_id))
    assert isinstance(dialog, PaymentDialog)
    dialog.amount.setText(typed)
    assert not dialog.save()
    assert reason in dialog.error_text("amount")
    assert balance(clinic, patient_id).paid_cents == 0


def test_payment_above_the_balance_is_allowed_with_a_credit_hint(
    qtbot: QtBot, clinic: Clinic, patient_id: str, bus: DataBus
) -> None:
    post_charge(clinic, patient_id, 4000, "Checkup")
    dialog = _open(qtbot, PaymentDialog(clinic, bus, patient_id))
    assert isinstance(dialog, PaymentDialog)
    assert dialog.balance_label.text() == "$40.00 due"
    dialog.amount.setText("45")
    assert "$5.00 more than is due" in dialog.hint_text("amount")
    dialog.amount.setText("40")
    assert dialog.hint_text("amount") == ""
    dialog.amount.setText("45")
    assert dialog.save()
    assert balance(clinic, patient_id).due_cents == -500


def test_tag_is_added_with_the_clinics_spelling_and_removed(
    qtbot: QtBot, clinic: Clinic, patient_id: str, bus: DataBus
) -> None:
    other = create_patient(clinic, PatientDraft("Diaz", "Rosa")).id
    add_tag(clinic, other, "wheelchair")
    add_tag(clinic, other, "interpreter: Spanish")
    seen = _published(bus)
    dialog = _open(qtbot, TagDialog(clinic, bus, patient_id))
    assert isinstance(dialog, TagDialog)
    dialog.completer.setCompletionPrefix("wheel")
    assert dialog.completer.currentCompletion() == "wheelchair"
    dialog.tag.setText("Wheelchair ")
    assert dialog.save()
    assert get_patient(clinic, patient_id).tags == ("wheelchair",)
    add_tag(clinic, patient_id, "diabetic")

    dialog = _open(qtbot, TagDialog(clinic, bus, patient_id))
    assert isinstance(dialog, TagDialog)
    assert dialog.tags() == ["diabetic", "wheelchair"]
    assert _tab_stops(dialog.tag)[1:3] == list(dialog.remove_buttons.values())
    dialog.remove_buttons["wheelchair"].click()
    assert get_patient(clinic, patient_id).tags == ("diabetic",)
    assert dialog.tags() == ["diabetic"]
    qtbot.waitUntil(dialog.remove_buttons["diabetic"].isVisible)  # the layout shows it queued
    assert _tab_stops(dialog.tag)[1] is dialog.remove_buttons["diabetic"]
    assert len(seen) == 2 and all(patient_id in c.patient_ids for c in seen)


def test_empty_tag_is_refused(qtbot: QtBot, clinic: Clinic, patient_id: str, bus: DataBus) -> None:
    dialog = _open(qtbot, TagDialog(clinic, bus, patient_id))
    assert not dialog.save()
    assert dialog.error_text("tag") == "Type the tag to add."


def test_closing_dirty_call_form_asks_and_no_keeps_what_was_typed(
    qtbot: QtBot, clinic: Clinic, patient_id: str, bus: DataBus
) -> None:
    dialog = _open(qtbot, LogCallDialog(clinic, bus, patient_id))
    assert isinstance(dialog, LogCallDialog)
    assert not dialog.dirty
    dialog.note.setPlainText("half typed")
    assert dialog.dirty
    dialog.cancel_button.click()
    assert dialog.discard_box is not None and dialog.discard_box.isVisible()
    dialog.answer_discard(False)
    assert dialog.isVisible() and dialog.note.toPlainText() == "half typed"
    dialog.close()
    dialog.answer_discard(True)
    assert not dialog.isVisible()
    assert _interactions(clinic, patient_id, "call") == []


@pytest.mark.parametrize("form", [LogCallDialog, NoteDialog, AppointmentDialog, PaymentDialog])
def test_every_tab_stop_has_a_name_that_matches_its_words(
    qtbot: QtBot, clinic: Clinic, patient_id: str, bus: DataBus, form: type[FormDialog]
) -> None:
    dialog = _open(qtbot, form(clinic, bus, patient_id))  # type: ignore[call-arg]
    # The editor inside a date or combo box is part of it and speaks with its name.
    stops = [
        w
        for w in _tab_stops(dialog.save_button)
        if not isinstance(w.parentWidget(), QAbstractSpinBox | QComboBox)
    ]
    assert all(w.accessibleName() for w in stops), [type(w).__name__ for w in stops]
    assert dialog.save_button.accessibleName() == dialog.save_button.text().replace("&", "")
    # The two buttons sit together at the end of the round, whichever order the style uses.
    assert dialog.cancel_button in (stops[1], stops[-1])
