"""The wizard's mapping step: for a CSV file no profile recognises, which column holds what.

The person sees each column with its first values and picks, from our fields of the
kind of record the file holds, what the column is. What they build is a plain
`Profile` (app/importers/csv/profiles.py), the same thing the shipped Synthea profiles
are, so it can be saved as JSON and loaded again next month. The name of the source
matters more than it looks: a user profile's ids are keyed by it ("csv:<name>"), so
the same name on the next import is what lets Frontdesk recognise the same patients.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from functools import partial
from pathlib import Path
from types import MappingProxyType

from PySide6.QtCore import QStandardPaths, Qt, Signal
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.clinic import Clinic
from app.errors import FrontdeskError, InvalidInputError
from app.importers.csv.dates import DateFormat, detect_date_format, parse_date
from app.importers.csv.plan import DATE_FIELDS
from app.importers.csv.profiles import FIELDS, REQUIRED_FIELDS, Kind, Profile
from app.importers.profile_store import save_profile, saved_profiles
from app.importers.session import ImportFile, ImportPlan
from app.store.changes import Changes
from ui.ops import show_error
from ui.theme import ToneLabel, error_line

NOT_IMPORTED = ""  # the combo entry for a column nobody needs
EXAMPLES = 3

KIND_WORDS: Mapping[Kind, str] = MappingProxyType(
    {
        Kind.PATIENT: "Patients",
        Kind.ENCOUNTER: "Visits (encounters)",
        Kind.CONDITION: "Conditions (diagnoses)",
        Kind.ALLERGY: "Allergies",
        Kind.PROVIDER: "Practitioners (doctors, nurses…)",
        Kind.ORGANIZATION: "Organizations",
        Kind.PAYER: "Payers (insurers)",
    }
)

_FIELD_WORDS: Mapping[str, str] = MappingProxyType(
    {
        "source_id": "ID in the EMR",
        "mrn": "Medical record number (MRN)",
        "prefix": "Title (Mr, Ms, Dr)",
        "first": "First name",
        "middle": "Middle name",
        "last": "Last name",
        "suffix": "Suffix (Jr, III)",
        "maiden": "Maiden name",
        "birth_date": "Birth date",
        "deceased_date": "Date of death",
        "sex": "Sex",
        "marital": "Marital status",
        "phone": "Home phone",
        "mobile": "Mobile phone",
        "work_phone": "Work phone",
        "email": "Email",
        "address": "Street address",
        "address2": "Address, second line",
        "city": "City",
        "state": "State or province",
        "county": "County",
        "zip": "ZIP or postal code",
        "country": "Country",
        "ssn": "Social security number",
        "drivers": "Driver's license number",
        "passport": "Passport number",
        "patient": "Patient's ID (as in the patients file)",
        "encounter": "Visit's ID (as in the visits file)",
        "start": "Start date",
        "stop": "End date",
        "encounter_class": "Kind of visit",
        "code": "Code",
        "description": "Description",
        "provider": "Practitioner's ID",
        "organization": "Organization's ID",
        "payer": "Payer's ID",
        "reason_code": "Reason code",
        "reason_description": "Reason",
        "system": "Code system",
        "allergy_type": "Allergy or intolerance",
        "category": "Category",
        "reaction1": "First reaction, code",
        "reaction1_description": "First reaction",
        "reaction1_severity": "First reaction, severity",
        "reaction2": "Second reaction, code",
        "reaction2_description": "Second reaction",
        "reaction2_severity": "Second reaction, severity",
        "name": "Name",
        "speciality": "Speciality",
        "npi": "NPI number",
        "ownership": "Ownership",
    }
)
_KIND_FIELD_WORDS: Mapping[tuple[Kind, str], str] = MappingProxyType(
    {
        (Kind.PATIENT, "source_id"): "Patient ID in the EMR",
        (Kind.ENCOUNTER, "source_id"): "Visit ID in the EMR",
        (Kind.ENCOUNTER, "start"): "Date (and time) of the visit",
        (Kind.ENCOUNTER, "stop"): "End of the visit",
        (Kind.PROVIDER, "source_id"): "Practitioner ID in the EMR",
        (Kind.ORGANIZATION, "source_id"): "Organization ID in the EMR",
        (Kind.PAYER, "source_id"): "Payer ID in the EMR",
    }
)

# Column names EMRs commonly use, squeezed (lower case, letters and digits only).
_SYNONYMS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "mrn": ("mrn", "medicalrecordnumber", "chartnumber", "chartno", "recordnumber"),
        "prefix": ("prefix", "title", "salutation"),
        "first": ("first", "firstname", "givenname", "given", "forename", "fname"),
        "middle": ("middle", "middlename", "mname"),
        "last": ("last", "lastname", "surname", "familyname", "family", "lname"),
        "maiden": ("maiden", "maidenname"),
        "birth_date": ("birthdate", "dob", "dateofbirth", "birthday", "born"),
        "deceased_date": ("deathdate", "dod", "dateofdeath", "deceaseddate"),
        "sex": ("sex", "gender"),
        "marital": ("marital", "maritalstatus"),
        "phone": ("phone", "homephone", "telephone", "phonenumber", "tel"),
        "mobile": ("mobile", "cell", "cellphone", "mobilephone", "mobilenumber"),
        "work_phone": ("workphone", "businessphone", "officephone"),
        "email": ("email", "emailaddress", "mail"),
        "address": ("address", "address1", "street", "addressline1", "streetaddress"),
        "address2": ("address2", "addressline2"),
        "city": ("city", "town"),
        "state": ("state", "province", "region"),
        "zip": ("zip", "zipcode", "postcode", "postalcode"),
        "ssn": ("ssn", "socialsecuritynumber"),
        "drivers": ("drivers", "driverslicense", "driverlicense"),
        "start": ("start", "startdate", "date", "visitdate", "datetime"),
        "stop": ("stop", "end", "enddate"),
        "encounter_class": ("encounterclass", "class", "visittype"),
        "patient": ("patient", "patientid", "personid"),
        "encounter": ("encounter", "encounterid", "visitid"),
        "provider": ("provider", "providerid", "practitioner", "practitionerid", "doctor"),
        "reason_description": ("reason", "reasondescription"),
        "speciality": ("speciality", "specialty"),
    }
)
_ID_NAMES: Mapping[Kind, tuple[str, ...]] = MappingProxyType(
    {
        Kind.PATIENT: ("id", "patientid", "patid", "personid"),
        Kind.ENCOUNTER: ("id", "encounterid", "visitid"),
        Kind.PROVIDER: ("id", "providerid", "practitionerid"),
        Kind.ORGANIZATION: ("id", "organizationid", "orgid"),
        Kind.PAYER: ("id", "payerid"),
    }
)

DATE_WORDS: Mapping[DateFormat, str] = MappingProxyType(
    {
        DateFormat.ISO: "2024-03-31  (year-month-day)",
        DateFormat.US: "03/31/2024  (month/day/year, as in the US)",
        DateFormat.EU: "31/03/2024  (day/month/year)",
        DateFormat.EU_DOT: "31.03.2024  (day.month.year)",
    }
)


def field_words(kind: Kind, name: str) -> str:
    """What a receptionist calls one of our fields."""
    return _KIND_FIELD_WORDS.get((kind, name)) or _FIELD_WORDS.get(
        name, name.replace("_", " ").capitalize()
    )


def _squeeze(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.casefold())


# Government numbers are not offered: the import leaves them in the EMR (a front
# desk never needs them), so a column of them stays "not imported".
_LEFT_IN_EMR = frozenset({"ssn", "drivers", "passport"})


def offered_fields(kind: Kind) -> list[str]:
    """The fields the mapping step lets a column hold, for one kind of file."""
    return [name for name in FIELDS[kind] if name not in _LEFT_IN_EMR]


def guess_field(column: str, kind: Kind) -> str:
    """Our field a column's name most likely means, or NOT_IMPORTED."""
    squeezed = _squeeze(column)
    if squeezed in _ID_NAMES.get(kind, ()) and "source_id" in FIELDS[kind]:
        return "source_id"
    for name in offered_fields(kind):
        if squeezed == _squeeze(name) or squeezed in _SYNONYMS.get(name, ()):
            return name
    return NOT_IMPORTED


def read_date(text: str, fmt: DateFormat) -> str:
    """How one date of the file reads in `fmt`, in words nobody can misread."""
    try:
        day = parse_date(text, fmt)
    except InvalidInputError:
        return "not a date in this format"
    return f"{day.day} {day:%B %Y}"


def _examples(item: ImportFile, column: int) -> list[str]:
    assert item.csv is not None
    values = []
    for row in item.csv.sniffed.sample_rows:
        if column < len(row) and row[column].strip():
            values.append(row[column].strip())
        if len(values) >= EXAMPLES:
            break
    return values


def _short(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _FieldCombo(QComboBox):
    """A combo in a scrolled list: the wheel scrolls the list unless the combo has focus,
    so scrolling past a column never changes what it holds."""

    def __init__(self) -> None:
        super().__init__()
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt's name
        if self.hasFocus():
            super().wheelEvent(event)
        else:
            event.ignore()


class FileMapping(QWidget):
    """The mapping of one CSV file: kind, source name, a field per column, date format."""

    changed = Signal()

    def __init__(
        self,
        item: ImportFile,
        clinic: Clinic,
        *,
        on_saved: Callable[[Changes], None] | None = None,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        assert item.csv is not None
        self.item = item
        self.clinic = clinic
        self.header = item.csv.sniffed.header
        self._on_saved = on_saved or (lambda _changes: None)
        self._day_first = clinic.settings.day_first
        self._date_chosen = False  # once the person picks a format, detection keeps off
        self._filling = False
        # The profile the choices started from (detected, or saved): its name and, for
        # Synthea, its id system are kept while the person leaves them as they were.
        self.base: Profile | None = item.csv.profile or self._saved_match()
        self.saved_name = ""  # the name the mapping was last saved or loaded under
        base = self.base

        title = QLabel(f"<b>{_escape(item.name)}</b>  ·  {_escape(self._read_as())}")
        title.setAccessibleName(f"File {item.name}")
        title.setWordWrap(True)

        self.kind_combo = QComboBox()
        self.kind_combo.setAccessibleName("What this file holds")
        for kind, words in KIND_WORDS.items():
            self.kind_combo.addItem(words, kind.value)
        self.source_edit = QLineEdit(source_of(base) if base is not None else Path(item.name).stem)
        self.source_edit.setAccessibleName("Where this file comes from")
        self.source_edit.setAccessibleDescription(
            "Use the same name each time you import from this system, so patients "
            "imported again are recognised."
        )
        source_hint = ToneLabel(
            "Use the same name each time you import from this system, so records imported "
            "again are recognised instead of added twice.",
            tone="muted",
        )
        source_hint.setWordWrap(True)
        top = QFormLayout()
        top.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        kind_label = QLabel("What this file &holds:")
        kind_label.setBuddy(self.kind_combo)
        source_label = QLabel("Where it comes &from:")
        source_label.setBuddy(self.source_edit)
        top.addRow(kind_label, self.kind_combo)
        source_box = QVBoxLayout()
        source_box.setSpacing(2)
        source_box.addWidget(self.source_edit)
        source_box.addWidget(source_hint)
        top.addRow(source_label, source_box)

        grid_holder = QWidget()
        grid = QGridLayout(grid_holder)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(2, 1)
        for position, text in enumerate(
            ("Column in the file", "First values", "What this column holds")
        ):
            heading = QLabel(f"<b>{text}</b>")
            heading.setAccessibleName(text)
            grid.addWidget(heading, 0, position)
        self.combos: dict[str, QComboBox] = {}
        for row, column in enumerate(self.header, start=1):
            examples = _examples(item, row - 1)
            name_label = QLabel(column)
            name_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            shown = ", ".join(_short(v) for v in examples) or "(empty)"
            example_label = ToneLabel(shown, tone="muted")
            example_label.setAccessibleName(f"First values of {column}")
            combo = _FieldCombo()
            combo.setAccessibleName(f"What the column {column} holds")
            combo.setAccessibleDescription(f"First values: {shown}")
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
            combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            name_label.setBuddy(combo)
            combo.currentIndexChanged.connect(self._edited)
            grid.addWidget(name_label, row, 0)
            grid.addWidget(example_label, row, 1)
            grid.addWidget(combo, row, 2)
            self.combos[column] = combo
        grid.setRowStretch(len(self.header) + 1, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.StyledPanel)
        scroll.setWidget(grid_holder)
        scroll.setAccessibleName("Columns of the file")
        scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)

        self.date_combo = QComboBox()
        self.date_combo.setAccessibleName("How dates are written")
        self.date_combo.setPlaceholderText("Choose how the dates are written")
        for fmt, words in DATE_WORDS.items():
            self.date_combo.addItem(words, fmt.value)
        self.date_combo.currentIndexChanged.connect(self._date_changed)
        date_label = QLabel("How &dates are written:")
        date_label.setBuddy(self.date_combo)
        self.date_preview = QLabel()
        self.date_preview.setAccessibleName("How the first dates read")
        self.date_preview.setWordWrap(True)
        self.date_hint = ToneLabel(tone="warning", bold=True)
        self.date_hint.setAccessibleName("Dates warning")
        self.date_hint.setWordWrap(True)
        self.date_hint.hide()
        date_row = QHBoxLayout()
        date_row.addWidget(date_label)
        date_row.addWidget(self.date_combo, 1)
        dates = QVBoxLayout()
        dates.setSpacing(4)
        dates.addLayout(date_row)
        dates.addWidget(self.date_preview)
        dates.addWidget(self.date_hint)

        self.problem_label = error_line()
        self.problem_label.setAccessibleName("What is still missing")
        self.problem_label.setWordWrap(True)

        self.load_button = QPushButton("Use a saved &mapping")
        self.load_button.setAccessibleName("Use a saved mapping")
        self.load_menu = QMenu(self.load_button)
        self.load_menu.aboutToShow.connect(self._fill_load_menu)
        self.load_button.setMenu(self.load_menu)
        self.save_button = QPushButton("&Save this mapping as…")
        self.save_button.setAccessibleName("Save this mapping as")
        self.save_button.setToolTip("Kept in Frontdesk for the next import of this kind of file")
        self.save_button.clicked.connect(self.save_mapping)
        self.note = ToneLabel(tone="info")
        self.note.setAccessibleName("Where the choices come from")
        self.note.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.problem_label, 1)
        buttons.addWidget(self.load_button)
        buttons.addWidget(self.save_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(title)
        layout.addWidget(self.note)
        layout.addLayout(top)
        layout.addWidget(scroll, 1)
        layout.addLayout(dates)
        layout.addLayout(buttons)

        self.kind_combo.currentIndexChanged.connect(self._kind_changed)
        self.source_edit.textChanged.connect(self._edited)
        if base is not None:
            self.apply_profile(base)
            if item.csv.profile is None:
                self.note.setText(f"Filled in from your saved mapping “{base.name}”. Check it.")
        else:
            self._kind_changed()
        self.note.setVisible(bool(self.note.text()))

    def _read_as(self) -> str:
        assert self.item.csv is not None
        sniffed = self.item.csv.sniffed
        return f"{sniffed.encoding_label}, columns separated by {sniffed.delimiter_label}" + (
            "" if sniffed.has_header else ", no header row"
        )

    # --- what the person chose ------------------------------------------------------

    def kind(self) -> Kind:
        # Qt hands an enum stored in a combo back as its plain value.
        data = self.kind_combo.currentData()
        return Kind(data) if data else Kind.PATIENT

    def choices(self) -> dict[str, str]:
        """Our field -> the file's column, for every column that is imported."""
        chosen: dict[str, str] = {}
        for column, combo in self.combos.items():
            name = combo.currentData()
            if isinstance(name, str) and name and name not in chosen:
                chosen[name] = column
        return chosen

    def set_column_field(self, column: str, name: str) -> None:
        """Choose what `column` holds (NOT_IMPORTED to leave it out)."""
        combo = self.combos[column]
        index = combo.findData(name)
        if index < 0:
            raise InvalidInputError(f"{name!r} is not a field of {self.kind().value} records.")
        combo.setCurrentIndex(index)

    def date_format(self) -> DateFormat | None:
        data = self.date_combo.currentData()
        return DateFormat(data) if data else None

    def set_date_format(self, fmt: DateFormat) -> None:
        self._date_chosen = True
        self.date_combo.setCurrentIndex(self.date_combo.findData(fmt.value))

    def needs_dates(self) -> bool:
        return any(name in DATE_FIELDS for name in self.choices())

    def problem(self) -> str | None:
        """What must still be chosen before this file can be imported, in plain words."""
        kind = self.kind()
        chosen = self.choices()
        counts: dict[str, int] = {}
        for combo in self.combos.values():
            name = combo.currentData()
            if isinstance(name, str) and name:
                counts[name] = counts.get(name, 0) + 1
        twice = [field_words(kind, n) for n, c in counts.items() if c > 1]
        if twice:
            return f"Two columns are set to hold: {', '.join(twice)}. Choose one of them."
        missing = [field_words(kind, n) for n in REQUIRED_FIELDS[kind] if n not in chosen]
        if kind is Kind.PATIENT and "first" not in chosen and "last" not in chosen:
            missing.append("First name or Last name")
        if missing:
            return f"Choose the column that holds: {', '.join(missing)}."
        if not self.source_edit.text().strip():
            return "Type where this file comes from (the name of your EMR will do)."
        if self.needs_dates() and self.date_format() is None:
            return "Choose how the dates are written."
        return None

    def profile(self) -> Profile:
        """The person's mapping as a profile; raises InvalidInputError while incomplete."""
        problem = self.problem()
        if problem is not None:
            raise InvalidInputError(problem)
        kind = self.kind()
        source = self.source_edit.text().strip()
        base = self.base
        same_base = base is not None and base.kind is kind and source_of(base) == source
        # Every file of one EMR shares its id system, so a visits file finds the
        # patients of the patients file; the profile's own name only tells mappings apart.
        system = f"csv:{source}"
        if same_base and base is not None and base.source_system:
            system = base.source_system
        return Profile(
            name=self.saved_name
            or (base.name if same_base and base is not None else "")
            or f"{source} {kind.value}s",
            kind=kind,
            columns=MappingProxyType({f: (c,) for f, c in self.choices().items()}),
            date_format=self.date_format() if self.needs_dates() else DateFormat.ISO,
            code_system=base.code_system if same_base and base is not None else "",
            source_system=system,
            description=f"{KIND_WORDS[kind]} exported from {source}",
        )

    def apply_profile(self, profile: Profile) -> None:
        """Fill the choices from a profile (a saved mapping, or the one detected)."""
        self._filling = True
        try:
            self.kind_combo.setCurrentIndex(self.kind_combo.findData(profile.kind.value))
            self._fill_fields(profile.kind)
            self.source_edit.setText(source_of(profile))
            by_key = {column.strip().casefold(): column for column in self.header}
            for name, columns in profile.columns.items():
                for wanted in columns:
                    column = by_key.get(wanted.strip().casefold())
                    if column is not None:
                        self.combos[column].setCurrentIndex(self.combos[column].findData(name))
                        break
        finally:
            self._filling = False
        if profile.date_format is not None:
            self.set_date_format(profile.date_format)
        else:
            self._detect_dates()
        self._edited()

    # --- saving and loading a mapping -----------------------------------------------

    def save_mapping(self) -> None:
        """Ask for a name and keep the mapping in the clinic (every workstation sees it)."""
        try:
            profile = self.profile()
        except InvalidInputError as exc:
            self.problem_label.setText(str(exc))
            return
        name, ok = QInputDialog.getText(
            self,
            "Save this mapping as",
            "Name of the mapping (for example “Lakeside EMR patients”):",
            text=profile.name,
        )
        if ok:
            self.save_mapping_named(name)

    def save_mapping_named(self, name: str) -> bool:
        try:
            profile = replace(self.profile(), name=name.strip())
            changes = save_profile(self.clinic, profile)
        except FrontdeskError as exc:
            self.problem_label.setText(str(exc))
            return False
        self.saved_name = profile.name
        self.note.setText(f"Saved as “{profile.name}”; the next import offers it.")
        self.note.show()
        self._on_saved(changes)
        return True

    def _fill_load_menu(self) -> None:
        self.load_menu.clear()
        for profile in saved_profiles(self.clinic):
            action = self.load_menu.addAction(profile.name)
            action.triggered.connect(partial(self.use_profile, profile))
        if not self.load_menu.isEmpty():
            self.load_menu.addSeparator()
        self.load_menu.addAction("From a file…").triggered.connect(self.load_mapping)

    def use_profile(self, profile: Profile) -> None:
        """Fill the choices from a saved mapping."""
        self.saved_name = profile.name
        self.base = profile
        self.apply_profile(profile)
        self.note.setText(f"Filled in from the mapping “{profile.name}”. Check it.")
        self.note.show()

    def load_mapping(self) -> None:
        folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
        path, _ = QFileDialog.getOpenFileName(
            self, "Use a mapping file", folder, "Frontdesk mapping (*.json)"
        )
        if path:
            self.load_mapping_from(Path(path))

    def load_mapping_from(self, path: Path) -> None:
        try:
            profile = Profile.load(path)
        except FrontdeskError as exc:
            self.problem_label.setText(str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - shown plainly, never a traceback
            show_error(self, "Use a saved mapping", exc)
            return
        self.use_profile(profile)

    def _saved_match(self) -> Profile | None:
        """The clinic's saved mapping that names every one of its columns in this file."""
        columns = {c.strip().casefold() for c in self.header}
        best: tuple[int, Profile] | None = None
        for profile in saved_profiles(self.clinic):
            wanted = [names for names in profile.columns.values() if names]
            fits = all(any(n.strip().casefold() in columns for n in names) for names in wanted)
            if wanted and fits and (best is None or len(wanted) > best[0]):
                best = (len(wanted), profile)
        return best[1] if best else None

    # --- reacting -------------------------------------------------------------------

    def _fill_fields(self, kind: Kind) -> None:
        for combo in self.combos.values():
            combo.blockSignals(True)
            combo.clear()
            combo.addItem("(not imported)", NOT_IMPORTED)
            for name in offered_fields(kind):
                combo.addItem(field_words(kind, name), name)
            combo.blockSignals(False)

    def _kind_changed(self) -> None:
        if self._filling:
            return
        kind = self.kind()
        self._filling = True
        try:
            self._fill_fields(kind)
            taken: set[str] = set()
            for column, combo in self.combos.items():
                guess = guess_field(column, kind)
                if guess and guess not in taken:
                    taken.add(guess)
                    combo.setCurrentIndex(combo.findData(guess))
        finally:
            self._filling = False
        self._edited()

    def _date_changed(self) -> None:
        if not self._filling:  # the person's own choice: detection keeps off from now on
            self._date_chosen = True
            self._edited()

    def date_values(self) -> list[str]:
        """The first sample dates of the date columns chosen, in file order."""
        columns = [self.header.index(c) for n, c in self.choices().items() if n in DATE_FIELDS]
        values: list[str] = []
        assert self.item.csv is not None
        for row in self.item.csv.sniffed.sample_rows:
            for index in columns:
                if index < len(row) and row[index].strip():
                    values.append(row[index].strip())
        return values

    def _detect_dates(self) -> None:
        if self._date_chosen:
            return
        values = self.date_values()
        if not values:
            return
        found = detect_date_format(values, day_first=self._day_first)
        self._filling = True
        try:
            if found.format is None or found.ambiguous:
                self.date_combo.setCurrentIndex(-1)  # ask rather than move every birthday
            else:
                self.date_combo.setCurrentIndex(self.date_combo.findData(found.format.value))
        finally:
            self._filling = False

    def _edited(self) -> None:
        if self._filling:
            return
        self._detect_dates()
        self._show_dates()
        self.problem_label.setText(self.problem() or "")
        self.changed.emit()

    def _show_dates(self) -> None:
        needs = self.needs_dates()
        self.date_combo.setEnabled(needs)
        values = self.date_values()
        if not needs or not values:
            self.date_preview.setText("No date columns chosen." if not needs else "")
            self.date_hint.hide()
            return
        fmt = self.date_format()
        firsts = _unique(values)[:EXAMPLES]
        if fmt is None:
            self.date_preview.setText("The first dates: " + ", ".join(firsts))
        else:
            self.date_preview.setText(
                "The first dates read as: "
                + ";  ".join(f"{v} → {read_date(v, fmt)}" for v in firsts)
            )
        found = detect_date_format(values, day_first=self._day_first)
        if found.ambiguous:
            self.date_hint.setText(
                "These dates can be read two ways (month first or day first). Check a date "
                "you know, such as a patient's birthday, before choosing."
            )
            self.date_hint.show()
        elif fmt is not None and found.candidates and fmt not in found.candidates:
            self.date_hint.setText("Some of these dates do not fit this format.")
            self.date_hint.show()
        else:
            self.date_hint.hide()


def source_of(profile: Profile) -> str:
    """The "where it comes from" name a profile was built with."""
    if profile.source_system.startswith("csv:"):
        return profile.source_system[4:]
    return profile.name


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class MappingStep(QWidget):
    """Every CSV file still needing choices: a list of them, and one mapping at a time."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.files = QListWidget()
        self.files.setAccessibleName("Files to map")
        self.files.setMaximumWidth(260)
        self.stack = QStackedWidget()
        self.files.currentRowChanged.connect(self.stack.setCurrentIndex)
        splitter = QSplitter()
        splitter.addWidget(self.files)
        splitter.addWidget(self.stack)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)
        # Expanding, or the wizard leaves the page its preferred height and pads below.
        splitter.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)
        self.mappings: list[FileMapping] = []

    def load(
        self,
        items: list[ImportFile],
        clinic: Clinic,
        on_saved: Callable[[Changes], None] | None = None,
    ) -> None:
        """Show these files (those of the plan that still need choices)."""
        self.files.clear()
        for mapping in self.mappings:
            self.stack.removeWidget(mapping)
            mapping.deleteLater()
        self.mappings = []
        for item in items:
            mapping = FileMapping(item, clinic, on_saved=on_saved)
            mapping.changed.connect(self._changed)
            self.mappings.append(mapping)
            self.stack.addWidget(mapping)
            QListWidgetItem(item.name, self.files)
        self.files.setVisible(len(items) > 1)
        self._changed()
        if items:
            self.files.setCurrentRow(0)

    def complete(self) -> bool:
        return all(m.problem() is None for m in self.mappings)

    def first_problem(self) -> FileMapping | None:
        return next((m for m in self.mappings if m.problem() is not None), None)

    def apply(self, plan: ImportPlan) -> None:
        """Put the person's choices into the plan (raises InvalidInputError if one is missing)."""
        for mapping in self.mappings:
            profile = mapping.profile()
            plan.csv_profiles[mapping.item.path] = profile
            if profile.date_format is not None:
                plan.csv_date_formats[mapping.item.path] = profile.date_format

    def _changed(self) -> None:
        for row, mapping in enumerate(self.mappings):
            item = self.files.item(row)
            done = mapping.problem() is None
            item.setText(("✓ " if done else "• ") + mapping.item.name)
            item.setToolTip("Ready" if done else (mapping.problem() or ""))
        self.changed.emit()
