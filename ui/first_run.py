"""The first-run wizard: the clinic's details, the first administrator and passphrase, the
Emergency Kit, then an empty clinic or a demo one — or, on a new computer of a clinic that
already uses Frontdesk, joining it with a code from another workstation (ui/sync/join_page.py)."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime
from pathlib import Path

from PySide6.QtCore import QLocale, QStandardPaths, Qt, QTimeZone, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QFont, QFontDatabase
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QCompleter,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from app.clinic import Clinic, create_clinic
from app.errors import FrontdeskError, InvalidInputError
from app.patients.validation import display_phone, normalize_phone
from app.security import accounts
from app.store.emergency_kit import EmergencyKit, PageSize, write_emergency_kit
from app.users import MAX_NAME, act_as_default_user, check_user_name
from app.version import __version__
from ui.regions import phone_countries
from ui.security.password_dialog import PasswordFields
from ui.sync.join_page import JoinPage
from ui.unlock import PassphraseFields, error_label, hint_label, show_error

CLINIC_PAGE, ADMIN_PAGE, KIT_PAGE, START_PAGE, JOIN_PAGE = range(5)
FALLBACK_TIMEZONE = "UTC"
FALLBACK_REGION = "US"
# Where Letter paper is the norm; everyone else prints the kit on A4.
_LETTER_REGIONS = frozenset({"US", "CA", "MX", "PH", "CL", "CO", "VE", "GT", "PR"})


def system_timezone() -> str:
    """The computer's IANA zone, when Python's zone database knows it by that name."""
    name = bytes(QTimeZone.systemTimeZoneId().data()).decode("ascii", "replace")
    return name if name in zoneinfo.available_timezones() else FALLBACK_TIMEZONE


def system_region() -> str:
    code = QLocale.territoryToCode(QLocale.system().territory())
    return code if len(code) == 2 and code.isalpha() else FALLBACK_REGION


def system_day_first() -> bool:
    """Whether this computer writes the day before the month (31/12 rather than 12/31)."""
    locale = QLocale.system()
    if locale.territory() == QLocale.Country.AnyTerritory:
        return False  # the C locale: keep the same default as the country (US)
    pattern = locale.dateFormat(QLocale.FormatType.ShortFormat)
    day, month = pattern.find("d"), pattern.find("M")
    return 0 <= day < month


def _searchable(combo: QComboBox, name: str) -> None:
    """Typing any part of an entry finds it: 'chicago' finds America/Chicago."""
    combo.setEditable(True)
    line = combo.lineEdit()
    if line is not None:  # the typing field is what a screen reader lands on
        line.setAccessibleName(name)
    combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
    completer = QCompleter(combo.model(), combo)
    completer.setFilterMode(Qt.MatchFlag.MatchContains)
    completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
    completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
    combo.setCompleter(completer)


def _heading(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    return label


def _field_with_error(field: QWidget, error: QLabel, hint: QLabel | None = None) -> QWidget:
    """A field with its hint and error line under it, as one row of a form."""
    box = QWidget()
    # Only as tall as its contents: a form on a tall wizard page must not spread its rows.
    box.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Maximum)
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(2)
    if isinstance(field, QComboBox):
        layout.addWidget(field, 0, Qt.AlignmentFlag.AlignLeft)
    else:
        layout.addWidget(field)
    if hint is not None:
        layout.addWidget(hint)
    layout.addWidget(error)
    return box


class ClinicPage(QWizardPage):
    """Who the clinic is and how it writes times, dates and phone numbers."""

    join_instead = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Your clinic")
        self.setSubTitle(
            "Frontdesk keeps your clinic's patients in an encrypted file on this computer. "
            "First, a few details about the clinic. You can change them later in Settings."
        )
        self.name = QLineEdit()
        self.name.setAccessibleName("Clinic name")
        self.name.setPlaceholderText("e.g. Lakeside Family Practice")
        self.name.setMaxLength(120)
        self.address = QPlainTextEdit()
        self.address.setAccessibleName("Clinic address")
        self.address.setTabChangesFocus(True)
        self.address.setPlaceholderText("Street\nTown and postcode")
        lines = self.address.fontMetrics().lineSpacing()
        self.address.setMinimumHeight(lines * 3 + 12)
        self.address.setMaximumHeight(lines * 4 + 12)
        self.phone = QLineEdit()
        self.phone.setAccessibleName("Clinic phone")
        self.timezone = QComboBox()
        self.timezone.setAccessibleName("Time zone")
        self.timezone.addItems(sorted(zoneinfo.available_timezones()))
        _searchable(self.timezone, "Time zone")
        self.timezone.setCurrentText(system_timezone())
        self.region = QComboBox()
        self.region.setAccessibleName("Country for phone numbers")
        for code, name in phone_countries():
            self.region.addItem(f"{name} ({code})", code)
        _searchable(self.region, "Country for phone numbers")
        self.select_region(system_region())
        self.date_order = QComboBox()
        self.date_order.setAccessibleName("Date order")
        self.date_order.addItem("Month first: 12/31/2026", False)
        self.date_order.addItem("Day first: 31/12/2026", True)
        self.date_order.setCurrentIndex(1 if system_day_first() else 0)

        self.name_error = error_label("Clinic name problem")
        self.phone_error = error_label("Clinic phone problem")
        self.timezone_error = error_label("Time zone problem")
        self.region_error = error_label("Country problem")
        # A second or third reception computer joins the clinic instead of making one.
        self.join_button = QPushButton(
            "This clinic already uses Frontdesk on another computer — &join it"
        )
        self.join_button.setAccessibleName(
            "This clinic already uses Frontdesk on another computer: join it"
        )
        self.join_button.setFlat(True)
        self.join_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.join_button.setStyleSheet("text-decoration: underline; text-align: left;")
        self.join_button.clicked.connect(self.join_instead)
        page = QVBoxLayout(self)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        page.addLayout(form)
        page.addStretch(1)
        self._row(form, "Clinic &name:", self.name, self.name_error)
        self._row(form, "&Address:", self.address)
        self._row(form, "&Phone:", self.phone, self.phone_error)
        self._row(
            form,
            "&Time zone:",
            self.timezone,
            self.timezone_error,
            hint_label("Appointments and reminders use this zone. Type a city to find it."),
        )
        self._row(
            form,
            "&Country:",
            self.region,
            self.region_error,
            hint_label("Phone numbers typed without + are read as numbers of this country."),
        )
        self._row(form, "&Dates:", self.date_order)
        # Shown first, reached last by Tab (typing starts in the name), or with Alt+J.
        page.insertWidget(0, self.join_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.name.textChanged.connect(lambda _t: show_error(self.name_error, ""))
        self.phone.textChanged.connect(lambda _t: show_error(self.phone_error, ""))
        self.timezone.currentTextChanged.connect(lambda _t: show_error(self.timezone_error, ""))
        self.region.currentTextChanged.connect(lambda _t: show_error(self.region_error, ""))

    @staticmethod
    def _row(
        form: QFormLayout,
        text: str,
        field: QWidget,
        error: QLabel | None = None,
        hint: QLabel | None = None,
    ) -> None:
        label = QLabel(text)
        label.setBuddy(field)
        form.addRow(label, _field_with_error(field, error or error_label(""), hint))

    def select_region(self, code: str) -> None:
        index = self.region.findData(code)
        if index >= 0:
            self.region.setCurrentIndex(index)

    def region_code(self) -> str | None:
        """The chosen country; None when the typed text names none in the list."""
        index = self.region.findText(self.region.currentText(), Qt.MatchFlag.MatchFixedString)
        if index < 0:
            return None
        return str(self.region.itemData(index))

    def clinic_name(self) -> str:
        return " ".join(self.name.text().split())

    def phone_e164(self) -> str:
        """The phone in E.164 ('' when left empty), as every stored phone is."""
        text = self.phone.text().strip()
        return normalize_phone(text, self.region_code() or FALLBACK_REGION) if text else ""

    def validatePage(self) -> bool:  # noqa: N802 - Qt's name
        problems: list[QWidget] = []
        if not self.clinic_name():
            show_error(self.name_error, "Type the clinic's name, as patients know it.")
            problems.append(self.name)
        if self.timezone.currentText() not in zoneinfo.available_timezones():
            show_error(
                self.timezone_error,
                "Choose a time zone from the list, such as America/Chicago or Europe/London.",
            )
            problems.append(self.timezone)
        region = self.region_code()
        if region is None:
            show_error(self.region_error, "Choose a country from the list.")
            problems.append(self.region)
        else:
            try:
                e164 = self.phone_e164()
            except FrontdeskError as exc:
                show_error(self.phone_error, str(exc))
                problems.append(self.phone)
            else:
                if e164:
                    self.phone.setText(display_phone(e164, region))
        if problems:
            problems[0].setFocus()
            return False
        return True


class AdminPage(QWizardPage):
    """The first administrator and the clinic passphrase; Next creates the clinic."""

    def __init__(self, wizard: FirstRunWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self.setTitle("You and the clinic passphrase")
        self.setSubTitle(
            "Everyone at the desk unlocks Frontdesk with one clinic passphrase. Choose one "
            "that is easy to remember and hard to guess: a few unrelated words work well."
        )
        self.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, "&Create the clinic")
        self.admin_name = QLineEdit()
        self.admin_name.setAccessibleName("Your name")
        self.admin_name.setMaxLength(MAX_NAME + 20)
        self.admin_error = error_label("Your name problem")
        self.fields = PassphraseFields()
        # The administrator's own password: the passphrase opens the clinic's file on
        # this computer, the password says which person is at the desk.
        self.password_fields = PasswordFields("Your password")
        self.password_intro = hint_label(
            "Everyone also signs in with their own name and password. Choose yours; you "
            "add the others later in Settings ▸ People and sign-in."
        )
        self.create_error = error_label("Clinic not created")
        label = QLabel("Your &name:")
        label.setBuddy(self.admin_name)
        self.fields.form.insertRow(
            0,
            label,
            _field_with_error(
                self.admin_name,
                self.admin_error,
                hint_label("You become the clinic's first administrator."),
            ),
        )
        layout = QVBoxLayout(self)
        layout.addWidget(self.fields)
        layout.addSpacing(6)
        layout.addWidget(self.password_intro)
        layout.addWidget(self.password_fields)
        layout.addWidget(self.create_error)
        layout.addStretch(1)
        self.fields.chain_after(self.admin_name)
        QWidget.setTabOrder(self.fields.repeat, self.password_fields.password)
        self.admin_name.textChanged.connect(self._names_changed)

    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        self._names_changed()

    def _names_changed(self) -> None:
        show_error(self.admin_error, "")
        words = ["frontdesk", self._wizard.clinic_page.clinic_name(), self.admin_name.text()]
        self.fields.set_context(words)
        self.password_fields.set_context(words)

    def person_name(self) -> str:
        return " ".join(self.admin_name.text().split())

    def validatePage(self) -> bool:  # noqa: N802 - Qt's name
        show_error(self.create_error, "")
        try:
            name = check_user_name(self.person_name())
        except InvalidInputError as exc:
            show_error(self.admin_error, str(exc))
            self.admin_name.setFocus()
            return False
        passphrase = self.fields.chosen()
        if passphrase is None:
            return False
        password = self.password_fields.chosen()
        if password is None:
            return False
        if password == passphrase:
            show_error(
                self.password_fields.password_error,
                "Choose a password different from the clinic passphrase: the passphrase is "
                "shared, your password is yours alone.",
            )
            self.password_fields.password.setFocus()
            return False
        try:
            self._wizard.create_the_clinic(name, passphrase, password)
        except (FrontdeskError, OSError) as exc:
            show_error(self.create_error, _creation_failure(exc))
            return False
        return True


def _creation_failure(exc: BaseException) -> str:
    if isinstance(exc, FrontdeskError):
        return str(exc)
    return (
        "The clinic could not be created: the data folder cannot be written to. "
        "Check that the disk has room and try again."
    )


class KitPage(QWizardPage):
    """The recovery key, shown once, and the Emergency Kit that keeps it on paper."""

    def __init__(self, wizard: FirstRunWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self.saved_to: Path | None = None
        self.setTitle("Your Emergency Kit")
        self.setSubTitle(
            "If the passphrase is forgotten or this computer breaks, this recovery key "
            "unlocks the clinic's data. It is shown only now."
        )
        self.key = QLabel()
        self.key.setAccessibleName("Recovery key")
        self.key.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
            | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        self.key.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.key.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.key.setFrameShape(QFrame.Shape.Box)
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        font.setPointSizeF(max(font.pointSizeF(), 10.0) * 1.6)
        font.setWeight(QFont.Weight.Bold)
        self.key.setFont(font)
        self.key.setMargin(12)
        self.save_button = QPushButton("&Save Emergency Kit (PDF)…")
        self.save_button.setAccessibleName("Save Emergency Kit as PDF")
        self.save_button.clicked.connect(self._ask_where_to_save)
        self.print_button = QPushButton("&Open it to print…")
        self.print_button.setAccessibleName("Open the saved Emergency Kit to print it")
        self.print_button.setEnabled(False)
        self.print_button.clicked.connect(self._open_to_print)
        self.saved_note = hint_label("")
        self.saved_note.setAccessibleName("Where the Emergency Kit was saved")
        self.saved_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.saved_note.hide()
        self.save_error = error_label("Emergency Kit not saved")
        self.keyring_note = hint_label("")
        self.stored = QCheckBox("I have stored the recovery key safely")
        self.stored.setAccessibleName("I have stored the recovery key safely")
        self.stored.toggled.connect(self.completeChanged)
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.print_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(_heading("Recovery key:"))
        layout.addWidget(self.key)
        layout.addLayout(buttons)
        layout.addWidget(self.saved_note)
        layout.addWidget(self.save_error)
        layout.addWidget(self.keyring_note)
        layout.addSpacing(8)
        layout.addWidget(_heading("<b>Keep it safe</b>"))
        layout.addWidget(
            _heading(
                "<ol style='margin-left: 0'>"
                "<li>Save the Emergency Kit and print it. If you cannot print now, copy the "
                "key onto paper by hand.</li>"
                "<li>Put the paper somewhere locked, such as the office safe. Never email or "
                "photograph the key: with it and a copy of the data, anyone can read every "
                "patient record.</li>"
                "<li>Delete the saved PDF once it is printed, unless it is kept on a USB stick "
                "that is locked away too.</li>"
                "</ol>"
            )
        )
        layout.addStretch(1)
        layout.addWidget(self.stored)

    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        self.key.setText(self._wizard.recovery_key)
        self.keyring_note.setText(
            "This computer's keyring keeps the clinic key, so Frontdesk opens without asking."
            if self._wizard.keyring_saved
            else "This computer has no keyring Frontdesk can use, so Frontdesk will ask for "
            "the clinic passphrase each time it starts."
        )
        self.save_button.setFocus()

    def isComplete(self) -> bool:  # noqa: N802 - Qt's name
        return self.stored.isChecked()

    def _ask_where_to_save(self) -> None:
        folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
        suggested = str(Path(folder) / "Frontdesk Emergency Kit.pdf")
        path, _ = QFileDialog.getSaveFileName(
            self, "Save Emergency Kit", suggested, "PDF files (*.pdf)"
        )
        if path:
            self.save_kit(Path(path))

    def save_kit(self, path: Path) -> bool:
        """Write the kit PDF to `path`; a problem is shown on the page, not raised."""
        if path.suffix.lower() != ".pdf":
            path = path.with_name(path.name + ".pdf")
        clinic = self._wizard.clinic
        assert clinic is not None  # this page comes after the clinic was created
        kit = EmergencyKit(
            clinic_name=clinic.settings.name,
            clinic_id=clinic.clinic_id,
            recovery_key=self._wizard.recovery_key,
            created_at=datetime.now(UTC),
            data_folder=str(clinic.home),
            app_version=__version__,
        )
        page_size: PageSize = "letter" if clinic.settings.region in _LETTER_REGIONS else "a4"
        try:
            write_emergency_kit(kit, path, page_size=page_size)
        except OSError as exc:
            reason = exc.strerror or "the folder cannot be written to"
            show_error(self.save_error, f"The Emergency Kit could not be saved there: {reason}.")
            return False
        show_error(self.save_error, "")
        self.saved_to = path
        self.saved_note.setText(f"Saved to {path}. Print it, then keep the paper locked away.")
        self.saved_note.show()
        self.print_button.setEnabled(True)
        return True

    def _open_to_print(self) -> None:
        if self.saved_to is None:
            return
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.saved_to))):
            show_error(
                self.save_error,
                "No program for PDF files opened it. Open the saved file yourself to print it.",
            )


class StartPage(QWizardPage):
    """An empty clinic for real work, or made-up patients to try things on."""

    def __init__(self) -> None:
        super().__init__()
        self.setTitle("How would you like to start?")
        self.setSubTitle("The clinic is ready.")
        self.setFinalPage(True)
        self.empty = QRadioButton("&Start empty")
        self.empty.setAccessibleName("Start empty")
        self.demo = QRadioButton("&Explore a demo clinic (made-up patients)")
        self.demo.setAccessibleName("Explore a demo clinic (made-up patients)")
        self.empty.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.empty)
        group.addButton(self.demo)
        layout = QVBoxLayout(self)
        layout.addWidget(self.empty)
        layout.addWidget(_indented(hint_label("For real work: add your patients or import them.")))
        layout.addSpacing(8)
        layout.addWidget(self.demo)
        layout.addWidget(
            _indented(
                hint_label(
                    "Fills this clinic with invented patients, appointments and calls so you "
                    "can try everything. The made-up patients stay in this clinic, so choose "
                    "this only on a computer for practice, not for the real clinic."
                )
            )
        )
        layout.addStretch(1)


def _indented(widget: QWidget) -> QWidget:
    box = QWidget()
    layout = QHBoxLayout(box)
    layout.setContentsMargins(24, 0, 0, 0)
    layout.addWidget(widget)
    return box


class FirstRunWizard(QWizard):
    """Set up Frontdesk. Afterwards `.clinic` is the new clinic (None if cancelled before
    it was created), `.want_demo` the choice on the last page, `.recovery_key` the key."""

    def __init__(self, home: Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Set up Frontdesk")
        self.setWizardStyle(QWizard.WizardStyle.ModernStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.home = home
        self.clinic: Clinic | None = None
        self.recovery_key = ""
        self.keyring_saved = False
        self.clinic_page = ClinicPage()
        self.admin_page = AdminPage(self)
        self.kit_page = KitPage(self)
        self.start_page = StartPage()
        self.join_page = JoinPage(home)
        self.clinic_page.join_instead.connect(lambda: self.begin_at(JOIN_PAGE))
        self.join_page.new_clinic_instead.connect(lambda: self.begin_at(CLINIC_PAGE))
        self.join_page.joined.connect(lambda _clinic: self._joined())
        self.setPage(CLINIC_PAGE, self.clinic_page)
        self.setPage(ADMIN_PAGE, self.admin_page)
        self.setPage(KIT_PAGE, self.kit_page)
        self.setPage(START_PAGE, self.start_page)
        self.setPage(JOIN_PAGE, self.join_page)
        self.setStartId(CLINIC_PAGE)
        self.setButtonText(QWizard.WizardButton.NextButton, "&Next")
        self.setButtonText(QWizard.WizardButton.BackButton, "&Back")
        self.setButtonText(QWizard.WizardButton.FinishButton, "&Open Frontdesk")
        self.setButtonText(QWizard.WizardButton.CancelButton, "Cancel")
        # Sized in characters and lines, so it is as roomy at 200 % as at 100 % and still
        # fits a 1280x720 screen at both.
        metrics = self.fontMetrics()
        self.setMinimumWidth(metrics.averageCharWidth() * 90)
        self.resize(metrics.averageCharWidth() * 110, metrics.lineSpacing() * 36)

    @property
    def want_demo(self) -> bool:
        return self.currentId() != JOIN_PAGE and self.start_page.demo.isChecked()

    @property
    def joining(self) -> bool:
        return self.startId() == JOIN_PAGE

    def begin_at(self, page_id: int) -> None:
        """Switch between making a new clinic and joining one (nothing exists yet)."""
        if self.clinic is not None or self.join_page.busy:
            return
        self.setStartId(page_id)
        self.restart()

    def create_the_clinic(self, admin_name: str, passphrase: str, password: str) -> None:
        """Create the clinic with its settings and administrator (signed in with their
        password). Safe to call again after a failure part-way: what exists already is
        kept, not made twice."""
        page = self.clinic_page
        if self.clinic is None:
            created = create_clinic(
                page.clinic_name(),
                passphrase,
                self.home,
                timezone=page.timezone.currentText(),
                region=page.region_code() or FALLBACK_REGION,
                day_first=bool(page.date_order.currentData()),
            )
            self.clinic = created.clinic
            self.recovery_key = created.recovery_key
            self.keyring_saved = created.keyring_saved
            # The clinic exists now: cancelling would leave it without its recovery key.
            self.setOption(QWizard.WizardOption.NoCancelButton, True)
        clinic = self.clinic
        clinic.update_settings(address=page.address.toPlainText().strip(), phone=page.phone_e164())
        if not accounts.anyone_can_sign_in(clinic):
            accounts.set_first_password(clinic, password, name=admin_name)
        act_as_default_user(clinic)

    def _joined(self) -> None:
        # The clinic is on this computer now: the only way on is to open it.
        self.setOption(QWizard.WizardOption.NoCancelButton, True)
        self.button(QWizard.WizardButton.FinishButton).setFocus()

    def accept(self) -> None:
        if self.joining:
            self.clinic = self.join_page.clinic
        super().accept()

    def reject(self) -> None:
        # After the clinic exists, only the last page may close the wizard (Esc or the
        # window's close button): before that the recovery key would be lost unseen.
        if self.clinic is not None and self.currentId() != START_PAGE:
            return
        if self.joining:
            # Waiting or copying stops; a joined clinic is kept (it is on disk).
            self.join_page.cancel()
            self.clinic = self.join_page.clinic
        super().reject()
