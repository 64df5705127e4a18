"""Tags (Ctrl+T): add a word the clinic already uses (or a new one), remove old ones."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCompleter,
    QGridLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from app.clinic import Clinic
from app.patients.records import add_tag, get_patient, remove_tag
from app.patients.tags import all_tags, existing_spelling
from app.store.changes import Changes
from ui.bus import DataBus
from ui.forms.base import FieldError, FormDialog


class TagDialog(FormDialog):
    """Save adds the typed tag and closes; each Remove button takes effect at once, as
    a remove needs no typing to check and the list shows the result straight away."""

    def __init__(
        self, clinic: Clinic, bus: DataBus, patient_id: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(clinic, bus, "Tags", parent)
        self.patient_id = patient_id
        patient = get_patient(clinic, patient_id)
        self.setWindowTitle(f"Tags · {patient.display_name}")
        self.add_heading(f"Tags of {patient.display_name}")
        self.save_button.setText("Add tag")
        self.cancel_button.setText("Close")

        self.known = all_tags(clinic)
        self.tag = QLineEdit()
        self.tag.setPlaceholderText("e.g. wheelchair, interpreter")
        self.completer = QCompleter(self.known, self)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.tag.setCompleter(self.completer)
        self.add_field("&New tag", self.tag, "tag")

        self.current = QWidget()
        self.current.setAccessibleName("Current tags")
        self.current_grid = QGridLayout(self.current)
        self.current_grid.setContentsMargins(0, 0, 0, 0)
        self.add_field("Current tags", self.current, "current")
        self.remove_buttons: dict[str, QPushButton] = {}
        self._show_tags(patient.tags)
        self.mark_clean()

    def tags(self) -> list[str]:
        return list(self.remove_buttons)

    def _show_tags(self, tags: tuple[str, ...]) -> None:
        while self.current_grid.count():
            item = self.current_grid.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.hide()  # out of the Tab chain now; deleted once its click is handled
                widget.deleteLater()
        self.remove_buttons = {}
        if not tags:
            none = QLabel("No tags yet.")
            none.setAccessibleName("No tags yet")
            self.current_grid.addWidget(none, 0, 0)
            return
        for row, tag in enumerate(tags):
            name = QLabel(tag)
            name.setAccessibleName(f"Tag {tag}")
            button = QPushButton("Remove")
            button.setAccessibleName(f"Remove tag {tag}")
            button.setAutoDefault(False)
            button.clicked.connect(lambda _checked=False, t=tag: self.remove(t))
            self.current_grid.addWidget(name, row, 0)
            self.current_grid.addWidget(button, row, 1)
            self.remove_buttons[tag] = button
        self.current_grid.setColumnStretch(0, 1)

    def remove(self, tag: str) -> None:
        try:
            changes = remove_tag(self.clinic, self.patient_id, tag)
        except Exception as exc:  # noqa: BLE001 - shown as a general or plain error
            self.report(exc)
            return
        self.bus.publish(changes)
        self._show_tags(get_patient(self.clinic, self.patient_id).tags)
        self.order_tabs()
        self.tag.setFocus()

    def _save(self) -> Changes:
        typed = self.tag.text()
        if not typed.strip():
            raise FieldError("tag", "Type the tag to add.")
        return add_tag(self.clinic, self.patient_id, existing_spelling(typed, self.known))
