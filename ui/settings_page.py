"""Settings: the clinic's details (shared by every desk) and how this computer shows Frontdesk.

The area has four tabs: "Clinic and this computer" (this module), "Reminders" and "Email
and text messages" (ui/reminder_settings/), and "Letters" (ui/letters/settings_tab.py).

Two kinds of setting live here and behave differently on purpose. Clinic details are
clinic data: they are checked, saved only when the receptionist presses Save, and
synced like any record. Text size and theme belong to this computer: they take effect
the moment they are chosen and are saved to the preferences file straight away, so
trying a size costs nothing.
"""

from __future__ import annotations

import logging
import zoneinfo
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from pathlib import Path

from PySide6.QtCore import QEvent, QLocale, Qt, QTime, Signal
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QCompleter,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.clinic import Clinic, ClinicSettings
from app.errors import FrontdeskError, InvalidInputError
from app.patients.validation import display_phone, normalize_phone
from app.preferences import (
    FONT_SCALES,
    START_PAGES,
    Preferences,
    load_preferences,
    preferences_path,
    save_preferences,
)
from app.security.permissions import allowed, refusal
from app.store import migrations
from app.store.changes import Changes
from app.version import __version__
from ui import theme
from ui.audit.viewer import AuditTab
from ui.backups.tab import BackupsTab
from ui.bus import DataBus
from ui.engagement_settings.channels import CampaignLimitBox, ChannelsBox
from ui.engagement_settings.library_editor import LibraryEditor
from ui.engagement_settings.location_pollen import PollenBox
from ui.engagement_settings.review_links import ReviewLinksBox
from ui.letters.settings_tab import LetterSettingsTab
from ui.regions import calling_code, phone_countries
from ui.reminder_settings.accounts import AccountsTab
from ui.reminder_settings.page import RemindersTab
from ui.security.lock_settings_box import LockSettingsBox
from ui.security.people_tab import PeopleTab
from ui.sync.tab import SyncTab

log = logging.getLogger(__name__)

FONT_SCALE_LABELS = {
    100: "Standard (100 %)",
    115: "Larger (115 %)",
    130: "Large (130 %)",
    150: "Largest (150 %)",
}
THEME_LABELS = {
    "system": "Same as this computer",
    "light": "Light",
    "dark": "Dark",
}
UNLOCKED_BY = {
    "keyring": "Automatically, by this computer's keychain",
    "passphrase": "With the clinic passphrase",
    "recovery": "With the recovery key (please set a new passphrase)",
    "new": "Newly created on this computer",
}


@cache
def time_zones() -> tuple[str, ...]:
    """IANA zones people recognise (Area/City), without the legacy aliases and POSIX
    rules that only confuse the list; UTC stays for clinics that want it."""
    names = {
        zone
        for zone in zoneinfo.available_timezones()
        if "/" in zone
        and zone.split("/", 1)[0]
        in {
            "Africa",
            "America",
            "Antarctica",
            "Arctic",
            "Asia",
            "Atlantic",
            "Australia",
            "Europe",
            "Indian",
            "Pacific",
        }
    }
    return ("UTC", *sorted(names))


@cache
def _all_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def known_time_zone(zone: str) -> bool:
    """Any zone the time-zone database knows counts, not only the listed ones: a clinic
    set up with an alias (US/Central, Etc/UTC) must still be able to save."""
    return zone in _all_zones() or zone == "UTC"


def phone_regions() -> tuple[tuple[str, str], ...]:
    """(label, ISO code) for the country list: 'Germany (+49)'."""
    return tuple((f"{name} (+{calling_code(code)})", code) for code, name in phone_countries())


@dataclass(frozen=True)
class ClinicForm:
    """What the clinic form shows, as typed: compared with the saved copy to know
    whether anything is unsaved."""

    name: str
    address: str
    phone: str
    region: str
    timezone: str
    day_first: bool

    @staticmethod
    def from_settings(settings: ClinicSettings) -> ClinicForm:
        phone = display_phone(settings.phone, settings.region) if settings.phone else ""
        return ClinicForm(
            name=settings.name,
            address=settings.address,
            phone=phone,
            region=settings.region,
            timezone=settings.timezone,
            day_first=settings.day_first,
        )


def _error_label(accessible_name: str) -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setAccessibleName(accessible_name)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.hide()
    return label


def _value_label(accessible_name: str) -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setAccessibleName(accessible_name)
    label.setTextInteractionFlags(
        Qt.TextInteractionFlag.TextSelectableByMouse
        | Qt.TextInteractionFlag.TextSelectableByKeyboard
    )
    label.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # so it can be reached and read by keyboard
    return label


def _note(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setObjectName("note")
    return label


def _scrolled(widget: QWidget, name: str) -> QScrollArea:
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setWidget(widget)
    scroll.setAccessibleName(name)
    return scroll


class SettingsPage(QWidget):
    """The Settings area of the main window (page contract: clinic, bus, parent; refresh())."""

    preferences_changed = Signal(object)  # Preferences, after they are applied and saved

    def __init__(
        self,
        clinic: Clinic,
        bus: DataBus,
        parent: QWidget | None = None,
        *,
        preferences_file: Path | None = None,
    ) -> None:
        super().__init__(parent)
        self.clinic = clinic
        self.bus = bus
        # Beside the clinic: the same file start-up reads (preferences_path(home)), and a
        # portable or test clinic keeps its own.
        self.preferences_file = preferences_file or preferences_path(clinic.home)
        self.preferences = load_preferences(self.preferences_file)
        self._saved_form = ClinicForm.from_settings(clinic.settings)
        self._loading = False
        self.setAccessibleName("Settings")
        # Section titles in bold so the three parts read as three parts; the rule names
        # only the box itself, so the fields inside keep the normal weight.
        self.setStyleSheet("QGroupBox { font-weight: bold; }")

        title = QLabel("<h2>Settings</h2>")
        title.setAccessibleName("Settings")
        title.setTextFormat(Qt.TextFormat.RichText)

        column = QVBoxLayout()
        column.setSpacing(18)
        self.clinic_box = self._clinic_section()
        column.addWidget(self.clinic_box)
        column.addWidget(self._computer_section())
        column.addWidget(self._about_section())
        column.addStretch(1)

        self.content = QWidget()
        self.content.setLayout(column)
        self.content.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        centred = QHBoxLayout()
        centred.addWidget(self.content, 4)
        centred.addStretch(1)
        holder = QWidget()
        holder.setLayout(centred)

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(holder)
        scroll.setAccessibleName("Clinic and this computer")

        self.reminders = RemindersTab(clinic, bus)
        self.accounts = AccountsTab(clinic, bus)
        self.tabs = QTabWidget()
        self.tabs.setAccessibleName("Parts of the settings")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(scroll, "Clinic and this computer")
        self.tabs.addTab(_scrolled(self.reminders, "Reminders"), "Reminders")
        self.tabs.addTab(
            _scrolled(self.accounts, "Email and text messages"), "Email and text messages"
        )
        self.letters = LetterSettingsTab(clinic, bus)
        self.tabs.addTab(_scrolled(self.letters, "Letters"), "Letters")
        self.review_links = ReviewLinksBox(clinic, bus)
        self.pollen = PollenBox(clinic, bus)
        surveys = QWidget()
        surveys_column = QVBoxLayout(surveys)
        surveys_column.addWidget(self.review_links)
        surveys_column.addWidget(self.pollen)
        surveys_column.addStretch(1)
        self.tabs.addTab(_scrolled(surveys, "Reviews and pollen"), "Reviews and pollen")
        self.channels = ChannelsBox(clinic, bus)
        self.campaign_limit = CampaignLimitBox(clinic, bus)
        growth = QWidget()
        growth_column = QVBoxLayout(growth)
        growth_column.addWidget(self.channels)
        growth_column.addWidget(self.campaign_limit)
        growth_column.addStretch(1)
        self.tabs.addTab(_scrolled(growth, "Channels and campaigns"), "Channels and campaigns")
        self.library = LibraryEditor(clinic, bus)
        self.tabs.addTab(_scrolled(self.library, "Health tips"), "Health tips")
        self.people = PeopleTab(clinic, bus)
        self.lock_box = LockSettingsBox(clinic, bus)
        self.people.add_section(self.lock_box)
        self.tabs.addTab(_scrolled(self.people, "People and sign-in"), "People and sign-in")
        # Gates its own controls: anyone may back up now, administrators set it up.
        self.backups = BackupsTab(clinic, bus)
        self.tabs.addTab(_scrolled(self.backups, "Backups"), "Backups")
        # Sync with the other workstations: administrators set it up, others read it.
        self.sync = SyncTab(clinic, bus)
        self.sync_page = _scrolled(self.sync, "Sync")
        self.tabs.addTab(self.sync_page, "Sync")
        # Managers and administrators; it says so to everyone else.
        self.audit = AuditTab(clinic, bus)
        self.tabs.addTab(self.audit, "Audit log")
        self.reminders.set_up_accounts.connect(lambda: self.tabs.setCurrentIndex(2))
        # What each role may change (app/security/permissions.py); the others read.
        self._gated: list[tuple[QWidget, str]] = [
            (self.clinic_box, "settings.clinic"),
            (self.reminders, "campaigns.manage"),
            (self.accounts, "settings.clinic"),
            (self.letters, "settings.clinic"),
            (surveys, "campaigns.manage"),
            (growth, "campaigns.manage"),
            (self.library, "campaigns.manage"),
            *self.sync.gated(),
        ]
        self.role_note = QLabel()
        self.role_note.setAccessibleName("What you may change here")
        self.role_note.setWordWrap(True)
        self.tabs.currentChanged.connect(self._show_role_note)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        heading = QHBoxLayout()
        heading.setContentsMargins(9, 9, 9, 0)
        heading.addWidget(title)
        outer.addLayout(heading)
        outer.addWidget(self.role_note)
        outer.addWidget(self.tabs)
        self.apply_role()

        self._fill_form(self._saved_form)
        self._fill_computer(self.preferences)
        self._fill_about()
        self._restyle()
        self._fit_width()
        bus.changed.connect(self._on_changes)

    # --- building ---------------------------------------------------------------------

    def _clinic_section(self) -> QGroupBox:
        box = QGroupBox("Clinic")
        box.setAccessibleName("Clinic details")
        intro = _note(
            "These details are shared by every computer of the clinic and appear on "
            "letters and messages."
        )

        self.name_edit = QLineEdit()
        self.name_edit.setAccessibleName("Clinic name")
        self.name_error = _error_label("Clinic name problem")

        self.address_edit = QPlainTextEdit()
        self.address_edit.setAccessibleName("Clinic address")
        self.address_edit.setTabChangesFocus(True)
        self.address_edit.setPlaceholderText("Street, town, postcode — one per line")

        self.phone_edit = QLineEdit()
        self.phone_edit.setAccessibleName("Clinic phone number")
        self.phone_error = _error_label("Clinic phone number problem")

        self.region_combo = QComboBox()
        self.region_combo.setAccessibleName("Country for phone numbers")
        self.region_combo.setToolTip(
            "Phone numbers typed without a + are read as numbers of this country."
        )
        for label, code in phone_regions():
            self.region_combo.addItem(label, code)

        self.timezone_combo = QComboBox()
        self.timezone_combo.setEditable(True)
        self.timezone_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.timezone_combo.addItems(list(time_zones()))
        self.timezone_combo.setAccessibleName("Time zone")
        editor = self.timezone_combo.lineEdit()
        if editor is not None:
            editor.setAccessibleName("Time zone")
        completer = QCompleter(list(time_zones()), self.timezone_combo)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.timezone_combo.setCompleter(completer)
        self.timezone_error = _error_label("Time zone problem")
        self.timezone_hint = _note("")
        self.timezone_hint.setAccessibleName("Time in the chosen time zone")

        self.date_order_combo = QComboBox()
        self.date_order_combo.setAccessibleName("Date order")
        self.date_order_combo.addItem("Month first: 03/04/1975 is March 4, 1975", False)
        self.date_order_combo.addItem("Day first: 03/04/1975 is 3 April 1975", True)

        form = QFormLayout()
        # Text fields take the width; choice lists stay as wide as their longest choice.
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        self._add_row(form, "Name:", self.name_edit, self.name_error)
        self._add_row(form, "Address:", self.address_edit)
        self._add_row(form, "Phone:", self.phone_edit, self.phone_error)
        self._add_row(form, "Country for phone numbers:", self.region_combo)
        self._add_row(
            form, "Time zone:", self.timezone_combo, self.timezone_error, self.timezone_hint
        )
        self._add_row(form, "Dates are typed:", self.date_order_combo)

        self.save_button = QPushButton("Save clinic details")
        self.save_button.setAccessibleName("Save clinic details")
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self.save)
        self.undo_button = QPushButton("Undo changes")
        self.undo_button.setAccessibleName("Undo changes to the clinic details")
        self.undo_button.clicked.connect(self.discard)
        self.clinic_status = QLabel()
        self.clinic_status.setAccessibleName("Clinic details status")
        self.clinic_status.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.undo_button)
        buttons.addWidget(self.clinic_status, 1)

        layout = QVBoxLayout(box)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addLayout(buttons)

        self.name_edit.textChanged.connect(lambda _t: self._field_edited(self.name_error))
        self.address_edit.textChanged.connect(lambda: self._field_edited(None))
        self.phone_edit.textChanged.connect(lambda _t: self._field_edited(self.phone_error))
        self.phone_edit.editingFinished.connect(self._check_phone)
        self.region_combo.currentIndexChanged.connect(
            lambda _i: self._field_edited(self.phone_error)
        )
        self.timezone_combo.currentTextChanged.connect(self._timezone_edited)
        self.date_order_combo.currentIndexChanged.connect(lambda _i: self._field_edited(None))
        return box

    @staticmethod
    def _add_row(
        form: QFormLayout,
        text: str,
        field: QWidget,
        error: QLabel | None = None,
        hint: QLabel | None = None,
    ) -> None:
        """A labelled field with its hint and inline error beneath it; the label stays
        the field's buddy so screen readers announce them together."""
        label = QLabel(text)
        label.setBuddy(field)
        if error is None and hint is None:
            form.addRow(label, field)
            return
        holder = QWidget()
        layout = QVBoxLayout(holder)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(field)
        for extra in (hint, error):
            if extra is not None:
                layout.addWidget(extra)
        form.addRow(label, holder)

    def _computer_section(self) -> QGroupBox:
        box = QGroupBox("This computer")
        box.setAccessibleName("Settings for this computer")
        intro = _note(
            "Only for this computer, and applied at once: the other computers of the "
            "clinic keep their own."
        )
        self.font_combo = QComboBox()
        self.font_combo.setAccessibleName("Text size")
        for scale in FONT_SCALES:
            self.font_combo.addItem(FONT_SCALE_LABELS[scale], scale)
        self.theme_combo = QComboBox()
        self.theme_combo.setAccessibleName("Colours")
        for key, label in THEME_LABELS.items():
            self.theme_combo.addItem(label, key)
        self.start_combo = QComboBox()
        self.start_combo.setAccessibleName("Page shown when Frontdesk starts")
        for page in START_PAGES:
            self.start_combo.addItem(page, page)
        self.computer_error = _error_label("Problem saving the settings for this computer")

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        form.addRow("Text size:", self.font_combo)
        form.addRow("Colours:", self.theme_combo)
        form.addRow("Start on:", self.start_combo)
        layout = QVBoxLayout(box)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.computer_error)

        self.font_combo.currentIndexChanged.connect(lambda _i: self._computer_changed())
        self.theme_combo.currentIndexChanged.connect(lambda _i: self._computer_changed())
        self.start_combo.currentIndexChanged.connect(lambda _i: self._computer_changed())
        return box

    def _about_section(self) -> QGroupBox:
        box = QGroupBox("About this clinic")
        box.setAccessibleName("About this clinic")
        self.folder_label = _value_label("Data folder")
        self.unlocked_label = _value_label("How the clinic was unlocked")
        self.version_label = _value_label("Frontdesk version")
        self.schema_label = _value_label("Database version")
        form = QFormLayout(box)
        form.addRow("Data folder:", self.folder_label)
        form.addRow("Unlocked:", self.unlocked_label)
        form.addRow("Frontdesk version:", self.version_label)
        form.addRow("Database version:", self.schema_label)
        return box

    # --- filling ------------------------------------------------------------------------

    def _fill_form(self, values: ClinicForm) -> None:
        self._loading = True
        try:
            self.name_edit.setText(values.name)
            self.address_edit.setPlainText(values.address)
            self.phone_edit.setText(values.phone)
            index = self.region_combo.findData(values.region)
            if index < 0:  # a code this phone library does not know: keep it selectable
                self.region_combo.addItem(values.region, values.region)
                index = self.region_combo.count() - 1
            self.region_combo.setCurrentIndex(index)
            if self.timezone_combo.findText(values.timezone) < 0 and values.timezone:
                self.timezone_combo.addItem(values.timezone)
            self.timezone_combo.setCurrentText(values.timezone)
            self.date_order_combo.setCurrentIndex(1 if values.day_first else 0)
        finally:
            self._loading = False
        for label in (self.name_error, self.phone_error, self.timezone_error):
            self._show_error(label, "")
        self._update_timezone_hint()
        self._update_buttons()

    def _fill_computer(self, prefs: Preferences) -> None:
        self._loading = True
        try:
            self.font_combo.setCurrentIndex(self.font_combo.findData(prefs.font_scale))
            self.theme_combo.setCurrentIndex(self.theme_combo.findData(prefs.theme))
            self.start_combo.setCurrentIndex(self.start_combo.findData(prefs.start_page))
        finally:
            self._loading = False

    def _fill_about(self) -> None:
        self.folder_label.setText(str(self.clinic.home))
        self.unlocked_label.setText(UNLOCKED_BY.get(self.clinic.opened.unlocked_by, "Unlocked"))
        self.version_label.setText(__version__)
        current = migrations.schema_version(self.clinic.conn)
        latest = migrations.latest_version()
        state = "up to date" if current == latest else f"this Frontdesk knows up to {latest}"
        self.schema_label.setText(f"{current} ({state})")

    # --- the clinic form ----------------------------------------------------------------

    def form_values(self) -> ClinicForm:
        return ClinicForm(
            name=self.name_edit.text(),
            address=self.address_edit.toPlainText(),
            phone=self.phone_edit.text(),
            region=str(self.region_combo.currentData()),
            timezone=self.timezone_combo.currentText().strip(),
            day_first=bool(self.date_order_combo.currentData()),
        )

    def has_unsaved_changes(self) -> bool:
        """Clinic details or account settings typed and not saved yet."""
        return self._clinic_form_dirty() or self.accounts.has_unsaved_changes()

    def _clinic_form_dirty(self) -> bool:
        return self.form_values() != self._saved_form

    def _field_edited(self, error: QLabel | None) -> None:
        if self._loading:
            return
        if error is not None:
            self._show_error(error, "")
        self.clinic_status.clear()
        self._update_buttons()

    def _timezone_edited(self, _text: str) -> None:
        self._field_edited(self.timezone_error)
        self._update_timezone_hint()

    def _update_buttons(self) -> None:
        dirty = self._clinic_form_dirty()
        self.save_button.setEnabled(dirty)
        self.undo_button.setEnabled(dirty)

    def _update_timezone_hint(self) -> None:
        zone = self.timezone_combo.currentText().strip()
        if not known_time_zone(zone):
            self.timezone_hint.setText("")
            self.timezone_hint.hide()
            return
        now = datetime.now(zoneinfo.ZoneInfo(zone))
        shown = QLocale.system().toString(
            QTime(now.hour, now.minute), QLocale.FormatType.ShortFormat
        )
        self.timezone_hint.setText(f"It is {shown} there now.")
        self.timezone_hint.show()

    def _check_phone(self) -> str | None:
        """The phone as it will be stored (E.164, or "" for none), or None if refused."""
        text = self.phone_edit.text().strip()
        if not text:
            self._show_error(self.phone_error, "")
            return ""
        try:
            stored = normalize_phone(text, str(self.region_combo.currentData()))
        except InvalidInputError as exc:
            self._show_error(self.phone_error, str(exc), self.phone_edit)
            return None
        self._show_error(self.phone_error, "")
        return stored

    def _validated_changes(self) -> dict[str, object] | None:
        """The settings that differ from the saved ones, or None when something is refused
        (each reason is shown beside its field)."""
        values = self.form_values()
        saved = self.clinic.settings
        changed: dict[str, object] = {}
        first_bad: QWidget | None = None

        name = values.name.strip()
        if not name:
            self._show_error(self.name_error, "The clinic needs a name.", self.name_edit)
            first_bad = first_bad or self.name_edit
        elif name != saved.name:
            changed["name"] = name

        if values.phone != self._saved_form.phone:
            phone = self._check_phone()
            if phone is None:
                first_bad = first_bad or self.phone_edit
            elif phone != saved.phone:
                changed["phone"] = phone

        if not known_time_zone(values.timezone):
            self._show_error(
                self.timezone_error,
                "Choose a time zone from the list, for example America/Chicago.",
                self.timezone_combo,
            )
            first_bad = first_bad or self.timezone_combo
        elif values.timezone != saved.timezone:
            changed["timezone"] = values.timezone

        address = values.address.strip()
        if address != saved.address:
            changed["address"] = address
        if values.region != saved.region:
            changed["region"] = values.region
        if values.day_first != saved.day_first:
            changed["day_first"] = values.day_first

        if first_bad is not None:
            first_bad.setFocus(Qt.FocusReason.OtherFocusReason)
            return None
        return changed

    def save(self) -> bool:
        """Save the clinic details; False (and the reasons shown inline) if refused."""
        changed = self._validated_changes()
        if changed is None:
            self.clinic_status.setText("Not saved: please correct the marked fields.")
            self._style_status(ok=False)
            return False
        if changed:
            try:
                changes = self.clinic.update_settings(**changed)
            except FrontdeskError as exc:
                self.clinic_status.setText(str(exc))
                self._style_status(ok=False)
                return False
            self.bus.publish(changes)
        self._saved_form = ClinicForm.from_settings(self.clinic.settings)
        self._fill_form(self._saved_form)
        self.clinic_status.setText("Saved.")
        self._style_status(ok=True)
        return True

    def discard(self) -> None:
        """Put the form back to the saved clinic details."""
        self._fill_form(self._saved_form)
        self.clinic_status.clear()

    def confirm_leave(self) -> bool:
        """Ask before unsaved clinic details are lost; True when it is fine to leave the
        page (saved, discarded, or nothing to lose)."""
        if not self._clinic_form_dirty():
            return self._confirm_leave_accounts()
        answer = QMessageBox.question(
            self,
            "Unsaved changes",
            "The clinic details have changes that are not saved. Save them now?",
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )
        if answer == QMessageBox.StandardButton.Save:
            return self.save() and self._confirm_leave_accounts()
        if answer == QMessageBox.StandardButton.Discard:
            self.discard()
            return self._confirm_leave_accounts()
        return False

    def _confirm_leave_accounts(self) -> bool:
        if not self.accounts.has_unsaved_changes():
            return True
        answer = QMessageBox.question(
            self,
            "Unsaved changes",
            "The email and text message settings have changes that are not saved. Save them now?",
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )
        if answer == QMessageBox.StandardButton.Save:
            if self.accounts.save():
                return True
            self.tabs.setCurrentIndex(2)
            return False
        if answer == QMessageBox.StandardButton.Discard:
            self.accounts.discard()
            return True
        self.tabs.setCurrentIndex(2)
        return False

    def refresh(self) -> None:
        """Reload what another computer or window saved; edits in progress are kept."""
        dirty = self._clinic_form_dirty()
        self.clinic.reload_settings()
        self._saved_form = ClinicForm.from_settings(self.clinic.settings)
        if not dirty:
            self._fill_form(self._saved_form)
        self._fill_about()
        self._update_buttons()
        self.reminders.refresh()
        self.accounts.refresh()

    def _on_changes(self, changes: Changes) -> None:
        if changes.touches("setting"):
            self.refresh()
        if changes.touches("app_user"):
            self.apply_role()
            self.backups.refresh()
            self.audit.refresh()

    def apply_role(self) -> None:
        """Grey what the signed-in person's role may not change; they can still read it."""
        for widget, permission in self._gated:
            widget.setEnabled(allowed(self.clinic, permission))
        self._show_role_note()

    def show_sync(self) -> None:
        """Settings ▸ Sync (the status bar's sync line leads here)."""
        self.tabs.setCurrentWidget(self.sync_page)

    def _show_role_note(self) -> None:
        page = self.tabs.currentWidget()
        inner = page.widget() if isinstance(page, QScrollArea) else page
        if inner is None:
            return
        refused = [
            permission
            for widget, permission in self._gated
            if not widget.isEnabled() and (widget is inner or inner.isAncestorOf(widget))
        ]
        self.role_note.setText(
            f"{refusal(refused[0])} You can read these settings; ask one to change them."
            if refused
            else ""
        )
        self.role_note.setVisible(bool(refused))

    # --- this computer ------------------------------------------------------------------

    def _computer_changed(self) -> None:
        if self._loading:
            return
        prefs = replace(
            self.preferences,
            font_scale=int(self.font_combo.currentData()),
            theme=str(self.theme_combo.currentData()),
            start_page=str(self.start_combo.currentData()),
        )
        if prefs == self.preferences:
            return
        self.preferences = prefs
        app = QApplication.instance()
        if isinstance(app, QApplication):
            theme.apply_preferences(app, prefs)
            self._restyle()  # the palette reaches widgets by posted events; colours now
        try:
            save_preferences(prefs, self.preferences_file)
        except FrontdeskError as exc:
            self._show_error(self.computer_error, str(exc))
        else:
            self._show_error(self.computer_error, "")
        self.preferences_changed.emit(prefs)

    # --- looks --------------------------------------------------------------------------

    def _show_error(self, label: QLabel, message: str, field: QWidget | None = None) -> None:
        label.setText(message)
        label.setVisible(bool(message))
        if field is not None:
            field.setAccessibleDescription(message)

    def _style_status(self, *, ok: bool) -> None:
        self.clinic_status.setStyleSheet(f"color: {theme.css('ok' if ok else 'danger')};")

    def _restyle(self) -> None:
        danger = theme.css("danger")
        for label in (self.name_error, self.phone_error, self.timezone_error, self.computer_error):
            label.setStyleSheet(f"color: {danger};")
        muted = theme.css("muted")
        for note in self.findChildren(QLabel, "note"):
            note.setStyleSheet(f"color: {muted};")
        if self.clinic_status.text():
            self._style_status(ok=self.clinic_status.text() == "Saved.")

    def _fit_width(self) -> None:
        # A form wider than about 80 characters is hard to read on a wide screen; measured
        # in characters so it grows with the text size and the screen scale.
        self.content.setMaximumWidth(self.fontMetrics().averageCharWidth() * 120)
        lines = self.address_edit.fontMetrics().lineSpacing()
        self.address_edit.setMaximumHeight(lines * 4 + 12)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._restyle()
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.ApplicationFontChange):
            self._fit_width()
        super().changeEvent(event)
