"""Replace the database key: the passphrase again, progress with Cancel, then the new Emergency Kit.

The work (app/store/rekey.py) runs on its own connection with a second one holding the
write lock, so nothing saved meanwhile is missed; Cancel before the end leaves the clinic
exactly as it was. When it is ready the new recovery key is shown once, with the new
Emergency Kit to save or print, and Frontdesk closes: the new file and key file take
their place at the next start (app/backup/swap.py), when no connection holds the old one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.backup.schedule import load_settings
from app.clinic import Clinic
from app.errors import FrontdeskError
from app.ops import CancelToken, OperationCancelledError, Progress
from app.store import keyring_store
from app.store.emergency_kit import EmergencyKit, write_emergency_kit
from app.store.rekey import PreparedRekey, prepare_rekey
from app.version import __version__
from ui.ops import Op
from ui.unlock import error_label, hint_label, show_error

EXPLAIN = (
    "Frontdesk makes a backup first, then copies the whole clinic under a new random key. "
    "The old key no longer opens the new file. You get a new Emergency Kit: the old kit "
    "stops working. Backups made before today still open with the old key and the old "
    "passphrase or kit: destroy them, or keep them as safe as before. Frontdesk closes at "
    "the end; start it again to go on."
)


def backup_folder_for(clinic: Clinic) -> Path:
    """The daily backup folder, or a 'backups' folder beside the clinic when none is set."""
    chosen = load_settings(clinic.home).folder
    folder = Path(chosen) if chosen else clinic.home / "backups"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class RekeyDialog(QDialog):
    quit_requested = Signal()

    def __init__(self, clinic: Clinic, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic = clinic
        self.prepared: PreparedRekey | None = None
        self.op: Op[PreparedRekey] | None = None
        self.setWindowTitle("Replace the database key")
        self.setAccessibleName("Replace the database key")
        self.setMinimumWidth(self.fontMetrics().averageCharWidth() * 72)

        self.explain = hint_label(EXPLAIN)
        self.explain.setAccessibleName("What replacing the key does")
        self.passphrase = QLineEdit()
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase.setAccessibleName("Clinic passphrase")
        self.error = error_label("Key replacement problem")
        self.start = QPushButton("Replace the key")
        self.start.setAccessibleName("Replace the key")
        self.start.setDefault(True)
        self.start.clicked.connect(self.begin)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setAccessibleName("Cancel")
        self.cancel_button.clicked.connect(self.reject)

        self.done_box = QWidget()
        self.recovery = QLabel()
        self.recovery.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.recovery.setAccessibleName("New recovery key")
        self.save_kit = QPushButton("Save the new Emergency Kit…")
        self.save_kit.setAccessibleName("Save the new Emergency Kit")
        self.save_kit.clicked.connect(self._save_kit)
        self.kit_saved = hint_label("")
        self.kit_saved.setAccessibleName("Emergency Kit saved")
        self.finish = QPushButton("Close Frontdesk to finish")
        self.finish.setAccessibleName("Close Frontdesk to finish")
        self.finish.clicked.connect(self.close_to_finish)
        done_layout = QVBoxLayout(self.done_box)
        done_layout.addWidget(
            hint_label(
                "The new key is ready. Write down or save the new recovery key now; it is "
                "shown only once:"
            )
        )
        done_layout.addWidget(self.recovery)
        done_layout.addWidget(self.save_kit)
        done_layout.addWidget(self.kit_saved)
        done_layout.addWidget(self.finish)
        self.done_box.hide()

        form = QFormLayout()
        form.addRow("Clinic passphrase", self.passphrase)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.start)
        layout = QVBoxLayout(self)
        layout.addWidget(self.explain)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addLayout(buttons)
        layout.addWidget(self.done_box)

    def begin(self) -> None:
        secret = self.passphrase.text()
        if not secret:
            show_error(self.error, "Type the clinic passphrase.")
            return
        show_error(self.error, "")
        try:
            folder = backup_folder_for(self.clinic)
        except OSError:
            show_error(self.error, "The backup folder cannot be reached; plug the drive in.")
            return
        clinic = self.clinic
        self.start.setEnabled(False)

        def work(progress: Progress, cancel: CancelToken) -> PreparedRekey:
            fork = clinic.fork()
            try:
                return prepare_rekey(fork, secret, folder, progress=progress, cancel=cancel)
            finally:
                fork.close()

        self.op = (
            Op(self, "Replacing the database key", work)
            .success(self._ready)
            .failure(self._failed)
            .run_in_background()
        )

    def _failed(self, exc: BaseException) -> None:
        self.start.setEnabled(True)
        if isinstance(exc, OperationCancelledError):
            show_error(self.error, "Cancelled. Nothing was changed; the key is as it was.")
        elif isinstance(exc, FrontdeskError):
            show_error(self.error, str(exc))
        else:
            show_error(self.error, "Something unexpected stopped it. Nothing was changed.")

    def _ready(self, prepared: PreparedRekey) -> None:
        self.prepared = prepared
        keyring_store.save_key(self.clinic.clinic_id, prepared.new_key)
        self.passphrase.clear()
        self.recovery.setText(prepared.recovery_key)
        self.start.hide()
        self.cancel_button.hide()
        self.done_box.show()
        self.save_kit.setFocus()

    def write_kit(self, path: Path) -> None:
        assert self.prepared is not None
        kit = EmergencyKit(
            clinic_name=self.clinic.settings.name,
            clinic_id=self.clinic.clinic_id,
            recovery_key=self.prepared.recovery_key,
            created_at=datetime.now(UTC),
            data_folder=str(self.clinic.home),
            app_version=__version__,
        )
        write_emergency_kit(kit, path)
        self.kit_saved.setText(f"Saved as {path}. Print it and keep it apart from backups.")

    def _save_kit(self) -> None:
        chosen, _ = QFileDialog.getSaveFileName(
            self, "Save the Emergency Kit", "Frontdesk Emergency Kit.pdf", "PDF (*.pdf)"
        )
        if chosen:
            self.write_kit(Path(chosen))

    def close_to_finish(self) -> None:
        if self.prepared is not None:
            self.prepared.release()
        self.accept()
        self.quit_requested.emit()

    def reject(self) -> None:
        if self.prepared is not None:
            return  # prepared: only "Close Frontdesk to finish" leaves (the kit must be seen)
        if self.op is not None and not self.op.finished:
            self.op.cancel.cancel()
            return
        super().reject()
