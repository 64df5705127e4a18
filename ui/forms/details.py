"""Edit contact details and consents (Ctrl+E): two tabs, one Save, no silent overwrites.

The details tab saves through app.patients.editing against the version it was loaded
at; if another window or desk saved the patient meanwhile, the save is refused and a
Reload button offers the newer data (asking before the person's edits are dropped).
The consents tab writes one row per box that really changed, with how the patient told
us and who recorded it (app.patients.consents).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from PySide6.QtCore import QDate, Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.clinic import Clinic
from app.errors import EditConflictError, RecordNotFoundError
from app.patients import model
from app.patients.consents import (
    COMMON_SOURCES,
    GRANTED,
    UNKNOWN,
    WITHDRAWN,
    ConsentCell,
    consent_grid,
    consent_history,
    set_consents,
)
from app.patients.editing import (
    LANGUAGES,
    ContactDetails,
    DetailsEdit,
    DetailsInvalidError,
    birth_date_hint,
    check_details,
    load_details,
    save_details,
    source_choices,
    source_key,
)
from app.patients.model import AddressDraft
from app.patients.records import get_patient
from app.patients.validation import display_phone
from app.store.changes import Changes
from ui.bus import DataBus
from ui.forms.base import FieldError, FormDialog, FormInputError, question_box
from ui.patient.header import CHANNEL_WORDS, PURPOSE_WORDS, local_text
from ui.theme import error_line, hint_line

SEX_CHOICES = (
    ("unknown", "Not recorded"),
    ("female", "Female"),
    ("male", "Male"),
    ("other", "Other"),
)
CHANNEL_CHOICES = (
    ("", "No preference"),
    ("sms", "Text message"),
    ("email", "Email"),
    ("letter", "Letter"),
    ("phone", "Phone call"),
)
PHONE_USE_WORDS = {"mobile": "Mobile", "home": "Home", "work": "Work", "other": "Other"}
STATE_WORDS = {GRANTED: "Yes", WITHDRAWN: "No", UNKNOWN: "Not asked"}
CONFLICT_MESSAGE = (
    "Someone else saved this patient while you were editing, so your changes were not "
    "saved. Press Reload to see their version (your edits here will be dropped), then "
    "make your changes again."
)
_DETAILS_TAB, _CONSENTS_TAB = 0, 1


def chain_before(anchor: QWidget, widgets: list[QWidget]) -> None:
    """Put `widgets` in the tab order right before `anchor`, in this order.

    Widgets made after the window was built join the end of its focus chain (after
    Save and Cancel); lines added to a list must instead be reached where they show.
    """
    previous = anchor.previousInFocusChain()
    for widget in widgets:
        if previous is not None:
            QWidget.setTabOrder(previous, widget)
        previous = widget
    if previous is not None:
        QWidget.setTabOrder(previous, anchor)


# --- phones and emails: a list of lines ---------------------------------------------


@dataclass
class _Line:
    box: QWidget
    edit: QLineEdit
    use: QComboBox | None
    up: QToolButton
    remove: QToolButton
    error: QLabel

    def widgets(self) -> list[QWidget]:
        found: list[QWidget] = [self.edit]
        if self.use is not None:
            found.append(self.use)
        return [*found, self.up, self.remove]


class ContactList(QWidget):
    """Phones or emails, preferred first: a line each, with Move up, Remove and Add."""

    def __init__(
        self, noun: str, placeholder: str, *, with_use: bool, on_edit: Callable[[], None]
    ) -> None:
        super().__init__()
        self.noun = noun  # "phone" or "email"
        self._placeholder = placeholder
        self._with_use = with_use
        self._on_edit = on_edit
        self.lines: list[_Line] = []
        self.setAccessibleName(f"{noun.capitalize()}s")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        self._rows = QVBoxLayout()
        self._rows.setSpacing(4)
        layout.addLayout(self._rows)
        self.add_button = QPushButton(f"Add {'a' if noun == 'phone' else 'an'} {noun}")
        self.add_button.setAccessibleName(f"Add {noun}")
        self.add_button.setAutoDefault(False)
        self.add_button.clicked.connect(self._add_clicked)
        row = QHBoxLayout()
        row.addWidget(self.add_button)
        row.addStretch(1)
        layout.addLayout(row)

    # values -------------------------------------------------------------------------

    def values(self) -> list[tuple[str, str]]:
        return [
            (line.edit.text(), str(line.use.currentData()) if line.use is not None else "home")
            for line in self.lines
        ]

    def set_values(self, values: list[tuple[str, str]], focus: int | None = None) -> None:
        for line in self.lines:
            # Out of the window first, so it also leaves the tab chain at once.
            line.box.setParent(None)
            line.box.deleteLater()
        self.lines = []
        for text, use in values:
            self._append(text, use)
        self._chain_tabs()
        if focus is not None and self.lines:
            self.lines[min(focus, len(self.lines) - 1)].edit.setFocus()

    def add_line(self) -> QLineEdit:
        """A new empty line at the end, focused: what the Add button does."""
        self.set_values([*self.values(), ("", "mobile")])
        edit = self.lines[-1].edit
        edit.setFocus()
        self._on_edit()
        return edit

    # errors ------------------------------------------------------------------------

    def show_error(self, index: int, message: str) -> bool:
        if not 0 <= index < len(self.lines):
            return False
        line = self.lines[index]
        line.error.setText(message)
        line.error.show()
        line.edit.setAccessibleDescription(message)
        return True

    def clear_errors(self) -> None:
        for line in self.lines:
            line.error.clear()
            line.error.hide()
            line.edit.setAccessibleDescription("")

    def first_error_widget(self) -> QWidget | None:
        return next((line.edit for line in self.lines if not line.error.isHidden()), None)

    # building ----------------------------------------------------------------------

    def _append(self, text: str, use: str) -> None:
        number = len(self.lines) + 1
        what = f"{self.noun.capitalize()} {number}"
        box = QWidget(self)
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        row = QHBoxLayout()
        row.setSpacing(4)
        edit = QLineEdit(text)
        edit.setCursorPosition(0)  # show the start of a long address, not its end
        edit.setMinimumWidth(edit.fontMetrics().horizontalAdvance("(000) 000-0000  "))
        edit.setPlaceholderText(self._placeholder)
        edit.setAccessibleName(what + (" (preferred)" if number == 1 else ""))
        edit.textChanged.connect(lambda _t: self._line_edited(edit))
        row.addWidget(edit, 1)
        use_box: QComboBox | None = None
        if self._with_use:
            use_box = QComboBox()
            use_box.setAccessibleName(f"{what} kind")
            for value in model.PHONE_USES:
                use_box.addItem(PHONE_USE_WORDS[value], value)
            index = use_box.findData(use)
            use_box.setCurrentIndex(max(index, 0))
            use_box.currentIndexChanged.connect(lambda _i: self._on_edit())
            row.addWidget(use_box)
        up = QToolButton()
        up.setArrowType(Qt.ArrowType.UpArrow)
        up.setAccessibleName(f"Move {what.lower()} up")
        up.setToolTip("Move up: the first one is the preferred one")
        up.setEnabled(number > 1)
        index_now = number - 1
        up.clicked.connect(lambda: self._move_up(index_now))
        row.addWidget(up)
        remove = QToolButton()
        remove.setText("Remove")
        remove.setAccessibleName(f"Remove {what.lower()}")
        remove.clicked.connect(lambda: self._remove(index_now))
        row.addWidget(remove)
        column.addLayout(row)
        error = error_line()
        error.setAccessibleName(f"{what} error")
        error.setWordWrap(True)
        error.hide()
        column.addWidget(error)
        self._rows.addWidget(box)
        self.lines.append(_Line(box, edit, use_box, up, remove, error))

    def _chain_tabs(self) -> None:
        """New lines are appended to the window's focus chain; put them back between the
        field before this list and the Add button, in reading order."""
        chain_before(self.add_button, [w for line in self.lines for w in line.widgets()])

    def _line_edited(self, edit: QLineEdit) -> None:
        for line in self.lines:
            if line.edit is edit and not line.error.isHidden():
                line.error.hide()
                edit.setAccessibleDescription("")
        self._on_edit()

    def _add_clicked(self) -> None:
        self.add_line()

    def _move_up(self, index: int) -> None:
        values = self.values()
        if index <= 0 or index >= len(values):
            return
        values[index - 1], values[index] = values[index], values[index - 1]
        self.set_values(values, focus=index - 1)
        self._on_edit()

    def _remove(self, index: int) -> None:
        values = self.values()
        if not 0 <= index < len(values):
            return
        del values[index]
        self.set_values(values, focus=index if index < len(values) else index - 1)
        if not values:
            self.add_button.setFocus()
        self._on_edit()


# --- one box of the consent grid ----------------------------------------------------


class ConsentBox(QCheckBox):
    """Yes / No, or Not asked (shown part-ticked) until someone records an answer.

    A box never asked cycles Not asked → Yes → No → Not asked, so a slip of the mouse can
    be clicked back to where it was; a box with an answer toggles Yes ↔ No, because an
    answer on record cannot be un-asked.
    """

    def __init__(self, cell: ConsentCell, on_change: Callable[[], None]) -> None:
        super().__init__()
        self.channel = cell.channel
        self.purpose = cell.purpose
        self._on_change = on_change
        self.original = cell.state
        self.setTristate(cell.state == UNKNOWN)
        self.setCheckState(_CHECK[cell.state])
        self.checkStateChanged.connect(lambda _s: self._changed())
        self._show()

    @property
    def state(self) -> str:
        return {v: k for k, v in _CHECK.items()}[self.checkState()]

    @property
    def changed(self) -> bool:
        return self.state != self.original

    def nextCheckState(self) -> None:  # noqa: N802 - Qt override
        if self.original == UNKNOWN:
            following = {
                Qt.CheckState.PartiallyChecked: Qt.CheckState.Checked,
                Qt.CheckState.Checked: Qt.CheckState.Unchecked,
                Qt.CheckState.Unchecked: Qt.CheckState.PartiallyChecked,
            }
            self.setCheckState(following[self.checkState()])
        else:
            checked = self.checkState() == Qt.CheckState.Checked
            self.setCheckState(Qt.CheckState.Unchecked if checked else Qt.CheckState.Checked)

    def _changed(self) -> None:
        self._show()
        self._on_change()

    def _show(self) -> None:
        words = STATE_WORDS[self.state]
        font = self.font()
        font.setBold(self.changed)
        self.setFont(font)
        self.setText(f"{words} (changed)" if self.changed else words)
        what = f"{CHANNEL_WORDS[self.channel]} for {PURPOSE_WORDS[self.purpose].lower()}"
        self.setAccessibleName(f"{what}: {self.text().lower()}")


_CHECK = {
    GRANTED: Qt.CheckState.Checked,
    WITHDRAWN: Qt.CheckState.Unchecked,
    UNKNOWN: Qt.CheckState.PartiallyChecked,
}


def consent_said(cell: ConsentCell, zone: ZoneInfo) -> str:
    """'Given 12 Mar 2026 by Dana Reyes (Signed form)': who recorded what, when, how."""
    if cell.state == UNKNOWN:
        return "Not asked yet"
    verb = "Given" if cell.state == GRANTED else "Withdrawn"
    when = local_text(cell.recorded_at, zone, "%d %b %Y")
    who = f" by {cell.recorded_by}" if cell.recorded_by else ""
    how = f" ({cell.source})" if cell.source else ""
    return f"{verb} {when}{who}{how}"


# --- the dialog ---------------------------------------------------------------------


class DetailsDialog(FormDialog):
    """Ctrl+E on the patient view. `show_consents=True` opens on the Consents tab."""

    def __init__(
        self,
        clinic: Clinic,
        bus: DataBus,
        patient_id: str,
        parent: QWidget | None = None,
        *,
        show_consents: bool = False,
    ) -> None:
        super().__init__(clinic, bus, "Edit details and consents", parent)
        self.patient_id = patient_id
        self.details: ContactDetails = load_details(clinic, patient_id)
        self._saved = False  # our own save's bus message is not someone else's change
        self.reload_box: QMessageBox | None = None
        self._filling = False
        self._filled: DetailsEdit | None = None
        self.consent_boxes: dict[tuple[str, str], ConsentBox] = {}

        self.heading = QLabel()
        self.heading.setWordWrap(True)
        heading_font = QFont(self.heading.font())
        heading_font.setBold(True)
        heading_font.setPointSizeF(heading_font.pointSizeF() * 1.15)
        self.heading.setFont(heading_font)
        self.content.insertWidget(0, self.heading)

        self.tabs = QTabWidget()
        self.tabs.setAccessibleName("Details and consents")
        self.tabs.setDocumentMode(True)
        self.content.addWidget(self.tabs, 1)
        self.tabs.addTab(self._scrolling(self._build_details_tab()), "&Contact details")
        self.tabs.addTab(self._scrolling(self._build_consents_tab()), "C&onsents")

        self.reload_button = self.buttons.addButton(
            "&Reload", QDialogButtonBox.ButtonRole.ResetRole
        )
        self.reload_button.setAccessibleName("Reload the newer details")
        self.reload_button.setAutoDefault(False)
        self.reload_button.hide()
        self.reload_button.clicked.connect(self.ask_reload)

        self._fill()
        if show_consents:
            self.tabs.setCurrentIndex(_CONSENTS_TAB)
        bus.changed.connect(self._bus_changed)
        # Room for both columns at 100 %; the scroll areas take over when it is smaller.
        em = self.fontMetrics().horizontalAdvance("M")
        room = self.screen().availableGeometry()
        self.resize(
            min(em * 92, room.width()), min(self.fontMetrics().lineSpacing() * 38, room.height())
        )

    # --- building ---------------------------------------------------------------------

    @staticmethod
    def _scrolling(page: QWidget) -> QScrollArea:
        area = QScrollArea()
        area.setWidgetResizable(True)
        area.setFrameShape(QScrollArea.Shape.NoFrame)
        area.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        area.setWidget(page)
        return area

    @staticmethod
    def _column(title: str) -> tuple[QWidget, QFormLayout]:
        box = QWidget()
        box.setAccessibleName(title)
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        caption = QLabel(title)
        font = caption.font()
        font.setBold(True)
        caption.setFont(font)
        layout.addWidget(caption)
        form = QFormLayout()
        # Every field as wide as the column, so hint and error lines under short
        # inputs (a tick box, a choice) get the column's width instead of being clipped.
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        layout.addLayout(form)
        layout.addStretch(1)
        return box, form

    def _build_details_tab(self) -> QWidget:
        page = QWidget()
        row = QHBoxLayout(page)
        row.setSpacing(self.fontMetrics().horizontalAdvance("M") * 2)
        person, person_form = self._column("The person")
        reach, reach_form = self._column("How to reach them")
        row.addWidget(person, 4)
        row.addWidget(reach, 5)  # phone lines carry a kind and two buttons
        us = self.clinic.settings.region.upper() == "US"

        self.family = QLineEdit()
        self.add_field("&Family name", self.family, "family_name", form=person_form)
        self.given = QLineEdit()
        self.add_field("&Given names", self.given, "given_names", form=person_form)
        self.preferred = QLineEdit()
        self.preferred.setPlaceholderText("What they like to be called")
        self.add_field("&Preferred name", self.preferred, "preferred_name", form=person_form)
        self.birth_date = QLineEdit()
        example = "14/3/1975" if self.clinic.settings.day_first else "3/14/1975"
        self.birth_date.setPlaceholderText(f"{example}, or just 1975")
        self.birth_date.textChanged.connect(self._birth_date_typed)
        self.add_field("&Birth date", self.birth_date, "birth_date", form=person_form)
        self.sex = QComboBox()
        for value, words in SEX_CHOICES:
            self.sex.addItem(words, value)
        self.add_field("&Sex", self.sex, "sex", form=person_form)
        self.language = QComboBox()
        self.add_field("&Language", self.language, "language", form=person_form)
        self.channel = QComboBox()
        for value, words in CHANNEL_CHOICES:
            self.channel.addItem(words, value)
        self.add_field("Pre&fers", self.channel, "preferred_channel", form=person_form)
        self.do_not_contact = QCheckBox("&Do not contact")
        self.do_not_contact.setAccessibleName("Do not contact")
        self.add_field(
            "Contact",
            self.do_not_contact,
            "do_not_contact",
            hint="No reminders, calls or letters while this is ticked.",
            form=person_form,
        )
        self.source = QComboBox()
        self.source.setAccessibleName("How did you hear about us?")
        self.add_field("&Heard of us", self.source, "acquisition_source", form=person_form)
        moved_row = QWidget()
        moved_layout = QHBoxLayout(moved_row)
        moved_layout.setContentsMargins(0, 0, 0, 0)
        self.moved = QCheckBox("&Moved away")
        self.moved.setAccessibleName("Moved away")
        self.moved_on = QDateEdit()
        self.moved_on.setCalendarPopup(True)
        self.moved_on.setDisplayFormat("d MMM yyyy")
        self.moved_on.setMaximumDate(self._today_qdate())  # a move is learned, not planned
        self.moved_on.setAccessibleName("Day we learned they moved away")
        inner = self.moved_on.findChild(QLineEdit)
        if inner is not None:  # the date's own line is what a screen reader lands on
            inner.setAccessibleName("Day we learned they moved away")
        self.moved.toggled.connect(self._moved_toggled)
        moved_layout.addWidget(self.moved)
        moved_layout.addWidget(self.moved_on, 1)
        self.add_field(
            "Moved",
            moved_row,
            "moved_on",
            hint="Campaigns and reactivation leave out patients who moved away.",
            form=person_form,
        )

        self.phones = ContactList("phone", "(612) 555-0142", with_use=True, on_edit=self.mark_dirty)
        self.add_field("Phones", self.phones, "phones", form=reach_form)
        self.emails = ContactList(
            "email", "name@example.com", with_use=False, on_edit=self.mark_dirty
        )
        self.add_field("Emails", self.emails, "emails", form=reach_form)
        self.address_fields: dict[str, QLineEdit] = {}
        for name, label, hint in (
            ("line1", "S&treet", ""),
            ("line2", "Line 2", ""),
            ("city", "Cit&y", ""),
            ("region", "State" if us else "Region", ""),
            ("postal_code", "ZIP code" if us else "Postal code", ""),
            ("country", "Country", "Two letters, such as US."),
        ):
            edit = QLineEdit()
            self.address_fields[name] = edit
            self.add_field(label, edit, f"address.{name}", hint=hint, form=reach_form)
        self.address_fields["line2"].setPlaceholderText("Apartment, suite, unit")
        self.address_fields["country"].setMaxLength(2)
        return page

    def _build_consents_tab(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        intro = QLabel(
            "What the patient agreed to, per way of contact. Click a box to change it; "
            "hover it to see who recorded the answer, when and how."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.consent_grid_box = QWidget()
        self.consent_grid_box.setAccessibleName("Consents")
        self.consent_layout = QGridLayout(self.consent_grid_box)
        self.consent_layout.setHorizontalSpacing(self.fontMetrics().horizontalAdvance("M"))
        for column, purpose in enumerate(model.PURPOSES, start=1):
            head = QLabel(PURPOSE_WORDS[purpose])
            head.setWordWrap(True)
            font = head.font()
            font.setBold(True)
            head.setFont(font)
            self.consent_layout.addWidget(head, 0, column)
        for row, channel in enumerate(model.CHANNELS, start=1):
            label = QLabel(CHANNEL_WORDS[channel])
            font = label.font()
            font.setBold(True)
            label.setFont(font)
            self.consent_layout.addWidget(label, row * 2 - 1, 0)
        layout.addWidget(self.consent_grid_box)

        form = QFormLayout()
        # Every field as wide as the column, so hint and error lines under short
        # inputs (a tick box, a choice) get the column's width instead of being clipped.
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        layout.addLayout(form)
        self.consent_source = QComboBox()
        self.consent_source.setEditable(True)
        self.consent_source.addItems(["", *COMMON_SOURCES])
        self.consent_source.setAccessibleName("How did the patient tell us?")
        self.add_field(
            "How did the patient &tell us?",
            self.consent_source,
            "consent_source",
            hint="Needed when you change a box.",
            form=form,
        )
        history_title = QLabel("History (newest first)")
        font = history_title.font()
        font.setBold(True)
        history_title.setFont(font)
        layout.addWidget(history_title)
        self.history = QListWidget()
        self.history.setAccessibleName("Consent history")
        self.history.setMinimumHeight(self.fontMetrics().lineSpacing() * 5)
        history_title.setBuddy(self.history)
        layout.addWidget(self.history, 1)
        return page

    # --- filling ----------------------------------------------------------------------

    def _fill(self) -> None:
        """Show `self.details` and the consents as saved now; the form is clean after."""
        self._filling = True
        try:
            patient = get_patient(self.clinic, self.patient_id)
            self.heading.setText(f"{patient.display_name}")
            self.setWindowTitle(f"Edit details and consents · {patient.display_name}")
            details = self.details
            edit = details.as_edit(day_first=self.clinic.settings.day_first)
            self.family.setText(edit.family_name)
            self.given.setText(edit.given_names)
            self.preferred.setText(edit.preferred_name)
            self.birth_date.setText(edit.birth_date)
            self._birth_date_typed(edit.birth_date)
            self.sex.setCurrentIndex(max(self.sex.findData(edit.sex), 0))
            self._fill_languages(edit.language)
            self.channel.setCurrentIndex(max(self.channel.findData(edit.preferred_channel), 0))
            self.do_not_contact.setChecked(edit.do_not_contact)
            self._fill_sources(edit.acquisition_source)
            self.moved.setChecked(bool(edit.moved_on))
            self.moved_on.setDate(
                QDate.fromString(edit.moved_on, Qt.DateFormat.ISODate)
                if edit.moved_on
                else self._today_qdate()
            )
            self.moved_on.setEnabled(bool(edit.moved_on))
            region = self.clinic.settings.region
            self.phones.set_values([(display_phone(n, region), use) for n, use in details.phones])
            self.emails.set_values([(e, "home") for e in details.emails])
            for name, widget in self.address_fields.items():
                widget.setText(getattr(details.address, name))
            self._fill_consents()
            self.consent_source.setCurrentText("")
        finally:
            self._filling = False
        self._filled = self.current_edit()
        self.mark_clean()

    def _fill_sources(self, current: str) -> None:
        self.source.clear()
        for value, words in source_choices(self.clinic, current):
            self.source.addItem(words, value)
        # Older words ("Google search") stand for their channel: shown as that channel.
        index = self.source.findData(source_key(current))
        if index < 0:
            index = self.source.findData(current)
        self.source.setCurrentIndex(max(index, 0))

    def _today_qdate(self) -> QDate:
        day = self.today()
        return QDate(day.year, day.month, day.day)

    def _moved_toggled(self, on: bool) -> None:
        self.moved_on.setEnabled(on)
        if on and not self._filling:
            self.moved_on.setDate(self._today_qdate())

    def _fill_languages(self, current: str) -> None:
        self.language.clear()
        self.language.addItem("Not recorded", "")
        for code, name in LANGUAGES:
            self.language.addItem(name, code)
        if current and self.language.findData(current) < 0:
            self.language.addItem(current, current)  # an uncommon code stays as it is
        self.language.setCurrentIndex(max(self.language.findData(current), 0))

    def _fill_consents(self) -> None:
        for box in self.consent_boxes.values():
            box.setParent(None)
            box.deleteLater()
        for label in self.consent_grid_box.findChildren(QLabel, "consent-said"):
            label.setParent(None)
            label.deleteLater()
        self.consent_boxes = {}
        zone = self.zone()
        for cell in consent_grid(self.clinic, self.patient_id):
            row = model.CHANNELS.index(cell.channel) * 2 + 1
            column = model.PURPOSES.index(cell.purpose) + 1
            box = ConsentBox(cell, self._consent_clicked)
            said = consent_said(cell, zone)
            box.setToolTip(said)
            box.setAccessibleDescription(said)
            self.consent_layout.addWidget(box, row, column)
            note = hint_line(_short_said(cell, zone))
            note.setObjectName("consent-said")
            note.setToolTip(said)
            self.consent_layout.addWidget(note, row + 1, column)
            self.consent_boxes[(cell.channel, cell.purpose)] = box
        # New boxes join the end of the tab chain; put them just before the source field.
        chain_before(self.consent_source, list(self.consent_boxes.values()))
        self.history.clear()
        for record in consent_history(self.clinic, self.patient_id):
            what = f"{CHANNEL_WORDS[record.channel]} for {PURPOSE_WORDS[record.purpose].lower()}"
            said = "yes" if record.granted else "no"
            when = local_text(record.recorded_at, zone, "%d %b %Y %H:%M")
            who = f" · {record.recorded_by}" if record.recorded_by else ""
            self.history.addItem(f"{when} · {what}: {said} ({record.source}){who}")
        if self.history.count() == 0:
            self.history.addItem("Nothing recorded yet.")

    # --- reading the form -------------------------------------------------------------

    def current_edit(self) -> DetailsEdit:
        return DetailsEdit(
            family_name=self.family.text(),
            given_names=self.given.text(),
            preferred_name=self.preferred.text(),
            birth_date=self.birth_date.text(),
            sex=str(self.sex.currentData()),
            language=str(self.language.currentData() or ""),
            preferred_channel=str(self.channel.currentData() or ""),
            do_not_contact=self.do_not_contact.isChecked(),
            acquisition_source=str(self.source.currentData() or ""),
            moved_on=(
                self.moved_on.date().toString(Qt.DateFormat.ISODate)
                if self.moved.isChecked()
                else ""
            ),
            phones=tuple(self.phones.values()),
            emails=tuple(text for text, _use in self.emails.values()),
            address=AddressDraft(
                **{name: w.text() for name, w in self.address_fields.items()}, use="home"
            ),
        )

    def consent_decisions(self) -> list[tuple[str, str, bool]]:
        """The boxes the person changed, as (channel, purpose, granted)."""
        return [
            (box.channel, box.purpose, box.state == GRANTED)
            for box in self.consent_boxes.values()
            if box.changed and box.state != UNKNOWN
        ]

    # --- reacting ---------------------------------------------------------------------

    def mark_dirty(self) -> None:
        if not self._filling:
            super().mark_dirty()

    def _birth_date_typed(self, text: str) -> None:
        day_first = self.clinic.settings.day_first
        self.set_hint("birth_date", birth_date_hint(text, today=self.today(), day_first=day_first))

    def _consent_clicked(self) -> None:
        if self._filling:
            return
        self.mark_dirty()
        if any(box.changed for box in self.consent_boxes.values()):
            self.set_hint("consent_source", "Needed: say how the patient told us.")
        else:
            self.set_hint("consent_source", "Needed when you change a box.")

    def _bus_changed(self, changes: Changes) -> None:
        """Another window saved this patient: reload a clean form at once, and warn a
        dirty one now rather than at Save."""
        if self._saved or self.patient_id not in changes.patient_ids or not self.isVisible():
            return
        if not changes.touches("patient", "contact_point", "address", "consent"):
            return
        try:
            newest = load_details(self.clinic, self.patient_id)
        except RecordNotFoundError:
            return  # the patient is gone; Save says so in plain words
        if newest.version == self.details.version and not changes.touches("consent"):
            return
        if not self.dirty:
            self.details = newest
            self._fill()
            return
        if newest.version != self.details.version:
            self._show_conflict()

    # --- saving -----------------------------------------------------------------------

    def _save(self) -> Changes:
        edit = self.current_edit()
        details_changed = edit != self._filled
        decisions = self.consent_decisions()
        source = self.consent_source.currentText().strip()
        errors: list[FieldError] = []
        if details_changed:
            try:
                check_details(self.clinic, edit)
            except DetailsInvalidError as exc:
                errors += [FieldError(key, message) for key, message in exc.errors.items()]
        if decisions and not source:
            self.set_hint("consent_source", "")  # the error line below says it now
            errors.append(
                FieldError("consent_source", "Say how the patient told us, such as 'Signed form'.")
            )
        if errors:
            on_details = any(e.field != "consent_source" for e in errors)
            self.tabs.setCurrentIndex(_DETAILS_TAB if on_details else _CONSENTS_TAB)
            raise FormInputError(errors)
        changes = Changes()
        if details_changed:
            try:
                changes |= save_details(self.clinic, self.patient_id, edit, self.details.version)
            except EditConflictError:
                self._show_conflict()
                raise EditConflictError(CONFLICT_MESSAGE) from None
        if decisions:
            changes |= set_consents(self.clinic, self.patient_id, decisions, source)
        self._saved = True
        return changes

    def show_field_error(self, name: str, message: str) -> None:
        for prefix, contact_list in (("phones.", self.phones), ("emails.", self.emails)):
            if name.startswith(prefix):
                index = int(name.removeprefix(prefix))
                if contact_list.show_error(index, message):
                    return
        super().show_field_error(name, message)

    def error_widgets(self) -> list[QWidget]:
        """The phone and email lines in error compete for focus with the plain fields."""
        lines = [
            line.edit
            for contact_list in (self.phones, self.emails)
            for line in contact_list.lines
            if not line.error.isHidden()
        ]
        return [*super().error_widgets(), *lines]

    def clear_errors(self) -> None:
        super().clear_errors()
        self.phones.clear_errors()
        self.emails.clear_errors()

    # --- conflict and reload ----------------------------------------------------------

    def _show_conflict(self) -> None:
        self.show_general_error(CONFLICT_MESSAGE)
        self.reload_button.show()

    @property
    def conflict_shown(self) -> bool:
        return not self.reload_button.isHidden()

    def ask_reload(self) -> None:
        """Reload at once if nothing was edited; otherwise ask before dropping edits."""
        if not self.dirty:
            self.reload()
            return
        if self.reload_box is not None:
            return
        box = question_box(
            self,
            "Load the newer details?",
            "The edits you made in this form will be dropped.",
            yes="Drop my edits and reload",
            no="Keep my edits",
        )
        box.finished.connect(lambda _r: self._reload_answered(box))
        self.reload_box = box
        box.open()

    def answer_reload(self, reload: bool) -> None:
        if self.reload_box is None:
            return
        button = QMessageBox.StandardButton.Yes if reload else QMessageBox.StandardButton.No
        self.reload_box.button(button).click()

    def _reload_answered(self, box: QMessageBox) -> None:
        self.reload_box = None
        chosen = box.clickedButton() is box.button(QMessageBox.StandardButton.Yes)
        box.deleteLater()
        if chosen:
            self.reload()

    def reload(self) -> None:
        """Show the details and consents as saved now, dropping the form's edits."""
        self.details = load_details(self.clinic, self.patient_id)
        self.clear_errors()
        self.reload_button.hide()
        self._fill()


def _short_said(cell: ConsentCell, zone: ZoneInfo) -> str:
    """The line under a box: '12 Mar 2026 · Dana Reyes', '' when never asked."""
    if cell.state == UNKNOWN:
        return ""
    when = local_text(cell.recorded_at, zone, "%d %b %Y")
    return f"{when} · {cell.recorded_by}" if cell.recorded_by else when
