"""Research export…: a manager picks a group, ticks fields and saves de-identified files.

Only what app/research/fields.py offers can be ticked: names, contact details, exact
dates and identifiers are not in the list at all, and the dialog says so. The export runs
off the GUI thread on its own connection (ui.ops.Op, with Cancel); the result says which
files were written, how many rows, and how many small groups were flagged, with a button
to open the folder. Receptionists cannot open it (`may_open`, and the core checks too).
"""

from __future__ import annotations

import html
import logging
import threading
from pathlib import Path

from PySide6.QtCore import QObject, QStandardPaths, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.clinic import Clinic
from app.errors import FrontdeskError, PermissionDeniedError
from app.growth.segments import count as segment_count
from app.growth.segments import get_segment, load_segments
from app.ops import CancelToken, OperationCancelledError, Progress
from app.research import small_cells
from app.research.deidentify import ResearchRequest, ResearchResult, export_research
from app.research.fields import CATALOGUE
from app.security.permissions import PERMISSIONS, allowed, require
from ui.ops import Op, report_unexpected
from ui.unlock import error_label, hint_label, show_error

log = logging.getLogger(__name__)

PERMISSION = "research.export"
EVERYONE = ""
# Off by default: a year of birth splits patients into groups of one far more often than
# a five-year age group does (see the small-cell report).
UNTICKED = frozenset({"birth_year"})
NEVER_INCLUDED = (
    "Names, addresses, phone numbers, email addresses, exact dates, record and insurance "
    "numbers, and notes or message texts are never included, for the patients or for "
    "anyone linked to them."
)


def may_open(clinic: Clinic) -> bool:
    """Whether the acting person may make a research export (managers, administrators)."""
    return allowed(clinic, PERMISSION)


def _everyone_count(clinic: Clinic) -> int:
    row = clinic.conn.execute("SELECT count(*) FROM patient WHERE merged_into IS NULL").fetchone()
    return int(row[0])


class _GroupCounter(QObject):
    """Counts a group's patients on a worker thread with its own connection (a saved
    group takes ~0.5 s at 100k); the newest request wins."""

    counted = Signal()

    def __init__(self, clinic: Clinic) -> None:
        super().__init__()
        self._clinic = clinic
        self._lock = threading.Lock()
        self._seq = 0
        self.result: tuple[int, str, int | None] | None = None  # (seq, group id, count)

    def request(self, segment_id: str) -> None:
        with self._lock:
            self._seq += 1
            seq = self._seq
        threading.Thread(target=self._count, args=(seq, segment_id), daemon=True).start()

    def _count(self, seq: int, segment_id: str) -> None:
        worker = self._clinic.fork()
        total: int | None
        try:
            if segment_id == EVERYONE:
                total = _everyone_count(worker)
            else:
                total = segment_count(worker, get_segment(worker, segment_id).terms)
        except Exception:  # shown as "could not count"; the group's terms never logged
            log.exception("counting a research group failed")
            total = None
        finally:
            worker.close()
        with self._lock:
            if seq == self._seq:
                self.result = (seq, segment_id, total)
        self.counted.emit()


class ResearchExportDialog(QDialog):
    """File ▸ Research export… (managers and administrators)."""

    def __init__(self, clinic: Clinic, parent: QWidget | None = None) -> None:
        require(clinic, PERMISSION)  # the menu hides it; this is the second lock
        super().__init__(parent)
        self.clinic = clinic
        self.result_value: ResearchResult | None = None
        self.op: Op[ResearchResult] | None = None
        self.setWindowTitle("Research export")
        self.setAccessibleName("Research export")
        self.setMinimumWidth(560)

        intro = hint_label(
            "A de-identified copy of the clinic's data for research, made under the HIPAA "
            "Safe Harbor rule. " + NEVER_INCLUDED
        )
        intro.setAccessibleName("What a research export holds")

        self.group = QComboBox()
        self.group.setAccessibleName("Patients to include")
        self.group.addItem("Everyone", EVERYONE)
        for segment in load_segments(clinic):
            self.group.addItem(segment.name, segment.id)
        self.group_count = QLabel("")
        self.group_count.setAccessibleName("Number of patients in the group")
        self._counter = _GroupCounter(clinic)
        self._counter.counted.connect(self._show_count)
        self.group.currentIndexChanged.connect(self._count_group)

        self.fields: dict[str, QCheckBox] = {}
        fields_box = QWidget()
        grid = QGridLayout(fields_box)
        grid.setColumnStretch(1, 1)
        row = 0
        for title in dict.fromkeys(f.group for f in CATALOGUE):
            heading = QLabel(f"<b>{title}</b>")
            heading.setAccessibleName(title)
            grid.addWidget(heading, row, 0, 1, 2)
            row += 1
            for field in (f for f in CATALOGUE if f.group == title):
                tick = QCheckBox(field.label)
                tick.setChecked(field.key not in UNTICKED)
                tick.setAccessibleName(field.label)
                tick.setAccessibleDescription(field.description)
                tick.setToolTip(field.description)
                words = hint_label(field.description)
                words.setAccessibleName(f"About {field.label}")
                words.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
                grid.addWidget(tick, row, 0, Qt.AlignmentFlag.AlignTop)
                grid.addWidget(words, row, 1)
                self.fields[field.key] = tick
                row += 1
        grid.setRowStretch(row, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(fields_box)
        scroll.setAccessibleName("Fields to include")
        scroll.setMinimumHeight(200)

        self.k = QSpinBox()
        self.k.setRange(small_cells.MIN_K, small_cells.MAX_K)
        self.k.setValue(small_cells.DEFAULT_K)
        self.k.setAccessibleName("Smallest group size")
        self.k.setToolTip("Groups with fewer patients than this are listed in the report.")
        self.suppress = QCheckBox("Hide the age, sex and ZIP code of small groups")
        self.suppress.setAccessibleName("Suppress small groups")

        self.folder = QLineEdit(self._default_folder())
        self.folder.setAccessibleName("Folder to save in")
        choose = QPushButton("Choose…")
        choose.setAccessibleName("Choose the folder")
        choose.clicked.connect(self._choose_folder)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(choose)

        group_row = QHBoxLayout()
        group_row.addWidget(self.group, 1)
        group_row.addWidget(self.group_count)
        form = QFormLayout()
        form.addRow("Patients:", group_row)
        k_row = QHBoxLayout()
        k_row.addWidget(self.k)
        k_row.addWidget(QLabel("patients (11 is usual)"))
        k_row.addStretch(1)
        form.addRow("Flag groups smaller than:", k_row)
        form.addRow("", self.suppress)
        form.addRow("Save in:", folder_row)

        self.error = error_label("Why the export could not be made")
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.summary.setAccessibleName("Export result")
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary.hide()

        self.open_folder = QPushButton("Open folder")
        self.open_folder.setAccessibleName("Open the export's folder")
        self.open_folder.clicked.connect(self._open_folder)
        self.open_folder.hide()
        self.export = QPushButton("Export")
        self.export.setAccessibleName("Make the research export")
        self.export.setDefault(True)
        self.export.clicked.connect(self.start)
        close = QPushButton("Close")
        close.setAccessibleName("Close")
        close.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_folder)
        buttons.addStretch(1)
        buttons.addWidget(self.export)
        buttons.addWidget(close)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.error)
        layout.addWidget(self.summary)
        layout.addLayout(buttons)
        self._count_group()

    # --- choices ----------------------------------------------------------------------

    @staticmethod
    def _default_folder() -> str:
        return QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)

    def _choose_folder(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Save the export in", self.folder.text())
        if chosen:
            self.folder.setText(chosen)

    def _count_group(self) -> None:
        self.group_count.setText("counting…")
        self._counter.request(str(self.group.currentData()))

    def _show_count(self) -> None:
        found = self._counter.result
        if found is None or found[1] != self.group.currentData():
            return
        total = found[2]
        self.group_count.setText(
            "could not count" if total is None else f"{total:,} patient{'s' * (total != 1)}"
        )

    def chosen_fields(self) -> tuple[str, ...]:
        return tuple(key for key, tick in self.fields.items() if tick.isChecked())

    def request(self) -> ResearchRequest:
        segment = str(self.group.currentData())
        return ResearchRequest(
            self.chosen_fields(),
            None if segment == EVERYONE else segment,
            self.k.value(),
            self.suppress.isChecked(),
        )

    # --- the export -------------------------------------------------------------------

    def start(self) -> None:
        """Check the plain mistakes here (inline), then export off the GUI thread."""
        self.error.hide()
        self.summary.hide()
        self.open_folder.hide()
        if not self.chosen_fields():
            show_error(self.error, "Tick at least one field to export.")
            return
        folder = Path(self.folder.text().strip())
        if not self.folder.text().strip() or not folder.is_dir():
            show_error(self.error, "Choose a folder that exists to save the export in.")
            return
        request = self.request()
        clinic = self.clinic

        def work(progress: Progress, cancel: CancelToken) -> ResearchResult:
            worker = clinic.fork()
            try:
                return export_research(worker, request, folder, progress=progress, cancel=cancel)
            finally:
                worker.close()

        self.export.setEnabled(False)
        self.op = (
            Op(self, "Making the research export", work)
            .success(self._finished)
            .failure(self._failed)
            .run_in_background()
        )

    def _finished(self, result: ResearchResult) -> None:
        self.export.setEnabled(True)
        self.result_value = result
        files = "".join(f"<li>{name}: {rows:,} rows</li>" for name, rows in result.rows.items())
        if result.small_groups:
            what = "hidden" if result.suppressed else "listed, not hidden"
            small = (
                f"{result.small_groups:,} small groups under {self.k.value()} were flagged "
                f"({what}): read small_cells.md before you share the files."
            )
        else:
            small = f"No group is smaller than {self.k.value()}."
        self.summary.setText(
            f"Saved “{html.escape(result.folder.name)}” ({result.patients:,} patients):"
            f"<ul>{files}<li>the data dictionary and the small-cell report</li></ul>{small}"
        )
        self.summary.show()
        self.open_folder.show()
        self.open_folder.setFocus()

    def _failed(self, exc: BaseException) -> None:
        self.export.setEnabled(True)
        if isinstance(exc, OperationCancelledError):
            show_error(self.error, "The export was cancelled; nothing was saved.")
        elif isinstance(exc, FrontdeskError):
            show_error(self.error, str(exc))
        else:
            report_unexpected(self, exc)

    def _open_folder(self) -> None:
        if self.result_value is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.result_value.folder)))


def refusal(clinic: Clinic) -> str:
    """What to say to someone who may not make an export (for a disabled menu's tip)."""
    try:
        require(clinic, PERMISSION)
    except PermissionDeniedError as exc:
        return str(exc)
    return PERMISSIONS[PERMISSION][0]
