"""PDF pages as images, in memory: for the preview and for the printer.

Patient letters never touch a temporary file: the batch PDF lives in memory and PDFium
(pypdfium2) renders its pages from there. Qt prints images, not PDFs, so each page is
rendered at the printer's resolution (capped: a 1200 dpi page would take 400 MB for no
visible gain) and drawn over the whole sheet, with the printer told to use the full page:
the address must land where the envelope's window is, so nothing may shift it by the
printer's own margins.

PDFium is not thread-safe, not even for separate documents, so every use goes through
one lock: the preview (GUI thread) and a print job (worker thread) take turns.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pypdfium2 as pdfium
from PySide6.QtCore import QRectF, QSizeF, QStandardPaths
from PySide6.QtGui import QImage, QPageLayout, QPageSize, QPainter
from PySide6.QtPrintSupport import QPrintDialog, QPrinter
from PySide6.QtWidgets import QDialog, QFileDialog, QWidget

from app.errors import FrontdeskError
from app.ops import CancelToken, OperationCancelledError, Progress, no_progress
from ui.letters.notes import NoteLines
from ui.ops import Op, show_error

PRINT_DPI_CAP = 300
_PDFIUM = threading.Lock()


@contextmanager
def opened(data: bytes) -> Iterator[pdfium.PdfDocument]:
    """A PDF held in memory, open for rendering, under the PDFium lock."""
    with _PDFIUM:
        document = pdfium.PdfDocument(data)
        try:
            yield document
        finally:
            document.close()


def page_count(data: bytes) -> int:
    with opened(data) as document:
        return len(document)


def page_size_points(data: bytes, index: int = 0) -> tuple[float, float]:
    with opened(data) as document:
        width, height = document[index].get_size()
        return float(width), float(height)


def _image(page: pdfium.PdfPage, scale: float) -> QImage:
    bitmap = page.render(scale=scale, rev_byteorder=True, prefer_bgrx=True, may_draw_forms=False)
    fmt = QImage.Format.Format_RGBX8888 if bitmap.n_channels == 4 else QImage.Format.Format_RGB888
    # copy(): the QImage must own its pixels; the bitmap's buffer goes with the bitmap.
    return QImage(bitmap.buffer, bitmap.width, bitmap.height, bitmap.stride, fmt).copy()


def render_page(data: bytes, index: int, width_px: int) -> QImage:
    """Page `index` (0-based) scaled to `width_px` pixels wide."""
    with opened(data) as document:
        page = document[index]
        width, _height = page.get_size()
        return _image(page, max(width_px, 16) / width)


def _page_size(width_pt: float, height_pt: float) -> QPageSize:
    """The sheet the PDF was laid out for (Letter or A4 by their standard ids)."""
    return QPageSize(QSizeF(width_pt, height_pt), QPageSize.Unit.Point)


def duplex_for(print_as: str, blank_backs: bool) -> QPrinter.DuplexMode:
    """Postcards always print on both sides, turned on the short edge so the message side
    is upright behind the address side; letters print two-sided only when blank backs were
    laid out for it (one patient per sheet)."""
    if print_as == "postcard":
        return QPrinter.DuplexMode.DuplexShortSide
    return QPrinter.DuplexMode.DuplexLongSide if blank_backs else QPrinter.DuplexMode.DuplexNone


def prepare_printer(printer: QPrinter, data: bytes, *, duplex: QPrinter.DuplexMode) -> None:
    """Paper size and orientation from the PDF, the full sheet, and the two-sided mode
    (duplex_for); a printer that cannot print two-sided ignores it."""
    width, height = page_size_points(data)
    printer.setFullPage(True)
    printer.setPageSize(_page_size(width, height))
    printer.setPageOrientation(
        QPageLayout.Orientation.Landscape if width > height else QPageLayout.Orientation.Portrait
    )
    printer.setDuplex(duplex)


def print_pdf(
    data: bytes,
    printer: QPrinter,
    *,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> int:
    """Draw every page of `data` on `printer`, each over its whole sheet; the number of
    pages sent. Cancelling stops the job (nothing more goes to the printer)."""
    token = cancel or CancelToken()
    dpi = min(printer.resolution(), PRINT_DPI_CAP)
    painter = QPainter()
    if not painter.begin(printer):
        raise OSError("The printer could not be started.")
    sent = 0
    try:
        with opened(data) as document:
            total = len(document)
            for index in range(total):
                if token.cancelled:
                    printer.abort()
                    raise OperationCancelledError("Printing stopped; some pages may have gone.")
                progress(index, total, f"Sending page {index + 1:,} of {total:,} to the printer")
                if index:
                    printer.newPage()
                page = document[index]
                image = _image(page, dpi / 72)
                target = printer.pageLayout().fullRectPixels(printer.resolution())
                painter.drawImage(QRectF(0, 0, target.width(), target.height()), image)
                sent += 1
            progress(total, total, "Sent to the printer")
    finally:
        if painter.isActive():
            painter.end()
    return sent


# --- saving a batch as a file ------------------------------------------------------------


def documents_folder() -> Path:
    """Where a saved batch is offered first: the person's documents folder."""
    folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return Path(folder or str(Path.home()))


def ask_pdf_path(parent: QWidget, title: str, suggested: Path) -> Path | None:
    """Qt's save dialog for a PDF; None when the person cancels."""
    chosen, _kind = QFileDialog.getSaveFileName(parent, title, str(suggested), "PDF files (*.pdf)")
    return Path(chosen) if chosen else None


def write_pdf_file(data: bytes, path: Path) -> tuple[Path, str]:
    """Write `data` to `path` (".pdf" added when missing): the path written and "" or, when
    the disk refused, the problem in plain words."""
    if path.suffix.lower() != ".pdf":
        path = path.with_name(path.name + ".pdf")
    try:
        path.write_bytes(data)
    except OSError as exc:
        return path, f"The file could not be saved: {exc.strerror or 'unknown error'}."
    return path, ""


# --- the print dialog and printing in the background ---------------------------------------


def open_print_dialog(
    parent: QWidget, printer: QPrinter, title: str, on_accept: Callable[[], object]
) -> QPrintDialog:
    """Qt's printer choice, window-modal; `on_accept` prints once a printer is chosen."""
    dialog = QPrintDialog(printer, parent)
    dialog.setWindowTitle(title)
    dialog.setAccessibleName("Print")
    dialog.accepted.connect(on_accept)
    QDialog.open(dialog)  # PySide6 hides the plain open() behind open(receiver, slot)
    return dialog


def print_in_background(
    parent: QWidget,
    data: bytes,
    printer: QPrinter,
    *,
    what: str,
    notes: NoteLines,
    done: Callable[[int], None],
) -> Op[int]:
    """Send every page to `printer` on a worker with progress and Cancel; `done` gets the
    page count. A cancel or a printer that refuses shows under the preview in plain words."""

    def failed(exc: BaseException) -> None:
        if isinstance(exc, OperationCancelledError):
            notes.show_problem(str(exc))
        elif isinstance(exc, (FrontdeskError, OSError)):
            notes.show_problem(f"Printing did not work: {exc}")
        else:
            show_error(parent, what, exc)

    return (
        Op(
            parent,
            what,
            lambda progress, cancel: print_pdf(data, printer, progress=progress, cancel=cancel),
        )
        .success(done)
        .failure(failed)
        .run_in_background()
    )
