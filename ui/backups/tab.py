"""Settings ▸ Backups: where this computer's backups go, the daily time, Back up now, the list.

Who may do what (app/security/permissions.py): everyone signed in may press "Back up
now" (backup.now); only an administrator changes the folder and schedule, checks and
restores backups (backup.manage) or replaces the database key (key.manage). The others
see the same page read-only, so a receptionist can still read when the last backup ran.

A restore is prepared here while the clinic stays open (checked, copied into a new
folder, opened there); Frontdesk then closes, and the swap finishes at the next start
(app/backup/swap.py), when nothing holds the database open.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTime, Signal
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QTimeEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.backup.manifest import clinic_backups, read_manifest
from app.backup.restore import PreparedRestore, prepare_restore
from app.backup.schedule import (
    MAX_KEEP,
    BackupSettings,
    load_settings,
    run_scheduled,
    save_settings,
    status_line,
)
from app.backup.verify import VerifyReport, backup_key, verify
from app.clinic import Clinic
from app.errors import FrontdeskError
from app.ops import CancelToken, Progress
from app.security.permissions import allowed
from app.store import keys
from app.today import clinic_zone
from ui.backups.rekey_dialog import RekeyDialog
from ui.bus import DataBus
from ui.ops import Op
from ui.unlock import error_label, hint_label, show_error

READ_ONLY = "Only an administrator can change where and when backups are made."
KEY_WARNING = (
    "A backup is useless without the clinic passphrase or the Emergency Kit, and anyone "
    "holding a backup together with either can read it: keep them apart."
)


class BackupsTab(QWidget):
    """The tab; `refresh()` reloads it. After a prepared restore or key replacement it
    emits `quit_requested` and calls `close_frontdesk` (QApplication.quit unless the
    window puts its own quit there: the swap must find no connection open)."""

    quit_requested = Signal()

    def __init__(self, clinic: Clinic, bus: DataBus, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic = clinic
        self.bus = bus
        self.setAccessibleName("Backups")
        self.last_op: Op[Any] | None = None
        self.close_frontdesk: Callable[[], None] = QApplication.quit

        self.status = hint_label("")
        self.status.setAccessibleName("Last backup")
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.back_up_button = QPushButton("Back up now")
        self.back_up_button.setAccessibleName("Back up now")
        self.back_up_button.clicked.connect(self.back_up_now)
        self.result = hint_label("")
        self.result.setAccessibleName("Backup result")
        self.error = error_label("Backup problem")

        self.folder = QLineEdit()
        self.folder.setReadOnly(True)
        self.folder.setPlaceholderText("No folder chosen yet: no backups are made")
        self.folder.setAccessibleName("Backup folder")
        self.choose = QPushButton("Choose…")
        self.choose.setAccessibleName("Choose the backup folder")
        self.choose.clicked.connect(self._choose_folder)
        self.daily = QCheckBox("Back up every day while Frontdesk is open, at")
        self.daily.setAccessibleName("Back up every day")
        self.at = QTimeEdit()
        self.at.setDisplayFormat("HH:mm")
        self.at.setAccessibleName("Time of the daily backup")
        self.keep = QSpinBox()
        self.keep.setRange(1, MAX_KEEP)
        self.keep.setSuffix(" backups")
        self.keep.setAccessibleName("How many backups to keep")
        self.save_button = QPushButton("Save")
        self.save_button.setAccessibleName("Save the backup settings")
        self.save_button.clicked.connect(self.save)
        self.read_only = hint_label(READ_ONLY)
        self.read_only.setAccessibleName("Who can change this")
        self.settings_error = error_label("Backup settings problem")

        self.list = QTreeWidget()
        self.list.setHeaderLabels(["Made", "Size", "Patients", "Frontdesk version"])
        self.list.setRootIsDecorated(False)
        self.list.setAccessibleName("Backups in the folder")
        self.verify_button = QPushButton("Check the selected backup")
        self.verify_button.setAccessibleName("Check the selected backup")
        self.verify_button.clicked.connect(self.verify_selected)
        self.restore_button = QPushButton("Restore…")
        self.restore_button.setAccessibleName("Restore a backup")
        self.restore_button.clicked.connect(self.restore_selected)
        self.rekey_button = QPushButton("Replace the database key…")
        self.rekey_button.setAccessibleName("Replace the database key")
        self.rekey_button.clicked.connect(self.open_rekey)
        self.rekey_dialog: RekeyDialog | None = None

        self._build()
        self.refresh()

    def _build(self) -> None:
        now_row = QHBoxLayout()
        now_row.addWidget(self.back_up_button)
        now_row.addStretch(1)

        where = QGroupBox("Where and when (this computer)")
        where.setAccessibleName("Where and when")
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(self.choose)
        time_row = QHBoxLayout()
        time_row.addWidget(self.daily)
        time_row.addWidget(self.at)
        time_row.addStretch(1)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        self.folder.setMinimumWidth(self.folder.fontMetrics().averageCharWidth() * 50)
        form.addRow("Folder (a USB drive or a network folder)", folder_row)
        form.addRow("", time_row)
        form.addRow("Keep the newest", self.keep)
        save_row = QHBoxLayout()
        save_row.addWidget(self.read_only, 1)
        save_row.addStretch(0 if self.read_only.isVisible() else 1)
        save_row.addWidget(self.save_button)
        where_layout = QVBoxLayout(where)
        where_layout.addLayout(form)
        where_layout.addWidget(self.settings_error)
        where_layout.addLayout(save_row)

        found = QGroupBox("Backups in that folder")
        found.setAccessibleName("Backups in that folder")
        list_buttons = QHBoxLayout()
        list_buttons.addWidget(self.verify_button)
        list_buttons.addWidget(self.restore_button)
        list_buttons.addStretch(1)
        found_layout = QVBoxLayout(found)
        found_layout.addWidget(self.list)
        found_layout.addLayout(list_buttons)

        key = QGroupBox("The database key")
        key.setAccessibleName("The database key")
        key_layout = QVBoxLayout(key)
        warning = hint_label(KEY_WARNING)
        warning.setAccessibleName("About backups and the key")
        key_layout.addWidget(warning)
        key_row = QHBoxLayout()
        key_row.addWidget(self.rekey_button)
        key_row.addStretch(1)
        key_layout.addLayout(key_row)

        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addLayout(now_row)
        layout.addWidget(self.result)
        layout.addWidget(self.error)
        layout.addWidget(where)
        layout.addWidget(found, 1)
        layout.addWidget(key)
        self.setTabOrder(self.back_up_button, self.choose)

    # --- reading ---------------------------------------------------------------------

    def refresh(self) -> None:
        settings = load_settings(self.clinic.home)
        manage = allowed(self.clinic, "backup.manage")
        self.folder.setText(settings.folder)
        self.daily.setChecked(settings.daily)
        hours, minutes = (int(p) for p in settings.at.split(":"))
        self.at.setTime(QTime(hours, minutes))
        self.keep.setValue(settings.keep)
        for widget in (self.choose, self.daily, self.at, self.keep, self.save_button):
            widget.setEnabled(manage)
        self.read_only.setVisible(not manage)
        self.back_up_button.setEnabled(allowed(self.clinic, "backup.now"))
        self.verify_button.setEnabled(manage)
        self.restore_button.setEnabled(manage)
        self.rekey_button.setEnabled(allowed(self.clinic, "key.manage"))
        self.status.setText(status_line(self.clinic))
        self._fill_list(settings)

    def _fill_list(self, settings: BackupSettings) -> None:
        self.list.clear()
        if not settings.folder:
            return
        zone = clinic_zone(self.clinic)
        for found in clinic_backups(Path(settings.folder), self.clinic.clinic_id):
            made = datetime.fromisoformat(found.manifest.created_at.replace("Z", "+00:00"))
            size = found.manifest.database_bytes / (1 << 20)
            item = QTreeWidgetItem(
                [
                    f"{made.astimezone(zone):%a %d %b %Y %H:%M}",
                    f"{size:,.1f} MB",
                    f"{found.manifest.counts.get('patient', 0):,}",
                    found.manifest.app_version,
                ]
            )
            item.setData(0, Qt.ItemDataRole.UserRole, str(found.path))
            self.list.addTopLevelItem(item)
        for column in range(self.list.columnCount()):
            self.list.resizeColumnToContents(column)
        first = self.list.topLevelItem(0)
        if first is not None:
            self.list.setCurrentItem(first)

    def selected_backup(self) -> Path | None:
        item = self.list.currentItem()
        return Path(str(item.data(0, Qt.ItemDataRole.UserRole))) if item is not None else None

    # --- settings --------------------------------------------------------------------

    def _choose_folder(self) -> None:
        chosen = QFileDialog.getExistingDirectory(
            self, "Choose the backup folder", self.folder.text()
        )
        if chosen:
            self.folder.setText(chosen)

    def current_settings(self) -> BackupSettings:
        return BackupSettings(
            folder=self.folder.text().strip(),
            daily=self.daily.isChecked(),
            at=self.at.time().toString("HH:mm"),
            keep=self.keep.value(),
        )

    def save(self) -> None:
        try:
            settings = self.current_settings()
            if settings.folder and not Path(settings.folder).is_dir():
                raise FrontdeskError(
                    "That folder cannot be found. If it is on a USB drive, plug the drive in."
                )
            save_settings(self.clinic, settings)
        except FrontdeskError as exc:
            show_error(self.settings_error, str(exc))
            return
        show_error(self.settings_error, "")
        self.refresh()

    # --- actions ---------------------------------------------------------------------

    def back_up_now(self) -> None:
        settings = load_settings(self.clinic.home)
        if not settings.folder:
            show_error(self.error, "Choose a backup folder below first (an administrator can).")
            return
        show_error(self.error, "")
        clinic = self.clinic

        def work(progress: Progress, cancel: CancelToken) -> str:
            fork = clinic.fork()
            try:
                return str(
                    run_scheduled(
                        fork, settings, trigger="manual", progress=progress, cancel=cancel
                    ).path.name
                )
            finally:
                fork.close()

        self.last_op = (
            Op(self, "Backing up the clinic", work)
            .success(self._backed_up)
            .failure(self._failed)
            .run_in_background()
        )

    def _backed_up(self, name: object) -> None:
        self.result.setText(f"Backup made and checked: {name}")
        self.refresh()

    def _failed(self, exc: BaseException) -> None:
        words = str(exc) if isinstance(exc, FrontdeskError) else "Something unexpected stopped it."
        show_error(self.error, words)
        self.refresh()

    def _key_for(self, backup: Path) -> bytes | None:
        """The current key, or (a backup from before a key change) the passphrase then."""
        manifest = read_manifest(backup)
        if manifest.key_fingerprint == keys.key_fingerprint(self.clinic.opened.data_key):
            return self.clinic.opened.data_key
        secret, ok = QInputDialog.getText(
            self,
            "Frontdesk",
            "This backup was made under an earlier database key. Type the clinic "
            "passphrase as it was then:",
            QLineEdit.EchoMode.Password,
        )
        if not ok or not secret:
            return None
        return backup_key(backup, passphrase=secret)

    def verify_selected(self) -> None:
        backup = self.selected_backup()
        if backup is None:
            show_error(self.error, "Choose a backup in the list first.")
            return
        try:
            key = self._key_for(backup)
        except FrontdeskError as exc:
            show_error(self.error, str(exc))
            return
        if key is None:
            return
        clinic_id = self.clinic.clinic_id

        def work(progress: Progress, cancel: CancelToken) -> VerifyReport:
            return verify(
                backup, data_key=key, clinic_id=clinic_id, progress=progress, cancel=cancel
            )

        self.last_op = (
            Op(self, "Checking the backup", work)
            .success(self._verified)
            .failure(self._failed)
            .run_in_background()
        )

    def _verified(self, report: object) -> None:
        assert isinstance(report, VerifyReport)
        if report.ok:
            show_error(self.error, "")
            self.result.setText("The backup is good. " + " ".join(report.checked))
        else:
            self.result.setText("")
            show_error(self.error, report.reason)

    def restore_selected(self) -> None:
        backup = self.selected_backup()
        if backup is None:
            chosen = QFileDialog.getExistingDirectory(self, "Choose the backup to restore")
            if not chosen:
                return
            backup = Path(chosen)
        answer = QMessageBox.question(
            self,
            "Restore this backup?",
            "The backup is checked, then prepared in a new folder. Frontdesk then closes; "
            "when you start it again, the clinic is as it was in the backup. Work saved "
            "since the backup is not lost: the clinic as it is now is kept in a folder "
            "named before-restore in the data folder.",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            key = self._key_for(backup)
        except FrontdeskError as exc:
            show_error(self.error, str(exc))
            return
        if key is None:
            return
        home, clinic_id, user = self.clinic.home, self.clinic.clinic_id, self.clinic.acting_user_id

        def work(progress: Progress, cancel: CancelToken) -> PreparedRestore:
            return prepare_restore(
                backup,
                home,
                data_key=key,
                clinic_id=clinic_id,
                user_id=user,
                progress=progress,
                cancel=cancel,
            )

        self.last_op = (
            Op(self, "Preparing the restore", work)
            .success(self._restore_ready)
            .failure(self._failed)
            .run_in_background()
        )

    def _restore_ready(self, prepared: object) -> None:
        assert isinstance(prepared, PreparedRestore)
        box = QMessageBox(self)
        box.setWindowTitle("Frontdesk")
        box.setText(
            "The backup is ready. Frontdesk will now close; start it again to finish the "
            f"restore. The clinic as it is now will be kept in {prepared.kept_name}."
        )
        box.setAccessibleName("Restore ready")
        box.finished.connect(lambda _r: self._close_frontdesk())
        box.open()

    def _close_frontdesk(self) -> None:
        self.quit_requested.emit()
        self.close_frontdesk()

    def open_rekey(self) -> None:
        self.rekey_dialog = RekeyDialog(self.clinic, self)
        self.rekey_dialog.quit_requested.connect(self._close_frontdesk)
        self.rekey_dialog.open()
