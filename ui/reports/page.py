"""Reports: pick a report on the left, a range of days and a provider on top; the chart
and the table of the same figures below, each savable (picture or CSV).

Reports run off the GUI thread on a forked clinic (ui/ops.Op: a progress dialog with
Cancel if one takes more than half a second). Changing a filter runs the report again;
a result that arrives after a newer request is dropped.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from PySide6.QtCore import QDate, Qt, QTimer
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.clinic import Clinic
from app.directory import providers
from app.errors import FrontdeskError, InvalidInputError
from app.ops import CancelToken, OperationCancelledError, Progress
from app.reports.catalogue import REPORTS, Report
from app.reports.figure import Figure, cell_text
from app.reports.filters import ReportFilters, check, default_filters
from app.store.changes import Changes
from app.today import clinic_today
from ui.bus import DataBus
from ui.ops import Op, show_error
from ui.permissions import gate, permitted
from ui.reports import export
from ui.reports.charts import ChartView
from ui.theme import error_line, hint_line

CANCEL_CHECK_STEPS = 10_000
RERUN_AFTER_MS = 400  # typing a date: wait until the person pauses
WATCHED_TABLES = (
    "appointment",
    "appointment_status",
    "outbox",
    "survey_response",
    "patient",
    "lead",
    "channel_spend",
    "reminder_rule",
    "provider",
)
ALL_PROVIDERS = "All providers"
NOT_BY_PROVIDER = "This report counts the whole clinic; the provider choice does not apply."


def _qdate(day: date) -> QDate:
    return QDate(day.year, day.month, day.day)


def _pydate(day: QDate) -> date:
    return date(day.year(), day.month(), day.day())


def run_report(
    clinic: Clinic, report: Report, filters: ReportFilters, cancel: CancelToken
) -> Figure:
    """The report on a connection of its own (this runs off the GUI thread)."""
    worker = clinic.fork()
    # Cancel stops the statement itself: SQLite asks this every few thousand steps.
    worker.conn.set_progress_handler(lambda: int(cancel.cancelled), CANCEL_CHECK_STEPS)
    try:
        figure = report.run(worker, filters)
    except Exception:
        cancel.raise_if_cancelled()  # the interrupted statement, said as a cancel
        raise
    finally:
        worker.close()
    cancel.raise_if_cancelled()
    return figure


class ReportsPage(QWidget):
    def __init__(
        self,
        clinic: Clinic,
        bus: DataBus,
        parent: QWidget | None = None,
        *,
        today: date | None = None,
    ) -> None:
        super().__init__(parent)
        self.clinic = clinic
        self.bus = bus
        self.figure: Figure | None = None
        self.last_run: Op[Figure] | None = None
        self._asked = 0  # the latest request; older results are dropped
        self._stale = True
        start = default_filters(today or clinic_today(clinic))

        self.reports = QListWidget()
        self.reports.setAccessibleName("Reports")
        self.reports.setAccessibleDescription("Choose a report; its chart and figures show right.")
        for item in REPORTS:
            entry = QListWidgetItem(item.title)
            entry.setData(Qt.ItemDataRole.UserRole, item.key)
            self.reports.addItem(entry)
        width = max(self.reports.fontMetrics().horizontalAdvance(r.title) for r in REPORTS)
        self.reports.setMaximumWidth(width + self.reports.fontMetrics().height() * 3)

        self.first = self._date_edit(start.first, "From (first day)")
        self.last = self._date_edit(start.last, "Until (last day)")
        self.provider = QComboBox()
        self.provider.setAccessibleName("Provider")
        self.provider.addItem(ALL_PROVIDERS, None)
        for p in providers(clinic):
            self.provider.addItem(p.display_name, p.id)
        filters = QHBoxLayout()
        gap = self.fontMetrics().height()
        for text, widget in (
            ("&From", self.first),
            ("&Until", self.last),
            ("&Provider", self.provider),
        ):
            label = QLabel(text)
            label.setBuddy(widget)
            # The style's frame of a date box reaches a pixel or two left of its box.
            label.setContentsMargins(0, 0, gap // 4, 0)
            filters.addWidget(label)
            filters.addWidget(widget)
            filters.addSpacing(gap)
        filters.addStretch(1)
        self.filter_error = error_line()
        self.filter_error.setAccessibleName("Problem with the range")
        self.filter_error.hide()

        self.title = QLabel()
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        self.title.setFont(font)
        self.title.setAccessibleName("Report title")
        self.note = hint_line()
        self.note.setWordWrap(True)
        self.note.setAccessibleName("What the report counts")
        self.chart = ChartView()
        self.table = QTableWidget()
        self.table.setAccessibleName("Figures")
        self.table.setAccessibleDescription("The report's figures, the same as the chart shows")
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        # Long column titles wrap rather than push the last columns out of sight.
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        header.setMinimumHeight(round(header.fontMetrics().height() * 2.6))
        self.save_picture = QPushButton("Save &picture…")
        self.save_picture.setAccessibleName("Save the chart as a picture")
        self.save_csv = QPushButton("Save as &CSV…")
        self.save_csv.setAccessibleName("Save the figures as a CSV file")
        self.status = QLabel()
        self.status.setAccessibleName("Report status")
        self.status.setWordWrap(True)
        self.error = error_line()
        self.error.setAccessibleName("Report problem")
        self.error.setWordWrap(True)
        self.error.hide()

        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.save_picture)
        buttons.addWidget(self.save_csv)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.chart)
        split.addWidget(self.table)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setChildrenCollapsible(False)
        right = QVBoxLayout()
        right.addWidget(self.title)
        right.addWidget(self.note)
        right.addWidget(self.error)
        right.addWidget(split, 1)
        right.addLayout(buttons)
        body = QHBoxLayout()
        body.addWidget(self.reports)
        body.addLayout(right, 1)
        outer = QVBoxLayout(self)
        outer.addLayout(filters)
        outer.addWidget(self.filter_error)
        outer.addLayout(body, 1)

        self.setTabOrder(self.first, self.last)
        self.setTabOrder(self.last, self.provider)
        self.setTabOrder(self.provider, self.reports)
        self.setTabOrder(self.reports, self.chart)
        self.setTabOrder(self.chart, self.table)
        self.setTabOrder(self.table, self.save_picture)
        self.setTabOrder(self.save_picture, self.save_csv)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(RERUN_AFTER_MS)
        self._timer.timeout.connect(self.refresh)
        self.first.dateChanged.connect(lambda _d: self._timer.start())
        self.last.dateChanged.connect(lambda _d: self._timer.start())
        self.provider.currentIndexChanged.connect(lambda _i: self.refresh())
        self.reports.currentRowChanged.connect(lambda _r: self.refresh())
        self.save_picture.clicked.connect(self.choose_picture_file)
        self.save_csv.clicked.connect(self.choose_csv_file)
        bus.changed.connect(self._data_changed)
        self.reports.setCurrentRow(0)
        self._show_figure(None)

    def _date_edit(self, day: date, name: str) -> QDateEdit:
        edit = QDateEdit(_qdate(day))
        edit.setCalendarPopup(True)
        edit.setDisplayFormat("d MMM yyyy")
        edit.setAccessibleName(name)
        return edit

    # --- what is asked -----------------------------------------------------------------

    @property
    def report(self) -> Report:
        row = max(0, self.reports.currentRow())
        return REPORTS[row]

    def select_report(self, key: str) -> None:
        self.reports.setCurrentRow(next(i for i, r in enumerate(REPORTS) if r.key == key))

    def filters(self) -> ReportFilters:
        provider = self.provider.currentData()
        return ReportFilters(
            _pydate(self.first.date()),
            _pydate(self.last.date()),
            None if provider is None else str(provider),
        )

    def set_filters(self, filters: ReportFilters) -> None:
        """Set the range and provider at once (one run, not three)."""
        for widget in (self.first, self.last, self.provider):
            widget.blockSignals(True)
        self.first.setDate(_qdate(filters.first))
        self.last.setDate(_qdate(filters.last))
        index = self.provider.findData(filters.provider_id) if filters.provider_id else 0
        self.provider.setCurrentIndex(max(0, index))
        for widget in (self.first, self.last, self.provider):
            widget.blockSignals(False)
        self.refresh()

    # --- running -----------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        if self._stale:
            self.refresh()

    def _data_changed(self, changes: Changes) -> None:
        if not changes.touches(*WATCHED_TABLES):
            return
        if self.isVisible():
            self.refresh()
        else:
            self._stale = True

    def refresh(self) -> Op[Figure] | None:
        """Run the chosen report for the chosen filters, off the GUI thread."""
        self._timer.stop()
        self._stale = False
        report = self.report
        filters = self.filters()
        try:
            check(filters)
        except InvalidInputError as exc:
            self.filter_error.setText(str(exc))
            self.filter_error.show()
            return None
        self.filter_error.hide()
        self._asked += 1
        asked = self._asked
        clinic = self.clinic

        def work(progress: Progress, cancel: CancelToken) -> Figure:
            progress(0, 0, f"Working out “{report.title}”")
            return run_report(clinic, report, filters, cancel)

        def done(figure: Figure) -> None:
            if asked == self._asked:
                self._show_figure(figure)

        def failed(exc: BaseException) -> None:
            if asked != self._asked:
                return
            if isinstance(exc, OperationCancelledError):
                self.status.setText("Cancelled; the figures shown are from before.")
            elif isinstance(exc, FrontdeskError):
                self._show_problem(str(exc))
            else:
                self._show_problem("The report could not be worked out.")
                show_error(self, report.title, exc)

        self.status.setText("Working out the figures…")
        op = Op(self, f"Working out “{report.title}”", work).success(done).failure(failed)
        self.last_run = op
        return op.run_in_background()

    # --- showing -----------------------------------------------------------------------

    def _show_problem(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()
        self.status.setText("")

    def _show_figure(self, figure: Figure | None) -> None:
        self.figure = figure
        self.error.hide()
        self.chart.set_figure(figure)
        report = self.report
        self.title.setText(figure.title if figure else report.title)
        note = figure.note if figure else ""
        if not report.by_provider and self.provider.currentData() is not None:
            note = f"{note} {NOT_BY_PROVIDER}".strip()
        self.note.setText(note)
        self.table.clear()
        self.table.setRowCount(0)
        has_rows = figure is not None and not figure.is_empty
        for button in (self.save_picture, self.save_csv):
            # Figures leave the app only in the hands of a role that may export.
            if gate(button, self.clinic, "data.export"):
                button.setEnabled(has_rows)
        if figure is None:
            self.table.setColumnCount(0)
            self.status.setText("")
            return
        self.table.setColumnCount(len(figure.columns))
        self.table.setHorizontalHeaderLabels(list(figure.columns))
        self.table.setRowCount(len(figure.rows))
        for r, row in enumerate(figure.rows):
            for c, value in enumerate(row):
                item = QTableWidgetItem(cell_text(value))
                if not isinstance(value, str):
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.table.setItem(r, c, item)
        self.status.setText("" if has_rows else figure.empty_reason)

    # --- saving ------------------------------------------------------------------------

    def choose_picture_file(self) -> None:
        if self.figure is None or not permitted(self, self.clinic, "data.export"):
            return
        path = export.ask_path(
            self,
            "Save the chart as a picture",
            export.suggested_path(self.figure, ".png"),
            "PNG pictures (*.png)",
        )
        if path is not None:
            self.save_picture_to(path)

    def save_picture_to(self, path: Path) -> bool:
        if not permitted(self, self.clinic, "data.export"):
            return False
        try:
            export.save_picture(
                self.chart,
                path,
                clinic=self.clinic,
                report=self.figure.title if self.figure else "",
            )
        except export.SaveError as exc:
            self._show_problem(str(exc))
            return False
        self.status.setText(f"Saved the chart as {path.name}.")
        return True

    def choose_csv_file(self) -> None:
        if self.figure is None or not permitted(self, self.clinic, "data.export"):
            return
        path = export.ask_path(
            self,
            "Save the figures as CSV",
            export.suggested_path(self.figure, ".csv"),
            "CSV files (*.csv)",
        )
        if path is not None:
            self.save_csv_to(path)

    def save_csv_to(self, path: Path) -> bool:
        if self.figure is None or not permitted(self, self.clinic, "data.export"):
            return False
        try:
            rows = export.save_csv(self.figure, path, clinic=self.clinic)
        except FrontdeskError as exc:
            self._show_problem(str(exc))
            return False
        self.status.setText(f"Saved {rows:,} rows of figures as {path.name}.")
        return True
