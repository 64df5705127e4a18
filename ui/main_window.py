"""The main window: navigation, the Ctrl+K finder, the pages, the patient view, a status bar."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import shiboken6
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QResizeEvent
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMainWindow,
    QPushButton,
    QStackedWidget,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from app.audit import actions
from app.audit import log as audit
from app.clinic import Clinic
from app.importers.merge_review import count_open
from app.security.permissions import allowed
from app.store.changes import Changes
from app.store.folder_health import check_folder
from app.today import clinic_zone
from app.users import get_user
from ui.backups.runner import BackupRunner
from ui.bus import DataBus
from ui.campaigns.page import CampaignsPage
from ui.finder import Finder
from ui.forms.new_patient import NewPatientDialog
from ui.kiosk.window import KioskWindow
from ui.letters.page import LettersPage
from ui.messages.page import MessagesPage
from ui.patient.view import PatientView
from ui.patients_page import PatientsPage
from ui.permissions import permitted
from ui.reminder_runner import attach_reminders
from ui.reports.page import ReportsPage
from ui.security.password_dialog import ChangePasswordDialog
from ui.security.screen_guard import attach_screen_guard
from ui.security.sign_in import SignInScreen
from ui.settings_page import SettingsPage
from ui.shortcuts import shortcut
from ui.sync.runner import SyncRunner
from ui.sync.status import SyncStatusButton
from ui.task_tray import TaskTray
from ui.theme import css
from ui.today_page import TodayPage

_UNLOCKED_BY = {
    "keyring": "unlocked by this computer's keychain",
    "passphrase": "unlocked with the passphrase",
    "recovery": "unlocked with the recovery key",
    "new": "new clinic, encrypted",
}
AREAS = ("Today", "Patients", "Messages", "Letters", "Campaigns", "Reports", "Settings")
_AREA_SHORTCUTS = {
    "Today": "today",
    "Patients": "patients",
    "Messages": "messages",
    "Letters": "letters",
    "Campaigns": "campaigns",
    "Reports": "reports",
    "Settings": "settings",
}
FOLDER_CHECK_MS = 60_000
# Why the sign-in screen shows, in the words it says it (lock_screen's reasons).
_LOCK_WORDS = {
    "idle": "Frontdesk locked itself after a while without use, to keep patient data private.",
    "screen-locked": "Frontdesk locked when this computer's screen locked.",
    "switch": "Choose your name and type your password.",
    "start": "Choose your name and type your password.",
}
_LOCK_SHORTCUT = "lock"  # Ctrl+Shift+L in ui/shortcuts.py


class MainWindow(QMainWindow):
    """The desk. `lock_screen` hides every patient-data widget behind the sign-in screen
    and keeps the work in progress; `screen_unlocked` fires after a sign-in there.

    Who sees what after a lock: the same person signing in again gets everything back as
    it was (the open patient, the open forms with what they typed). Another person
    (switching user at a shared desk) starts without the previous person's open forms:
    those stay hidden, unsaved edits and all, until their owner signs in again, and the
    sign-in screen and status bar say whose work is waiting. Discarding them would lose a
    half-typed note to a colleague's quick look-up; showing them would put one person's
    unfinished record, saved in the next person's name, in front of someone else.
    """

    screen_unlocked = Signal()

    def __init__(self, clinic: Clinic, start_page: str = "Today") -> None:
        super().__init__()
        self.clinic = clinic
        self.bus = DataBus(self)
        self.bus.changed.connect(self._changed)
        self.setWindowTitle("Frontdesk")  # no clinic or patient data in titles of shared screens
        self.setMinimumSize(960, 600)
        self.resize(1280, 720)

        # The work area holds every widget that shows patient data (the finder's drop-down
        # too, which is drawn over it): hiding it hides them all at once.
        self.work = QWidget()
        self.work.setAccessibleName("Work area")
        self.finder = Finder(clinic, overlay_parent=self.work)
        self.finder.open_patient.connect(self.open_patient)
        self.finder.new_patient.connect(self.new_patient)
        new_button = QPushButton("New patient")
        new_button.setAccessibleName("New patient")
        new_button.setToolTip(f"Add a new patient ({shortcut('new_patient').keys})")
        new_button.clicked.connect(lambda: self.new_patient(self.finder.field.text().strip()))
        top = QHBoxLayout()
        top.addWidget(self.finder, 1)
        top.addWidget(new_button)

        self.nav = QListWidget()
        self.nav.setAccessibleName("Areas")
        self.nav.addItems(list(AREAS))
        self.nav.setMaximumWidth(180)
        self.nav.setMinimumWidth(120)

        self.stack = QStackedWidget()
        self.today = TodayPage(clinic, self.bus)
        self.patients = PatientsPage(clinic, self.bus)
        self.messages = MessagesPage(clinic, self.bus)
        self.letters = LettersPage(clinic, self.bus)
        self.campaigns = CampaignsPage(clinic, self.bus)
        self.reports = ReportsPage(clinic, self.bus)
        self.settings = SettingsPage(clinic, self.bus)
        self.patient_view = PatientView(clinic, self.bus)
        self.pages: dict[str, QWidget] = {
            "Today": self.today,
            "Patients": self.patients,
            "Messages": self.messages,
            "Letters": self.letters,
            "Campaigns": self.campaigns,
            "Reports": self.reports,
            "Settings": self.settings,
        }
        for area in AREAS:
            self.stack.addWidget(self.pages[area])
        self.stack.addWidget(self.patient_view)
        self.today.open_patient.connect(self.open_patient)
        self.patients.open_patient.connect(self.open_patient)
        self.messages.open_patient.connect(self.open_patient)
        self.letters.open_patient.connect(self.open_patient)
        self.campaigns.open_patient.connect(self.open_patient)
        self.patient_view.closed.connect(self._patient_closed)
        self.nav.currentRowChanged.connect(self._area_chosen)
        self._area = start_page if start_page in AREAS else "Today"
        self.nav.setCurrentRow(AREAS.index(self._area))

        body = QHBoxLayout()
        body.addWidget(self.nav)
        body.addWidget(self.stack, 1)
        outer = QVBoxLayout()
        outer.addLayout(top)
        outer.addLayout(body, 1)
        self.work.setLayout(outer)
        self.sign_in_screen = SignInScreen(clinic)
        self.sign_in_screen.signed_in.connect(self._signed_in)
        self.screens = QStackedWidget()
        self.screens.addWidget(self.work)
        self.screens.addWidget(self.sign_in_screen)
        self.setCentralWidget(self.screens)
        self._locked = False
        self._locked_user = ""
        self._focus_before: QWidget | None = None
        self._disabled_actions: list[QAction] = []
        # Windows (forms, dialogs) hidden at a lock, by the person whose work they hold.
        self._kept: dict[str, list[QWidget]] = {}

        self._build_status_bar()
        # Reminders are planned and sent on a schedule while the window is open (or
        # hidden in the tray); the scheduler starts a moment after the window shows.
        self.reminders = attach_reminders(self, clinic, self.bus)
        # The daily backup to the folder chosen in Settings ▸ Backups, off the GUI thread.
        self.backup_runner = BackupRunner(clinic, self)
        self.backup_runner.status.connect(lambda _text: self.settings.backups.refresh())
        self.backup_runner.start()
        # Sync with the clinic's other workstations (when set up), off the GUI thread;
        # what they did reaches the views through the bus.
        self.sync_runner = SyncRunner(clinic, self.bus, self)
        self.sync_runner.status_changed.connect(self.sync_status.show_status)
        self.sync_runner.status_changed.connect(self.settings.sync.show_status)
        self.settings.sync.sync_requested.connect(self.sync_runner.sync_now)
        # A reminder pass that just gained the sending turn catches up through it.
        self.reminders.use_sync(self.sync_runner)
        self.sync_runner.start()
        self._build_menus()
        self._show_user()
        self._show_reviews()
        self.apply_role()
        # Idle minutes, the computer's own screen lock, and copies of patient data.
        self.screen_guard = attach_screen_guard(self, clinic)
        self._folder_timer = QTimer(self)
        self._folder_timer.timeout.connect(self.check_data_folder)
        self._folder_timer.start(FOLDER_CHECK_MS)
        self.check_data_folder()

    # --- chrome ----------------------------------------------------------------------

    def _build_status_bar(self) -> None:
        how = _UNLOCKED_BY.get(self.clinic.opened.unlocked_by, "unlocked")
        self.clinic_label = QLabel(f"{self.clinic.settings.name}  ·  {how}")
        self.clinic_label.setAccessibleName("Clinic status")
        self.user_label = QLabel()
        self.user_label.setAccessibleName("Who is working")
        self.switch_button = QPushButton("Switch user")
        self.switch_button.setFlat(True)
        self.switch_button.setAccessibleName("Lock the screen or switch user")
        self.switch_button.clicked.connect(lambda: self.lock_screen("switch"))
        self.kept_label = QLabel()
        self.kept_label.setAccessibleName("Work kept for others")
        self.kept_label.hide()
        self.folder_label = QLabel()
        self.folder_label.setAccessibleName("Data folder state")
        self.tray = TaskTray()
        self.sync_status = SyncStatusButton(lambda: clinic_zone(self.clinic))
        self.sync_status.open_settings.connect(self.open_sync_settings)
        bar = self.statusBar()
        bar.addPermanentWidget(self.clinic_label, 1)
        bar.addPermanentWidget(self.kept_label)
        bar.addPermanentWidget(self.user_label)
        bar.addPermanentWidget(self.switch_button)
        bar.addPermanentWidget(self.folder_label)
        bar.addPermanentWidget(self.sync_status)
        bar.addPermanentWidget(self.tray)
        # Imported look-alikes wait for a person's decision: say so until they are decided.
        self.reviews_button = QPushButton()
        self.reviews_button.setFlat(True)
        self.reviews_button.clicked.connect(self.review_duplicates)
        bar.addPermanentWidget(self.reviews_button)

    def _action(
        self, menu_title: str, text: str, name: str | None, handler: Callable[[], object]
    ) -> QAction:
        menu = self._menus[menu_title]
        action = QAction(text, self)
        if name is not None:
            action.setShortcut(shortcut(name).sequence())
        action.triggered.connect(handler)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        self._menus = {title: bar.addMenu(title) for title in ("&File", "&Go", "&Patient", "&Help")}
        self._action("&File", "New patient…", "new_patient", lambda: self.new_patient(""))
        self._menus["&File"].addSeparator()
        self.import_action = self._action(
            "&File", "Import from your EMR…", "import", self.import_from_emr
        )
        self.past_imports_action = self._action("&File", "Past imports…", None, self.past_imports)
        self.reviews_action = self._action("&File", "", None, self.review_duplicates)
        self._menus["&File"].addSeparator()
        self.research_action = self._action("&File", "Research export…", None, self.research_export)
        self._menus["&File"].addSeparator()
        self.lock_action = self._action(
            "&File",
            "Lock / switch user",
            _LOCK_SHORTCUT,
            lambda: self.lock_screen("switch"),
        )
        self.change_password_action = self._action(
            "&File", "Change my password…", None, self.change_password
        )
        self._menus["&File"].addSeparator()
        quit_action = self._action("&File", "Quit", None, self.close)
        self.quit_action = quit_action
        quit_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Quit))
        self.find_action = self._action("&Go", "Find a patient", "find", self.focus_finder)
        for row, area in enumerate(AREAS):
            self._action("&Go", area, _AREA_SHORTCUTS[area], partial(self.nav.setCurrentRow, row))
        view = self.patient_view
        for name, text, handler in view._quick_actions():
            # The view owns the key (it only works with a patient open); the menu shows it.
            action = QAction(f"{text}\t{shortcut(name).sequence().toString()}", self)
            action.triggered.connect(handler)
            self._menus["&Patient"].addAction(action)
        self._action("&Help", "Keyboard shortcuts", "help_shortcuts", self.show_shortcuts)
        self._action("&Help", "About Frontdesk", None, self.show_about)

    def _show_user(self) -> None:
        user = get_user(self.clinic, self.clinic.acting_user_id)
        if self._locked:
            self.user_label.setText("Locked")
        else:
            self.user_label.setText(f"{user.name} ({user.role})" if user else "Nobody signed in")
        self.switch_button.setVisible(not self._locked)
        self.change_password_action.setEnabled(user is not None and user.has_password)
        waiting = [
            person.name
            for user_id, windows in self._kept.items()
            if user_id != self.clinic.acting_user_id and _alive(windows)
            for person in [get_user(self.clinic, user_id)]
            if person is not None
        ]
        words = _kept_words(waiting)
        self.kept_label.setText(words)
        self.kept_label.setVisible(bool(words) and not self._locked)

    def change_password(self) -> None:
        dialog = ChangePasswordDialog(self.clinic, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.password_dialog = dialog
        dialog.open()

    # --- locking and signing in ------------------------------------------------------

    def is_locked(self) -> bool:
        return self._locked

    def lock_screen(self, reason: str) -> None:
        """Hide every patient-data widget behind the sign-in screen, keeping the work in
        progress (forms are hidden, not closed). Calling it again while locked does nothing."""
        if self._locked:
            return
        self._locked = True
        self._locked_user = self.clinic.acting_user_id
        focus = QApplication.focusWidget()
        self._focus_before = focus if focus is not None and self.isAncestorOf(focus) else None
        for _ in range(20):  # menus, completers, combo lists: each closes in turn
            popup = QApplication.activePopupWidget()
            if popup is None:
                break
            popup.close()
        QToolTip.hideText()
        kept = [
            window
            for window in QApplication.topLevelWidgets()
            if window is not self
            and window.isWindow()
            and window.isVisible()
            # The patients' own screen shows no record and must keep taking answers.
            and not isinstance(window, KioskWindow)
        ]
        for window in kept:
            window.hide()
        if kept:
            self._kept.setdefault(self._locked_user, []).extend(kept)
        self._disabled_actions = [
            action
            for action in self.findChildren(QAction)
            if action.isEnabled() and action not in (self.quit_action,)
        ]
        for action in self._disabled_actions:
            action.setEnabled(False)
        self.screens.setCurrentWidget(self.sign_in_screen)
        if self._locked_user and reason != "start":
            audit.record(self.clinic, actions.LOCK, detail={"reason": reason})
        self.sign_in_screen.prepare(
            _LOCK_WORDS.get(reason, ""), self._kept_notice(), choose=self._locked_user
        )
        self._show_user()
        if self.isVisible():
            self.sign_in_screen.focus_first_field()

    def _kept_notice(self) -> str:
        names = [
            person.name
            for user_id, windows in self._kept.items()
            if _alive(windows)
            for person in [get_user(self.clinic, user_id)]
            if person is not None
        ]
        return _kept_words(names)

    def _signed_in(self, user_id: str) -> None:
        same = user_id == self._locked_user
        self._locked = False
        for action in self._disabled_actions:
            action.setEnabled(True)
        self._disabled_actions = []
        if not same:
            # A different person starts clean: no look at the previous person's patient.
            self.finder.field.clear()
            self.finder.panel.hide()
            if self.stack.currentWidget() is self.patient_view:
                self.patient_view.close_patient()
            # Views that depend on who works (their role, their name) refresh.
            self.bus.publish(Changes(frozenset({"app_user"})))
        self.screens.setCurrentWidget(self.work)
        for window in self._kept.pop(user_id, []):
            if shiboken6.isValid(window):
                window.show()
        self._kept = {k: v for k, v in self._kept.items() if _alive(v)}
        self._show_user()
        self.apply_role()
        if same and self._focus_before is not None and shiboken6.isValid(self._focus_before):
            self._focus_before.setFocus()
        elif not same:
            self.finder.field.setFocus()
        self._focus_before = None
        self.screen_unlocked.emit()

    def check_data_folder(self) -> None:
        health = check_folder(self.clinic.home)
        self.folder_label.setText(health.words)
        self.folder_label.setStyleSheet(
            "" if health.ok else f"color: {css('danger')}; font-weight: bold;"
        )

    # --- navigation ------------------------------------------------------------------

    def focus_finder(self) -> None:
        self.finder.focus()

    def _area_chosen(self, row: int) -> None:
        if row < 0:
            return
        leaving = self.stack.currentWidget()
        if leaving is self.settings and not self.settings.confirm_leave():
            self.nav.blockSignals(True)
            self.nav.setCurrentRow(AREAS.index("Settings"))
            self.nav.blockSignals(False)
            return
        self._area = AREAS[row]
        self.stack.setCurrentWidget(self.pages[self._area])

    def open_patient(self, patient_id: str) -> None:
        self.patient_view.show_patient(patient_id)
        self.stack.setCurrentWidget(self.patient_view)
        self.nav.clearSelection()

    def open_sync_settings(self) -> None:
        """The status bar's sync line leads to Settings ▸ Sync."""
        self.nav.setCurrentRow(AREAS.index("Settings"))
        if self.stack.currentWidget() is self.settings:
            self.settings.show_sync()

    def _patient_closed(self) -> None:
        self.nav.setCurrentRow(AREAS.index(self._area))
        self.stack.setCurrentWidget(self.pages[self._area])

    def new_patient(self, typed: str) -> None:
        dialog = NewPatientDialog(self.clinic, self.bus, self, initial_text=typed)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda _result: self._new_patient_done(dialog))
        self.new_patient_dialog = dialog
        dialog.open()

    def _new_patient_done(self, dialog: NewPatientDialog) -> None:
        chosen = dialog.created_id or dialog.existing_id
        if chosen:
            self.finder.field.clear()
            self.open_patient(chosen)

    def apply_role(self) -> None:
        """Menu items follow the signed-in person's role (app/security/permissions.py);
        the work behind them checks the same table."""
        for action, permission in (
            (self.import_action, "patients.import"),
            (self.past_imports_action, "patients.import"),
            (self.research_action, "research.export"),
        ):
            ok = allowed(self.clinic, permission)
            action.setVisible(ok)
            action.setEnabled(ok and not self._locked)

    def research_export(self) -> None:
        if not permitted(self, self.clinic, "research.export"):
            return
        from ui.research.export_dialog import ResearchExportDialog

        self._open_dialog(ResearchExportDialog(self.clinic, self))

    def import_from_emr(self) -> None:
        from ui.importing.wizard import ImportWizard

        if not permitted(self, self.clinic, "patients.import"):
            return
        self._open_dialog(ImportWizard(self.clinic, self.bus, self))

    def past_imports(self) -> None:
        if not permitted(self, self.clinic, "patients.import"):
            return
        from ui.importing.history import PastImportsDialog

        self._open_dialog(PastImportsDialog(self.clinic, self.bus, self))

    def review_duplicates(self) -> None:
        from ui.importing.review import MergeReviewDialog

        self._open_dialog(MergeReviewDialog(self.clinic, self.bus, self))

    def _open_dialog(self, dialog: QDialog) -> None:
        """Window-modal: an import holds the clinic's write lock while it runs, so the
        desk waits for it rather than freezing on a save."""
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.import_dialog = dialog
        dialog.open()

    def _show_reviews(self) -> None:
        waiting = count_open(self.clinic)
        words = f"{waiting} possible duplicate{'s' if waiting != 1 else ''} to review"
        self.reviews_action.setText(
            f"Review possible duplicates ({waiting})…" if waiting else "Review possible duplicates…"
        )
        self.reviews_button.setText(words)
        self.reviews_button.setAccessibleName(words)
        self.reviews_button.setVisible(waiting > 0)

    def show_shortcuts(self) -> None:
        from ui.help_dialogs import ShortcutsDialog

        ShortcutsDialog(self).open()

    def show_about(self) -> None:
        from ui.help_dialogs import AboutDialog

        AboutDialog(self, self.clinic).open()

    # --- refresh and lifetime --------------------------------------------------------

    def kept_windows(self, user_id: str) -> list[QWidget]:
        """The windows hidden at a lock that wait for `user_id` to sign in again."""
        return [w for w in self._kept.get(user_id, []) if shiboken6.isValid(w)]

    def _changed(self, changes: Changes) -> None:
        if changes.touches("setting"):
            self.clinic.reload_settings()
            how = _UNLOCKED_BY.get(self.clinic.opened.unlocked_by, "unlocked")
            self.clinic_label.setText(f"{self.clinic.settings.name}  ·  {how}")
        if changes.touches("merge_review", "patient"):
            self._show_reviews()
        if changes.touches("app_user"):
            self._show_user()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        if self.finder.panel.isVisible():
            self.finder.focus()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        if not self.settings.confirm_leave():
            event.ignore()
            return
        if self.reminders.should_stay_in_tray():
            event.ignore()
            self.reminders.hide_to_tray()
            return
        self.reminders.stop()
        self.backup_runner.stop()
        self.sync_runner.stop()
        self.sync_status.stop()
        self.finder.close_service()
        super().closeEvent(event)


def _alive(windows: list[QWidget]) -> bool:
    return any(shiboken6.isValid(w) for w in windows)


def _kept_words(names: list[str]) -> str:
    """'Dana Reyes has work open; it is kept until they sign in again.'"""
    if not names:
        return ""
    who = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    verb = "has" if len(names) == 1 else "have"
    return f"{who} {verb} work open; it is kept until they sign in again."
