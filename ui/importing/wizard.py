"""The import wizard: choose the EMR's files, map CSV columns, preview, run, read the summary.

Every step that may read a big file (planning, the preview, the import itself) runs
off the GUI thread on its own connection (`clinic.fork()`), through ui.ops.Op, so the
window never freezes on a 500 MB export. The import is one transaction in the core:
Cancel, or any failure, leaves nothing of it behind, which is what the run page says.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from PySide6.QtCore import QStandardPaths, Qt, QThreadPool
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from app.clinic import Clinic
from app.errors import FrontdeskError
from app.exports.csv_export import ExportError
from app.importers.session import (
    ImportFile,
    ImportPlan,
    ImportResult,
    PreviewRow,
    plan_import,
    preview,
    run_import,
    write_error_report,
)
from app.ops import CancelToken, OperationCancelledError, Progress
from app.store.changes import Changes
from ui.bus import DataBus
from ui.importing.mapping import MappingStep
from ui.ops import Op, show_error
from ui.task_tray import TaskTray
from ui.theme import ToneLabel, color, error_line

T = TypeVar("T")

CHOOSE, MAPPING, PREVIEW, RUN, SUMMARY = range(5)
PREVIEW_ROWS = 20
PROBLEMS_SHOWN = 200

# What an import may write: every view showing patients, visits or the directory
# refreshes from this one notice when the import finishes.
IMPORT_TABLES = frozenset(
    {
        "patient",
        "contact_point",
        "address",
        "patient_identifier",
        "appointment",
        "interaction",
        "condition",
        "allergy",
        "coverage",
        "organization",
        "provider",
        "location",
        "source_record",
        "merge_review",
        "import_batch",
    }
)
NORMAL_BUTTONS = (
    QWizard.WizardButton.BackButton,
    QWizard.WizardButton.NextButton,
    QWizard.WizardButton.FinishButton,
    QWizard.WizardButton.CancelButton,
)
COUNT_COLUMNS = ("created", "updated", "unchanged", "skipped", "failed")
COUNT_WORDS = ("New", "Updated", "Unchanged", "Skipped", "Failed")


def _bold(label: QLabel) -> QLabel:
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    return label


def _table(name: str, headings: Sequence[str]) -> QTableWidget:
    table = QTableWidget(0, len(headings))
    table.setAccessibleName(name)
    table.setHorizontalHeaderLabels(list(headings))
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setTabKeyNavigation(False)  # Tab leaves the table, as everywhere else
    table.setWordWrap(False)
    table.verticalHeader().hide()
    table.setAlternatingRowColors(True)
    return table


def _fit_rows(table: QTableWidget) -> None:
    """As tall as its rows (a handful of kinds), so the problems below get the room."""
    rows = sum(table.rowHeight(r) for r in range(table.rowCount()))
    table.setFixedHeight(
        table.horizontalHeader().sizeHint().height() + rows + 2 * table.frameWidth()
    )


def _cell(text: str) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setToolTip(text)
    return item


class ImportWizard(QWizard):
    """File ▸ Import from your EMR…"""

    def __init__(self, clinic: Clinic, bus: DataBus, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic = clinic
        self.bus = bus
        self.plan: ImportPlan | None = None
        self.mapping_files: list[ImportFile] = []  # the plan's files that needed choices
        self.import_result: ImportResult | None = None
        self.dry_run = False
        # Where background work runs; tests give their own pool to hold a run back.
        self.pool: QThreadPool | None = None
        self.setWindowTitle("Import from your EMR")
        self.setAccessibleName("Import from your EMR")
        self.setWizardStyle(QWizard.WizardStyle.ModernStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.setOption(QWizard.WizardOption.NoCancelButtonOnLastPage, True)
        self.setOption(QWizard.WizardOption.HaveHelpButton, False)
        self.setMinimumSize(760, 520)
        self.resize(1040, 680)
        self.choose_page = ChoosePage(self)
        self.mapping_page = MappingPage(self)
        self.preview_page = PreviewPage(self)
        self.run_page = RunPage(self)
        self.summary_page = SummaryPage(self)
        for page_id, page in (
            (CHOOSE, self.choose_page),
            (MAPPING, self.mapping_page),
            (PREVIEW, self.preview_page),
            (RUN, self.run_page),
            (SUMMARY, self.summary_page),
        ):
            self.setPage(page_id, page)
        self.setStartId(CHOOSE)
        for which, name in (
            (QWizard.WizardButton.BackButton, "Back"),
            (QWizard.WizardButton.NextButton, "Next"),
            (QWizard.WizardButton.FinishButton, "Close"),
            (QWizard.WizardButton.CancelButton, "Cancel"),
        ):
            self.button(which).setAccessibleName(name)
        self.setButtonText(QWizard.WizardButton.FinishButton, "&Close")
        self.setButtonText(QWizard.WizardButton.CancelButton, "Cancel")
        self.currentIdChanged.connect(self._page_changed)

    def show_buttons(self, *buttons: QWizard.WizardButton) -> None:
        """Only these buttons (in this order): Back vanishes while an import runs, and
        from the summary, where going back would show a finished run."""
        self.setButtonLayout([QWizard.WizardButton.Stretch, *buttons])

    def _page_changed(self, page_id: int) -> None:
        if page_id == SUMMARY:
            self.show_buttons(QWizard.WizardButton.FinishButton)
        elif page_id != RUN:
            self.show_buttons(*NORMAL_BUTTONS)

    def background(
        self,
        title: str,
        work: Callable[[Clinic, Progress, CancelToken], T],
        done: Callable[[T], None],
        failed: Callable[[BaseException], None],
    ) -> Op[T]:
        """Run `work` on a fork of the clinic off the GUI thread (the fork is closed after),
        with the Op's progress and Cancel (shown in the status bar's task tray)."""
        clinic = self.clinic

        def run(progress: Progress, cancel: CancelToken) -> T:
            worker = clinic.fork()
            try:
                return work(worker, progress, cancel)
            finally:
                worker.close()

        return Op(self, title, run).success(done).failure(failed).run_in_background(self.pool)

    def reject(self) -> None:
        """Cancel while the import runs stops it first; the wizard closes once it has."""
        if self.run_page.running:
            self.run_page.cancel(close_after=True)
            return
        super().reject()


# --- 1. choose ------------------------------------------------------------------------


class ChoosePage(QWizardPage):
    def __init__(self, wizard: ImportWizard) -> None:
        super().__init__()
        self.wiz = wizard
        self.paths: list[Path] = []
        self.left_out: set[Path] = set()  # files the person removed from a chosen folder
        self.planning = False
        self._generation = 0  # a newer plan replaces an older one still running
        self.setTitle("Choose the files your EMR exported")
        self.setSubTitle(
            "FHIR files (.json, .ndjson, or a .zip of them) and CSV files. Add single files "
            "or a whole folder, or drag them onto the list."
        )
        self.setAcceptDrops(True)
        self.list = QTreeWidget()
        self.list.setAccessibleName("Files to import")
        self.list.setHeaderLabels(["File", "What it is", "Problem"])
        self.list.setRootIsDecorated(False)
        self.list.setAlternatingRowColors(True)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        header = self.list.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        chars = self.fontMetrics().averageCharWidth()  # widths follow the text size
        header.resizeSection(0, chars * 36)
        header.resizeSection(1, chars * 44)  # "CSV: choose what each column holds" whole
        self.add_files_button = QPushButton("Add &files…")
        self.add_files_button.setAccessibleName("Add files")
        self.add_files_button.clicked.connect(self.choose_files)
        self.add_folder_button = QPushButton("Add a f&older…")
        self.add_folder_button.setAccessibleName("Add a folder")
        self.add_folder_button.clicked.connect(self.choose_folder)
        self.remove_button = QPushButton("&Remove")
        self.remove_button.setAccessibleName("Remove the chosen files from the list")
        self.remove_button.clicked.connect(self.remove_selected)
        self.status = QLabel("No files yet.")
        self.status.setAccessibleName("Files status")
        self.status.setWordWrap(True)
        self.error = error_line()
        self.error.setAccessibleName("Files error")
        self.error.setWordWrap(True)
        self.error.hide()
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_files_button)
        buttons.addWidget(self.add_folder_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.status)
        layout.addWidget(self.error)

    # --- adding ---------------------------------------------------------------------

    def _start_folder(self) -> str:
        if self.paths:
            last = self.paths[-1]
            return str(last if last.is_dir() else last.parent)
        return QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)

    def choose_files(self) -> None:
        names, _ = QFileDialog.getOpenFileNames(
            self,
            "Add files",
            self._start_folder(),
            "EMR exports (*.json *.ndjson *.jsonl *.zip *.csv *.tsv *.txt);;All files (*)",
        )
        self.add_paths([Path(n) for n in names])

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder", self._start_folder())
        if folder:
            self.add_paths([Path(folder)])

    def add_paths(self, paths: Sequence[Path]) -> None:
        """Add files or folders to the import, then look at them again."""
        added = False
        for path in paths:
            if path not in self.paths:
                self.paths.append(path)
                added = True
            self.left_out.discard(path)
        if added:
            self.replan()

    def remove_selected(self) -> None:
        rows = [self.list.indexOfTopLevelItem(item) for item in self.list.selectedItems()]
        plan = self.wiz.plan
        if plan is None or not rows:
            return
        gone = {plan.files[row].path for row in rows if 0 <= row < len(plan.files)}
        self.paths = [p for p in self.paths if p not in gone]
        self.left_out |= gone
        self.wiz.plan = ImportPlan(
            [f for f in plan.files if f.path not in gone],
            {p: v for p, v in plan.csv_profiles.items() if p not in gone},
            {p: v for p, v in plan.csv_date_formats.items() if p not in gone},
        )
        self.wiz.mapping_files = [f for f in self.wiz.mapping_files if f.path not in gone]
        self._show_plan()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt's name
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt's name
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.add_paths(paths)

    # --- planning -------------------------------------------------------------------

    def replan(self) -> None:
        self._generation += 1
        generation = self._generation
        self.planning = True
        self.status.setText("Looking at the files…")
        self.error.hide()
        self.completeChanged.emit()
        paths = list(self.paths)
        self.wiz.background(
            "Looking at the files",
            lambda clinic, progress, cancel: plan_import(
                clinic, paths, progress=progress, cancel=cancel
            ),
            lambda plan: self._planned(generation, plan),
            lambda exc: self._plan_failed(generation, exc),
        )

    def _planned(self, generation: int, plan: ImportPlan) -> None:
        if generation != self._generation:
            return
        self.planning = False
        plan.files = [f for f in plan.files if f.path not in self.left_out]
        self.wiz.plan = plan
        self.wiz.mapping_files = list(plan.needs_choices)
        self._show_plan()

    def _plan_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self.planning = False
        self.wiz.plan = None
        self._show_plan()
        if isinstance(exc, OperationCancelledError):
            self.error.setText("Stopped looking at the files; choose them again to go on.")
            self.error.show()
        elif isinstance(exc, FrontdeskError):
            self.error.setText(str(exc))
            self.error.show()
        else:
            show_error(self, "Import from your EMR", exc)

    def _show_plan(self) -> None:
        self.list.clear()
        plan = self.wiz.plan
        files = plan.files if plan is not None else []
        danger = color("danger")
        for item in files:
            row = QTreeWidgetItem([item.name, item.description, item.problem or ""])
            for column in range(3):
                row.setToolTip(column, row.text(column))
            if item.problem:
                row.setForeground(2, danger)
                row.setText(2, "Left out: " + item.problem)
            self.list.addTopLevelItem(row)
        usable = len(plan.usable) if plan is not None else 0
        refused = len(files) - usable
        if not files:
            self.status.setText("No files yet." if not self.paths else "No files found there.")
        else:
            words = f"{usable} file{'s' if usable != 1 else ''} to import"
            if refused:
                words += f"; {refused} left out (the reason is shown beside each)"
            mapping = len(self.wiz.mapping_files)
            if mapping:
                words += f". Next, choose what the columns of {mapping} CSV file"
                words += "s hold." if mapping != 1 else " hold."
            self.status.setText(words + ("" if mapping else "."))
        self.completeChanged.emit()

    # --- the wizard's questions ---------------------------------------------------------

    def isComplete(self) -> bool:  # noqa: N802 - Qt's name
        plan = self.wiz.plan
        return not self.planning and plan is not None and bool(plan.usable)

    def nextId(self) -> int:  # noqa: N802 - Qt's name
        return MAPPING if self.wiz.mapping_files else PREVIEW


# --- 2. mapping -----------------------------------------------------------------------


class MappingPage(QWizardPage):
    def __init__(self, wizard: ImportWizard) -> None:
        super().__init__()
        self.wiz = wizard
        self.setTitle("Choose what each column holds")
        self.setSubTitle(
            "Frontdesk does not recognise these CSV files. For each column, choose what it "
            "holds; leave the rest as “not imported”."
        )
        self.step = MappingStep()
        self.step.changed.connect(self.completeChanged)
        self._shown_for: ImportPlan | None = None
        layout = QVBoxLayout(self)
        layout.addWidget(self.step)

    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        if self._shown_for is not self.wiz.plan:  # keep the choices when coming back
            self._shown_for = self.wiz.plan
            self.step.load(self.wiz.mapping_files, self.wiz.clinic, self.wiz.bus.publish)

    def isComplete(self) -> bool:  # noqa: N802 - Qt's name
        return self.step.complete()

    def validatePage(self) -> bool:  # noqa: N802 - Qt's name
        plan = self.wiz.plan
        if plan is None:
            return False
        try:
            self.step.apply(plan)
        except FrontdeskError as exc:
            first = self.step.first_problem()
            if first is not None:
                first.problem_label.setText(str(exc))
            return False
        return True

    def nextId(self) -> int:  # noqa: N802 - Qt's name
        return PREVIEW


# --- 3. preview -----------------------------------------------------------------------


class PreviewPage(QWizardPage):
    def __init__(self, wizard: ImportWizard) -> None:
        super().__init__()
        self.wiz = wizard
        self.loading = False
        self._generation = 0
        self.rows: list[PreviewRow] = []
        self.setTitle("Check the first records")
        self.setSubTitle("This is how the first records will be stored.")
        self.table = _table("First records as they will be stored", ("What", "From", "Details"))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(1, self.fontMetrics().averageCharWidth() * 30)
        header.setStretchLastSection(True)
        self.status = QLabel()
        self.status.setAccessibleName("Preview status")
        self.status.setWordWrap(True)
        self.error = error_line()
        self.error.setAccessibleName("Preview error")
        self.error.setWordWrap(True)
        self.error.hide()
        self.dry_run_box = QCheckBox("&Try without saving (dry run)")
        self.dry_run_box.setAccessibleName("Try without saving (dry run)")
        self.dry_run_box.setToolTip(
            "Reads every file and shows the summary, but saves nothing in the clinic."
        )
        self.dry_run_box.toggled.connect(self._dry_run_toggled)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status)
        layout.addWidget(self.error)
        layout.addWidget(self.dry_run_box)
        self._dry_run_toggled(False)

    def _dry_run_toggled(self, checked: bool) -> None:
        self.wiz.dry_run = checked
        self.setButtonText(QWizard.WizardButton.NextButton, "&Try it" if checked else "&Import")

    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        plan = self.wiz.plan
        if plan is None:
            return
        self._generation += 1
        generation = self._generation
        self.loading = True
        self.table.setRowCount(0)
        self.error.hide()
        self.status.setText("Reading the first records…")
        self.completeChanged.emit()
        self.wiz.background(
            "Reading the first records",
            lambda clinic, _progress, _cancel: preview(clinic, plan, limit=PREVIEW_ROWS),
            lambda rows: self._shown(generation, rows),
            lambda exc: self._failed(generation, exc),
        )

    def _shown(self, generation: int, rows: list[PreviewRow]) -> None:
        if generation != self._generation:
            return
        self.loading = False
        self.rows = rows
        self.table.setRowCount(len(rows))
        for number, row in enumerate(rows):
            details = "  ·  ".join(f"{label}: {value}" for label, value in row.fields)
            self.table.setItem(number, 0, _cell(row.kind.capitalize()))
            self.table.setItem(number, 1, _cell(row.location or row.file))
            self.table.setItem(number, 2, _cell(details))
        plan = self.wiz.plan
        files = len(plan.usable) if plan is not None else 0
        self.status.setText(
            (f"The first {len(rows)} records" if rows else "No records could be read")
            + f" of {files} file{'s' if files != 1 else ''}. Problems in the rest are listed "
            "in the summary after the import; nothing is stored half-way."
        )
        self.completeChanged.emit()

    def _failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self.loading = False
        self.status.setText("")
        if isinstance(exc, FrontdeskError):
            self.error.setText(f"The preview could not be shown: {exc}")
            self.error.show()
        else:
            show_error(self, "Import from your EMR", exc)
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802 - Qt's name
        return not self.loading and self.wiz.plan is not None

    def nextId(self) -> int:  # noqa: N802 - Qt's name
        return RUN


# --- 4. run -----------------------------------------------------------------------------


class RunPage(QWizardPage):
    def __init__(self, wizard: ImportWizard) -> None:
        super().__init__()
        self.wiz = wizard
        self.op: Op[ImportResult] | None = None
        self.cancelled = False
        self._close_after = False
        self.setTitle("Importing")
        self.setSubTitle(
            "A typical export takes a few seconds; a very large one can take some minutes."
        )
        self.message = QLabel()
        self.message.setAccessibleName("Import status")
        self.message.setWordWrap(True)
        self.error = error_line()
        self.error.setAccessibleName("Import error")
        self.error.setWordWrap(True)
        self.error.hide()
        self.tray = TaskTray()
        self.tray.bar.setMaximumWidth(16_777_215)
        self.tray.bar.setTextVisible(True)
        self.tray.cancel_button.setText("Cancel the import")
        self.tray.cancel_button.setAccessibleName("Cancel the import")
        self.tray.cancel_button.clicked.connect(self._cancel_pressed)
        layout = QVBoxLayout(self)
        layout.addWidget(self.message)
        layout.addWidget(self.tray)
        layout.addWidget(self.error)
        layout.addStretch(1)

    @property
    def running(self) -> bool:
        return self.op is not None and not self.op.finished

    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        self.start()

    def start(self) -> None:
        plan = self.wiz.plan
        if plan is None or self.running:
            return
        dry_run = self.wiz.dry_run
        self.cancelled = False
        self.error.hide()
        self.setTitle("Trying the import (nothing is saved)" if dry_run else "Importing")
        self.message.setText(
            "Reading every file; nothing is saved in the clinic."
            if dry_run
            else "Importing. If you cancel, nothing of this import is saved."
        )
        clinic = self.wiz.clinic

        def work(progress: Progress, cancel: CancelToken) -> ImportResult:
            worker = clinic.fork()
            try:
                return run_import(worker, plan, dry_run=dry_run, progress=progress, cancel=cancel)
            finally:
                worker.close()

        self.op = (
            Op(self.wiz, "Importing", work)
            .in_tray(self.tray)
            .success(self._done)
            .failure(self._failed)
        )
        self.op.run_in_background(self.wiz.pool)
        self.tray.show()  # in the wizard the bar shows at once, not after a delay
        self.tray.cancel_button.setFocus()
        self.completeChanged.emit()
        self.wiz.show_buttons(QWizard.WizardButton.CancelButton)

    def _cancel_pressed(self) -> None:
        self.cancelled = True
        self.message.setText("Cancelling… nothing of this import will be saved.")

    def cancel(self, *, close_after: bool = False) -> None:
        """Stop the running import (its transaction is rolled back)."""
        self._close_after = self._close_after or close_after
        if self.op is not None and not self.op.finished:
            self.tray.cancel_button.click()

    def _done(self, result: ImportResult) -> None:
        self.wiz.import_result = result
        if not result.dry_run:
            self.wiz.bus.publish(Changes(IMPORT_TABLES))
        if self._close_after:
            self.wiz.done(QWizard.DialogCode.Accepted)
            return
        self.completeChanged.emit()
        self.wiz.next()

    def _failed(self, exc: BaseException) -> None:
        self.wiz.show_buttons(*NORMAL_BUTTONS)  # Back, to change something and try again
        self.completeChanged.emit()
        if isinstance(exc, OperationCancelledError):
            self.setTitle("Import cancelled")
            self.message.setText("Import cancelled; nothing was saved.")
        elif isinstance(exc, FrontdeskError):
            self.setTitle("The import stopped")
            self.message.setText("The import stopped; nothing was saved.")
            self.error.setText(str(exc))
            self.error.show()
        else:
            self.setTitle("The import stopped")
            self.message.setText("The import stopped; nothing was saved.")
            show_error(self, "Import from your EMR", exc)
        if self._close_after:
            self.wiz.done(QWizard.DialogCode.Rejected)

    def cleanupPage(self) -> None:  # noqa: N802 - Qt's name (Back)
        self.cancel()

    def isComplete(self) -> bool:  # noqa: N802 - Qt's name
        return False  # the summary follows by itself

    def nextId(self) -> int:  # noqa: N802 - Qt's name
        return SUMMARY


# --- 5. summary ---------------------------------------------------------------------------


class SummaryPage(QWizardPage):
    def __init__(self, wizard: ImportWizard) -> None:
        super().__init__()
        self.wiz = wizard
        self.setTitle("Import finished")
        self.setFinalPage(True)
        self.counts = _table("What was imported", ("What", *COUNT_WORDS))
        header = self.counts.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.skipped = ToneLabel(tone="muted")
        self.skipped.setAccessibleName("Record types not imported")
        self.skipped.setWordWrap(True)
        self.problems_label = _bold(QLabel())
        self.problems_label.setAccessibleName("Problems")
        self.problems = _table("Problems found", ("Where", "What", "Problem", "Left out"))
        problem_header = self.problems.horizontalHeader()
        problem_header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        problem_header.resizeSection(0, self.fontMetrics().averageCharWidth() * 36)
        problem_header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        problem_header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        problem_header.setSectionResizeMode(3, QHeaderView.ResizeMode.ResizeToContents)
        self.report_button = QPushButton("&Save the error report…")
        self.report_button.setAccessibleName("Save the error report")
        self.report_button.clicked.connect(self.save_error_report)
        self.report_status = QLabel()
        self.report_status.setAccessibleName("Error report status")
        self.report_status.setWordWrap(True)
        self.review_button = QPushButton()
        self.review_button.clicked.connect(self.open_review)
        self.again_button = QPushButton("&Import for real…")
        self.again_button.setAccessibleName("Import for real")
        self.again_button.setToolTip("Back to the preview, with the dry run turned off")
        self.again_button.clicked.connect(self.import_for_real)
        self.undo_hint = ToneLabel(tone="muted")
        self.undo_hint.setAccessibleName("How to undo")
        self.undo_hint.setWordWrap(True)
        problems_row = QHBoxLayout()
        problems_row.addWidget(self.problems_label, 1)
        problems_row.addWidget(self.report_button)
        actions = QHBoxLayout()
        actions.addWidget(self.undo_hint, 1)
        actions.addWidget(self.again_button)
        actions.addWidget(self.review_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.counts)
        layout.addWidget(self.skipped)
        layout.addLayout(problems_row)
        layout.addWidget(self.problems, 1)
        layout.addWidget(self.report_status)
        layout.addStretch(0)  # takes the room when there is no problem table to fill it
        layout.addLayout(actions)
        self._layout = layout
        self.review_dialog: QWidget | None = None

    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        result = self.wiz.import_result
        if result is None:
            return
        if result.dry_run:
            self.setTitle("Dry run finished: nothing was saved")
            self.setSubTitle("This is what the import would do.")
        else:
            self.setTitle("Import finished")
            took = f" in {result.seconds:,.0f} s" if result.seconds >= 1 else ""
            read = result.files - result.files_refused
            left = f", {result.files_refused} left out" if result.files_refused else ""
            self.setSubTitle(f"{read} file{'s' if read != 1 else ''} read{took}{left}.")
        kinds = [(k, c) for k, c in result.counts.items() if any(c.as_dict().values())]
        self.counts.setRowCount(len(kinds))
        for row, (kind, counts) in enumerate(kinds):
            self.counts.setItem(row, 0, _cell(kind.capitalize()))
            values = counts.as_dict()
            for column, name in enumerate(COUNT_COLUMNS, start=1):
                item = _cell(f"{values[name]:,}")
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.counts.setItem(row, column, item)
        _fit_rows(self.counts)
        lines = []
        if result.skipped_types:
            listed = ", ".join(
                f"{name} ({count:,})"
                for name, count in sorted(result.skipped_types.items(), key=lambda p: -p[1])
            )
            lines.append(f"Not imported (Frontdesk does not keep these): {listed}.")
        if result.skipped_files:
            files = "; ".join(f"{name} ({why})" for name, why in result.skipped_files.items())
            lines.append(f"Files not imported: {files}.")
        self.skipped.setText("\n".join(lines))
        self.skipped.setVisible(bool(lines))
        problems = result.problems
        total = len(problems) + result.problems_not_listed
        self.problems_label.setText(
            "No problems."
            if not total
            else f"{total:,} problem"
            + ("s" if total != 1 else "")
            + (f" (the first {PROBLEMS_SHOWN} are shown)" if total > PROBLEMS_SHOWN else "")
            + ":"
        )
        shown = problems[:PROBLEMS_SHOWN]
        self.problems.setRowCount(len(shown))
        for row, problem in enumerate(shown):
            self.problems.setItem(row, 0, _cell(problem.location))
            self.problems.setItem(row, 1, _cell(problem.kind))
            self.problems.setItem(row, 2, _cell(problem.reason))
            self.problems.setItem(row, 3, _cell("yes" if problem.dropped else "no"))
        self.problems.setVisible(bool(problems))
        self._layout.setStretch(self._layout.count() - 2, 0 if problems else 1)
        self.report_button.setVisible(bool(problems))
        self.report_status.setText("")
        reviews = 0 if result.dry_run else result.reviews
        self.review_button.setText(
            f"&Review {reviews} possible duplicate{'s' if reviews != 1 else ''}"
        )
        self.review_button.setAccessibleName(self.review_button.text().replace("&", ""))
        self.review_button.setVisible(reviews > 0)
        self.undo_hint.setText(
            ""
            if result.dry_run
            else "Changed your mind? File ▸ Past imports… can undo this import."
        )
        self.again_button.setVisible(result.dry_run)
        if reviews > 0:
            self.review_button.setFocus()

    def import_for_real(self) -> None:
        """Back to the preview with the dry run off, where Import runs it for real."""
        self.wiz.preview_page.dry_run_box.setChecked(False)
        while self.wiz.currentId() not in (PREVIEW, CHOOSE, -1):
            self.wiz.back()

    def save_error_report(self) -> None:
        folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
        name, _ = QFileDialog.getSaveFileName(
            self,
            "Save the error report",
            str(Path(folder) / "import-problems.csv"),
            "CSV file (*.csv)",
        )
        if name:
            self.save_error_report_to(Path(name))

    def save_error_report_to(self, path: Path) -> bool:
        result = self.wiz.import_result
        if result is None:
            return False
        try:
            write_error_report(result, path)
        except ExportError as exc:  # says why in plain words; nothing half-written remains
            self.report_status.setText(str(exc))
            return False
        self.report_status.setText(f"The error report was saved as {path}.")
        return True

    def open_review(self) -> None:
        from ui.importing.review import MergeReviewDialog

        dialog = MergeReviewDialog(self.wiz.clinic, self.wiz.bus, self.wiz)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.review_dialog = dialog
        dialog.open()
