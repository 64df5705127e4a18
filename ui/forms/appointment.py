"""Book an appointment (Ctrl+B), or open one to change it or mark it confirmed, arrived, seen…

Times are typed in the clinic's time zone, whatever the computer's own zone is, and
stored in UTC by the core. A start that does not exist on the clinic's clock (the hour
skipped when clocks go forward) is refused with the reason.

A start in the past is refused, both when booking and when moving: it is nearly always
a slip (wrong day, AM for PM), and a visit that already happened is recorded by marking
its appointment Seen, not by booking into the past. A short grace lets a walk-in who is
standing at the desk be booked for "now".

Editing writes only what was changed: a new time goes through move() (which puts the
appointment back to booked, so it is confirmed again), a new provider, place, type or
reason through update_details(), which leaves the time and state alone. A closed
appointment (seen, cancelled, no-show) is shown read-only.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from PySide6.QtCore import QTime
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTimeEdit,
    QWidget,
)

from app.clinic import Clinic
from app.directory import locations, providers
from app.errors import InvalidDateError
from app.patients.records import get_patient
from app.scheduling.appointments import (
    Appointment,
    book,
    get,
    move,
    set_status,
    update_details,
)
from app.scheduling.kinds import appointment_kinds
from app.scheduling.local_time import local_start
from app.store.changes import Changes
from ui.bus import DataBus
from ui.forms.base import (
    DATE_FORMAT,
    FieldError,
    FormDialog,
    from_qdate,
    to_qdate,
)

DURATIONS = (15, 20, 30, 45, 60)  # minutes
DEFAULT_DURATION = 15
DEFAULT_START = time(9, 0)
PAST_GRACE = timedelta(minutes=30)
CLOSED = {"fulfilled", "cancelled", "noshow"}
STATUS_WORDS = {
    "booked": "Booked, not yet confirmed",
    "confirmed": "Confirmed",
    "arrived": "Arrived",
    "fulfilled": "Seen",
    "cancelled": "Cancelled",
    "noshow": "Did not come (no-show)",
}
# (status, button text, accessible name); closing ones last, Cancel furthest right.
STATUS_ACTIONS = (
    ("confirmed", "Con&firm", "Confirm"),
    ("arrived", "A&rrived", "Arrived"),
    ("fulfilled", "S&een", "Seen"),
    ("noshow", "No-s&how", "No-show"),
    ("cancelled", "Cance&l appointment", "Cancel appointment"),
)
# Which status buttons make sense from each open status.
_ALLOWED = {
    "booked": {"confirmed", "arrived", "fulfilled", "noshow", "cancelled"},
    "confirmed": {"arrived", "fulfilled", "noshow", "cancelled"},
    "arrived": {"fulfilled", "cancelled"},
}
_CLOSED_WHY = {
    "fulfilled": "This appointment has been seen",
    "cancelled": "This appointment was cancelled",
    "noshow": "The patient did not come to this appointment",
}


def _tidy(text: str) -> str:
    return " ".join(text.split())


def _parse_utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class AppointmentDialog(FormDialog):
    """Books for `patient_id`, or edits `appointment_id` when given."""

    def __init__(
        self,
        clinic: Clinic,
        bus: DataBus,
        patient_id: str | None,
        parent: QWidget | None = None,
        *,
        appointment_id: str | None = None,
    ) -> None:
        super().__init__(clinic, bus, "Book an appointment", parent)
        self.appointment: Appointment | None = (
            get(clinic, appointment_id) if appointment_id is not None else None
        )
        if self.appointment is not None:
            patient_id = self.appointment.patient_id
        if patient_id is None:
            raise ValueError("AppointmentDialog needs a patient or an appointment")
        self.patient_id = patient_id
        self.pending_status: str | None = None
        self.status_buttons: dict[str, QPushButton] = {}
        patient = get_patient(clinic, patient_id)
        zone = self.zone()
        editing = self.appointment is not None
        verb = "Appointment" if editing else "Book an appointment"
        self.setWindowTitle(f"{verb} · {patient.display_name}")
        self.add_heading(
            f"Appointment for {patient.display_name}"
            if editing
            else f"Book an appointment for {patient.display_name}"
        )
        self.save_button.setText("Save changes" if editing else "Book")

        start_local, minutes = self._initial_time(zone)
        self.day = QDateEdit()
        self.day.setCalendarPopup(True)
        self.day.setDisplayFormat(DATE_FORMAT)
        self.day.setDate(to_qdate(start_local.date()))
        self.add_field("&Date", self.day, "date")

        self.start = QTimeEdit()
        self.start.setDisplayFormat("h:mm AP" if clinic.settings.region == "US" else "HH:mm")
        self.start.setTime(QTime(start_local.hour, start_local.minute))
        self.add_field(
            "S&tart", self.start, "time", hint=f"Clinic time ({clinic.settings.timezone})"
        )

        self.duration = QComboBox()
        choices = sorted({*DURATIONS, minutes})
        for value in choices:
            self.duration.addItem(f"{value} minutes", value)
        self.duration.setCurrentIndex(choices.index(minutes))
        self.add_field("&Length", self.duration, "duration")

        self.provider = QComboBox()
        self.provider.addItem("Any", None)
        for person in providers(clinic):
            if person.active or (editing and person.id == self._current("provider_id")):
                self.provider.addItem(person.display_name, person.id)
        self._select(self.provider, self._current("provider_id"))
        self.add_field("&Provider", self.provider, "provider")

        self.location = QComboBox()
        self.location.addItem("Any", None)
        for place in locations(clinic):
            if place.active or (editing and place.id == self._current("location_id")):
                self.location.addItem(place.name, place.id)
        self._select(self.location, self._current("location_id"))
        self.add_field("Pl&ace", self.location, "location")

        self.kind = QComboBox()
        self.kind.setEditable(True)
        self.kind.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.kind.addItems(appointment_kinds(clinic))
        self.kind.setEditText(self.appointment.kind if self.appointment else "")
        line = self.kind.lineEdit()
        if line is not None:
            line.setPlaceholderText("e.g. checkup")
        self.add_field("T&ype", self.kind, "kind")

        self.reason = QLineEdit(self.appointment.reason if self.appointment else "")
        self.reason.setPlaceholderText("Optional, e.g. knee pain")
        self.add_field("Rea&son", self.reason, "reason")

        if self.appointment is not None:
            self._add_status_row(self.appointment)
        self.mark_clean()

    # --- building ---------------------------------------------------------------------

    def _current(self, column: str) -> str | None:
        if self.appointment is None:
            return None
        value = getattr(self.appointment, column)
        return str(value) if value is not None else None

    def _initial_time(self, zone: ZoneInfo) -> tuple[datetime, int]:
        appointment = self.appointment
        if appointment is not None and appointment.start_at:
            start = _parse_utc(appointment.start_at).astimezone(zone)
            minutes = DEFAULT_DURATION
            if appointment.end_at:
                span = _parse_utc(appointment.end_at) - _parse_utc(appointment.start_at)
                minutes = max(1, int(span.total_seconds() // 60))
            return start, minutes
        day = self.today() + timedelta(days=1)
        while day.weekday() >= 5:
            day += timedelta(days=1)
        return datetime.combine(day, DEFAULT_START, tzinfo=zone), DEFAULT_DURATION

    @staticmethod
    def _select(combo: QComboBox, value: str | None) -> None:
        index = combo.findData(value) if value is not None else 0
        combo.setCurrentIndex(max(index, 0))

    def _add_status_row(self, appointment: Appointment) -> None:
        self.status_label = QLabel(STATUS_WORDS.get(appointment.status, appointment.status))
        self.status_label.setAccessibleName("Status")
        self.add_field("Status", self.status_label, "status")
        if appointment.status in CLOSED:
            self._read_only(appointment)
            return
        # Below the fields, not in a form row: five buttons are wider than a field column.
        actions = QGroupBox("Mark the appointment as")
        actions.setAccessibleName("Mark the appointment as")
        row = QHBoxLayout(actions)
        allowed = _ALLOWED.get(appointment.status, set())
        for status, text, words in STATUS_ACTIONS:
            button = QPushButton(text)
            button.setAccessibleName(words)
            button.setAutoDefault(False)
            button.setEnabled(status in allowed)
            button.clicked.connect(lambda _checked=False, s=status: self.mark(s))
            row.addWidget(button)
            self.status_buttons[status] = button
        row.addStretch(1)
        self.content.addWidget(actions)

    def _read_only(self, appointment: Appointment) -> None:
        why = _CLOSED_WHY.get(appointment.status, "This appointment is closed")
        note = QLabel(f"{why}, so it cannot be changed. To see the patient again, book a new one.")
        note.setAccessibleName("Why this appointment cannot be changed")
        note.setWordWrap(True)
        self.content.insertWidget(1, note)
        for widget in (
            self.day,
            self.start,
            self.duration,
            self.provider,
            self.location,
            self.kind,
            self.reason,
        ):
            widget.setEnabled(False)
        self.save_button.setEnabled(False)
        self.save_button.hide()
        self.cancel_button.setText("Close")

    # --- saving -----------------------------------------------------------------------

    def mark(self, status: str) -> bool:
        """A status button saves at once (with any new time) and closes the form."""
        self.pending_status = status
        saved = self.save()
        if not saved:
            self.pending_status = None
        return saved

    def chosen_start(self) -> datetime:
        zone = self.zone()
        start = self.start.time()
        at = time(start.hour(), start.minute())
        try:
            return local_start(from_qdate(self.day.date()), at, zone)
        except InvalidDateError as exc:
            raise FieldError("time", str(exc)) from exc

    def _check_not_past(self, start: datetime) -> None:
        if start < datetime.now(UTC) - PAST_GRACE:
            raise FieldError("time", "That time has already passed; choose a later day or time.")

    def _save(self) -> Changes:
        start = self.chosen_start()
        end = start + timedelta(minutes=int(self.duration.currentData()))
        if self.appointment is None:
            self._check_not_past(start)
            return book(
                self.clinic,
                self.patient_id,
                start,
                end,
                provider_id=self.provider.currentData(),
                location_id=self.location.currentData(),
                kind=_tidy(self.kind.currentText()),
                reason=self.reason.text().strip(),
            ).changes
        return self._save_existing(self.appointment, start, end)

    def _details_changed(self, appointment: Appointment) -> bool:
        """Compared tidied, so opening and saving an untouched form writes nothing."""
        chosen = (
            self.provider.currentData(),
            self.location.currentData(),
            _tidy(self.kind.currentText()),
            self.reason.text().strip(),
        )
        stored = (
            appointment.provider_id,
            appointment.location_id,
            _tidy(appointment.kind),
            appointment.reason.strip(),
        )
        return chosen != stored

    def _save_existing(self, appointment: Appointment, start: datetime, end: datetime) -> Changes:
        was_start = _parse_utc(appointment.start_at) if appointment.start_at else None
        was_end = _parse_utc(appointment.end_at) if appointment.end_at else None
        moved = (start, end) != (was_start, was_end)
        if moved:
            # Checked before any write, so a refused time leaves the details unsaved too.
            self._check_not_past(start)
        changes = Changes()
        if self._details_changed(appointment):
            changes |= update_details(
                self.clinic,
                appointment.id,
                provider_id=self.provider.currentData(),
                location_id=self.location.currentData(),
                kind=_tidy(self.kind.currentText()),
                reason=self.reason.text().strip(),
            )
        if moved:
            changes |= move(self.clinic, appointment.id, start, end)
        if self.pending_status is not None:
            changes |= set_status(self.clinic, appointment.id, self.pending_status)
        return changes
