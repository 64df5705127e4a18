"""Audit log tab: who viewed, changed, exported or printed what, filtered, checked and saved.

Managers and administrators only (audit.view); a receptionist sees a notice. The table
loads a page of entries at a time as it is scrolled (fetchMore), newest first, so a log
of a million entries opens as fast as one of ten.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from PySide6.QtCore import (
    QAbstractTableModel,
    QDate,
    QModelIndex,
    QPersistentModelIndex,
    QStandardPaths,
    Qt,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateEdit,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.audit import actions
from app.audit.query import PAGE, AuditFilter, AuditRow, cursor_of, entries, export_csv, local_time
from app.audit.verify import VerifyReport, describe, record_check, verify_clinic
from app.clinic import Clinic
from app.errors import FrontdeskError, InvalidInputError
from app.ops import CancelToken, OperationCancelledError, Progress
from app.patients.search import PatientSearch
from app.security.permissions import allowed
from app.today import clinic_today
from ui.bus import DataBus
from ui.ops import Op, show_error
from ui.theme import error_line, hint_line

ModelIndex = QModelIndex | QPersistentModelIndex
COLUMNS = ("When", "Person", "Kind", "Patient", "What", "Workstation", "Entry")
DEFAULT_DAYS = 30


class AuditTableModel(QAbstractTableModel):
    """Entries matching the filters, newest first, fetched a page at a time."""

    def __init__(self, clinic: Clinic, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic = clinic
        self.filters = AuditFilter()
        self.rows: list[AuditRow] = []
        self._more = False
        self._zone = ZoneInfo(clinic.settings.timezone)

    def reset(self, filters: AuditFilter) -> None:
        self.beginResetModel()
        self.filters = filters
        self._zone = ZoneInfo(self.clinic.settings.timezone)
        self.rows = entries(self.clinic, filters, limit=PAGE)
        self._more = len(self.rows) == PAGE
        self.endResetModel()

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(COLUMNS)

    def canFetchMore(self, parent: ModelIndex) -> bool:  # noqa: N802 - Qt's name
        return not parent.isValid() and self._more

    def fetchMore(self, parent: ModelIndex) -> None:  # noqa: N802 - Qt's name
        if parent.isValid() or not self.rows:
            return
        more = entries(self.clinic, self.filters, after=cursor_of(self.rows[-1]), limit=PAGE)
        self._more = len(more) == PAGE
        if more:
            first = len(self.rows)
            self.beginInsertRows(QModelIndex(), first, first + len(more) - 1)
            self.rows.extend(more)
            self.endInsertRows()

    def headerData(  # noqa: N802 - Qt's name
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if index.isValid() and role == Qt.ItemDataRole.TextAlignmentRole and index.column() == 6:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if not index.isValid() or role not in (
            Qt.ItemDataRole.DisplayRole,
            Qt.ItemDataRole.ToolTipRole,
        ):
            return None
        return self.cell(self.rows[index.row()], index.column())

    def cell(self, row: AuditRow, column: int) -> str:
        if column == 0:
            return local_time(row.at, self._zone)
        if column == 1:
            return row.user_name or ("(unknown person)" if row.user_id else "(nobody signed in)")
        if column == 2:
            return row.kind
        if column == 3:
            if not row.patient_id:
                return ""
            return row.patient_name or "(no longer on file)"
        if column == 4:
            return row.summary
        if column == 5:
            return row.workstation
        return f"{row.seq:,}"


def _qdate(day: date) -> QDate:
    return QDate(day.year, day.month, day.day)


def _pydate(day: QDate) -> date:
    return date(day.year(), day.month(), day.day())


class AuditTab(QWidget):
    """The audit log for managers and administrators (tab contract: clinic, bus, parent)."""

    def __init__(self, clinic: Clinic, bus: DataBus, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic = clinic
        self.bus = bus
        self.patient_id = ""
        self.last_op: Op[Any] | None = None
        self.last_report: VerifyReport | None = None
        self.setAccessibleName("Audit log")
        layout = QVBoxLayout(self)
        self.notice = hint_line(
            "Only a manager or an administrator can see the audit log. Ask one of them if "
            "you need to know who opened or changed a record."
        )
        self.notice.setWordWrap(True)
        self.notice.setAccessibleName("Audit log not available")
        layout.addWidget(self.notice)
        self.body = QWidget()
        layout.addWidget(self.body, 1)
        self._build(self.body)
        self.refresh()

    # --- layout ----------------------------------------------------------------------------

    def _build(self, body: QWidget) -> None:
        intro = hint_line(
            "Every time a patient is opened, a change is saved, a list is saved as a file, "
            "letters are printed, or someone signs in, Frontdesk writes it here. Entries "
            "cannot be changed; Check the chain proves that none was."
        )
        intro.setWordWrap(True)
        intro.setAccessibleName("About the audit log")
        today = clinic_today(self.clinic)
        self.first = QDateEdit(_qdate(today.fromordinal(today.toordinal() - DEFAULT_DAYS)))
        self.last = QDateEdit(_qdate(today))
        for edit, name in ((self.first, "From day"), (self.last, "To day")):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.setAccessibleName(name)
            edit.dateChanged.connect(lambda _d: self.apply_filters())
        self.person = QComboBox()
        self.person.setAccessibleName("Person")
        self.kind = QComboBox()
        self.kind.setAccessibleName("Kind of entry")
        self.kind.addItem("Any kind", "")
        for code, words in actions.LABELS.items():
            self.kind.addItem(words, code)
        self.person.currentIndexChanged.connect(lambda _i: self.apply_filters())
        self.kind.currentIndexChanged.connect(lambda _i: self.apply_filters())
        self.patient = QLineEdit()
        self.patient.setPlaceholderText("Patient: type a name, press Enter")
        self.patient.setAccessibleName("Patient")
        self.patient.setClearButtonEnabled(True)
        self.patient.returnPressed.connect(self.find_patient)
        self.patient.textChanged.connect(self._patient_text_changed)
        filters = QHBoxLayout()
        for label, widget in (
            ("&From", self.first),
            ("&To", self.last),
            ("P&erson", self.person),
            ("&Kind", self.kind),
        ):
            caption = QLabel(label)
            caption.setBuddy(widget)
            caption.setMinimumWidth(caption.sizeHint().width())
            filters.addWidget(caption)
            filters.addWidget(widget)
        filters.addWidget(self.patient, 1)

        self.model = AuditTableModel(self.clinic, self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setAccessibleName("Audit entries")
        self.table.setAccessibleDescription("Newest first; scroll down for older entries.")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(False)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.count = hint_line()
        self.count.setAccessibleName("Entries shown")
        self.problem = error_line()
        self.problem.setWordWrap(True)
        self.problem.setAccessibleName("Problem")
        self.problem.hide()
        self.result = QLabel()
        self.result.setWordWrap(True)
        self.result.setAccessibleName("Result of the check")
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.result.hide()
        self.check_button = QPushButton("&Check the chain")
        self.check_button.setAccessibleName("Check that no entry was changed or removed")
        self.check_button.clicked.connect(self.check_chain)
        self.save_button = QPushButton("&Save as CSV…")
        self.save_button.setAccessibleName("Save the entries shown as a CSV file")
        self.save_button.clicked.connect(self.choose_csv_file)
        buttons = QHBoxLayout()
        buttons.addWidget(self.count, 1)
        buttons.addWidget(self.check_button)
        buttons.addWidget(self.save_button)

        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(intro)
        layout.addLayout(filters)
        layout.addWidget(self.problem)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.result)
        layout.addLayout(buttons)
        QWidget.setTabOrder(self.first, self.last)
        QWidget.setTabOrder(self.last, self.person)
        QWidget.setTabOrder(self.person, self.kind)
        QWidget.setTabOrder(self.kind, self.patient)
        QWidget.setTabOrder(self.patient, self.table)
        QWidget.setTabOrder(self.table, self.check_button)
        QWidget.setTabOrder(self.check_button, self.save_button)

    # --- loading ---------------------------------------------------------------------------

    def refresh(self) -> None:
        permitted = allowed(self.clinic, "audit.view")
        self.notice.setVisible(not permitted)
        self.body.setVisible(permitted)
        if not permitted:
            self.model.beginResetModel()
            self.model.rows = []
            self.model.endResetModel()
            return
        self._fill_people()
        self.apply_filters()

    def _fill_people(self) -> None:
        keep = self.person.currentData()
        self.person.blockSignals(True)
        self.person.clear()
        self.person.addItem("Anyone", "")
        for user_id, name in self.clinic.conn.execute(
            "SELECT id, name FROM app_user ORDER BY name"
        ).fetchall():
            self.person.addItem(str(name), str(user_id))
        index = self.person.findData(keep) if keep else 0
        self.person.setCurrentIndex(max(index, 0))
        self.person.blockSignals(False)

    def current_filters(self) -> AuditFilter:
        kind = str(self.kind.currentData() or "")
        return AuditFilter(
            first=_pydate(self.first.date()),
            last=_pydate(self.last.date()),
            user_id=str(self.person.currentData() or ""),
            actions=(kind,) if kind else (),
            patient_id=self.patient_id,
        )

    def apply_filters(self) -> None:
        if not allowed(self.clinic, "audit.view"):
            return
        try:
            filters = self.current_filters()
        except InvalidInputError as exc:
            self.problem.setText(str(exc))
            self.problem.show()
            return
        self.problem.hide()
        try:
            self.model.reset(filters)
        except FrontdeskError as exc:
            self.problem.setText(str(exc))
            self.problem.show()
            return
        self._update_count()
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)

    def _update_count(self) -> None:
        shown = len(self.model.rows)
        more = " (scroll for older entries)" if self.model.canFetchMore(QModelIndex()) else ""
        self.count.setText(f"{shown:,} entries shown{more}.")

    # --- the patient filter ----------------------------------------------------------------

    def set_patient(self, patient_id: str, name: str) -> None:
        """Show only this patient's entries (also for "the patient open now")."""
        self.patient_id = patient_id
        self.patient.blockSignals(True)
        self.patient.setText(name)
        self.patient.blockSignals(False)
        self.apply_filters()

    def _patient_text_changed(self, text: str) -> None:
        if not text and self.patient_id:
            self.patient_id = ""
            self.apply_filters()

    def find_patient(self) -> QMenu | None:
        """Enter in the patient box: the matches, to choose one from (keyboard: arrows)."""
        text = self.patient.text().strip()
        if not text:
            return None
        found = PatientSearch(self.clinic.conn, region=self.clinic.settings.region).search(
            text, limit=12
        )
        menu = QMenu(self)
        menu.setAccessibleName("Patients found")
        if not found:
            menu.addAction("No patient found").setEnabled(False)
        for result in found:
            words = result.display_name + (
                f", born {result.birth_date}" if result.birth_date else ""
            )
            action = menu.addAction(words)
            action.triggered.connect(
                lambda _c=False, r=result: self.set_patient(r.patient_id, r.display_name)
            )
        menu.popup(self.patient.mapToGlobal(self.patient.rect().bottomLeft()))
        self.patient_menu = menu
        return menu

    # --- check and save --------------------------------------------------------------------

    def check_chain(self) -> Op[VerifyReport]:
        """Verify the whole log on another connection, with progress and Cancel."""
        clinic = self.clinic

        def work(progress: Progress, cancel: CancelToken) -> VerifyReport:
            worker = clinic.fork()
            try:
                return verify_clinic(worker, progress=progress, cancel=cancel)
            finally:
                worker.close()

        def done(report: VerifyReport) -> None:
            self.last_report = report
            record_check(clinic, report)
            self._show_result(describe(report, ZoneInfo(clinic.settings.timezone)), report.intact)

        def failed(exc: BaseException) -> None:
            if isinstance(exc, OperationCancelledError):
                self._show_result("Check cancelled.", True)
            else:
                show_error(self, "Check the chain", exc)

        self.result.hide()
        op = Op(self, "Checking the audit log", work).success(done).failure(failed)
        self.last_op = op
        return op.run_in_background()

    def _show_result(self, words: str, good: bool) -> None:
        self.result.setText(words)
        self.result.setStyleSheet("" if good else "font-weight: 600;")
        self.result.setProperty("intact", good)
        self.result.show()

    def default_csv_path(self) -> Path:
        folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
        day = clinic_today(self.clinic).isoformat()
        return Path(folder or Path.home()) / f"audit-log-{day}.csv"

    def choose_csv_file(self) -> None:
        chosen, _filter = QFileDialog.getSaveFileName(
            self, "Save the audit log", str(self.default_csv_path()), "CSV files (*.csv)"
        )
        if chosen:
            path = Path(chosen)
            self.save_csv_to(path if path.suffix else path.with_suffix(".csv"))

    def save_csv_to(self, path: Path) -> Op[int] | None:
        try:
            filters = self.current_filters()
        except InvalidInputError as exc:
            self.problem.setText(str(exc))
            self.problem.show()
            return None
        clinic = self.clinic

        def work(progress: Progress, cancel: CancelToken) -> int:
            worker = clinic.fork()
            try:
                return export_csv(worker, filters, path, progress, cancel)
            finally:
                worker.close()

        def done(written: int) -> None:
            noun = "entry" if written == 1 else "entries"
            self._show_result(f"Saved {written:,} {noun} to {path.name}.", True)
            self.apply_filters()  # the export is itself an entry

        def failed(exc: BaseException) -> None:
            if isinstance(exc, OperationCancelledError):
                self._show_result("Saving cancelled; no file was saved.", True)
            else:
                show_error(self, "Save the audit log", exc)

        op = Op(self, "Saving the audit log", work).success(done).failure(failed)
        self.last_op = op
        return op.run_in_background()
