"""Starts the Qt application: first run or unlock, then the main window."""

from __future__ import annotations

import sys
from pathlib import Path
from types import TracebackType

from PySide6.QtWidgets import QApplication, QMessageBox

from app.clinic import Clinic, open_clinic
from app.errors import FrontdeskError
from app.store.lifecycle import PassphraseNeededError, clinic_exists
from ui.main_window import MainWindow
from ui.ops import Op, show_error
from ui.unlock import CreateClinicDialog, RecoveryKeyDialog, UnlockDialog


def _application() -> QApplication:
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    app = QApplication(sys.argv[:1])
    app.setApplicationName("Frontdesk")
    return app


DEMO_PATIENTS = 500


def start_clinic(home: Path | None = None) -> tuple[Clinic, bool] | None:
    """Keyring first (silent), then ask; first run offers to create the clinic.
    Returns the clinic and whether the person asked for demo patients."""
    if not clinic_exists(home):
        dialog = CreateClinicDialog(home)
        if not dialog.exec() or dialog.clinic is None:
            return None
        RecoveryKeyDialog(dialog.clinic, dialog.recovery_key).exec()
        return dialog.clinic, dialog.want_demo.isChecked()
    try:
        return open_clinic(home), False
    except PassphraseNeededError:
        unlock = UnlockDialog(home)
        return (unlock.clinic, False) if unlock.exec() and unlock.clinic else None


def add_demo_patients(window: MainWindow) -> Op[object]:
    """The demo clinic fills in the background; the window stays usable meanwhile."""
    from app.demo.generator import generate

    clinic = window.clinic
    return (
        Op(
            window,
            "Creating the demo clinic",
            lambda progress, cancel: generate(
                clinic, DEMO_PATIENTS, 1, progress=progress, cancel=cancel
            ),
        )
        .success(lambda _summary: window.run_search(window.finder.text()))
        .run_in_background()
    )


def _excepthook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    """Last line of defence: a bug is logged with its traceback, the person sees a
    plain message, and the window stays open."""
    show_error(QApplication.activeWindow(), "Frontdesk", exc.with_traceback(tb))


def run_gui() -> int:
    app = _application()
    sys.excepthook = _excepthook
    try:
        started = start_clinic()
    except FrontdeskError as exc:
        QMessageBox.critical(None, "Frontdesk cannot open the clinic", str(exc))
        return 1
    if started is None:
        return 0
    clinic, want_demo = started
    window = MainWindow(clinic)
    window.show()
    if want_demo:
        add_demo_patients(window)
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
