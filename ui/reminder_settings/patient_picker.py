"""A small dialog to pick one patient, for previewing a message on a real record."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.clinic import Clinic
from app.patients.search import PatientSearch
from app.today import clinic_today
from ui.finder import describe

SEARCH_DELAY_MS = 200
RESULTS = 20


class PatientPicker(QDialog):
    """Type a name, phone or birth date; Enter or double-click picks the patient."""

    chosen = Signal(str, str)  # patient id, display name

    def __init__(self, clinic: Clinic, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic = clinic
        self.setWindowTitle("Preview on a patient")
        self.setAccessibleName("Preview on a patient")
        self._searcher = PatientSearch(clinic.conn, region=clinic.settings.region)
        self._zone = ZoneInfo(clinic.settings.timezone)
        self.query = QLineEdit()
        self.query.setAccessibleName("Find a patient")
        self.query.setPlaceholderText("Name, phone or date of birth")
        self.results = QListWidget()
        self.results.setAccessibleName("Patients found")
        self.status = QLabel()
        self.status.setAccessibleName("Search status")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Preview")
        self.ok_button.setAccessibleName("Preview on this patient")
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setAccessibleName("Cancel")
        buttons.accepted.connect(self.choose_current)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        caption = QLabel("&Find:")
        caption.setBuddy(self.query)
        layout.addWidget(caption)
        layout.addWidget(self.query)
        layout.addWidget(self.results, 1)
        layout.addWidget(self.status)
        layout.addWidget(buttons)
        self.resize(self.fontMetrics().averageCharWidth() * 80, self.fontMetrics().height() * 22)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SEARCH_DELAY_MS)
        self._timer.timeout.connect(self.search_now)
        self.query.textChanged.connect(lambda _t: self._timer.start())
        self.query.returnPressed.connect(self._enter)
        self.results.itemActivated.connect(lambda _item: self.choose_current())

    def _enter(self) -> None:
        if self._timer.isActive():
            self._timer.stop()
            self.search_now()
        if self.results.count():
            self.choose_current()

    def search_now(self) -> None:
        """The search takes milliseconds; the few results are shown at once."""
        self._timer.stop()
        self.results.clear()
        text = self.query.text().strip()
        if not text:
            self.status.setText("")
            return
        found = self._searcher.search(text, RESULTS, today=clinic_today(self.clinic))
        for result in found:
            item = QListWidgetItem(describe(result, self.clinic.settings.region, self._zone))
            item.setData(Qt.ItemDataRole.UserRole, (result.patient_id, result.display_name))
            self.results.addItem(item)
        if found:
            self.results.setCurrentRow(0)
        self.status.setText(f"{len(found)} found" if found else "Nobody found.")

    def done(self, result: int) -> None:
        self._timer.stop()  # no search after the dialog is gone
        super().done(result)

    def choose_current(self) -> None:
        item: QListWidgetItem | None = self.results.currentItem()
        if item is None:
            return
        patient_id, name = item.data(Qt.ItemDataRole.UserRole)
        self.chosen.emit(str(patient_id), str(name))
        self.accept()
