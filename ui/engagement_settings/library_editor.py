"""The health-tips library in Settings: the items, and a form to change one or write a new one.

The list shows every item with where it comes from (shipped with Frontdesk, written by
the clinic, or a shipped item the clinic changed) and whether campaigns use it. The form
edits the fields of a resources/education/*.toml file in plain words; saving hands them to
app.engagement.library.save_item, whose checks are the library's own, and a reason it
gives is shown under the form. Links, the clinic's own links and conditions are typed one
per line ("Label | https://…", "SNOMED 15777000 Prediabetes").
"""

from __future__ import annotations

import re
from typing import Any, Final

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.clinic import Clinic
from app.engagement import library
from app.engagement.education import (
    ICD10CM_SYSTEM,
    SNOMED_SYSTEM,
    EducationItem,
    Link,
    TargetCondition,
)
from app.engagement.library import LibraryEntry, item_to_raw
from app.errors import FrontdeskError, InvalidInputError
from app.store.changes import Changes
from ui.bus import DataBus
from ui.theme import error_line, hint_line

ORIGIN_WORDS: Final = {"shipped": "Shipped", "clinic": "Ours", "changed": "Changed by us"}
LANGUAGES: Final = (("en", "English"), ("es", "Spanish"))
AUDIENCES: Final = (("self", "The patient"), ("parent", "A parent, for a child of that age"))
MONTH_NAMES: Final = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(months?|mo|m|years?|yrs?|y)?\s*$", re.IGNORECASE)
_STEM = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
COLUMNS: Final = ("Title", "Language", "Ages", "Months", "From", "In use")


# --- words for the list ---------------------------------------------------------------


def age_text(months: float | None) -> str:
    if months is None:
        return ""
    if months % 12 == 0 and months >= 12:
        years = int(months // 12)
        return f"{years} year" + ("" if years == 1 else "s")
    return f"{months:g} month" + ("" if months == 1 else "s")


def _number(text: str) -> str:
    return text.split()[0]


def ages_words(item: EducationItem) -> str:
    low, high = item.min_age_months, item.max_age_months
    if low is None and high is None:
        return "Any age"
    if high is None:
        return f"{age_text(low)} and older"
    if low is None or low == 0:
        return f"Under {age_text(high)}"
    first, last = age_text(low), age_text(high)
    if first.split()[1].rstrip("s") == last.split()[1].rstrip("s"):
        first = _number(first)  # "18 to under 65 years", not "18 years to under 65 years"
    return f"{first} to under {last}"


def months_words(months: frozenset[int]) -> str:
    if not months or len(months) == 12:
        return "All year"
    # One run of months, across the new year too (flu season): "Sep to Jan".
    for start in sorted(months):
        run = [(start - 1 + k) % 12 + 1 for k in range(len(months))]
        if len(months) >= 3 and set(run) == months:
            return f"{MONTH_NAMES[run[0] - 1]} to {MONTH_NAMES[run[-1] - 1]}"
    return ", ".join(MONTH_NAMES[m - 1] for m in sorted(months))


# --- reading the form's text fields ---------------------------------------------------


def parse_age(text: str, what: str) -> float | None:
    """ "6 months", "2 years", "2" (years) → months; empty → no bound."""
    if not text.strip():
        return None
    match = _AGE.match(text)
    if not match:
        raise InvalidInputError(
            f"Write the {what} as a number of years or months, such as 2 years."
        )
    number = float(match[1])
    unit = (match[2] or "years").lower()
    return number if unit.startswith("m") else number * 12


def links_text(links: tuple[Link, ...]) -> str:
    return "\n".join(f"{link.label} | {link.url}".rstrip() for link in links)


def parse_links(text: str) -> list[dict[str, str]]:
    """One link a line: "Label | https://…" (the url may be empty for the clinic's links)."""
    found = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if "|" in line:
            label, url = line.split("|", 1)
        else:
            parts = line.strip().rsplit(None, 1)
            url_like = len(parts) == 2 and parts[1].lower().startswith("http")
            label, url = (parts[0], parts[1]) if url_like else (line, "")
        found.append({"label": label.strip(), "url": url.strip()})
    return found


def conditions_text(conditions: tuple[TargetCondition, ...]) -> str:
    words = {SNOMED_SYSTEM: "SNOMED", ICD10CM_SYSTEM: "ICD-10"}
    return "\n".join(
        f"{words.get(c.system, c.system)} {c.code} {c.display}".rstrip() for c in conditions
    )


def parse_conditions(text: str) -> list[dict[str, str]]:
    """One condition a line: "SNOMED 15777000 Prediabetes", "ICD-10 R73.03 Prediabetes";
    without the first word, digits are read as SNOMED and a letter first as ICD-10."""
    found = []
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        first = words[0].upper().replace("-", "").rstrip(":")
        if first in ("SNOMED", "SCT", "SNOMEDCT"):
            system, words = SNOMED_SYSTEM, words[1:]
        elif first in ("ICD10", "ICD", "ICD10CM"):
            system, words = ICD10CM_SYSTEM, words[1:]
        else:
            system = SNOMED_SYSTEM if words[0].isdigit() else ICD10CM_SYSTEM
        if not words:
            raise InvalidInputError("A condition line needs its code, such as SNOMED 15777000.")
        code = words[0] if system == SNOMED_SYSTEM else words[0].upper()
        found.append({"system": system, "code": code, "display": " ".join(words[1:])})
    return found


def _wrapped(text: str) -> QLabel:
    label = hint_line(text)
    label.setWordWrap(True)
    return label


class LibraryEditor(QWidget):
    """Settings › Health tips and surveys › the library (clinic, bus; refresh())."""

    saved = Signal(str)  # the id of the item just saved

    def __init__(self, clinic: Clinic, bus: DataBus, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic = clinic
        self.bus = bus
        self.setAccessibleName("Health tips library")
        self.entries: list[LibraryEntry] = []
        self.current: LibraryEntry | None = None  # None while writing a new item
        self._filling = False
        self._writing_new = False

        layout = QVBoxLayout(self)
        intro = QLabel(
            "Short health tips that campaigns send by email and text. Change any of them, "
            "write your own, or turn one off so no campaign sends it. A shipped tip you "
            "changed can go back to the text Frontdesk ships."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        splitter = QSplitter()
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(self._build_list())
        splitter.addWidget(self._build_form())
        # The list gets the larger share: its titles are what the manager scans.
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        layout.addWidget(splitter, 1)
        bus.changed.connect(self._bus_changed)
        self.refresh()

    # --- building ---------------------------------------------------------------------

    def _build_list(self) -> QWidget:
        side = QWidget()
        column = QVBoxLayout(side)
        column.setContentsMargins(0, 0, 0, 0)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setAccessibleName("Health tips")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setTabKeyNavigation(False)
        self.table.setCornerButtonEnabled(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.table.itemSelectionChanged.connect(self._selected)
        column.addWidget(self.table, 1)
        buttons = QHBoxLayout()
        self.new_button = QPushButton("&New tip")
        self.new_button.setAccessibleName("Write a new tip")
        self.new_button.clicked.connect(self.new_item)
        self.active_button = QPushButton("Turn o&ff")
        self.active_button.setAccessibleName("Turn the chosen tip off")
        self.active_button.clicked.connect(self.toggle_active)
        self.revert_button = QPushButton("Back to the shipped &text")
        self.revert_button.setAccessibleName("Back to the shipped text")
        self.revert_button.clicked.connect(self.revert)
        for button in (self.new_button, self.active_button, self.revert_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        column.addLayout(buttons)
        self.list_error = error_line()
        self.list_error.setAccessibleName("Library error")
        self.list_error.setWordWrap(True)
        self.list_error.hide()
        column.addWidget(self.list_error)
        return side

    def _build_form(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)

        def row(label: str, widget: QWidget, name: str = "") -> None:
            caption = QLabel(label)
            caption.setBuddy(widget)
            if not widget.accessibleName():
                widget.setAccessibleName(name or label.replace("&", ""))
            if isinstance(widget, QPlainTextEdit):
                widget.setTabChangesFocus(True)
            form.addRow(caption, widget)

        self.heading = QLabel("")
        font = self.heading.font()
        font.setBold(True)
        self.heading.setFont(font)
        self.heading.setWordWrap(True)
        form.addRow(self.heading)
        self.stem = QLineEdit()
        self.stem.setPlaceholderText("short-name-with-dashes, such as school-sports-physicals")
        row("Short &name", self.stem, "Short name of the tip")
        self.title = QLineEdit()
        self.title.setMaxLength(80)
        row("T&itle", self.title)
        self.language = QComboBox()
        for code, words in LANGUAGES:
            self.language.addItem(words, code)
        row("&Language", self.language)
        self.topic = QLineEdit()
        self.topic.setPlaceholderText("flu, well-child… (campaigns can pick by it)")
        row("To&pic", self.topic)
        self.audience = QComboBox()
        for code, words in AUDIENCES:
            self.audience.addItem(words, code)
        row("The age is &of", self.audience, "Whose age the range is")
        ages = QWidget()
        ages_row = QHBoxLayout(ages)
        ages_row.setContentsMargins(0, 0, 0, 0)
        self.min_age = QLineEdit()
        self.min_age.setPlaceholderText("any")
        self.min_age.setAccessibleName("From age")
        self.max_age = QLineEdit()
        self.max_age.setPlaceholderText("any")
        self.max_age.setAccessibleName("Up to (not including) age")
        ages_row.addWidget(self.min_age, 1)
        ages_row.addWidget(QLabel("to under"))
        ages_row.addWidget(self.max_age, 1)
        row("&Ages", ages, "Ages")
        self.months_box = QWidget()
        self.months_box.setAccessibleName("Months it is sent in")
        grid = QGridLayout(self.months_box)
        grid.setContentsMargins(0, 0, 0, 0)
        self.months: list[QCheckBox] = []
        for index, name in enumerate(MONTH_NAMES):
            tick = QCheckBox(name)
            tick.setAccessibleName(f"Send in {name}")
            grid.addWidget(tick, index // 4, index % 4)  # a season a row
            self.months.append(tick)
        row("&Months", self.months_box, "Months it is sent in")
        form.addRow("", _wrapped("No month ticked: all year."))
        self.body = QPlainTextEdit()
        self._lines(self.body, 6, 14)
        row("&Email text", self.body, "Email text")
        self.sms = QPlainTextEdit()
        self._lines(self.sms, 2, 4)
        self.sms.textChanged.connect(self._sms_typed)
        row("Te&xt message", self.sms, "Text message")
        self.sms_count = _wrapped("")
        self.sms_count.setAccessibleName("Text message length")
        form.addRow("", self.sms_count)
        self.links = QPlainTextEdit()
        self.links.setPlaceholderText("CDC: flu vaccine | https://www.cdc.gov/flu/")
        self._lines(self.links, 2, 4)
        row("Lin&ks", self.links, "Links, one a line: label | https address")
        self.clinic_links = QPlainTextEdit()
        self.clinic_links.setPlaceholderText("Our doctor on flu shots (video) | https://…")
        self._lines(self.clinic_links, 2, 4)
        row("Our o&wn links", self.clinic_links, "The clinic's own links, such as doctor videos")
        form.addRow(
            "",
            _wrapped(
                "One link a line: a label, a bar |, then the https address. Our own links "
                "without an address are not sent until you fill one in."
            ),
        )
        self.conditions = QPlainTextEdit()
        self.conditions.setPlaceholderText("SNOMED 15777000 Prediabetes\nICD-10 R73.03 Prediabetes")
        self._lines(self.conditions, 2, 4)
        row("Con&ditions", self.conditions, "Conditions, one a line: SNOMED or ICD-10 code")
        form.addRow(
            "",
            _wrapped("Only patients with one of these conditions get the tip. Empty: anyone."),
        )
        buttons = QHBoxLayout()
        self.save_button = QPushButton("&Save tip")
        self.save_button.setAccessibleName("Save the tip")
        self.save_button.clicked.connect(self.save)
        buttons.addWidget(self.save_button)
        buttons.addStretch(1)
        form.addRow("", buttons)
        self.form_error = error_line()
        self.form_error.setAccessibleName("Tip error")
        self.form_error.setWordWrap(True)
        self.form_error.hide()
        form.addRow("", self.form_error)
        self.form_done = _wrapped("")
        self.form_done.setAccessibleName("Tip saved")
        form.addRow("", self.form_done)

        area = QScrollArea()
        area.setWidgetResizable(True)
        area.setFrameShape(QScrollArea.Shape.NoFrame)
        area.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        area.setWidget(page)
        return area

    def _lines(self, edit: QPlainTextEdit, least: int, most: int) -> None:
        """A text box between `least` and `most` lines high, in the font's own lines."""
        line = self.fontMetrics().lineSpacing()
        edit.setMinimumHeight(line * least + 12)
        edit.setMaximumHeight(line * most + 12)

    # --- the list ---------------------------------------------------------------------

    def refresh(self) -> None:
        chosen = self.current.item.id if self.current is not None else None
        self.entries = library.library_entries(self.clinic)
        self.table.blockSignals(True)
        self.table.setRowCount(len(self.entries))
        for row, entry in enumerate(self.entries):
            item = entry.item
            language = dict(LANGUAGES).get(item.language, item.language)
            values = (
                item.title,
                language,
                ages_words(item),
                months_words(item.months),
                ORIGIN_WORDS.get(entry.origin, entry.origin),
                "Yes" if entry.active else "Off",
            )
            for column, text in enumerate(values):
                cell = QTableWidgetItem(text)
                cell.setToolTip(f"{item.title} ({item.id})" if column == 0 else text)
                self.table.setItem(row, column, cell)
        self.table.blockSignals(False)
        if chosen is not None and self.select(chosen):
            return
        self.current = None
        if self.entries and not self._writing_new:
            self.table.selectRow(0)
        self._buttons()

    def select(self, item_id: str) -> bool:
        for row, entry in enumerate(self.entries):
            if entry.item.id == item_id:
                self.table.selectRow(row)
                self.current = entry
                self._buttons()
                return True
        return False

    def _selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return
        entry = self.entries[rows[0].row()]
        self._writing_new = False
        self.current = entry
        self._fill(entry.item, new=False)
        self._buttons()

    def _buttons(self) -> None:
        entry = self.current
        self.active_button.setEnabled(entry is not None)
        self.revert_button.setEnabled(entry is not None and entry.origin != "shipped")
        if entry is not None:
            self.active_button.setText("Turn o&ff" if entry.active else "Turn o&n")
            self.active_button.setAccessibleName(
                "Turn the chosen tip off" if entry.active else "Turn the chosen tip on"
            )
            self.revert_button.setText(
                "&Delete our tip" if entry.origin == "clinic" else "Back to the shipped &text"
            )

    def _bus_changed(self, changes: Changes) -> None:
        if changes.touches("education_item"):
            self.refresh()

    def _publish(self, changes: Changes) -> None:
        if changes.tables:
            self.bus.publish(changes)

    def toggle_active(self) -> bool:
        entry = self.current
        self.list_error.hide()
        if entry is None:
            return False
        try:
            changes = library.set_item_active(self.clinic, entry.item.id, not entry.active)
        except FrontdeskError as exc:
            self.list_error.setText(str(exc))
            self.list_error.show()
            return False
        self._publish(changes)
        self.refresh()
        return True

    def revert(self) -> bool:
        entry = self.current
        self.list_error.hide()
        if entry is None or entry.origin == "shipped":
            return False
        try:
            changes = library.revert_item(self.clinic, entry.item.id)
        except FrontdeskError as exc:
            self.list_error.setText(str(exc))
            self.list_error.show()
            return False
        if entry.origin == "clinic":
            self.current = None
        self._publish(changes)
        self.refresh()
        if self.current is not None:
            self._fill(self.current.item, new=False)
        return True

    # --- the form ---------------------------------------------------------------------

    def new_item(self) -> None:
        self._writing_new = True
        self.table.clearSelection()
        self.current = None
        self._buttons()
        self._fill(None, new=True)
        self.stem.setFocus()

    def _fill(self, item: EducationItem | None, *, new: bool) -> None:
        self._filling = True
        try:
            self.form_error.hide()
            self.form_done.setText("")
            self.heading.setText("A new tip" if item is None else f"{item.title} ({item.id})")
            self.stem.setEnabled(new)
            self.language.setEnabled(new)
            self.stem.setText("" if item is None else item.stem)
            self.title.setText("" if item is None else item.title)
            self.title.setCursorPosition(0)
            language = "en" if item is None else item.language
            if self.language.findData(language) < 0:
                self.language.addItem(language, language)
            self.language.setCurrentIndex(self.language.findData(language))
            self.topic.setText("" if item is None else item.topic)
            audience = "self" if item is None else item.audience
            self.audience.setCurrentIndex(max(self.audience.findData(audience), 0))
            self.min_age.setText(age_text(item.min_age_months) if item else "")
            self.max_age.setText(age_text(item.max_age_months) if item else "")
            chosen = item.months if item is not None else frozenset()
            for index, tick in enumerate(self.months, start=1):
                tick.setChecked(index in chosen)
            self.body.setPlainText("" if item is None else item.body)
            self.sms.setPlainText("" if item is None else item.sms)
            self.links.setPlainText("" if item is None else links_text(item.links))
            self.clinic_links.setPlainText("" if item is None else links_text(item.clinic_links))
            self.conditions.setPlainText("" if item is None else conditions_text(item.conditions))
        finally:
            self._filling = False

    def _sms_typed(self) -> None:
        count = len(self.sms.toPlainText())
        self.sms_count.setText(f"{count} characters (two text messages at most).")

    def raw(self) -> dict[str, Any]:
        """The form as the fields of an item file (what save_item checks)."""
        base: dict[str, Any] = {} if self.current is None else item_to_raw(self.current.item)
        if self.current is None:
            stem = self.stem.text().strip().lower()
            if not _STEM.match(stem):
                raise InvalidInputError(
                    "Give the tip a short name of small letters and digits joined by dashes, "
                    "such as school-sports-physicals."
                )
            language = str(self.language.currentData())
            base["id"] = f"{stem}.{language}"
            base["language"] = language
            base.pop("sources", None)
        min_months = parse_age(self.min_age.text(), "first age")
        max_months = parse_age(self.max_age.text(), "last age")
        age = {}
        if min_months is not None:
            age["min_months"] = min_months
        if max_months is not None:
            age["max_months"] = max_months
        base.pop("age", None)
        if age:
            base["age"] = age
        topic = self.topic.text().strip().lower()
        base.update(
            title=self.title.text().strip(),
            audience=str(self.audience.currentData()),
            body=self.body.toPlainText().strip(),
            sms=self.sms.toPlainText().strip(),
            links=parse_links(self.links.toPlainText()),
            clinic_links=parse_links(self.clinic_links.toPlainText()),
            conditions=parse_conditions(self.conditions.toPlainText()),
            months=[i for i, tick in enumerate(self.months, start=1) if tick.isChecked()],
        )
        if topic:
            base["topic"] = topic
        else:
            base.pop("topic", None)
        return base

    def save(self) -> bool:
        self.form_error.hide()
        self.form_done.setText("")
        try:
            raw = self.raw()
            item = library.save_item(self.clinic, raw)
        except FrontdeskError as exc:
            reason = getattr(exc, "reason", None) or str(exc)
            self.form_error.setText(reason[:1].upper() + reason[1:])
            self.form_error.show()
            return False
        self._writing_new = False
        self.current = None
        self._publish(Changes(frozenset({"education_item"})))
        self.refresh()
        self.select(item.id)
        self._fill(item, new=False)
        self.form_done.setText("Tip saved.")
        self.saved.emit(item.id)
        return True
