"""Patients: every patient in one sortable, filterable table, and its export to CSV.

The table never holds the clinic: it loads 200 rows at a time as the person scrolls
(canFetchMore/fetchMore), each page a keyset seek in app/patients/listing.py, so it
stays quick at 100,000 patients. Typing in the filter waits 150 ms for a pause, then
asks for one page. The count ("12,345 patients") can take longer ("upcoming only" on a
big clinic probes every patient), so it runs on its own thread and connection and never
holds up the table; an older count that finishes late is dropped. A saved group of
patients ("Group") is computed the same way, off the GUI thread (≈0.5 s for a broad
group at 100k): the table stays empty with "Finding the group's patients…" until its
members arrive, then loads as usual from them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QStandardPaths,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QFont, QKeyEvent, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.clinic import Clinic
from app.errors import RecordNotFoundError
from app.exports.csv_export import export_patient_list
from app.growth.segments import load_segments
from app.ops import CancelToken, OperationCancelledError, Progress
from app.patients.listing import (
    PatientList,
    PatientListQuery,
    PatientRow,
    group_members,
    local_today,
    sources,
    tags_in_use,
)
from app.store.changes import Changes
from ui.bus import DataBus
from ui.ops import Op, show_error
from ui.permissions import gate, permitted
from ui.shortcuts import shortcut

log = logging.getLogger(__name__)
PAGE_SIZE = 200
DEBOUNCE_MS = 150
WATCHED_TABLES = ("patient", "contact_point", "appointment", "patient_tag")
# A group reads more of the record (consent, conditions, balance…): any change to a
# patient may move them in or out of it.
GROUP_TABLES = ("segment",)


@dataclass(frozen=True)
class Column:
    title: str
    sort: str | None  # the listing's sort key; None = not sortable


COLUMNS = (
    Column("Name", "name"),
    Column("Birth date", "birth_date"),
    Column("Age", "age"),
    Column("Phone", None),
    Column("Email", None),
    Column("Last visit", "last_visit"),
    Column("Next appointment", "next_appointment"),
    Column("Source", "source"),
    Column("Tags", None),
)


def _day(value: date | None) -> str:
    # "14 Mar 1975" reads the same to a US and a European desk, unlike 03/14 and 14/03.
    return value.strftime("%d %b %Y") if value else ""


def _birth(value: str | None) -> str:
    if value and len(value) == 10:
        return _day(date.fromisoformat(value))
    return value or ""  # a partial date ('1974', '1974-12') as recorded


def _cells(row: PatientRow) -> tuple[str, ...]:
    name = row.display_name + ("  (deceased)" if row.deceased else "")
    return (
        name,
        _birth(row.birth_date),
        "" if row.age is None else str(row.age),
        row.phone,
        row.email,
        _day(row.last_visit),
        _day(row.next_appointment),
        row.source_words,
        row.tags,
    )


class PatientTableModel(QAbstractTableModel):
    """The rows loaded so far of one PatientList; more arrive as the view asks."""

    sort_requested = Signal(str, bool)  # listing sort key, descending

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._list: PatientList | None = None
        self._rows: list[PatientRow] = []
        self._cells: list[tuple[str, ...]] = []
        self._done = True

    def clear(self) -> None:
        """No rows while the next list is on its way."""
        self.beginResetModel()
        self._list = None
        self._rows = []
        self._cells = []
        self._done = True
        self.endResetModel()

    def show_list(self, listing: PatientList) -> None:
        self.beginResetModel()
        self._list = listing
        self._rows = []
        self._cells = []
        self._done = False
        self.endResetModel()
        self.fetchMore(QModelIndex())

    def row(self, row: int) -> PatientRow:
        return self._rows[row]

    def patient_id(self, row: int) -> str | None:
        return self._rows[row].id if 0 <= row < len(self._rows) else None

    def row_of(self, patient_id: str) -> int | None:
        return next((i for i, r in enumerate(self._rows) if r.id == patient_id), None)

    # --- Qt's model interface ------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(COLUMNS)

    def canFetchMore(self, parent: QModelIndex | QPersistentModelIndex) -> bool:  # noqa: N802
        return not parent.isValid() and not self._done

    def fetchMore(self, parent: QModelIndex | QPersistentModelIndex) -> None:  # noqa: N802
        if parent.isValid() or self._done or self._list is None:
            return
        rows = self._list.page(len(self._rows), PAGE_SIZE)
        self._done = len(rows) < PAGE_SIZE
        if not rows:
            return
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
        self._rows.extend(rows)
        self._cells.extend(_cells(r) for r in rows)
        self.endInsertRows()

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            return self._cells[index.row()][index.column()]
        if role == Qt.ItemDataRole.UserRole:
            return self._rows[index.row()].id
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() == 2:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.FontRole and self._rows[index.row()].deceased:
            font = QFont()
            font.setItalic(True)
            return font
        return None

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = 0
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        column = COLUMNS[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.title
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"Sort by {column.title.lower()}" if column.sort else "Not sortable"
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if 0 <= column < len(COLUMNS) and COLUMNS[column].sort:
            key = COLUMNS[column].sort or "name"
            self.sort_requested.emit(key, order == Qt.SortOrder.DescendingOrder)


class _Counter(QObject):
    """Counts the list on a worker thread with its own connection; newest request wins."""

    counted = Signal()

    def __init__(self, clinic: Clinic) -> None:
        super().__init__()
        self._clinic = clinic
        self._lock = threading.Lock()
        self._seq = 0
        self.result: tuple[int, int | None] | None = None  # (seq, count or None on failure)

    def request(
        self, query: PatientListQuery, now: datetime, members: Sequence[str] | None = None
    ) -> int:
        with self._lock:
            self._seq += 1
            seq = self._seq
        args = (seq, query, now, members)
        threading.Thread(target=self._count, args=args, daemon=True).start()
        return seq

    @property
    def latest(self) -> int:
        with self._lock:
            return self._seq

    def _count(
        self, seq: int, query: PatientListQuery, now: datetime, members: Sequence[str] | None
    ) -> None:
        with self._lock:
            if seq != self._seq:
                return  # a newer filter was asked for before this one started
        worker = self._clinic.fork()
        try:
            total: int | None = PatientList(worker, query, now=now, members=members).count()
        except Exception:  # shown as "could not count"; never the filter text in the log
            log.exception("counting the patients list failed")
            total = None
        finally:
            worker.close()
        with self._lock:
            if self.result is None or seq >= self.result[0]:
                self.result = (seq, total)
        self.counted.emit()


class _GroupFinder(QObject):
    """Computes a group's members on a worker thread with its own connection; the
    newest request wins, like _Counter."""

    found = Signal()

    def __init__(self, clinic: Clinic) -> None:
        super().__init__()
        self._clinic = clinic
        self._lock = threading.Lock()
        self._seq = 0
        # (seq, members, or the plain words of why there are none)
        self.result: tuple[int, list[str] | str] | None = None

    def request(self, segment_id: str, today: date) -> int:
        with self._lock:
            self._seq += 1
            seq = self._seq
        threading.Thread(target=self._find, args=(seq, segment_id, today), daemon=True).start()
        return seq

    @property
    def latest(self) -> int:
        with self._lock:
            return self._seq

    def _find(self, seq: int, segment_id: str, today: date) -> None:
        with self._lock:
            if seq != self._seq:
                return
        worker = self._clinic.fork()
        found: list[str] | str
        try:
            found = group_members(worker, segment_id, today)
        except RecordNotFoundError as exc:
            found = str(exc)
        except Exception:  # never the group's terms in the log
            log.exception("finding a group's patients failed")
            found = "The patients of this group could not be found."
        finally:
            worker.close()
        with self._lock:
            if self.result is None or seq >= self.result[0]:
                self.result = (seq, found)
        self.found.emit()


class PatientsPage(QWidget):
    """Signals: `open_patient(id)` on Enter or double-click in the table."""

    open_patient = Signal(str)

    def __init__(self, clinic: Clinic, bus: DataBus, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic = clinic
        self.bus = bus
        self.query = PatientListQuery()
        self.listing: PatientList | None = None
        self.last_export: Op[int] | None = None
        self._stale = False
        self._count_shown = -1
        self._group_shown = 0
        self._group_wanted: tuple[PatientListQuery, datetime, str | None] | None = None

        title = QLabel("Patients")
        title.setAccessibleName("Patients heading")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setBold(True)
        title.setFont(font)

        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter by name, birth date, phone or email")
        self.filter.setAccessibleName("Filter patients")
        self.filter.setAccessibleDescription(
            "Type to narrow the list. Press Down to move into the table."
        )
        self.filter.setClearButtonEnabled(True)
        self.filter.setMinimumWidth(260)
        self.filter.textChanged.connect(self._typed)
        self.filter.installEventFilter(self)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self._apply_filter_text)

        self.source = QComboBox()
        self.source.setAccessibleName("Acquisition source")
        self.source.setToolTip("Show only patients who came to the clinic this way")
        self.source.currentIndexChanged.connect(self._options_changed)
        self.tag = QComboBox()
        self.tag.setAccessibleName("Tag")
        self.tag.setToolTip("Show only patients with this tag")
        self.tag.currentIndexChanged.connect(self._options_changed)
        self.group = QComboBox()
        self.group.setAccessibleName("Group of patients")
        self.group.setToolTip(
            "Show only the patients of a saved group (made on Campaigns, Groups of patients)"
        )
        self.group.currentIndexChanged.connect(self._options_changed)
        self.upcoming = QCheckBox("Upcoming appointment")
        self.upcoming.setAccessibleName("Only patients with an upcoming appointment")
        self.upcoming.toggled.connect(self._options_changed)
        self.deceased = QCheckBox("Include deceased")
        self.deceased.setAccessibleName("Include deceased patients")
        self.deceased.toggled.connect(self._options_changed)

        export_keys = shortcut("export")
        self.export_button = QPushButton("Export to CSV…")
        self.export_button.setAccessibleName("Export the list to a CSV file")
        self._export_tip = (
            f"Save the patients shown, in this order, as a spreadsheet file "
            f"({export_keys.sequence().toString()})"
        )
        gate(self.export_button, clinic, "data.export", self._export_tip)
        self.export_button.clicked.connect(self.choose_export_file)
        # Window-wide like Today's: Qt ignores the shortcuts of a hidden page, so the keys
        # act on whichever list is on screen, wherever the focus is (the finder, say).
        self.export_shortcut = QShortcut(export_keys.sequence(), self)
        self.export_shortcut.activated.connect(self.choose_export_file)
        self.refresh_shortcut = QShortcut(shortcut("refresh").sequence(), self)
        self.refresh_shortcut.activated.connect(self.refresh)

        self.count_label = QLabel("")
        self.count_label.setAccessibleName("Number of patients")
        self.status = QLabel("")
        self.status.setAccessibleName("Export status")
        self.status.setWordWrap(True)

        self.model = PatientTableModel(self)
        self.model.sort_requested.connect(self._sort_requested)
        self.table = QTableView()
        self.table.setAccessibleName("Patients")
        self.table.setAccessibleDescription(
            "Arrows move, Enter opens the patient, click a column heading to sort."
        )
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setTabKeyNavigation(False)  # Tab leaves the table, arrows move in it
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 10)
        header = self.table.horizontalHeader()
        header.setSectionsClickable(True)
        header.setSortIndicatorShown(True)
        header.setHighlightSections(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.setSortIndicator(0, Qt.SortOrder.AscendingOrder)
        header.sortIndicatorChanged.connect(self._keep_indicator_on_sortable)
        self.table.activated.connect(self._activated)

        filters = QHBoxLayout()
        filters.addWidget(self.filter, 3)
        filters.addWidget(self.source, 2)
        filters.addWidget(self.tag, 1)
        filters.addWidget(self.group, 2)
        filters.addWidget(self.upcoming)
        filters.addWidget(self.deceased)
        heading = QHBoxLayout()
        heading.addWidget(title)
        heading.addWidget(self.count_label, 1, Qt.AlignmentFlag.AlignBottom)
        heading.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.addLayout(heading)
        layout.addLayout(filters)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status)
        for first, second in (
            (self.filter, self.source),
            (self.source, self.tag),
            (self.tag, self.group),
            (self.group, self.upcoming),
            (self.upcoming, self.deceased),
            (self.deceased, self.table),
            (self.table, self.export_button),
        ):
            QWidget.setTabOrder(first, second)

        self._counter = _Counter(clinic)
        self._counter.counted.connect(self._show_count)
        self._finder = _GroupFinder(clinic)
        self._finder.found.connect(self._show_group)
        bus.changed.connect(self._data_changed)
        self._fill_choices()
        self.table.setSortingEnabled(True)  # asks the model to sort: the first load
        self._size_columns()

    # --- loading -------------------------------------------------------------------------

    def refresh(self) -> None:
        """Reload from the database, keeping the filter, the order and the selected row."""
        self._stale = False
        keep = self.current_patient_id()
        self._fill_choices()
        # A group removed meanwhile has left the box: the list follows the box.
        self.query = replace(self.query, segment_id=str(self.group.currentData() or ""))
        self._load(keep)

    def _load(self, keep: str | None = None) -> None:
        now = datetime.now(UTC)
        if self.query.segment_id:
            # The group's members come from a worker. A new filter waits on an empty
            # table; a reload of the same one keeps its rows until the fresh ones arrive.
            if self.listing is None or self.listing.query != self.query:
                self.listing = None
                self.model.clear()
            self.count_label.setText("Finding the group's patients…")
            self._group_wanted = (self.query, now, keep)
            self._group_shown = -1
            self._finder.request(self.query.segment_id, local_today(self.clinic, now))
            return
        self._group_wanted = None
        self._group_shown = 0  # a group still being found is no longer wanted
        self._show_listing(PatientList(self.clinic, self.query, now=now), now, None, keep)

    def _show_listing(
        self,
        listing: PatientList,
        now: datetime,
        members: Sequence[str] | None,
        keep: str | None,
    ) -> None:
        self.listing = listing
        self.model.show_list(listing)
        self.count_label.setText("Counting…")
        self._counter.request(listing.query, now, members)
        row = self.model.row_of(keep) if keep else None
        if row is not None:
            self.table.selectRow(row)

    def _show_group(self) -> None:
        result = self._finder.result
        wanted = self._group_wanted
        if result is None or result[0] != self._finder.latest or wanted is None:
            return  # an older group's members, or the list has moved on
        self._group_shown = result[0]
        query, now, keep = wanted
        self._group_wanted = None
        found = result[1]
        if isinstance(found, str):
            self.listing = None
            self.model.clear()
            self.count_label.setText("")
            self.status.setText(found)
            return
        self._show_listing(
            PatientList(self.clinic, query, now=now, members=found), now, found, keep
        )

    def _show_count(self) -> None:
        result = self._counter.result
        if result is None or result[0] != self._counter.latest:
            return  # an older filter's count: a newer one is on its way
        self._count_shown = result[0]
        total = result[1]
        if total is None:
            self.count_label.setText("The patients could not be counted.")
        else:
            self.count_label.setText(f"{total:,} patient" + ("" if total == 1 else "s"))

    @property
    def counting(self) -> bool:
        """True until the count for the newest filter is on screen (tests wait on it)."""
        if self._group_shown == -1:
            return True  # a group's members are on their way
        if self.listing is None:
            return False  # the group could not be shown; its reason is in the status
        return self._count_shown != self._counter.latest

    def _fill_choices(self) -> None:
        for combo, blank, values in (
            (self.source, "Any source", sources(self.clinic)),
            (self.tag, "Any tag", [(t, t) for t in tags_in_use(self.clinic)]),
        ):
            chosen = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            combo.addItem(blank, "")
            for value, words in values:
                combo.addItem(words, value)
            index = combo.findData(chosen) if chosen else 0
            combo.setCurrentIndex(max(index, 0))
            combo.blockSignals(False)
        self.tag.setEnabled(self.tag.count() > 1)
        self._fill_groups()

    def _fill_groups(self) -> None:
        """The saved groups by name; a group removed elsewhere falls back to everyone."""
        chosen = self.group.currentData()
        self.group.blockSignals(True)
        self.group.clear()
        self.group.addItem("All patients", "")
        for segment in load_segments(self.clinic):
            self.group.addItem(segment.name, segment.id)
        index = self.group.findData(chosen) if chosen else 0
        self.group.setCurrentIndex(max(index, 0))
        self.group.blockSignals(False)
        self.group.setEnabled(self.group.count() > 1)
        if chosen and index < 0:
            self.status.setText("That group of patients was removed; showing all patients.")

    def _size_columns(self) -> None:
        """Fit the first page's contents once (later pages keep the person's widths),
        within a cap so one long email cannot push the rest off screen."""
        self.table.resizeColumnsToContents()
        cap = self.table.fontMetrics().horizontalAdvance("x") * 34
        for section in range(len(COLUMNS)):
            width = self.table.columnWidth(section) + 12
            self.table.setColumnWidth(section, min(width, cap))

    # --- what the person changed --------------------------------------------------------

    def _typed(self, _text: str) -> None:
        self._debounce.start()

    def _apply_filter_text(self) -> None:
        self._set_query(replace(self.query, text=self.filter.text()))

    def _options_changed(self, *_args: object) -> None:
        self._set_query(
            replace(
                self.query,
                source=str(self.source.currentData() or ""),
                tag=str(self.tag.currentData() or ""),
                segment_id=str(self.group.currentData() or ""),
                upcoming_only=self.upcoming.isChecked(),
                include_deceased=self.deceased.isChecked(),
            )
        )

    def _sort_requested(self, key: str, descending: bool) -> None:
        self._set_query(replace(self.query, sort=key, descending=descending))

    def _keep_indicator_on_sortable(self, section: int, _order: Qt.SortOrder) -> None:
        if 0 <= section < len(COLUMNS) and COLUMNS[section].sort:
            return
        # Phone, email and tags have no order: the arrow stays where the rows' order is.
        column = next(i for i, c in enumerate(COLUMNS) if c.sort == self._sort_column_key())
        down = (
            Qt.SortOrder.DescendingOrder if self.query.descending else Qt.SortOrder.AscendingOrder
        )
        header = self.table.horizontalHeader()
        header.blockSignals(True)
        header.setSortIndicator(column, down)
        header.blockSignals(False)
        header.viewport().update()

    def _sort_column_key(self) -> str:
        return self.query.sort if any(c.sort == self.query.sort for c in COLUMNS) else "name"

    def _set_query(self, query: PatientListQuery) -> None:
        if query == self.query and self.listing is not None:
            return
        self.query = query
        self._load(self.current_patient_id())

    def _data_changed(self, changes: Changes) -> None:
        if changes.touches("app_user"):  # another person signed in: their role counts
            gate(self.export_button, self.clinic, "data.export", self._export_tip)
        grouped = bool(self.query.segment_id)
        if changes.touches(*GROUP_TABLES) and not grouped and not changes.touches(*WATCHED_TABLES):
            self._fill_groups()  # a new or renamed group: the list itself is unchanged
            return
        if not (
            changes.touches(*WATCHED_TABLES, *GROUP_TABLES) or (grouped and changes.patient_ids)
        ):
            return
        if self.isVisible():
            self.refresh()
        else:
            self._stale = True  # reload once, when shown again

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if self._stale:
            self.refresh()

    # --- opening a patient ---------------------------------------------------------------

    def current_patient_id(self) -> str | None:
        index = self.table.currentIndex()
        return self.model.patient_id(index.row()) if index.isValid() else None

    def _activated(self, index: QModelIndex) -> None:
        patient_id = self.model.patient_id(index.row())
        if patient_id:
            self.open_patient.emit(patient_id)

    def eventFilter(self, watched: QObject, event: Any) -> bool:  # noqa: N802 - Qt's name
        if (
            watched is self.filter
            and isinstance(event, QKeyEvent)
            and event.type() == QKeyEvent.Type.KeyPress
        ):
            if event.key() == Qt.Key.Key_Down and self.model.rowCount() > 0:
                if self._debounce.isActive():  # the rows must match what was typed
                    self._debounce.stop()
                    self._apply_filter_text()
                self.table.setFocus(Qt.FocusReason.OtherFocusReason)
                if not self.table.currentIndex().isValid():
                    self.table.selectRow(0)
                return True
            if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self._debounce.stop()
                self._apply_filter_text()
                if self.model.rowCount() == 1:  # one match: Enter opens it
                    self._activated(self.model.index(0, 0))
                return True
        return super().eventFilter(watched, event)

    # --- export --------------------------------------------------------------------------

    def default_export_path(self) -> Path:
        folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
        # No patient data in the name: only the day of the export.
        return Path(folder or Path.home()) / f"patients-{date.today().isoformat()}.csv"

    def choose_export_file(self) -> None:
        if not permitted(self, self.clinic, "data.export"):
            return
        chosen, _filter = QFileDialog.getSaveFileName(
            self, "Export the patients list", str(self.default_export_path()), "CSV files (*.csv)"
        )
        if chosen:
            path = Path(chosen)
            self.export_to(path if path.suffix else path.with_suffix(".csv"))

    def export_to(self, path: Path) -> Op[int] | None:
        """Write the list as shown (filter and order) to `path`, off the GUI thread;
        None when the person's role may not export."""
        if not permitted(self, self.clinic, "data.export"):
            return None
        query = self.query
        clinic = self.clinic

        def work(progress: Progress, cancel: CancelToken) -> int:
            worker = clinic.fork()
            try:
                return export_patient_list(worker, query, path, progress, cancel)
            finally:
                worker.close()

        def done(written: int) -> None:
            noun = "patient" if written == 1 else "patients"
            self.status.setText(f"Saved {written:,} {noun} to {path.name}.")

        def failed(exc: BaseException) -> None:
            if isinstance(exc, OperationCancelledError):
                self.status.setText("Export cancelled; no file was saved.")
            else:
                self.status.setText("The export did not finish; no file was saved.")
                show_error(self, "Export to CSV", exc)

        self.status.setText("Exporting…")
        op = Op(self, "Exporting the patients list", work).success(done).failure(failed)
        self.last_export = op
        return op.run_in_background()
