"""The 360° patient view: header card, quick actions and the timeline of everything."""

from __future__ import annotations

import logging
from collections.abc import Callable
from zoneinfo import ZoneInfo

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.audit import log as audit
from app.audit.actions import PATIENT_VIEW
from app.clinic import Clinic
from app.errors import RecordNotFoundError
from app.patients.summary import PatientSummary, patient_summary
from app.patients.timeline import TimelineEntry
from app.store.changes import Changes
from ui.bus import DataBus
from ui.patient.header import HeaderCard
from ui.patient.timeline import TimelineView
from ui.shortcuts import shortcut

log = logging.getLogger(__name__)
# Tables whose rows show in the header or on the timeline.
_SHOWN = (
    "patient",
    "contact_point",
    "address",
    "patient_tag",
    "consent",
    "appointment",
    "interaction",
    "payment",
    "charge",
    "task",
    "app_user",
    "outbox",
    "inbound_message",
)


class PatientView(QWidget):
    """One patient at a time; `closed` when the person closes the patient (Ctrl+W)."""

    closed = Signal()

    def __init__(self, clinic: Clinic, bus: DataBus, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic = clinic
        self.bus = bus
        self.patient_id = ""
        self.summary: PatientSummary | None = None
        self.dialog: QDialog | None = None  # the quick-action form open now, if any
        self.header = HeaderCard()
        self.timeline = TimelineView(clinic)
        self.timeline.activated.connect(self._entry_activated)
        self.gone = QLabel("")
        self.gone.setAccessibleName("Patient status")
        self.gone.hide()

        self.actions_row = QHBoxLayout()
        self.buttons: dict[str, QPushButton] = {}
        for name, label, handler in self._quick_actions():
            self._add_action(name, label, handler)
        self.actions_row.addStretch(1)
        close = QPushButton("Close patient")
        close.setAccessibleName("Close patient")
        close.clicked.connect(self.close_patient)
        self.actions_row.addWidget(close)
        focus_filter = QAction("Filter the timeline", self)
        focus_filter.setShortcut(shortcut("timeline_filter").sequence())
        focus_filter.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        focus_filter.triggered.connect(lambda: self.timeline.filter.setFocus())
        self.addAction(focus_filter)
        close_action = QAction("Close patient", self)
        close_action.setShortcut(shortcut("close_patient").sequence())
        close_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        close_action.triggered.connect(self.close_patient)
        self.addAction(close_action)

        layout = QVBoxLayout(self)
        layout.addWidget(self.gone)
        layout.addWidget(self.header)
        layout.addLayout(self.actions_row)
        layout.addWidget(self.timeline, 1)
        bus.changed.connect(self._changed)

    def _quick_actions(self) -> list[tuple[str, str, Callable[[], None]]]:
        return [
            ("log_call", "Log a call", self.log_call),
            ("add_note", "Add a note", self.add_note),
            ("book", "Book", self.book),
            ("edit_details", "Edit details and consent", self.edit_details),
            ("payment", "Record a payment", self.record_payment),
            ("tag", "Tags", self.edit_tags),
        ]

    def _add_action(self, name: str, label: str, handler: Callable[[], None]) -> None:
        keys = shortcut(name)
        button = QPushButton(f"{label}  ({keys.sequence().toString()})")
        button.setAccessibleName(label)
        button.setToolTip(f"{keys.action} ({keys.sequence().toString()})")
        button.clicked.connect(handler)
        self.actions_row.addWidget(button)
        self.buttons[name] = button
        action = QAction(label, self)
        action.setShortcut(keys.sequence())
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.triggered.connect(handler)
        self.addAction(action)

    # --- showing ---------------------------------------------------------------------

    def show_patient(self, patient_id: str) -> None:
        self.patient_id = patient_id
        audit.record(self.clinic, PATIENT_VIEW, patient_id=patient_id)
        self.timeline.filter.clear()
        for chip in self.timeline.chips.values():
            chip.blockSignals(True)
            chip.setChecked(True)
            chip.blockSignals(False)
        self.refresh()
        self.timeline.show_patient(patient_id)
        self.timeline.list.setFocus()

    def refresh(self) -> None:
        """Reload the header from the database (the timeline reloads itself separately)."""
        if not self.patient_id:
            return
        try:
            self.summary = patient_summary(self.clinic, self.patient_id)
        except RecordNotFoundError:
            self.summary = None
            self.gone.setText("This patient is no longer on file (merged or removed).")
            self.gone.show()
            self.header.hide()
            return
        self.gone.hide()
        self.header.show()
        self.header.show_summary(
            self.summary, self.clinic.settings.region, ZoneInfo(self.clinic.settings.timezone)
        )
        for name, button in self.buttons.items():
            button.setEnabled(not (self.summary.patient.deceased and name == "book"))

    def _changed(self, changes: Changes) -> None:
        if not self.patient_id or not changes.touches(*_SHOWN):
            return
        elsewhere = changes.patient_ids and self.patient_id not in changes.patient_ids
        if elsewhere and not changes.touches("app_user", "setting"):
            return
        self.refresh()
        self.timeline.reload()

    def close_patient(self) -> None:
        self.patient_id = ""
        self.closed.emit()

    # --- quick actions ---------------------------------------------------------------

    def _open(self, make: Callable[[], QDialog]) -> None:
        if not self.patient_id or self.summary is None:
            return
        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.raise_()
            self.dialog.activateWindow()
            return
        self.dialog = make()
        self.dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.dialog.finished.connect(self._dialog_done)
        self.dialog.open()

    def _dialog_done(self, _result: int) -> None:
        self.dialog = None

    def log_call(self) -> None:
        from ui.forms.call import LogCallDialog

        self._open(lambda: LogCallDialog(self.clinic, self.bus, self.patient_id, self))

    def add_note(self) -> None:
        from ui.forms.note import NoteDialog

        self._open(lambda: NoteDialog(self.clinic, self.bus, self.patient_id, self))

    def book(self) -> None:
        from ui.forms.appointment import AppointmentDialog

        self._open(lambda: AppointmentDialog(self.clinic, self.bus, self.patient_id, self))

    def edit_appointment(self, appointment_id: str) -> None:
        from ui.forms.appointment import AppointmentDialog

        self._open(
            lambda: AppointmentDialog(
                self.clinic, self.bus, self.patient_id, self, appointment_id=appointment_id
            )
        )

    def edit_details(self) -> None:
        from ui.forms.details import DetailsDialog

        self._open(lambda: DetailsDialog(self.clinic, self.bus, self.patient_id, self))

    def record_payment(self) -> None:
        from ui.forms.payment import PaymentDialog

        self._open(lambda: PaymentDialog(self.clinic, self.bus, self.patient_id, self))

    def edit_tags(self) -> None:
        from ui.forms.tag import TagDialog

        self._open(lambda: TagDialog(self.clinic, self.bus, self.patient_id, self))

    def _entry_activated(self, entry: TimelineEntry) -> None:
        if entry.kind == "appointment":
            self.edit_appointment(entry.record_id)
