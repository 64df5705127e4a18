"""Starts the Qt application: preferences, first run or unlock, then the main window."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from types import TracebackType

from PySide6.QtWidgets import QApplication, QMessageBox

from app.backup.swap import complete_pending_swap
from app.backup.swap import pending as pending_swap
from app.clinic import Clinic
from app.demo.generator import DemoSummary, generate
from app.errors import FrontdeskError
from app.ops import CancelToken, Progress
from app.preferences import load_preferences, preferences_path
from app.reminders.planner import plan
from app.reminders.rules import install_default_rules
from app.security.accounts import sign_out
from app.store.changes import Changes
from app.store.database import DatabaseError
from app.store.folder_health import startup_problem
from app.store.paths import data_home
from ui.main_window import MainWindow
from ui.ops import Op, show_error
from ui.single_instance import SingleInstance, ask_running_copy
from ui.startup import start_clinic
from ui.theme import apply_preferences

log = logging.getLogger(__name__)

DEMO_PATIENTS = 500
# What the demo generator writes: every view that shows patients refreshes from it.
DEMO_TABLES = frozenset(
    {
        "patient",
        "contact_point",
        "address",
        "patient_identifier",
        "patient_tag",
        "consent",
        "appointment",
        "interaction",
        "payment",
        "charge",
        "task",
        "household",
        "provider",
        "location",
        "reminder_rule",
        "outbox",
    }
)


def application() -> QApplication:
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    app = QApplication(sys.argv[:1])
    app.setApplicationName("Frontdesk")
    app.setApplicationDisplayName("Frontdesk")
    return app


def add_demo_patients(window: MainWindow, patients: int = DEMO_PATIENTS) -> Op[DemoSummary]:
    """The demo clinic fills in the background on its own connection: the window stays
    usable, shows progress in the status bar, and Cancel leaves the clinic empty."""
    clinic = window.clinic

    def work(progress: Progress, cancel: CancelToken) -> DemoSummary:
        worker = clinic.fork()
        try:
            summary = generate(
                worker, patients, 1, progress=progress, cancel=cancel, engagement=True
            )
            # The demo shows a history (sent reminders, answers, enquiries) for the
            # reports, and the reminders the ready-made rules plan at once
            # (sending stays off, so Messages shows what would go).
            install_default_rules(worker)
            plan(worker)
            return summary
        finally:
            worker.close()

    return (
        Op(window, "Creating the demo clinic", work)
        .in_tray(window.tray)
        .success(lambda _summary: window.bus.publish(Changes(DEMO_TABLES)))
        .run_in_background()
    )


def _excepthook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    """Last line of defence: a bug leaves a PHI-free crash report, the person sees a
    plain message, and the window stays open."""
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, exc, tb)
        return
    show_error(QApplication.activeWindow(), "Frontdesk", exc.with_traceback(tb))


def bring_forward(app: QApplication) -> None:
    """Another start of Frontdesk asked for us: show the dialog in front (unlock,
    a form) or the main window, restored if it was minimised."""
    target = app.activeModalWidget() or next(
        (w for w in app.topLevelWidgets() if w.isVisible() and w.isWindow()), None
    )
    if target is None:
        # The window may be hidden in the tray while reminders keep sending.
        target = next(
            (w for w in app.topLevelWidgets() if hasattr(w, "reminders") and w.isWindow()), None
        )
        if target is None:
            return
        target.show()
    if target.isMinimized():
        target.showNormal()
    target.raise_()
    target.activateWindow()


def run_gui(home: Path | None = None) -> int:
    app = application()
    folder = home if home is not None else data_home()
    problem = startup_problem(folder)
    if problem is not None:
        QMessageBox.critical(None, "Frontdesk cannot start", problem)
        return 1
    if ask_running_copy(folder):
        return 0  # the copy already running comes forward instead
    instance = SingleInstance(folder, app)
    instance.raise_requested.connect(lambda: bring_forward(app))
    # A restore or a new database key prepared in the window is put in place here, when
    # nothing has the database open (never by the scheduled headless task).
    try:
        swapped = complete_pending_swap(folder)
    except (OSError, FrontdeskError) as exc:
        QMessageBox.critical(None, "Frontdesk cannot finish the restore", str(exc))
        return 1
    if swapped is not None and swapped.kept is not None:
        QMessageBox.information(
            None,
            "Frontdesk",
            f"The backup was restored. The clinic as it was before is kept in {swapped.kept}.",
        )
    preferences = load_preferences(preferences_path(home))
    apply_preferences(app, preferences)
    sys.excepthook = _excepthook
    try:
        started = start_clinic(home)
    except FrontdeskError as exc:
        QMessageBox.critical(None, "Frontdesk cannot open the clinic", str(exc))
        return 1
    if started is None:
        return 0
    clinic = started.clinic
    # Each person signs in: nothing of the clinic's patients shows before someone has.
    # A clinic the wizard just made has its administrator signed in already.
    fresh = clinic.opened.unlocked_by == "new"
    if not fresh:
        clinic.acting_user_id = ""
    window = MainWindow(clinic, start_page=preferences.start_page)
    if not fresh:
        window.lock_screen("start")
    window.show()
    window.sign_in_screen.focus_first_field()
    if started.want_demo:
        add_demo_patients(window)
    try:
        return app.exec()
    finally:
        # A restore or a new key waits to be put in place: this database is about to be
        # replaced, so nothing more is written to it (the entry would be lost anyway).
        if pending_swap(clinic.home) is None:
            try:
                sign_out(clinic, "quit")
            except (FrontdeskError, DatabaseError) as exc:  # the clinic closes all the same
                log.warning("sign-out not recorded at quit: %s", type(exc).__name__)
        clinic.close()


def run_selftest_window(clinic: Clinic, term: str) -> str | None:
    """Open the real window offscreen and search through it; returns what failed, if anything."""
    app = application()
    window = MainWindow(clinic)
    window.show()
    window.finder.field.setText(term)
    deadline = 200
    while window.finder.shown_text != term and deadline:
        app.processEvents()
        window.finder.service_flush()
        deadline -= 1
    found = len(window.finder.patient_ids())
    window.close()
    return None if found else "the window's search showed no result"
