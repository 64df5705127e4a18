"""Mailing labels for the ticked letters: the sheet, where to start on it, a preview, and
Print… or Save as PDF….

Label sheets are dear, so a batch of twelve should not waste the other eighteen labels:
the desk says which label is the first free one and a small picture of the sheet shows
which are skipped and which this batch uses. Printing labels changes nothing in the
clinic: the letters are still confirmed printed in the Letters area.

The addresses are read once, when the dialog opens; the pages are laid out again at once
(in memory, no temp file) whenever the sheet, the start or the outlines change.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path

from PySide6.QtCore import QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QResizeEvent,
    QShowEvent,
)
from PySide6.QtPrintSupport import QPrintDialog, QPrinter
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.audit import log as audit
from app.audit.actions import PRINT
from app.clinic import Clinic
from app.errors import FrontdeskError
from app.letters.label_batch import (
    LabelAddresses,
    LabelSheetResult,
    default_sheet,
    label_addresses,
    write_label_sheet,
)
from app.letters.labels import SHEETS, LabelSheet
from app.today import clinic_today
from ui.letters import printing
from ui.letters.notes import NoteLines
from ui.letters.preview import PdfPreview
from ui.ops import Op
from ui.theme import ToneLabel, error_line, hint_line

SHEET_CHOICES = (
    ("5160", "Avery 5160 — 30 labels, Letter"),
    ("l7163", "Avery L7163 — 14 labels, A4"),
)
LAY_OUT_AFTER_MS = 150


def default_file_name(day: str) -> str:
    """ "Frontdesk labels 2026-11-29.pdf": the day only, never a patient's name."""
    return f"Frontdesk labels {day}.pdf"


def labels_words(count: int) -> str:
    return f"{count:,} label{'' if count == 1 else 's'}"


def sheets_words(count: int) -> str:
    return f"{count:,} sheet{'' if count == 1 else 's'}"


def letters_words(count: int) -> str:
    return f"{count:,} letter{'' if count == 1 else 's'}"


def span(first: int, last: int) -> str:
    return f"label {first}" if first == last else f"labels {first} to {last}"


class SheetPicture(QWidget):
    """The sheet in miniature: used labels (skipped) grey and crossed, this batch's labels
    in the highlight colour, free ones white. Clicking a label starts there."""

    chosen = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Picture of the label sheet")
        self.sheet: LabelSheet = SHEETS["5160"]
        self.start = 1
        self.count = 0
        self.setMinimumSize(150, 190)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Click the first free label to start there")

    def show_sheet(self, sheet: LabelSheet, start: int, count: int) -> None:
        self.sheet, self.start, self.count = sheet, start, count
        self.setAccessibleDescription(self.describe())
        self.update()

    def describe(self) -> str:
        """The picture in words, for a screen reader and for tests."""
        per_sheet = self.sheet.per_sheet
        last = min(self.start + self.count - 1, per_sheet)
        parts = []
        if self.start > 1:
            parts.append(f"{span(1, self.start - 1).capitalize()} already used, skipped")
        if self.count:
            parts.append(f"this batch prints on {span(self.start, last)} of the first sheet")
        if last < per_sheet and self.count:
            parts.append(f"{span(last + 1, per_sheet)} left free")
        more = self.start + self.count - 1 - per_sheet
        if more > 0:
            sheets = -(-more // per_sheet)
            parts.append(
                f"{more:,} more on {'a new sheet' if sheets == 1 else f'{sheets:,} new sheets'}"
            )
        text = "; ".join(parts)
        return text[:1].upper() + text[1:] + "." if text else ""

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        width, height = self.sheet.page_size
        across = self.fontMetrics().height() * 16  # grows with the text at 200 %
        return QSize(across, int(across * height / width))

    def _page_rect(self) -> QRectF:
        """The sheet, as large as fits, keeping the paper's proportions."""
        width, height = self.sheet.page_size
        scale = min((self.width() - 2) / width, (self.height() - 2) / height)
        w, h = width * scale, height * scale
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def _label_rect(self, page: QRectF, position: int) -> QRectF:
        scale = page.width() / self.sheet.page_size[0]
        r = self.sheet.label_rect(position)
        top = self.sheet.page_size[1] - r.top  # labels are placed from the page's bottom
        return QRectF(page.x() + r.x * scale, page.y() + top * scale, r.w * scale, r.h * scale)

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        page = self._page_rect()
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Dark), 1))
        painter.setBrush(QColor("white"))
        painter.drawRect(page)
        last = self.start + self.count - 1
        used = QColor("#b8bcc2")
        batch = palette.color(QPalette.ColorRole.Highlight)
        edge = QColor("#80868b")
        font = painter.font()
        for position in range(1, self.sheet.per_sheet + 1):
            cell = self._label_rect(page, position).adjusted(0.5, 0.5, -0.5, -0.5)
            font.setPixelSize(max(int(cell.height() * 0.45), 7))
            painter.setFont(font)
            painter.setPen(QPen(edge, 1))
            if position < self.start:
                painter.setBrush(used)
                painter.drawRoundedRect(cell, 2, 2)
                painter.drawLine(cell.topLeft(), cell.bottomRight())
                text_color = QColor("#3c4043")
            elif position <= last:
                painter.setBrush(batch)
                painter.drawRoundedRect(cell, 2, 2)
                text_color = palette.color(QPalette.ColorRole.HighlightedText)
            else:
                painter.setBrush(QColor("white"))
                painter.drawRoundedRect(cell, 2, 2)
                text_color = QColor("#5f6368")
            painter.setPen(text_color)
            painter.drawText(cell, Qt.AlignmentFlag.AlignCenter, str(position))
        painter.end()

    def position_at(self, x: float, y: float) -> int | None:
        page = self._page_rect()
        for position in range(1, self.sheet.per_sheet + 1):
            if self._label_rect(page, position).contains(x, y):
                return position
        return None

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        position = self.position_at(event.position().x(), event.position().y())
        if position is not None:
            self.chosen.emit(position)
        super().mousePressEvent(event)


class LabelsDialog(QDialog):
    """Mailing labels for `message_ids` (letters waiting or printed); `names` (message id
    to the patient's name) says whose letters get no label and why."""

    def __init__(
        self,
        clinic: Clinic,
        message_ids: Sequence[str],
        names: Mapping[str, str] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.clinic = clinic
        self.message_ids = tuple(message_ids)
        self.names = dict(names or {})
        self.setWindowTitle("Mailing labels")
        self.setAccessibleName("Mailing labels")
        self.found: LabelAddresses | None = None
        self.pdf: bytes | None = None
        self.made: LabelSheetResult | None = None
        self.print_op: Op[int] | None = None
        self.print_dialog: QPrintDialog | None = None
        self._printer: QPrinter | None = None

        self.intro = hint_line(
            f"Labels for the {letters_words(len(self.message_ids))} ticked, in the same "
            "order. Printing labels does not mark the letters printed."
        )
        self.intro.setAccessibleName("About the labels")
        self.intro.setWordWrap(True)

        self.sheet_box = QComboBox()
        self.sheet_box.setAccessibleName("Label sheet")
        for key, words in SHEET_CHOICES:
            self.sheet_box.addItem(words, key)
        self.start_box = QSpinBox()
        self.start_box.setAccessibleName("Start at label")
        self.start_box.setAccessibleDescription(
            "The first free label on the sheet, counted across, then down."
        )
        self.start_box.setMinimum(1)
        start_hint = hint_line("On a part-used sheet: the first free label, counted across.")
        start_hint.setAccessibleName("About the start")
        start_hint.setWordWrap(True)
        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        sheet_label = QLabel("&Sheet:")
        sheet_label.setBuddy(self.sheet_box)
        start_label = QLabel("S&tart at label:")
        start_label.setBuddy(self.start_box)
        form.addRow(sheet_label, self.sheet_box)
        form.addRow(start_label, self.start_box)
        form.addRow("", start_hint)

        self.picture = SheetPicture()
        self.picture.chosen.connect(self.start_box.setValue)
        self.legend = hint_line("Grey: used, skipped.  Blue: these labels.  White: left free.")
        self.legend.setAccessibleName("What the colours mean")
        self.legend.setWordWrap(True)
        self.counts = ToneLabel(tone="text", bold=True)
        self.counts.setAccessibleName("Labels and sheets")
        self.counts.setWordWrap(True)
        self.outline_box = QCheckBox("&Outline the labels (test on plain paper)")
        self.outline_box.setAccessibleName("Outline the labels")
        self.outline_box.setToolTip(
            "Prints each label's edge: hold the page against a label sheet to see that "
            "the printer lines up, before using the labels"
        )

        self.left_out = error_line()
        self.left_out.setAccessibleName("Letters without a label")
        self.left_out.setWordWrap(True)
        self.left_out.hide()
        self.notes = NoteLines()
        self.problem, self.status = self.notes.problem, self.notes.status

        self.print_button = QPushButton("&Print…")
        self.print_button.setAccessibleName("Print the labels")
        self.print_button.setToolTip("Choose a printer and print the label sheets shown")
        self.print_button.clicked.connect(self.print_labels)
        self.save_button = QPushButton("Save as P&DF…")
        self.save_button.setAccessibleName("Save the labels as a PDF file")
        self.save_button.setToolTip("Save the label sheets as one PDF file, to print later")
        self.save_button.clicked.connect(self.save_as_pdf)
        self.close_button = QPushButton("Close")
        self.close_button.setAccessibleName("Close")
        self.close_button.clicked.connect(self.reject)
        for button in (self.print_button, self.save_button, self.close_button):
            button.setAutoDefault(False)

        left = QWidget()
        left.setMinimumWidth(300)
        left.setMaximumWidth(420)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.intro)
        left_layout.addLayout(form)
        left_layout.addWidget(self.picture)
        left_layout.addWidget(self.legend)
        left_layout.addWidget(self.counts)
        left_layout.addWidget(self.outline_box)
        left_layout.addWidget(self.left_out)
        left_layout.addStretch(1)

        self.preview = PdfPreview()
        self.preview.setAccessibleName("Preview of the labels")
        # The whole sheet in view: the preview is as wide as its height allows.
        centred = QHBoxLayout()
        centred.addStretch(0)
        centred.addWidget(self.preview, 1)
        centred.addStretch(0)
        right = QVBoxLayout()
        right.addLayout(centred, 1)
        right.addWidget(self.problem)
        right.addWidget(self.status)

        panes = QHBoxLayout()
        panes.addWidget(left)
        panes.addLayout(right, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.print_button)
        buttons.addWidget(self.save_button)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addLayout(panes, 1)
        layout.addLayout(buttons)

        for first, second in (
            (self.sheet_box, self.start_box),
            (self.start_box, self.outline_box),
            (self.outline_box, self.preview.page),
            (self.preview.page, self.preview.previous_button),
            (self.preview.previous_button, self.preview.next_button),
            (self.preview.next_button, self.print_button),
            (self.print_button, self.save_button),
            (self.save_button, self.close_button),
        ):
            QWidget.setTabOrder(first, second)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(LAY_OUT_AFTER_MS)
        self._timer.timeout.connect(self.lay_out)

        self.resize(1000, 660)
        self._read(default_sheet(clinic))
        self.sheet_box.currentIndexChanged.connect(self._sheet_changed)
        self.start_box.valueChanged.connect(self._start_changed)
        self.outline_box.toggled.connect(lambda _on: self._timer.start())
        self.sheet_box.setFocus(Qt.FocusReason.OtherFocusReason)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        QTimer.singleShot(0, self._fit_preview)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        QTimer.singleShot(0, self._fit_preview)

    def _fit_preview(self) -> None:
        """Narrow the preview so a whole sheet shows without scrolling: the labels are
        judged by where they sit on the page."""
        width, height = self.sheet.page_size
        paging = self.preview.next_button.sizeHint().height() + 12
        room = max(self.preview.height() - paging, 100)
        self.preview.setMaximumWidth(max(int(room * width / height) + 20, 200))

    # --- reading and laying out ----------------------------------------------------------

    @property
    def sheet(self) -> LabelSheet:
        return SHEETS[str(self.sheet_box.currentData())]

    def _read(self, sheet: str) -> None:
        self.sheet_box.setCurrentIndex(max(self.sheet_box.findData(sheet), 0))
        self.start_box.setMaximum(self.sheet.per_sheet)
        try:
            self.found = label_addresses(self.clinic, self.message_ids)
        except FrontdeskError as exc:
            self.found = None
            self.notes.show_problem(str(exc))
        self.lay_out()

    def _sheet_changed(self, _index: int) -> None:
        self.start_box.setMaximum(self.sheet.per_sheet)  # clamps a start off the smaller sheet
        self._fit_preview()
        self._update_picture()
        self._timer.start()

    def _start_changed(self, _value: int) -> None:
        self._update_picture()
        self._timer.start()

    def _update_picture(self, count: int | None = None) -> None:
        if count is None and self.made is not None:
            count = self.made.labels
        elif count is None:
            count = len(self.found.lines) if self.found else 0
        self.picture.show_sheet(self.sheet, self.start_box.value(), count)
        self.counts.setText(self.summary() + "." if self.made else "")
        self.counts.setAccessibleDescription(self.counts.text())

    def lay_out(self) -> None:
        """The label sheets for the choices shown, into memory, and into the preview."""
        self._timer.stop()
        self.pdf, self.made = None, None
        self._set_actions(False)
        if self.found is None:
            self.preview.show_message("")
            self._update_picture(0)
            return
        buffer = io.BytesIO()
        try:
            self.made = write_label_sheet(
                self.found,
                buffer,
                sheet=self.sheet.key,
                start=self.start_box.value(),
                outlines=self.outline_box.isChecked(),
            )
        except FrontdeskError as exc:
            self.preview.show_message("")
            self._show_left_out([])
            self.notes.show_problem(str(exc))
            self._update_picture(0)
            return
        self.pdf = buffer.getvalue()
        self.preview.set_pdf(self.pdf)
        self.problem.hide()
        self._show_left_out(self.made.left_out)
        self._update_picture(self.made.labels)
        self._set_actions(True)

    def _show_left_out(self, left_out: list[tuple[str, str]]) -> None:
        if not left_out:
            self.left_out.hide()
            return
        lines = [
            f"{letters_words(len(left_out)).capitalize()} get no label:"
            if len(left_out) > 1
            else "1 letter gets no label:"
        ]
        for message_id, reason in left_out[:5]:
            lines.append(f"• {self.names.get(message_id, 'A letter')}: {reason}")
        if len(left_out) > 5:
            lines.append(f"… and {len(left_out) - 5:,} more.")
        text = "\n".join(lines)
        self.left_out.setText(text)
        self.left_out.setAccessibleDescription(text)
        self.left_out.show()

    def _set_actions(self, ready: bool) -> None:
        self.print_button.setEnabled(ready)
        self.save_button.setEnabled(ready)

    def summary(self) -> str:
        """ "12 labels on 1 sheet, from label 5"."""
        if self.made is None:
            return ""
        return (
            f"{labels_words(self.made.labels)} on {sheets_words(self.made.pages)}, "
            f"from label {self.made.start}"
        )

    # --- printing and saving ---------------------------------------------------------------

    def print_labels(self) -> QPrintDialog | None:
        """Choose a printer; the sheets go to it when the dialog is accepted."""
        if self.pdf is None:
            return None
        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        printing.prepare_printer(printer, self.pdf, duplex=QPrinter.DuplexMode.DuplexNone)
        title = f"Print {labels_words(self.made.labels if self.made else 0)}"
        dialog = printing.open_print_dialog(self, printer, title, lambda: self.print_to(printer))
        dialog.finished.connect(lambda _result: setattr(self, "print_dialog", None))
        self._printer = printer
        self.print_dialog = dialog
        return dialog

    def print_to(self, printer: QPrinter) -> Op[int] | None:
        """Send the sheets to `printer`, each page over the whole sheet (no shrinking to the
        printer's margins: the labels must land on the labels)."""
        data = self.pdf
        if data is None:
            return None
        self.notes.clear()
        printing.prepare_printer(printer, data, duplex=QPrinter.DuplexMode.DuplexNone)
        self._printer = printer
        summary = self.summary()
        self.print_op = printing.print_in_background(
            self,
            data,
            printer,
            what="Printing labels",
            notes=self.notes,
            done=lambda pages: self._printed(pages, summary),
        )
        return self.print_op

    def _printed(self, pages: int, summary: str) -> None:
        labels = self.made.labels if self.made else 0
        audit.record(self.clinic, PRINT, detail={"labels": labels, "pages": pages})
        self.notes.show_status(f"Sent to the printer: {summary}.")

    def default_save_path(self) -> Path:
        day = clinic_today(self.clinic).isoformat()
        return printing.documents_folder() / default_file_name(day)

    def save_as_pdf(self) -> None:
        if self.pdf is None:
            return
        path = printing.ask_pdf_path(self, "Save labels as PDF", self.default_save_path())
        if path is not None:
            self.save_to(path)

    def save_to(self, path: Path) -> bool:
        """Write the label sheets to `path`; a problem is shown under the preview."""
        if self.pdf is None:
            return False
        path, problem = printing.write_pdf_file(self.pdf, path)
        if problem:
            self.notes.show_problem(problem)
            return False
        labels = self.made.labels if self.made else 0
        audit.record(self.clinic, PRINT, target=path.name, detail={"labels": labels, "to": "pdf"})
        self.notes.show_status(
            f"Saved {self.summary()} as {path.name}. Print it at actual size (100 %), "
            "not fitted to the page, or the addresses miss the labels."
        )
        return True
