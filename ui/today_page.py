"""Today: the day's and tomorrow's appointments, the calls to make, and birthdays.

The page is what a receptionist leaves open all day, so it keeps itself current: it
reloads when the bus says appointments, calls, tasks or patients changed (or, when
hidden, as soon as it is shown again), and when the clinic's calendar turns to a new day.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Generic, TypeVar

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QFocusEvent, QFont, QKeyEvent, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.clinic import Clinic
from app.errors import InvalidInputError
from app.store.changes import Changes
from app.today import (
    CALL_OUTCOMES,
    CONFIRM_KIND,
    AgendaRow,
    BirthdayRow,
    CallRow,
    agenda,
    birthdays,
    call_list,
    clinic_today,
    complete_call,
    next_open_day,
)
from ui.bus import DataBus
from ui.forms.base import FormDialog
from ui.forms.call import OUTCOME_TEXT
from ui.shortcuts import shortcut
from ui.theme import ColorName, ToneLabel, color

R = TypeVar("R")
_Index = QModelIndex | QPersistentModelIndex

# A change to any of these can change what the page shows.
WATCHED_TABLES = (
    "appointment",
    "appointment_status",
    "interaction",
    "task",
    "patient",
    "contact_point",
    "provider",
    "location",
    "outbox",  # a reminder asking to confirm went, failed, or was answered
    "inbound_message",
)
DAY_CHECK_MS = 60_000  # how often to look whether the clinic's date has turned

# The colour of each confirmation word; the word itself carries the meaning.
_STATE_COLOURS: dict[str, ColorName] = {
    "booked": "warning",
    "confirmed": "ok",
    "arrived": "info",
    "fulfilled": "muted",
    "noshow": "danger",
    "cancelled": "muted",
}
MARK_DONE = "Mark done…"


def day_heading(day: date, day_first: bool) -> str:
    """'Saturday 28 November' where dates are written day first, else 'Saturday, November 28'."""
    if day_first:
        return f"{day:%A} {day.day} {day:%B}"
    return f"{day:%A}, {day:%B} {day.day}"


def why_text(row: CallRow) -> str:
    """The reason, then what the automatic reminder did, so nobody calls blind."""
    return f"{row.reason} · {row.reminder}" if row.reminder else row.reason


def visit_type(row: AgendaRow) -> str:
    text = row.reason or row.kind.replace("-", " ")
    return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class Column(Generic[R]):
    header: str
    text: Callable[[R], str]


class RowsModel(QAbstractTableModel, Generic[R]):
    """A read-only table of frozen rows; `style` may colour a cell by its row."""

    def __init__(
        self,
        columns: Sequence[Column[R]],
        style: Callable[[R, int, int], Any] | None = None,
    ) -> None:
        super().__init__()
        self.columns = list(columns)
        self.rows: list[R] = []
        self._style = style

    def set_rows(self, rows: list[R]) -> None:
        self.beginResetModel()
        self.rows = rows
        self.endResetModel()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt API
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt API
        return 0 if parent.isValid() else len(self.columns)

    def headerData(  # noqa: N802 - Qt's name
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section].header
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or index.row() >= len(self.rows):
            return None
        row = self.rows[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return self.columns[index.column()].text(row)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return (
                f"{self.columns[index.column()].header}: {self.columns[index.column()].text(row)}"
            )
        if self._style is not None:
            return self._style(row, index.column(), role)
        return None


class RowTable(QTableView):
    """A list of rows a person reads and opens: Tab leaves it, Enter opens the row."""

    open_row = Signal(int)

    def __init__(
        self, name: str, model: QAbstractTableModel, stretch_column: int | None = None
    ) -> None:
        super().__init__()
        self.setModel(model)
        self.setAccessibleName(name)
        self.setTabKeyNavigation(False)  # Tab moves on to the next list, not the next cell
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.setShowGrid(False)
        self.setCornerButtonEnabled(False)
        self.verticalHeader().hide()
        # Rows as tall as the text needs, so a short day fits without scrolling at any scale.
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        header = self.horizontalHeader()
        header.setHighlightSections(False)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        if stretch_column is None:
            header.setStretchLastSection(True)
        else:
            # The long text takes what is left and is cut short (full text in its tooltip).
            header.setSectionResizeMode(stretch_column, QHeaderView.ResizeMode.Stretch)
        self.doubleClicked.connect(lambda index: self.open_row.emit(index.row()))

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().isValid():
            self.open_row.emit(self.currentIndex().row())
            return
        super().keyPressEvent(event)

    def focusInEvent(self, event: QFocusEvent) -> None:  # noqa: N802 - Qt's name
        # Arriving by Tab lands on a row, so Enter works at once.
        if not self.currentIndex().isValid() and self.model().rowCount() > 0:
            self.selectRow(0)
        super().focusInEvent(event)

    def current_row(self) -> int | None:
        index = self.currentIndex()
        return index.row() if index.isValid() else None

    def keep_row(self, row: int | None) -> None:
        """After a reload, stay on the same place in the list (or the last row)."""
        count = self.model().rowCount()
        if row is None or count == 0:
            return
        self.selectRow(min(row, count - 1))


class Section(QWidget):
    """A heading, then the list, or a plain sentence when the list is empty."""

    def __init__(self, title: str, empty_text: str, table: RowTable) -> None:
        super().__init__()
        self.title = title
        self.table = table
        self.heading = QLabel(title)
        self.heading.setAccessibleName(f"{title} heading")
        font = self.heading.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.heading.setFont(font)
        self.empty = ToneLabel(empty_text, tone="muted", extra="padding: 6px 2px;")
        self.empty.setAccessibleName(f"{title}: none")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.layout_.setSpacing(4)
        self.header_row = QHBoxLayout()
        self.header_row.addWidget(self.heading, 1)
        self.layout_.addLayout(self.header_row)
        self.layout_.addWidget(self.table, 1)
        self.layout_.addWidget(self.empty, 1)

    def show_count(self, count: int) -> None:
        self.heading.setText(f"{self.title} ({count})" if count else self.title)
        self.table.setVisible(count > 0)
        self.empty.setVisible(count == 0)


# --- the rows' columns and looks -------------------------------------------------------


def _agenda_style(row: AgendaRow, column: int, role: int) -> object:
    status_column = column == STATUS_COLUMN
    if role == Qt.ItemDataRole.ForegroundRole:
        if status_column:
            return color(_STATE_COLOURS.get(row.status, "text"))
        if row.closed:
            return color("muted")
    if role == Qt.ItemDataRole.FontRole and (status_column or row.closed):
        font = QFont()
        font.setBold(status_column and row.status == "booked")
        font.setItalic(row.closed)
        font.setStrikeOut(row.status == "cancelled" and not status_column)
        return font
    return None


def _call_style(row: CallRow, column: int, role: int) -> object:
    if column == 0 and row.overdue_days > 0:
        if role == Qt.ItemDataRole.ForegroundRole:
            return color("danger")
        if role == Qt.ItemDataRole.FontRole:
            font = QFont()
            font.setBold(True)
            return font
    if column == 4 and role == Qt.ItemDataRole.ForegroundRole:
        return color("info")
    if column == 4 and role == Qt.ItemDataRole.FontRole:
        font = QFont()
        font.setUnderline(True)
        return font
    return None


# The confirmation word sits next to the name, so it stays in view when large text or
# a narrow window cuts the row short; the visit type gives way first.
AGENDA_COLUMNS: list[Column[AgendaRow]] = [
    Column("Time", lambda r: r.time_text),
    Column("Patient", lambda r: r.patient_name),
    Column("Confirmation", lambda r: r.confirmation),
    Column("Provider", lambda r: r.provider),
    Column("Type", visit_type),
]
STATUS_COLUMN = 2
TYPE_COLUMN = 4
CALL_COLUMNS: list[Column[CallRow]] = [
    Column("Due", lambda r: r.due_text),
    Column("Patient", lambda r: r.patient_name),
    Column("Phone", lambda r: r.phone or "no phone"),
    Column("Why", lambda r: why_text(r)),
    Column("", lambda _r: MARK_DONE),
]
WHY_COLUMN = 3
MARK_DONE_COLUMN = 4
BIRTHDAY_COLUMNS: list[Column[BirthdayRow]] = [
    Column("Patient", lambda r: r.patient_name),
    Column("Turns", lambda r: str(r.turns)),
    Column("Phone", lambda r: r.phone or "—"),
]


# --- the page --------------------------------------------------------------------------


class TodayPage(QWidget):
    open_patient = Signal(str)

    def __init__(
        self,
        clinic: Clinic,
        bus: DataBus,
        parent: QWidget | None = None,
        *,
        day: date | None = None,
    ) -> None:
        super().__init__(parent)
        self.clinic = clinic
        self.bus = bus
        self._pinned_day = day  # tests and reports may look at a given day
        self.day = day or clinic_today(clinic)
        self._stale = True
        self.mark_done_dialog: MarkCallDoneDialog | None = None
        self.setAccessibleName("Today")

        self.heading = QLabel()
        self.heading.setAccessibleName("Date")
        font = self.heading.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        self.heading.setFont(font)
        self.summary = ToneLabel(tone="muted")
        self.summary.setAccessibleName("Summary of the day")
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setAccessibleName("Refresh Today")
        self.refresh_button.setToolTip(f"Refresh ({shortcut('refresh').keys})")
        self.refresh_button.clicked.connect(self.refresh)
        # Window-wide, but Qt ignores the shortcuts of a hidden page, so F5 refreshes
        # whichever list is on screen.
        self.refresh_shortcut = QShortcut(shortcut("refresh").sequence(), self)
        self.refresh_shortcut.activated.connect(self.refresh)

        self.today_model: RowsModel[AgendaRow] = RowsModel(AGENDA_COLUMNS, _agenda_style)
        self.tomorrow_model: RowsModel[AgendaRow] = RowsModel(AGENDA_COLUMNS, _agenda_style)
        self.calls_model: RowsModel[CallRow] = RowsModel(CALL_COLUMNS, _call_style)
        self.birthdays_model: RowsModel[BirthdayRow] = RowsModel(BIRTHDAY_COLUMNS)
        self.today_table = RowTable("Today's appointments", self.today_model, TYPE_COLUMN)
        self.tomorrow_table = RowTable("Next day's appointments", self.tomorrow_model, TYPE_COLUMN)
        self.calls_table = RowTable("Calls to make", self.calls_model, WHY_COLUMN)
        self.birthdays_table = RowTable("Birthdays today", self.birthdays_model)
        for table, model in (
            (self.today_table, self.today_model),
            (self.tomorrow_table, self.tomorrow_model),
            (self.calls_table, self.calls_model),
            (self.birthdays_table, self.birthdays_model),
        ):
            table.open_row.connect(self._opener(model))
        self.calls_table.clicked.connect(self._call_clicked)
        self.calls_table.selectionModel().currentChanged.connect(self._update_buttons)

        self.today_section = Section(
            "Today's appointments", "No appointments today.", self.today_table
        )
        self.tomorrow_section = Section(
            "Next day's appointments", "Nothing booked in the coming week.", self.tomorrow_table
        )
        self.calls_section = Section("Calls to make", "No calls to make.", self.calls_table)
        self.birthdays_section = Section("Birthdays", "No birthdays today.", self.birthdays_table)
        self.mark_done_button = QPushButton(MARK_DONE)
        self.mark_done_button.setAccessibleName("Mark the selected call done")
        self.mark_done_button.setToolTip("Log how the call went and take it off the list")
        self.mark_done_button.clicked.connect(lambda: self.open_mark_done())
        self.calls_section.header_row.addWidget(self.mark_done_button)

        top = QHBoxLayout()
        titles = QVBoxLayout()
        titles.setSpacing(0)
        titles.addWidget(self.heading)
        titles.addWidget(self.summary)
        top.addLayout(titles, 1)
        top.addWidget(self.refresh_button, 0, Qt.AlignmentFlag.AlignTop)

        # The two books side by side on top; below, the call list gets the width its
        # reasons need, and birthdays the rest.
        books = QHBoxLayout()
        books.setSpacing(18)
        books.addWidget(self.today_section, 1)
        books.addWidget(self.tomorrow_section, 1)
        chores = QHBoxLayout()
        chores.setSpacing(18)
        chores.addWidget(self.calls_section, 5)
        chores.addWidget(self.birthdays_section, 2)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.setSpacing(12)
        layout.addLayout(books, 1)
        layout.addLayout(chores, 1)

        # Reading order: the lists, left column then right, then the buttons.
        self.setTabOrder(self.today_table, self.tomorrow_table)
        self.setTabOrder(self.tomorrow_table, self.calls_table)
        self.setTabOrder(self.calls_table, self.mark_done_button)
        self.setTabOrder(self.mark_done_button, self.birthdays_table)
        self.setTabOrder(self.birthdays_table, self.refresh_button)

        bus.changed.connect(self._on_changed)
        self.day_timer = QTimer(self)
        self.day_timer.setInterval(DAY_CHECK_MS)
        self.day_timer.timeout.connect(self._check_day)
        self.day_timer.start()
        self.refresh()

    # --- loading -----------------------------------------------------------------------

    def refresh(self) -> None:
        """Reload every list for the clinic's current day, keeping each list's place."""
        if self._pinned_day is None:
            self.day = clinic_today(self.clinic)
        day = self.day
        # The next day the clinic has visits on the book: Monday's list on a Friday.
        tomorrow = next_open_day(self.clinic, day)
        self.next_day = tomorrow
        places = [
            t.current_row()
            for t in (self.today_table, self.tomorrow_table, self.calls_table, self.birthdays_table)
        ]
        self.today_model.set_rows(agenda(self.clinic, day))
        self.tomorrow_model.set_rows(agenda(self.clinic, tomorrow))
        self.calls_model.set_rows(call_list(self.clinic, day))
        self.birthdays_model.set_rows(birthdays(self.clinic, day))
        for table, place in zip(
            (self.today_table, self.tomorrow_table, self.calls_table, self.birthdays_table),
            places,
            strict=True,
        ):
            table.keep_row(place)
        self._stale = False

        day_first = self.clinic.settings.day_first
        self.heading.setText(day_heading(day, day_first))
        label = "Tomorrow" if tomorrow.toordinal() == day.toordinal() + 1 else "Next open day"
        self.tomorrow_section.title = f"{label} · {day_heading(tomorrow, day_first)}"
        self.today_section.show_count(len(self.today_model.rows))
        self.tomorrow_section.show_count(len(self.tomorrow_model.rows))
        self.calls_section.show_count(len(self.calls_model.rows))
        self.birthdays_section.show_count(len(self.birthdays_model.rows))
        self.summary.setText(self._summary_text())
        self._update_buttons()

    def _summary_text(self) -> str:
        visits = [r for r in self.today_model.rows if not r.closed]
        unconfirmed = sum(1 for r in self.tomorrow_model.rows if r.status == "booked")
        calls = len(self.calls_model.rows)
        parts = [
            _count(len(visits), "appointment today", "appointments today"),
            _count(unconfirmed, "next-day visit not confirmed", "next-day visits not confirmed"),
            _count(calls, "call to make", "calls to make"),
        ]
        return " · ".join(parts)

    def _on_changed(self, changes: Changes) -> None:
        if not changes.touches(*WATCHED_TABLES):
            return
        if self.isVisible():
            self.refresh()
        else:
            self._stale = True  # reload when shown; no work for a page nobody sees

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        if self._stale or (self._pinned_day is None and clinic_today(self.clinic) != self.day):
            self.refresh()
        super().showEvent(event)

    def _check_day(self) -> None:
        if self._pinned_day is None and clinic_today(self.clinic) != self.day:
            if self.isVisible():
                self.refresh()
            else:
                self._stale = True

    # --- acting on rows ----------------------------------------------------------------

    def _opener(self, model: RowsModel[Any]) -> Callable[[int], None]:
        def open_row(row: int) -> None:
            if 0 <= row < len(model.rows):
                self.open_patient.emit(model.rows[row].patient_id)

        return open_row

    def _call_clicked(self, index: QModelIndex) -> None:
        if index.column() == MARK_DONE_COLUMN:
            self.open_mark_done(index.row())

    def _update_buttons(self) -> None:
        self.mark_done_button.setEnabled(bool(self.calls_model.rows))

    def open_mark_done(self, row: int | None = None) -> MarkCallDoneDialog | None:
        """Ask how the call went (window-modal, without blocking); the bus does the rest."""
        if row is None:
            row = self.calls_table.current_row()
            if row is None and self.calls_model.rows:
                row = 0
        if row is None or not 0 <= row < len(self.calls_model.rows):
            return None
        self.calls_table.selectRow(row)
        dialog = MarkCallDoneDialog(self.clinic, self.bus, self.calls_model.rows[row], self)
        dialog.finished.connect(lambda _result: self._mark_done_closed(dialog))
        self.mark_done_dialog = dialog
        dialog.open()
        return dialog

    def _mark_done_closed(self, dialog: MarkCallDoneDialog) -> None:
        if self.mark_done_dialog is dialog:
            self.mark_done_dialog = None
        dialog.deleteLater()
        target = self.calls_table if self.calls_model.rows else self.today_table
        target.setFocus(Qt.FocusReason.OtherFocusReason)


def _count(number: int, one: str, many: str) -> str:
    if number == 0:
        return f"no {many}"
    return f"{number} {one if number == 1 else many}"


class MarkCallDoneDialog(FormDialog):
    """How the call went, a note, and for a confirmation call whether the patient said yes."""

    def __init__(
        self, clinic: Clinic, bus: DataBus, call: CallRow, parent: QWidget | None = None
    ) -> None:
        super().__init__(clinic, bus, "Mark the call done", parent)
        self.call = call
        self.save_button.setText("Mark done")
        who = call.patient_name + (f" · {call.phone}" if call.phone else "")
        heading = QLabel(f"<b>{_escape(who)}</b><br>{_escape(why_text(call))}")
        heading.setAccessibleName("Call")
        heading.setTextFormat(Qt.TextFormat.RichText)
        heading.setWordWrap(True)
        self.content.insertWidget(0, heading)

        outcome_box = QWidget()
        outcome_box.setAccessibleName("How the call went")
        grid = QGridLayout(outcome_box)
        grid.setContentsMargins(0, 0, 0, 0)
        self.outcome_group = QButtonGroup(self)
        self.outcome_buttons: dict[str, QRadioButton] = {}
        for i, outcome in enumerate(CALL_OUTCOMES):
            button = QRadioButton(OUTCOME_TEXT.get(outcome, outcome.capitalize()))
            button.setAccessibleName(outcome.capitalize())
            self.outcome_group.addButton(button)
            self.outcome_buttons[outcome] = button
            grid.addWidget(button, i // 2, i % 2)
        self.add_field("How it went:", outcome_box, "outcome")

        self.note = QPlainTextEdit()
        self.note.setTabChangesFocus(True)
        self.note.setPlaceholderText("What was said (optional)")
        self.note.setMinimumHeight(70)
        self.add_field("&Note:", self.note, "note")

        self.confirmed = QCheckBox("Patient &confirmed the visit")
        self.confirmed.setAccessibleName("Patient confirmed the visit")
        self.confirmed.setEnabled(False)
        if call.kind == CONFIRM_KIND:
            self.add_field(
                "Visit:",
                self.confirmed,
                "confirmed",
                hint="Only a call that reached the patient can confirm the visit.",
            )
        self.outcome_group.buttonToggled.connect(self._outcome_changed)
        self.mark_clean()

    def outcome(self) -> str:
        for value, button in self.outcome_buttons.items():
            if button.isChecked():
                return value
        return ""

    def _outcome_changed(self) -> None:
        reached = self.outcome() == "reached"
        self.confirmed.setEnabled(reached)
        if not reached:
            self.confirmed.setChecked(False)

    def _field_for(self, error: InvalidInputError) -> str | None:
        text = str(error)
        if "how the call went" in text:
            return "outcome"
        if "confirmed" in text and self.call.kind == CONFIRM_KIND:
            return "confirmed"
        return None

    def _save(self) -> Changes:
        return complete_call(
            self.clinic,
            self.call,
            self.outcome(),
            self.note.toPlainText(),
            confirmed=self.confirmed.isChecked(),
        )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
