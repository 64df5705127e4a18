"""Add a note (Ctrl+N): a free-text entry on the patient's timeline."""

from __future__ import annotations

from PySide6.QtWidgets import QLineEdit, QPlainTextEdit, QWidget

from app.clinic import Clinic
from app.interactions.log import log_interaction
from app.patients.records import get_patient
from app.store.changes import Changes
from ui.bus import DataBus
from ui.forms.base import FieldError, FormDialog


class NoteDialog(FormDialog):
    def __init__(
        self, clinic: Clinic, bus: DataBus, patient_id: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(clinic, bus, "Add a note", parent)
        self.patient_id = patient_id
        patient = get_patient(clinic, patient_id)
        self.setWindowTitle(f"Add a note · {patient.display_name}")
        self.add_heading(f"Note about {patient.display_name}")
        self.save_button.setText("Add note")

        self.subject = QLineEdit()
        self.subject.setPlaceholderText("Optional, e.g. Parking permit")
        self.add_field("&Subject", self.subject, "subject")
        self.text = QPlainTextEdit()
        self.text.setPlaceholderText("Card numbers are hidden when saved.")
        self.text.setMinimumHeight(self.fontMetrics().lineSpacing() * 6)
        self.add_field("&Note", self.text, "text")
        self.mark_clean()

    def _save(self) -> Changes:
        body = self.text.toPlainText()
        if not body.strip():
            raise FieldError("text", "Write the note before saving it.")
        logged = log_interaction(
            self.clinic, self.patient_id, "note", subject=self.subject.text(), body=body
        )
        return logged.changes
