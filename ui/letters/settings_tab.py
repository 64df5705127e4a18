"""Settings ▸ Letters: the envelope standard, letterhead logo, closing, signature and duplex.

Like the clinic's details, these are clinic data shared by every desk: saved only with
Save, checked first, and a problem is shown beside the field it belongs to. An image is
checked the moment it is chosen (PNG or JPEG, at most 2 MB, scaled down if very large),
so a refused logo says why at once instead of when 300 letters are printing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QStandardPaths, Qt
from PySide6.QtGui import QPixmap, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.clinic import Clinic
from app.errors import InvalidInputError
from app.letters.envelopes import ENVELOPES
from app.letters.settings import LetterSettings, load_settings, read_image_file, save_settings
from app.store.changes import Changes
from ui.bus import DataBus
from ui.theme import ToneLabel, error_line, hint_line

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg)"
SHOWN_HEIGHT = 64  # the logo and signature as shown here, in device-independent pixels
SHOWN_WIDTH = 280


class ImageField(QWidget):
    """An optional picture: shown scaled, with Choose image… and Remove, and its problem."""

    def __init__(self, what: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.what = what  # "logo" or "signature": the words of the refusal too
        self.data: bytes | None = None
        self.picture = ToneLabel(tone="muted")
        self.picture.setAccessibleName(f"The {what}")
        self.picture.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.choose_button = QPushButton("Choose image…")
        self.choose_button.setAccessibleName(f"Choose the {what} image")
        self.choose_button.clicked.connect(self.choose)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setAccessibleName(f"Remove the {what}")
        self.remove_button.clicked.connect(lambda: self.set_data(None, edited=True))
        self.error = error_line()
        self.error.setAccessibleName(f"Problem with the {what}")
        self.error.setWordWrap(True)
        self.error.hide()
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.choose_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.picture)
        layout.addLayout(buttons)
        layout.addWidget(self.error)
        self.edited_callback: Callable[[], None] = lambda: None
        self.set_data(None)

    def choose(self) -> None:
        folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)
        path, _filter = QFileDialog.getOpenFileName(
            self, f"Choose the {self.what}", folder, IMAGE_FILTER
        )
        if path:
            self.choose_file(Path(path))

    def choose_file(self, path: Path) -> bool:
        """Check the picture now; a refusal is shown beside it and the old one stays."""
        try:
            data = read_image_file(path, self.what)
        except InvalidInputError as exc:
            self.show_problem(str(exc))
            return False
        self.set_data(data, edited=True)
        return True

    def set_data(self, data: bytes | None, *, edited: bool = False) -> None:
        self.data = data
        self.error.hide()
        pixmap = QPixmap()
        if data is not None and pixmap.loadFromData(data):
            ratio = self.devicePixelRatioF()
            pixmap = pixmap.scaled(
                int(SHOWN_WIDTH * ratio),
                int(SHOWN_HEIGHT * ratio),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
            pixmap.setDevicePixelRatio(ratio)
            self.picture.setMinimumHeight(SHOWN_HEIGHT)
            self.picture.setPixmap(pixmap)
            self.picture.setAccessibleDescription(f"A {self.what} is chosen")
        else:
            self.picture.clear()
            self.picture.setMinimumHeight(0)
            self.picture.setText(f"No {self.what}")
            self.picture.setAccessibleDescription(f"No {self.what}")
        self.remove_button.setEnabled(data is not None)
        if edited:
            self.edited_callback()

    def show_problem(self, text: str) -> None:
        self.error.setText(text)
        self.error.setAccessibleDescription(text)
        self.error.show()


class LetterSettingsTab(QWidget):
    """The Letters tab of Settings (clinic, bus; refresh())."""

    def __init__(self, clinic: Clinic, bus: DataBus, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic = clinic
        self.bus = bus
        self.setAccessibleName("Letters")
        self.saved = load_settings(clinic)
        self._loading = False

        box = QGroupBox("Printed letters")
        box.setAccessibleName("Settings for printed letters")
        intro = hint_line(
            "Shared by every computer of the clinic. The letterhead also shows the clinic's "
            "name, address and phone from “Clinic and this computer”."
        )
        intro.setWordWrap(True)
        intro.setAccessibleName("About these settings")

        self.envelope_combo = QComboBox()
        self.envelope_combo.setAccessibleName("Envelope")
        for key, envelope in ENVELOPES.items():
            self.envelope_combo.addItem(envelope.label, key)
        envelope_hint = hint_line(
            "The address lands in the envelope's window. US #10: Letter paper; DIN: A4."
        )
        envelope_hint.setWordWrap(True)
        envelope_hint.setAccessibleName("About the envelope")
        self.logo = ImageField("logo")
        self.web_edit = QLineEdit()
        self.web_edit.setAccessibleName("Web address")
        self.web_edit.setPlaceholderText("www.example-clinic.com")
        self.closing_edit = QLineEdit()
        self.closing_edit.setAccessibleName("Closing")
        self.closing_edit.setPlaceholderText("Kind regards,")
        self.signer_edit = QLineEdit()
        self.signer_edit.setAccessibleName("Signed by")
        self.signer_edit.setPlaceholderText("The clinic's name")
        self.signature = ImageField("signature")
        self.blank_backs_box = QCheckBox("Print blank backs for double-sided printers")
        self.blank_backs_box.setAccessibleName("Print blank backs for double-sided printers")
        self.blank_backs_box.setToolTip(
            "Every letter starts on the front of a sheet, so no sheet carries two patients"
        )

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        self._row(form, "&Envelope:", self.envelope_combo, envelope_hint)
        self._row(form, "Logo:", self.logo)
        self._row(form, "&Web address:", self.web_edit)
        self._row(form, "&Closing:", self.closing_edit)
        self._row(form, "Signed &by:", self.signer_edit)
        self._row(form, "Signature:", self.signature)
        form.addRow("", self.blank_backs_box)

        self.save_button = QPushButton("Save letter settings")
        self.save_button.setAccessibleName("Save letter settings")
        self.save_button.clicked.connect(self.save)
        self.undo_button = QPushButton("Undo changes")
        self.undo_button.setAccessibleName("Undo changes to the letter settings")
        self.undo_button.clicked.connect(self.discard)
        self.error = error_line()
        self.error.setAccessibleName("Problem saving the letter settings")
        self.error.setWordWrap(True)
        self.error.hide()
        self.status = ToneLabel(tone="ok")
        self.status.setAccessibleName("Letter settings status")
        self.status.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.undo_button)
        buttons.addWidget(self.status, 1)

        inner = QVBoxLayout(box)
        inner.addWidget(intro)
        inner.addLayout(form)
        inner.addWidget(self.error)
        inner.addLayout(buttons)
        # Lines as wide as a web address needs, not as wide as the screen.
        box.setMaximumWidth(self.fontMetrics().horizontalAdvance("M") * 64)
        row = QHBoxLayout()
        row.addWidget(box, 1)
        row.addStretch(0)
        outer = QVBoxLayout(self)
        outer.addLayout(row)
        outer.addStretch(1)

        for field in (self.web_edit, self.closing_edit, self.signer_edit):
            field.textEdited.connect(lambda _t: self._edited())
        self.envelope_combo.currentIndexChanged.connect(lambda _i: self._edited())
        self.blank_backs_box.toggled.connect(lambda _b: self._edited())
        self.logo.edited_callback = self._edited
        self.signature.edited_callback = self._edited
        bus.changed.connect(self._on_changes)
        self._fill(self.saved)

    @staticmethod
    def _row(form: QFormLayout, text: str, field: QWidget, hint: QLabel | None = None) -> None:
        label = QLabel(text)
        label.setBuddy(field.choose_button if isinstance(field, ImageField) else field)
        form.addRow(label, field)
        if hint is not None:
            hint.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
            form.addRow("", hint)  # its own row: a wrapped hint gets the height it needs

    # --- the form ------------------------------------------------------------------------

    def _fill(self, settings: LetterSettings) -> None:
        self._loading = True
        index = self.envelope_combo.findData(settings.envelope)
        self.envelope_combo.setCurrentIndex(max(index, 0))
        self.logo.set_data(settings.logo_png)
        self.web_edit.setText(settings.web)
        self.closing_edit.setText(settings.closing)
        self.signer_edit.setText(settings.signer)
        self.signature.set_data(settings.signature_png)
        self.blank_backs_box.setChecked(settings.blank_backs)
        self._loading = False
        self.error.hide()
        self._show_state()

    def form_settings(self) -> LetterSettings:
        """The settings as the form shows them."""
        return replace(
            self.saved,
            envelope=str(self.envelope_combo.currentData()),
            logo_png=self.logo.data,
            web=self.web_edit.text().strip(),
            closing=self.closing_edit.text().strip(),
            signer=self.signer_edit.text().strip(),
            signature_png=self.signature.data,
            blank_backs=self.blank_backs_box.isChecked(),
        )

    def is_dirty(self) -> bool:
        return self.form_settings() != self.saved

    def _edited(self) -> None:
        if self._loading:
            return
        self.error.hide()
        self._show_state()

    def _show_state(self) -> None:
        dirty = self.is_dirty()
        self.save_button.setEnabled(dirty)
        self.undo_button.setEnabled(dirty)
        self.status.setText("Not saved yet." if dirty else "")
        self.status.tone = "muted"
        self.status.restyle()

    def save(self) -> bool:
        """Check and store; a problem is shown beside its field (or above Save)."""
        try:
            changes = save_settings(self.clinic, self.form_settings())
        except InvalidInputError as exc:
            text = str(exc)
            if "logo" in text:
                self.logo.show_problem(text)
            elif "signature" in text:
                self.signature.show_problem(text)
            else:
                self.error.setText(text)
                self.error.setAccessibleDescription(text)
                self.error.show()
            return False
        self.saved = load_settings(self.clinic)
        self._fill(self.saved)
        self.bus.publish(changes)
        self.status.setText("Saved.")
        self.status.tone = "ok"
        self.status.restyle()
        return True

    def discard(self) -> None:
        self._fill(self.saved)

    def refresh(self) -> None:
        """Show what is stored, unless the person is in the middle of an edit."""
        if not self.is_dirty():
            self.saved = load_settings(self.clinic)
            self._fill(self.saved)

    def _on_changes(self, changes: Changes) -> None:
        if changes.touches("setting"):
            self.refresh()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        self.refresh()
        super().showEvent(event)
