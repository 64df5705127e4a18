"""Letters: what waits to be printed, a preview of the batch, printing, and "it printed".

The receptionist's round: choose a kind on the left ("Letters — Recall (12)"), look
through the letters in the middle (all ticked; untick one to leave it for later), read
the pages on the right, print them or save one PDF, and say they printed, which marks
each message sent and puts the letter on the patient's timeline. A letter that cannot
print now (the address was removed since) stays listed with the reason and no tick.

The batch PDF lives in memory only; building it runs off the GUI thread (a progress
window with Cancel appears if it takes more than half a second).
"""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QKeyEvent, QShowEvent
from PySide6.QtPrintSupport import QPrintDialog, QPrinter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.audit import log as audit
from app.audit.actions import PRINT
from app.clinic import Clinic
from app.errors import FrontdeskError
from app.letters import queue
from app.letters.queue import BatchResult, PrintGroup, QueuedMessage
from app.ops import CancelToken, OperationCancelledError, Progress
from app.store.changes import Changes
from app.today import clinic_today
from ui.bus import DataBus
from ui.forms.base import PendingQuestion
from ui.letters import printing
from ui.letters.labels_dialog import LabelsDialog
from ui.letters.notes import NoteLines
from ui.letters.preview import PdfPreview
from ui.ops import Op, show_error
from ui.theme import ColorName, color, error_line, hint_line

EMPTY = "Nothing to print. Letters, postcards and statements from the reminders gather here."
NONE_TICKED = "Tick at least one to see the pages here."
WATCHED_TABLES = (
    "outbox",
    "outbox_event",
    "address",
    "patient",
    "reminder_rule",
    "setting",
    "charge",
    "payment",
)
NOUNS = {"letter": "letter", "postcard": "postcard", "statement": "statement"}
TO_PRINT_TAB = 0
PRINTED_TAB = 1
REBUILD_AFTER_MS = 400
PATIENT, RULE, DUE, NOTE = range(4)


def plural(number: int, print_as: str) -> str:
    noun = NOUNS.get(print_as, "letter")
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def default_file_name(print_as: str, day: str) -> str:
    """ "Frontdesk letters 2026-11-29.pdf": the kind and the day, never a patient's name."""
    return f"Frontdesk {NOUNS.get(print_as, 'letter')}s {day}.pdf"


def local_day(utc_iso: str | None, zone: ZoneInfo) -> str:
    if not utc_iso:
        return ""
    moment = datetime.fromisoformat(utc_iso.replace("Z", "+00:00")).astimezone(zone)
    return moment.strftime("%d %b %Y")


def local_moment(utc_iso: str | None, zone: ZoneInfo) -> str:
    if not utc_iso:
        return ""
    moment = datetime.fromisoformat(utc_iso.replace("Z", "+00:00")).astimezone(zone)
    return moment.strftime("%d %b %Y  %H:%M")


def write_batch(
    batch: queue.Batch, progress: Progress, cancel: CancelToken
) -> tuple[bytes, BatchResult]:
    """The worker's part: lay out the pages into memory (no database, no widgets)."""
    buffer = io.BytesIO()
    result = batch.write(buffer, progress=progress, cancel=cancel)
    return buffer.getvalue(), result


def _heading(text: str, scale: float = 1.0) -> QLabel:
    label = QLabel(text)
    label.setAccessibleName(text)
    font = label.font()
    font.setBold(True)
    font.setPointSizeF(font.pointSizeF() * scale)
    label.setFont(font)
    return label


class LetterList(QTreeWidget):
    """Letters with tick boxes; Space ticks, Enter opens the patient, Tab leaves."""

    open_current = Signal()

    def __init__(self, columns: tuple[str, ...], name: str, description: str) -> None:
        super().__init__()
        self.setColumnCount(len(columns))
        self.setHeaderLabels(list(columns))
        self.setAccessibleName(name)
        self.setAccessibleDescription(description)
        self.setRootIsDecorated(False)
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(True)
        self.setTabKeyNavigation(False)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.header()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.itemDoubleClicked.connect(lambda _item, _column: self.open_current.emit())

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentItem():
            self.open_current.emit()
            return
        item = self.currentItem()
        if event.key() == Qt.Key.Key_Space and item is not None:
            if item.flags() & Qt.ItemFlag.ItemIsUserCheckable:
                ticked = item.checkState(PATIENT) == Qt.CheckState.Checked
                item.setCheckState(
                    PATIENT, Qt.CheckState.Unchecked if ticked else Qt.CheckState.Checked
                )
            return
        super().keyPressEvent(event)

    def focusInEvent(self, event: object) -> None:  # noqa: N802 - Qt's name
        first = self.topLevelItem(0)
        if self.currentItem() is None and first is not None:
            self.setCurrentItem(first)
        super().focusInEvent(event)  # type: ignore[arg-type]

    def fit_columns(self) -> None:
        for column in range(self.columnCount() - 1):
            self.resizeColumnToContents(column)
            cap = max(self.viewport().width() * 50 // 100, 80)
            if self.columnWidth(column) > cap:
                self.setColumnWidth(column, cap)


def _roomy(view: QTreeWidget, text: str) -> QSize:
    """Rows a little taller than the text, so the tick boxes do not touch (the width: the
    name with its tick box, for fitting the column)."""
    metrics = view.fontMetrics()
    return QSize(metrics.horizontalAdvance(text) + metrics.height() * 2 + 8, metrics.height() + 10)


def _tone_item(item: QTreeWidgetItem, column: int, tone: ColorName) -> None:
    item.setForeground(column, color(tone))


class ToPrintView(QWidget):
    """Letters ▸ To print: groups, the letters of the chosen group, the batch preview."""

    open_patient = Signal(str)
    count_changed = Signal(int)

    def __init__(self, clinic: Clinic, bus: DataBus, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic = clinic
        self.bus = bus
        self.setAccessibleName("Letters to print")
        self.question = PendingQuestion()
        self.groups: list[PrintGroup] = []
        self.pdf: bytes | None = None
        self.result: BatchResult | None = None
        self.batch_ids: tuple[str, ...] = ()
        self.batch_kind = "letter"
        self.blank_backs = False
        self.build_op: Op[tuple[bytes, BatchResult]] | None = None
        self.print_op: Op[int] | None = None
        self.print_dialog: QPrintDialog | None = None
        self._printer: QPrinter | None = None
        self._rebuild_when_done = False
        self._filling = False
        self._stale = False
        self._group_width = 0
        self._keep_unticked: set[str] = set()  # across a refresh that changes the kind

        # left: the kinds
        self.group_list = QListWidget()
        self.group_list.setAccessibleName("Kinds to print")
        self.group_list.setAccessibleDescription(
            "Each kind prints as one batch. Arrows choose; Tab goes to its letters."
        )
        self.group_list.setSpacing(2)
        self.group_list.currentRowChanged.connect(self._group_chosen)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(_heading("To print"))
        left_layout.addWidget(self.group_list, 1)

        # middle: the letters of the kind
        self.letters = LetterList(
            ("Patient", "Rule", "Due", "Note"),
            "Letters in this batch",
            "Ticked ones print. Space ticks or unticks, Enter opens the patient.",
        )
        self.letters.itemChanged.connect(self._tick_changed)
        self.letters.currentItemChanged.connect(self._letter_chosen)
        self.letters.open_current.connect(self.open_current_patient)
        self.ticked_label = QLabel()
        self.ticked_label.setAccessibleName("How many are ticked")
        self.tick_all_button = QPushButton("Tick &all")
        self.tick_all_button.setAccessibleName("Tick all")
        self.tick_all_button.clicked.connect(lambda: self.tick_all(True))
        self.open_button = QPushButton("&Open patient")
        self.open_button.setAccessibleName("Open the patient")
        self.open_button.setToolTip("Open the patient of the chosen letter (Enter in the list)")
        self.open_button.clicked.connect(self.open_current_patient)
        ticks = QHBoxLayout()
        ticks.setContentsMargins(0, 0, 0, 0)
        ticks.addWidget(self.ticked_label, 1)
        ticks.addWidget(self.tick_all_button)
        ticks.addWidget(self.open_button)
        middle = QWidget()
        middle_layout = QVBoxLayout(middle)
        middle_layout.setContentsMargins(0, 0, 0, 0)
        self.group_title = _heading("")
        self.group_title.setAccessibleName("Chosen kind")
        middle_layout.addWidget(self.group_title)
        middle_layout.addWidget(self.letters, 1)
        self.letter_problem = error_line()
        self.letter_problem.setAccessibleName("Why the chosen letter cannot print")
        self.letter_problem.setWordWrap(True)
        self.letter_problem.hide()
        middle_layout.addWidget(self.letter_problem)
        middle_layout.addLayout(ticks)

        # right: the preview and what to do with the batch
        self.preview = PdfPreview()
        self.show_preview_button = QPushButton("&Show the pages")
        self.show_preview_button.setAccessibleName("Show the pages again")
        self.show_preview_button.clicked.connect(self.build_preview)
        self.show_preview_button.hide()
        self.print_button = QPushButton("P&rint…")
        self.print_button.setAccessibleName("Print the batch")
        self.print_button.setToolTip("Choose a printer and print every page shown")
        self.print_button.clicked.connect(self.print_batch)
        self.save_button = QPushButton("Save as P&DF…")
        self.save_button.setAccessibleName("Save the batch as a PDF file")
        self.save_button.setToolTip("Save every page shown as one PDF file, to print later")
        self.save_button.clicked.connect(self.save_as_pdf)
        self.labels_button = QPushButton("&Labels…")
        self.labels_button.setAccessibleName("Print mailing labels for the ticked letters")
        self.labels_button.setToolTip(
            "Address labels on Avery 5160 or L7163 sheets, for envelopes without a window"
        )
        self.labels_button.clicked.connect(self.open_labels)
        self.labels_dialog: LabelsDialog | None = None
        self.confirm_button = QPushButton("&Confirm printed…")
        self.confirm_button.setAccessibleName("Confirm the batch printed")
        self.confirm_button.setToolTip(
            "When the pages are out of the printer and look right: mark them sent"
        )
        self.confirm_button.clicked.connect(self.confirm_printed)
        actions = QHBoxLayout()
        actions.setContentsMargins(0, 0, 0, 0)
        actions.addWidget(self.print_button)
        actions.addWidget(self.save_button)
        actions.addWidget(self.labels_button)
        actions.addStretch(1)
        actions.addWidget(self.confirm_button)
        self.notes = NoteLines()
        self.problem, self.status = self.notes.problem, self.notes.status
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(_heading("Preview"))
        right_layout.addWidget(self.preview, 1)
        right_layout.addWidget(self.show_preview_button, 0, Qt.AlignmentFlag.AlignHCenter)
        right_layout.addWidget(self.problem)
        right_layout.addWidget(self.status)
        right_layout.addLayout(actions)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        for pane, stretch in ((left, 0), (middle, 3), (right, 4)):
            self.splitter.addWidget(pane)
            self.splitter.setStretchFactor(self.splitter.count() - 1, stretch)
        self._user_split = False
        self.splitter.splitterMoved.connect(self._split_moved)

        self.empty = hint_line(EMPTY)
        self.empty.setAccessibleName("Nothing to print")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.empty.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.addWidget(self.empty)
        layout.addWidget(self.splitter, 1)

        self._rebuild_timer = QTimer(self)
        self._rebuild_timer.setSingleShot(True)
        self._rebuild_timer.setInterval(REBUILD_AFTER_MS)
        self._rebuild_timer.timeout.connect(self.build_preview)
        self.preview.page_shown.connect(self._page_shown)

        for first, second in (
            (self.group_list, self.letters),
            (self.letters, self.tick_all_button),
            (self.tick_all_button, self.open_button),
            (self.open_button, self.preview.page),
            (self.preview.page, self.preview.previous_button),
            (self.preview.previous_button, self.preview.next_button),
            (self.preview.next_button, self.show_preview_button),
            (self.show_preview_button, self.print_button),
            (self.print_button, self.save_button),
            (self.save_button, self.labels_button),
            (self.labels_button, self.confirm_button),
        ):
            QWidget.setTabOrder(first, second)

        bus.changed.connect(self._on_changed)
        self.refresh()

    # --- loading -------------------------------------------------------------------------

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.clinic.settings.timezone)

    def current_group(self) -> PrintGroup | None:
        row = self.group_list.currentRow()
        return self.groups[row] if 0 <= row < len(self.groups) else None

    def refresh(self) -> None:
        """Reload the queue, staying on the chosen kind and keeping unticked ones unticked."""
        self._stale = False
        keep = self.current_group()
        unticked = self._unticked_ids()
        self.groups = queue.waiting(self.clinic)
        self._filling = True
        self.group_list.clear()
        widest = max(
            (self.group_list.fontMetrics().horizontalAdvance(g.title) for g in self.groups),
            default=0,
        )
        self._group_width = widest + 40  # the item's padding and a scroll bar
        for group in self.groups:
            item = QListWidgetItem(group.title)
            item.setData(Qt.ItemDataRole.UserRole, group.kind)
            item.setToolTip(f"{group.title}: {plural(len(group.printable), group.print_as)} ready")
            self.group_list.addItem(item)
        self._filling = False
        total = sum(len(g.messages) for g in self.groups)
        self.count_changed.emit(total)
        self.empty.setVisible(not self.groups)
        self.splitter.setVisible(bool(self.groups))
        if not self.groups:
            self._show_letters(None, set())
            return
        row = next((i for i, g in enumerate(self.groups) if keep and g.kind == keep.kind), 0)
        if self.group_list.currentRow() == row:
            self._show_letters(self.groups[row], unticked)
        else:
            self._keep_unticked = unticked
            self.group_list.setCurrentRow(row)

    def _group_chosen(self, row: int) -> None:
        if self._filling:
            return
        unticked, self._keep_unticked = self._keep_unticked, set()
        self._show_letters(self.groups[row] if 0 <= row < len(self.groups) else None, unticked)

    def _show_letters(self, group: PrintGroup | None, unticked: set[str]) -> None:
        self._filling = True
        current = self.current_letter_id()
        self.letters.clear()
        self.group_title.setText(group.title if group else "")
        chosen: QTreeWidgetItem | None = None
        for message in group.messages if group else ():
            item = self._letter_item(message, ticked=message.id not in unticked)
            self.letters.addTopLevelItem(item)
            if message.id == current:
                chosen = item
        # The note column only when something in the group cannot print.
        self.letters.setColumnHidden(
            NOTE, not any(not m.printable for m in group.messages) if group else True
        )
        self.letters.fit_columns()
        if chosen is None and self.letters.topLevelItemCount():
            chosen = self.letters.topLevelItem(0)
        if chosen is not None:
            self.letters.setCurrentItem(chosen)
        self._filling = False
        self._show_letter_problem()
        self._update_ticked()
        self.build_preview()

    def _letter_item(self, message: QueuedMessage, *, ticked: bool) -> QTreeWidgetItem:
        rule = message.rule_name or "(rule deleted)"
        note = message.problem or ""
        item = QTreeWidgetItem(
            [message.patient_name, rule, local_day(message.due_at, self.zone), note]
        )
        item.setData(PATIENT, Qt.ItemDataRole.UserRole, message.id)
        item.setSizeHint(PATIENT, _roomy(self.letters, message.patient_name))
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if message.printable:
            item.setFlags(flags | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(
                PATIENT, Qt.CheckState.Checked if ticked else Qt.CheckState.Unchecked
            )
        else:
            item.setFlags(flags)
            for column in (PATIENT, RULE, DUE):
                _tone_item(item, column, "muted")
            _tone_item(item, NOTE, "danger")
            font = QFont(item.font(NOTE))
            font.setBold(True)
            item.setFont(NOTE, font)
            item.setText(NOTE, "Cannot print")
            item.setData(NOTE, Qt.ItemDataRole.UserRole, note)
        for column in range(4):
            item.setToolTip(column, f"Cannot print: {note}" if note else item.text(column))
        item.setData(
            NOTE,
            Qt.ItemDataRole.AccessibleTextRole,
            f"Cannot print: {note}" if note else "Ready to print",
        )
        return item

    def _items(self) -> list[QTreeWidgetItem]:
        found = (self.letters.topLevelItem(i) for i in range(self.letters.topLevelItemCount()))
        return [item for item in found if item is not None]

    def ticked_ids(self) -> list[str]:
        return [
            str(item.data(PATIENT, Qt.ItemDataRole.UserRole))
            for item in self._items()
            if item.flags() & Qt.ItemFlag.ItemIsUserCheckable
            and item.checkState(PATIENT) == Qt.CheckState.Checked
        ]

    def _unticked_ids(self) -> set[str]:
        return {
            str(item.data(PATIENT, Qt.ItemDataRole.UserRole))
            for item in self._items()
            if item.flags() & Qt.ItemFlag.ItemIsUserCheckable
            and item.checkState(PATIENT) != Qt.CheckState.Checked
        }

    def tick(self, message_id: str, ticked: bool) -> None:
        for item in self._items():
            if item.data(PATIENT, Qt.ItemDataRole.UserRole) == message_id:
                item.setCheckState(
                    PATIENT, Qt.CheckState.Checked if ticked else Qt.CheckState.Unchecked
                )

    def tick_all(self, ticked: bool) -> None:
        self._filling = True
        for item in self._items():
            if item.flags() & Qt.ItemFlag.ItemIsUserCheckable:
                item.setCheckState(
                    PATIENT, Qt.CheckState.Checked if ticked else Qt.CheckState.Unchecked
                )
        self._filling = False
        self._tick_changed()

    def _tick_changed(self, *_args: object) -> None:
        if self._filling:
            return
        self._update_ticked()
        self.notes.clear()
        self._set_actions(False)  # the pages shown are no longer the batch
        self._rebuild_timer.start()

    def _update_ticked(self) -> None:
        group = self.current_group()
        if group is None:
            self.ticked_label.setText("")
            self._set_actions(False)
            return
        ready = len(group.printable)
        ticked = len(self.ticked_ids())
        blocked = len(group.messages) - ready
        words = f"{ticked:,} of {plural(ready, group.print_as)} ticked to print"
        if blocked:
            words += f"; {blocked:,} cannot print"
        self.ticked_label.setText(words)
        self.tick_all_button.setEnabled(ticked < ready)

    # --- the preview ---------------------------------------------------------------------

    def build_preview(self) -> None:
        """Lay out the ticked ones as one PDF, off the GUI thread; the pages show when done."""
        self._rebuild_timer.stop()
        self.show_preview_button.hide()
        if self.build_op is not None and not self.build_op.finished:
            self._rebuild_when_done = True  # one build at a time: the newest choice wins
            self.build_op.cancel.cancel()
            return
        group = self.current_group()
        ids = self.ticked_ids()
        self.pdf, self.result, self.batch_ids = None, None, ()
        self._set_actions(False)
        if group is None:
            self.preview.show_message("")
            return
        if not ids:
            self.preview.show_message(NONE_TICKED)
            return
        try:
            batch = queue.prepare(self.clinic, ids)
        except FrontdeskError as exc:
            self.preview.show_message("")
            self.notes.show_problem(str(exc))
            return
        self.preview.show_message(f"Laying out {plural(len(ids), group.print_as)}…")
        self.batch_kind = batch.print_as
        self.blank_backs = batch.settings.blank_backs
        self.build_op = (
            Op(
                self,
                f"Laying out {plural(len(ids), batch.print_as)}",
                lambda progress, cancel: write_batch(batch, progress, cancel),
            )
            .success(lambda made: self._built(batch, made))
            .failure(self._build_failed)
            .run_in_background()
        )

    def _built(self, batch: queue.Batch, made: tuple[bytes, BatchResult]) -> None:
        if self._rebuild_when_done:
            self._rebuild_when_done = False
            self.build_preview()
            return
        self.pdf, self.result = made
        self.batch_ids = batch.message_ids
        self.preview.set_pdf(self.pdf, index=self._first_page_of(self.current_letter_id()))
        self._set_actions(True)

    def _build_failed(self, exc: BaseException) -> None:
        if self._rebuild_when_done:
            self._rebuild_when_done = False
            self.build_preview()
            return
        if isinstance(exc, OperationCancelledError):
            self.preview.show_message("The preview was stopped.")
            self.show_preview_button.show()
            return
        self.preview.show_message("")
        if isinstance(exc, FrontdeskError):
            self.notes.show_problem(str(exc))
            return
        show_error(self, "Laying out the letters", exc)

    def _show_letter_problem(self) -> None:
        """The whole reason, under the list, for the chosen letter that cannot print."""
        item = self.letters.currentItem()
        reason = str(item.data(NOTE, Qt.ItemDataRole.UserRole) or "") if item else ""
        if reason and item is not None:
            text = f"{item.text(PATIENT)}: {reason}"
            self.letter_problem.setText(text)
            self.letter_problem.setAccessibleDescription(text)
        self.letter_problem.setVisible(bool(reason))

    def _first_page_of(self, message_id: str | None) -> int:
        if self.result is None or message_id is None:
            return 0
        return self.result.first_page_of.get(message_id, 1) - 1

    def _letter_chosen(self, *_args: object) -> None:
        self._show_letter_problem()
        message_id = self.current_letter_id()
        if (
            self.pdf is not None
            and self.result is not None
            and message_id in self.result.first_page_of
        ):
            self.preview.show_page(self._first_page_of(message_id))

    def _page_shown(self, index: int) -> None:
        """Follow the pages in the list: the letter on the page shown becomes current."""
        if self.result is None:
            return
        page = index + 1
        owner = None
        for message_id, first in sorted(self.result.first_page_of.items(), key=lambda p: p[1]):
            if first <= page:
                owner = message_id
        if owner is None or owner == self.current_letter_id():
            return
        for item in self._items():
            if item.data(PATIENT, Qt.ItemDataRole.UserRole) == owner:
                self.letters.blockSignals(True)
                self.letters.setCurrentItem(item)
                self.letters.blockSignals(False)
                self.letters.viewport().update()
                self._show_letter_problem()

    def _set_actions(self, ready: bool) -> None:
        for button in (
            self.print_button,
            self.save_button,
            self.labels_button,
            self.confirm_button,
        ):
            button.setEnabled(ready)

    # --- printing, saving, confirming ------------------------------------------------------

    def print_batch(self) -> QPrintDialog | None:
        """Choose a printer; the pages go to it when the dialog is accepted."""
        if self.pdf is None:
            return None
        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        printing.prepare_printer(
            printer, self.pdf, duplex=printing.duplex_for(self.batch_kind, self.blank_backs)
        )
        title = f"Print {plural(len(self.batch_ids), self.batch_kind)}"
        dialog = printing.open_print_dialog(self, printer, title, lambda: self.print_to(printer))
        dialog.finished.connect(lambda _result: setattr(self, "print_dialog", None))
        self._printer = printer
        self.print_dialog = dialog
        return dialog

    def print_to(self, printer: QPrinter) -> Op[int] | None:
        """Send the batch to `printer` (from the dialog, or a PDF printer in tests)."""
        data = self.pdf
        if data is None:
            return None
        self.notes.clear()
        kind = self.batch_kind
        printing.prepare_printer(printer, data, duplex=printing.duplex_for(kind, self.blank_backs))
        self._printer = printer  # Qt must not lose it while the worker paints on it
        count = len(self.batch_ids)
        self.print_op = printing.print_in_background(
            self,
            data,
            printer,
            what="Printing",
            notes=self.notes,
            done=lambda pages: self._printed(pages, count, kind),
        )
        return self.print_op

    def _printed(self, pages: int, count: int, kind: str) -> None:
        audit.record(self.clinic, PRINT, detail={"letters": count, "kind": kind, "pages": pages})
        self.notes.show_status(
            f"{plural(count, kind).capitalize()} ({pages:,} pages) sent to the printer. "
            "When they are out and look right, press Confirm printed."
        )
        self.confirm_button.setFocus(Qt.FocusReason.OtherFocusReason)

    def default_save_path(self) -> Path:
        day = clinic_today(self.clinic).isoformat()
        return printing.documents_folder() / default_file_name(self.batch_kind, day)

    def save_as_pdf(self) -> None:
        if self.pdf is None:
            return
        path = printing.ask_pdf_path(self, "Save as PDF", self.default_save_path())
        if path is not None:
            self.save_to(path)

    def save_to(self, path: Path) -> bool:
        """Write the batch PDF to `path`; a problem is shown under the preview."""
        if self.pdf is None:
            return False
        path, problem = printing.write_pdf_file(self.pdf, path)
        if problem:
            self.notes.show_problem(problem)
            return False
        detail = {"letters": len(self.batch_ids), "kind": self.batch_kind, "to": "pdf"}
        audit.record(self.clinic, PRINT, target=path.name, detail=detail)
        self.notes.show_status(
            f"Saved {plural(len(self.batch_ids), self.batch_kind)} as {path.name}. "
            "When they are printed, press Confirm printed."
        )
        return True

    def open_labels(self) -> LabelsDialog | None:
        """Mailing labels for the letters of the batch shown; nothing is marked printed."""
        if not self.batch_ids:
            return None
        group = self.current_group()
        names = {m.id: m.patient_name for m in group.messages} if group else {}
        dialog = LabelsDialog(self.clinic, self.batch_ids, names, self)
        dialog.finished.connect(lambda _result: setattr(self, "labels_dialog", None))
        self.labels_dialog = dialog
        dialog.open()
        return dialog

    def confirm_printed(self) -> QMessageBox | None:
        """Ask whether every page came out right; Yes marks the batch sent."""
        if self.pdf is None or not self.batch_ids:
            return None
        ids = self.batch_ids
        words = plural(len(ids), self.batch_kind)
        return self.question.ask(
            self,
            f"Did all {words} print correctly?",
            "Each will be marked as sent and shown on the patient's timeline. If some did "
            "not come out right, answer Not yet and print them again first.",
            yes="All printed",
            no="Not yet",
            then=lambda: self.mark_printed(ids),
        )

    def mark_printed(self, ids: tuple[str, ...]) -> None:
        try:
            changes = queue.mark_printed(self.clinic, ids)
        except FrontdeskError as exc:
            self.notes.show_problem(str(exc))
            return
        kind = self.batch_kind
        self.bus.publish(changes)
        if not self.isVisible():
            self.refresh()
        self.notes.show_status(f"{plural(len(ids), kind).capitalize()} marked as sent.")

    # --- the patient ---------------------------------------------------------------------

    def current_letter_id(self) -> str | None:
        item = self.letters.currentItem()
        return str(item.data(PATIENT, Qt.ItemDataRole.UserRole)) if item else None

    def open_current_patient(self) -> None:
        message_id = self.current_letter_id()
        group = self.current_group()
        if message_id is None or group is None:
            return
        for message in group.messages:
            if message.id == message_id:
                self.open_patient.emit(message.patient_id)

    # --- notes ---------------------------------------------------------------------------

    # --- following the clinic --------------------------------------------------------------

    def _on_changed(self, changes: Changes) -> None:
        if not changes.touches(*WATCHED_TABLES):
            return
        if self.isVisible():
            self.refresh()
        else:
            self._stale = True

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        if self._stale:
            self.refresh()
        super().showEvent(event)

    def resizeEvent(self, event: object) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)  # type: ignore[arg-type]
        if not self._user_split:
            total = self.splitter.width()
            left = min(max(self._group_width, total * 15 // 100, 150), total // 3)
            middle = (total - left) // 2
            self.splitter.setSizes([left, middle, total - left - middle])
        self.letters.fit_columns()

    def _split_moved(self, _position: int, _index: int) -> None:
        self._user_split = True


class PrintedView(QWidget):
    """Letters ▸ Printed: the letters confirmed printed, newest first, to print one again."""

    open_patient = Signal(str)

    def __init__(self, clinic: Clinic, bus: DataBus, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic = clinic
        self.bus = bus
        self.setAccessibleName("Printed letters")
        self.rows: list[QueuedMessage] = []
        self.print_dialog: QPrintDialog | None = None
        self._printer: QPrinter | None = None
        self._stale = False
        intro = hint_line(
            "Letters marked printed, newest first. Print one again if it was lost in the "
            "post or spoiled in the printer; it goes to the address on file now, and its "
            "history says it was printed again."
        )
        intro.setWordWrap(True)
        intro.setAccessibleName("About printed letters")
        self.list = LetterList(
            ("Patient", "Rule", "Printed", "Prints as"),
            "Printed letters",
            "Newest first. Enter opens the patient.",
        )
        self.list.open_current.connect(self.open_current_patient)
        self.list.currentItemChanged.connect(lambda *_a: self._update_buttons())
        self.reprint_button = QPushButton("Print &again…")
        self.reprint_button.setAccessibleName("Print this letter again")
        self.reprint_button.clicked.connect(self.reprint_current)
        self.open_button = QPushButton("&Open patient")
        self.open_button.setAccessibleName("Open the patient")
        self.open_button.clicked.connect(self.open_current_patient)
        self.notes = NoteLines()
        self.problem, self.status = self.notes.problem, self.notes.status
        self.empty = hint_line("No letters printed yet.")
        self.empty.setAccessibleName("No printed letters")
        buttons = QHBoxLayout()
        buttons.addWidget(self.reprint_button)
        buttons.addWidget(self.open_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.addWidget(intro)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.empty)
        layout.addWidget(self.problem)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        QWidget.setTabOrder(self.list, self.reprint_button)
        QWidget.setTabOrder(self.reprint_button, self.open_button)
        bus.changed.connect(self._on_changed)
        self.refresh()

    def refresh(self) -> None:
        self._stale = False
        zone = ZoneInfo(self.clinic.settings.timezone)
        keep = self.current_id()
        self.rows = queue.printed(self.clinic)
        self.list.clear()
        chosen = None
        for message in self.rows:
            item = QTreeWidgetItem(
                [
                    message.patient_name,
                    message.rule_name or "(rule deleted)",
                    local_moment(message.sent_at, zone),
                    queue.PRINT_AS_LABELS[message.print_as][:-1],
                ]
            )
            item.setData(PATIENT, Qt.ItemDataRole.UserRole, message.id)
            item.setSizeHint(PATIENT, _roomy(self.list, message.patient_name))
            for column in range(4):
                item.setToolTip(column, item.text(column))
            self.list.addTopLevelItem(item)
            if message.id == keep:
                chosen = item
        self.list.fit_columns()
        if chosen is None and self.rows:
            chosen = self.list.topLevelItem(0)
        if chosen is not None:
            self.list.setCurrentItem(chosen)
        self.list.setVisible(bool(self.rows))
        self.empty.setVisible(not self.rows)
        self._update_buttons()

    def current_id(self) -> str | None:
        item = self.list.currentItem()
        return str(item.data(PATIENT, Qt.ItemDataRole.UserRole)) if item else None

    def current(self) -> QueuedMessage | None:
        wanted = self.current_id()
        return next((m for m in self.rows if m.id == wanted), None)

    def _update_buttons(self) -> None:
        chosen = self.current() is not None
        self.reprint_button.setEnabled(chosen)
        self.open_button.setEnabled(chosen)

    def open_current_patient(self) -> None:
        message = self.current()
        if message is not None:
            self.open_patient.emit(message.patient_id)

    def reprint_current(self) -> QPrintDialog | None:
        """Choose a printer; the letter is laid out, printed and logged once accepted."""
        message = self.current()
        if message is None:
            return None
        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        title = "Print the letter again"
        dialog = printing.open_print_dialog(
            self, printer, title, lambda: self.reprint_to(message.id, printer)
        )
        dialog.setAccessibleName(title)
        dialog.finished.connect(lambda _result: setattr(self, "print_dialog", None))
        self._printer = printer
        self.print_dialog = dialog
        return dialog

    def reprint_to(self, message_id: str, printer: QPrinter) -> bool:
        """One letter, short enough to print at once on this thread."""
        self.notes.clear()
        buffer = io.BytesIO()
        try:
            result = queue.reprint(self.clinic, message_id, buffer)
            data = buffer.getvalue()
            printing.prepare_printer(printer, data, duplex=QPrinter.DuplexMode.DuplexNone)
            printing.print_pdf(data, printer)
        except (FrontdeskError, OSError) as exc:
            self.notes.show_problem(str(exc))
            return False
        patient = next((m.patient_id for m in self.rows if m.id == message_id), "")
        detail = {"letters": 1, "again": True, "pages": result.pages}
        audit.record(self.clinic, PRINT, patient_id=patient, target=message_id, detail=detail)
        self.bus.publish(result.changes)
        self.notes.show_status(f"Sent to the printer again ({result.pages:,} pages).")
        return True

    def _on_changed(self, changes: Changes) -> None:
        if not changes.touches("outbox", "patient", "reminder_rule"):
            return
        if self.isVisible():
            self.refresh()
        else:
            self._stale = True

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        if self._stale:
            self.refresh()
        super().showEvent(event)


def to_print_title(count: int) -> str:
    return f"To print ({count:,})" if count else "To print"


class LettersPage(QWidget):
    """The Letters area of the main window (page contract: clinic, bus, parent; refresh())."""

    open_patient = Signal(str)

    def __init__(self, clinic: Clinic, bus: DataBus, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic = clinic
        self.bus = bus
        self.setAccessibleName("Letters")
        title = _heading("Letters", 1.4)
        title.setAccessibleName("Letters heading")
        self.to_print = ToPrintView(clinic, bus)
        self.printed = PrintedView(clinic, bus)
        self.to_print.open_patient.connect(self.open_patient)
        self.printed.open_patient.connect(self.open_patient)
        self.tabs = QTabWidget()
        self.tabs.setAccessibleName("To print and printed")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.to_print, "To print")
        self.tabs.setTabToolTip(TO_PRINT_TAB, "Letters, postcards and statements waiting")
        self.tabs.addTab(self.printed, "Printed")
        self.tabs.setTabToolTip(PRINTED_TAB, "Letters already printed; print one again")
        self.to_print.count_changed.connect(
            lambda n: self.tabs.setTabText(TO_PRINT_TAB, to_print_title(n))
        )
        self.tabs.setTabText(TO_PRINT_TAB, to_print_title(queue.count_waiting(clinic)))
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(self.tabs, 1)

    def refresh(self) -> None:
        self.to_print.refresh()
        self.printed.refresh()
