"""Starts the Qt application: first run or unlock, then the main window."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication, QMessageBox

from app.clinic import Clinic, open_clinic
from app.errors import FrontdeskError
from app.store.lifecycle import PassphraseNeededError, clinic_exists
from ui.main_window import MainWindow
from ui.unlock import CreateClinicDialog, RecoveryKeyDialog, UnlockDialog


def _application() -> QApplication:
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    app = QApplication(sys.argv[:1])
    app.setApplicationName("Frontdesk")
    return app


def start_clinic(home: Path | None = None) -> Clinic | None:
    """Keyring first (silent), then ask; first run offers to create the clinic."""
    if not clinic_exists(home):
        dialog = CreateClinicDialog(home)
        if not dialog.exec() or dialog.clinic is None:
            return None
        RecoveryKeyDialog(dialog.clinic, dialog.recovery_key).exec()
        if dialog.want_demo.isChecked():
            from app.demo.generator import generate

            generate(dialog.clinic, 500, seed=1)
        return dialog.clinic
    try:
        return open_clinic(home)
    except PassphraseNeededError:
        unlock = UnlockDialog(home)
        return unlock.clinic if unlock.exec() else None


def run_gui() -> int:
    app = _application()
    try:
        clinic = start_clinic()
    except FrontdeskError as exc:
        QMessageBox.critical(None, "Frontdesk cannot open the clinic", str(exc))
        return 1
    if clinic is None:
        return 0
    window = MainWindow(clinic)
    window.show()
    try:
        return app.exec()
    finally:
        clinic.close()


def run_selftest_window(clinic: Clinic, term: str) -> str | None:
    """Open the real window offscreen and search through it; returns what failed, if anything."""
    _application()
    window = MainWindow(clinic)
    window.show()
    window.finder.setText(term)
    found = window.results.count()
    window.close()
    return None if found else "the window's search showed no result"
