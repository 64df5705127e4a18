"""The main window: navigation, the Ctrl+K finder, the pages, the patient view, a status bar."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QResizeEvent
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.clinic import Clinic
from app.errors import FrontdeskError
from app.importers.merge_review import count_open
from app.store.changes import Changes
from app.store.folder_health import check_folder
from app.users import act_as_default_user, add_user, get_user
from ui.bus import DataBus
from ui.campaigns.page import CampaignsPage
from ui.finder import Finder
from ui.forms.new_patient import NewPatientDialog
from ui.letters.page import LettersPage
from ui.messages.page import MessagesPage
from ui.patient.view import PatientView
from ui.patients_page import PatientsPage
from ui.reminder_runner import attach_reminders
from ui.reports.page import ReportsPage
from ui.settings_page import SettingsPage
from ui.shortcuts import shortcut
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


class MainWindow(QMainWindow):
    def __init__(self, clinic: Clinic, start_page: str = "Today") -> None:
        super().__init__()
        self.clinic = clinic
        self.bus = DataBus(self)
        self.bus.changed.connect(self._changed)
        self.setWindowTitle("Frontdesk")  # no clinic or patient data in titles of shared screens
        self.setMinimumSize(960, 600)
        self.resize(1280, 720)

        self.finder = Finder(clinic, overlay_parent=self)
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
        central = QWidget()
        central.setLayout(outer)
        self.setCentralWidget(central)

        self._build_status_bar()
        # Reminders are planned and sent on a schedule while the window is open (or
        # hidden in the tray); the scheduler starts a moment after the window shows.
        self.reminders = attach_reminders(self, clinic, self.bus)
        self._build_menus()
        self._show_reviews()
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
        # A clinic made from the command line, or upgraded from the first release, has
        # nobody on file yet: ask once, without blocking the desk.
        self.name_user_button = QPushButton("Who looks after Frontdesk here?…")
        self.name_user_button.setAccessibleName("Name the administrator")
        self.name_user_button.clicked.connect(self.name_first_user)
        self.folder_label = QLabel()
        self.folder_label.setAccessibleName("Data folder state")
        self.tray = TaskTray()
        bar = self.statusBar()
        bar.addPermanentWidget(self.clinic_label, 1)
        bar.addPermanentWidget(self.user_label)
        bar.addPermanentWidget(self.name_user_button)
        self._show_user()
        bar.addPermanentWidget(self.folder_label)
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
        self._action("&File", "Import from your EMR…", "import", self.import_from_emr)
        self._action("&File", "Past imports…", None, self.past_imports)
        self.reviews_action = self._action("&File", "", None, self.review_duplicates)
        self._menus["&File"].addSeparator()
        quit_action = self._action("&File", "Quit", None, self.close)
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
        self.user_label.setText(f"{user.name} ({user.role})" if user else "No user set up")
        self.name_user_button.setVisible(user is None)

    def name_first_user(self) -> None:
        name, ok = QInputDialog.getText(
            self,
            "Frontdesk",
            "Nobody is set up to work in Frontdesk yet. Type the name of the person who "
            "looks after it here (the administrator); calls, notes and consents are "
            "recorded in their name until sign-in arrives.",
        )
        if not ok:
            return
        try:
            created = add_user(self.clinic, name, "administrator")
        except FrontdeskError as exc:
            QMessageBox.warning(self, "Frontdesk", str(exc))
            return
        act_as_default_user(self.clinic)
        self._show_user()
        self.bus.publish(created.changes)

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

    def import_from_emr(self) -> None:
        from ui.importing.wizard import ImportWizard

        self._open_dialog(ImportWizard(self.clinic, self.bus, self))

    def past_imports(self) -> None:
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

    def _changed(self, changes: Changes) -> None:
        if changes.touches("setting"):
            self.clinic.reload_settings()
            how = _UNLOCKED_BY.get(self.clinic.opened.unlocked_by, "unlocked")
            self.clinic_label.setText(f"{self.clinic.settings.name}  ·  {how}")
        if changes.touches("merge_review", "patient"):
            self._show_reviews()

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
        self.finder.close_service()
        super().closeEvent(event)
