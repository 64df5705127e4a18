"""The one way the GUI runs long core work: off the GUI thread, with progress and Cancel.

    Op(window, "Creating the demo clinic", lambda progress, cancel: generate(...))
        .success(on_done).run_in_background()

The work never touches widgets; its result or error waits on the runnable and a
payload-free signal tells the GUI thread to collect it. A progress dialog appears only
if the work takes longer than half a second.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QMessageBox, QProgressDialog, QWidget

from app.crash_report import write_crash_report
from app.errors import FrontdeskError
from app.ops import CancelToken, OperationCancelledError, Progress
from ui.task_tray import TaskTray

T = TypeVar("T")
log = logging.getLogger(__name__)
SHOW_AFTER_MS = 500


class _Signals(QObject):
    progress = Signal(int, int, str)
    # No payload: Python objects (exceptions above all) crossing threads inside a
    # queued signal proved fragile in PySide6, so the outcome waits on the runnable.
    done = Signal()


class _Runnable(QRunnable):
    def __init__(
        self,
        work: Callable[[Progress, CancelToken], Any],
        signals: _Signals,
        cancel: CancelToken,
    ) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self._work = work
        self._signals = signals
        self._cancel = cancel
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self._work(self._signals.progress.emit, self._cancel)
        except BaseException as exc:  # noqa: BLE001 - handed to the GUI thread, never lost
            self.error = exc
        self._signals.done.emit()


class Op(Generic[T]):
    # Running ops are kept here so that a caller may drop its reference (the usual
    # one-line style) without Python collecting the signals mid-flight.
    _running: ClassVar[set[Op[Any]]] = set()

    def __init__(
        self, parent: QWidget | None, title: str, work: Callable[[Progress, CancelToken], T]
    ) -> None:
        self._parent = parent
        self._title = title
        self._work = work
        self._on_success: Callable[[T], None] = lambda _result: None
        self._on_failure: Callable[[BaseException], None] | None = None
        self.cancel = CancelToken()
        self.signals = _Signals()
        self.dialog: QProgressDialog | None = None
        self._tray: TaskTray | None = None
        self._tray_handle = 0
        # The outcome once known (for whoever holds the Op, tests included).
        self.finished = False
        self.error: BaseException | None = None

    def in_tray(self, tray: TaskTray | None) -> Op[T]:
        """Report in the status bar instead of a modal dialog: the window stays usable."""
        self._tray = tray
        return self

    def success(self, callback: Callable[[T], None]) -> Op[T]:
        self._on_success = callback
        return self

    def failure(self, callback: Callable[[BaseException], None]) -> Op[T]:
        self._on_failure = callback
        return self

    def run_in_background(self, pool: QThreadPool | None = None) -> Op[T]:
        if self._tray is not None:
            self._tray_handle = self._tray.start(self._title, self.cancel)
        else:
            self.dialog = self._progress_dialog()
        self.signals.progress.connect(self._progress)
        self.signals.done.connect(self._done)
        self._runnable = _Runnable(self._work, self.signals, self.cancel)
        Op._running.add(self)
        (pool or QThreadPool.globalInstance()).start(self._runnable)
        return self

    def _progress_dialog(self) -> QProgressDialog:
        dialog = QProgressDialog(self._title, "Cancel", 0, 0, self._parent)
        dialog.setWindowTitle("Frontdesk")
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(SHOW_AFTER_MS)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.setAccessibleName(self._title)
        dialog.canceled.connect(self._cancel_requested)
        return dialog

    def _done(self) -> None:
        error = self._runnable.error
        if error is None:
            self._finished(self._runnable.result)
        else:
            self._failed(error)

    def _cancel_requested(self) -> None:
        self.cancel.cancel()
        if self.dialog is not None:
            self.dialog.setLabelText("Cancelling…")

    def _progress(self, done: int, total: int, what: str) -> None:
        if self._tray is not None:
            self._tray.progress(self._tray_handle, done, total, what)
        dialog = self.dialog
        if dialog is None:
            return
        # A modal progress dialog runs the event loop inside setValue, where the work's
        # end can close it (self.dialog becomes None): the label goes first.
        dialog.setLabelText(what)
        dialog.setMaximum(max(total, 0))
        dialog.setValue(min(done, total) if total else 0)

    def _close(self) -> None:
        Op._running.discard(self)
        if self._tray is not None:
            self._tray.finish(self._tray_handle)
        if self.dialog is not None:
            self.dialog.canceled.disconnect(self._cancel_requested)
            self.dialog.close()
            self.dialog = None

    def _finished(self, result: T) -> None:
        self.finished = True
        self._close()
        self._on_success(result)

    def _failed(self, exc: BaseException) -> None:
        self.finished = True
        self.error = exc
        self._close()
        if self._on_failure is not None:
            self._on_failure(exc)
            return
        if isinstance(exc, OperationCancelledError):
            return
        show_error(self._parent, self._title, exc)


def show_error(parent: QWidget | None, title: str, exc: BaseException) -> None:
    """Our own errors carry a message meant for people; anything else is a bug: a
    PHI-free crash report is written and the person is told plainly, never shown a
    traceback."""
    if isinstance(exc, FrontdeskError):
        QMessageBox.warning(parent, "Frontdesk", str(exc))
        return
    report_unexpected(parent, exc)


def report_unexpected(parent: QWidget | None, exc: BaseException) -> Path | None:
    """Write the crash report and say where it is. The log gets the exception's type
    and the report's name only: an exception's message may quote patient data."""
    try:
        path: Path | None = write_crash_report(type(exc), exc, exc.__traceback__)
    except OSError as failure:
        log.error("crash report not written: %s", type(failure).__name__)
        path = None
    log.error("unexpected %s; report %s", type(exc).__qualname__, path.name if path else "(none)")
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("Frontdesk")
    box.setText(
        "Something went wrong that Frontdesk did not expect. What was already saved is safe."
    )
    if path is not None:
        box.setInformativeText(
            f"A report without any patient information was saved as {path.name} in "
            f"{path.parent}. Please send it to your support contact."
        )
        folder = box.addButton("Open the folder", QMessageBox.ButtonRole.ActionRole)
        folder.clicked.connect(
            lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(path.parent)))
        )
    box.addButton(QMessageBox.StandardButton.Ok)
    box.setAccessibleName("Unexpected problem")
    # A box without a parent is Python's to keep alive until it is answered.
    _open_boxes.add(box)
    box.finished.connect(lambda _result: _open_boxes.discard(box))
    box.open()
    return path


_open_boxes: set[QMessageBox] = set()
