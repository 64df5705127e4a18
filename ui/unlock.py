"""Start-up screens: create a clinic on first run, or unlock an existing one."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from app.clinic import Clinic, create_clinic, open_clinic
from app.errors import FrontdeskError
from app.store.emergency_kit import UNLOCK_OPTION_LABEL, EmergencyKit, write_emergency_kit
from app.version import __version__


def _error_label() -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setStyleSheet("color: #b00020;")
    label.setAccessibleName("Error message")
    return label


class UnlockDialog(QDialog):
    """Asks for the passphrase (or the recovery key) when the keyring cannot unlock silently."""

    def __init__(self, home: Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Unlock Frontdesk")
        self.home = home
        self.clinic: Clinic | None = None
        self.secret = QLineEdit()
        self.secret.setEchoMode(QLineEdit.EchoMode.Password)
        self.secret.setAccessibleName("Clinic passphrase")
        # Same words as printed on the Emergency Kit, so the instructions match the screen.
        self.use_recovery = QCheckBox(UNLOCK_OPTION_LABEL)
        self.use_recovery.setToolTip("The 32-character key printed on the Emergency Kit")
        self.use_recovery.toggled.connect(self._mode_changed)
        self.error = _error_label()
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Unlock")
        buttons.accepted.connect(self._unlock)
        buttons.rejected.connect(self.reject)
        self.prompt = QLabel("Enter the clinic passphrase:")
        layout = QVBoxLayout(self)
        layout.addWidget(self.prompt)
        layout.addWidget(self.secret)
        layout.addWidget(self.use_recovery)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

    def _mode_changed(self, recovery: bool) -> None:
        self.prompt.setText(
            "Enter the recovery key (8 groups of 4):"
            if recovery
            else "Enter the clinic passphrase:"
        )
        self.secret.setEchoMode(
            QLineEdit.EchoMode.Normal if recovery else QLineEdit.EchoMode.Password
        )
        self.secret.setAccessibleName("Recovery key" if recovery else "Clinic passphrase")

    def _unlock(self) -> None:
        text = self.secret.text()
        try:
            if self.use_recovery.isChecked():
                self.clinic = open_clinic(self.home, recovery_key=text)
            else:
                self.clinic = open_clinic(self.home, passphrase=text)
        except FrontdeskError as exc:
            self.error.setText(str(exc))
            self.secret.selectAll()
            return
        self.accept()


class CreateClinicDialog(QDialog):
    """First run: name the clinic, choose the passphrase, keep the recovery key."""

    def __init__(self, home: Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Set up Frontdesk")
        self.home = home
        self.clinic: Clinic | None = None
        self.recovery_key = ""
        self.want_demo = QCheckBox("Explore a demo clinic (adds 500 made-up patients)")
        self.name = QLineEdit()
        self.name.setAccessibleName("Clinic name")
        self.passphrase = QLineEdit()
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase.setAccessibleName("Passphrase")
        self.repeat = QLineEdit()
        self.repeat.setEchoMode(QLineEdit.EchoMode.Password)
        self.repeat.setAccessibleName("Passphrase again")
        self.error = _error_label()
        form = QFormLayout()
        form.addRow("Clinic name:", self.name)
        form.addRow("Passphrase:", self.passphrase)
        form.addRow("Passphrase again:", self.repeat)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Create clinic")
        buttons.accepted.connect(self._create)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        intro = QLabel(
            "Welcome. Frontdesk keeps your clinic's patients in an encrypted file on this "
            "computer. Choose a passphrase of at least 10 characters; a few unrelated "
            "words work well."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.want_demo)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

    def _create(self) -> None:
        if self.passphrase.text() != self.repeat.text():
            self.error.setText("The two passphrases are different.")
            return
        try:
            created = create_clinic(self.name.text(), self.passphrase.text(), self.home)
        except FrontdeskError as exc:
            self.error.setText(str(exc))
            return
        self.clinic = created.clinic
        self.recovery_key = created.recovery_key
        self.accept()


class RecoveryKeyDialog(QDialog):
    """Shows the recovery key once and will not close until it has been stored."""

    def __init__(self, clinic: Clinic, recovery_key: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Your recovery key")
        self.clinic = clinic
        self.recovery_key = recovery_key
        key = QLabel(recovery_key)
        key.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        key.setStyleSheet("font-family: monospace; font-size: 16pt; padding: 8px;")
        key.setAccessibleName("Recovery key")
        text = QLabel(
            "If the passphrase is forgotten or this computer is lost, this key unlocks the "
            "clinic. It is shown only now. Save the Emergency Kit and print it for the office safe."
        )
        text.setWordWrap(True)
        self.stored = QCheckBox("I have stored the recovery key safely")
        buttons = QDialogButtonBox()
        save = buttons.addButton("Save Emergency Kit…", QDialogButtonBox.ButtonRole.ActionRole)
        save.clicked.connect(self._save_kit)
        self.done_button = buttons.addButton("Continue", QDialogButtonBox.ButtonRole.AcceptRole)
        self.done_button.setEnabled(False)
        self.stored.toggled.connect(self.done_button.setEnabled)
        buttons.accepted.connect(self.accept)
        layout = QVBoxLayout(self)
        for widget in (text, key, self.stored, buttons):
            layout.addWidget(widget)

    def _save_kit(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save Emergency Kit", "Frontdesk Emergency Kit.pdf", "PDF (*.pdf)"
        )
        if not path:
            return
        kit = EmergencyKit(
            clinic_name=self.clinic.settings.name,
            clinic_id=self.clinic.clinic_id,
            recovery_key=self.recovery_key,
            created_at=datetime.now(UTC),
            data_folder=str(self.clinic.home),
            app_version=__version__,
        )
        try:
            write_emergency_kit(kit, Path(path))
        except OSError as exc:
            QMessageBox.warning(
                self, "Not saved", f"The Emergency Kit could not be saved: {exc.strerror}."
            )

    def reject(self) -> None:
        if self.stored.isChecked():
            super().reject()
