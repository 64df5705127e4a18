"""The Ctrl+K patient finder: type, arrows, Enter. Searches run on their own thread.

The search itself takes a few milliseconds even at 100,000 patients, but a disk that
stalls or a write in progress must never freeze the window, so every keystroke hands
the text to a worker thread with its own database connection. Only the newest text
is searched (older requests are dropped), and a payload-free signal tells the GUI
thread to collect the result (see ui/ops.py for why no Python objects ride signals).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QFrame,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.clinic import Clinic
from app.patients.search import PatientSearch, SearchResult
from app.patients.validation import display_phone
from ui.patient.header import local_text

log = logging.getLogger(__name__)
NEW_PATIENT = "__new_patient__"  # item data of the "New patient" row
RESULT_LIMIT = 12


@dataclass(frozen=True)
class Answer:
    seq: int
    text: str
    results: tuple[SearchResult, ...]
    failed: bool = False


class SearchService(QObject):
    """A worker thread that searches the newest text it was given."""

    ready = Signal()

    def __init__(self, clinic: Clinic) -> None:
        super().__init__()
        self._clinic = clinic
        self._wake = threading.Condition()
        self._pending: tuple[int, str] | None = None
        self._answer: Answer | None = None
        self._seq = 0
        self._stopping = False
        self._busy = False
        self._thread = threading.Thread(target=self._loop, name="finder", daemon=True)
        self._thread.start()

    def request(self, text: str) -> int:
        with self._wake:
            self._seq += 1
            self._pending = (self._seq, text)
            self._wake.notify()
            return self._seq

    def take(self) -> Answer | None:
        """The newest answer, once; None when it is older than the newest request."""
        with self._wake:
            answer, self._answer = self._answer, None
            if answer is None or answer.seq != self._seq:
                return None
            return answer

    @property
    def idle(self) -> bool:
        with self._wake:
            return self._pending is None and not self._busy

    def close(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        worker = self._clinic.fork()
        searcher = PatientSearch(worker.conn, region=worker.settings.region)
        zone = ZoneInfo(worker.settings.timezone)
        try:
            while True:
                with self._wake:
                    while self._pending is None and not self._stopping:
                        self._wake.wait()
                    if self._stopping:
                        return
                    assert self._pending is not None
                    seq, text = self._pending
                    self._pending = None
                    self._busy = True
                answer = self._search(searcher, seq, text, datetime.now(zone).date())
                with self._wake:
                    self._answer = answer
                    self._busy = False
                self.ready.emit()
        finally:
            worker.close()

    @staticmethod
    def _search(searcher: PatientSearch, seq: int, text: str, today: date) -> Answer:
        try:
            found = searcher.search(text, RESULT_LIMIT, today=today)
        except Exception:  # reported on screen; the log never gets the typed text
            log.exception("patient search failed")
            return Answer(seq, text, (), failed=True)
        return Answer(seq, text, tuple(found))


def describe(result: SearchResult, region: str, zone: ZoneInfo) -> str:
    """One line a receptionist can tell two Maria Garcias apart by."""
    parts = [result.display_name]
    if result.birth_date:
        age = f" ({result.age})" if result.age is not None else ""
        parts.append(f"born {result.birth_date}{age}")
    if result.phone:
        parts.append(display_phone(result.phone, region))
    if result.next_appointment:
        parts.append(f"next visit {local_text(result.next_appointment, zone, '%d %b %Y')}")
    if result.deceased:
        parts.append("deceased")
    return "  ·  ".join(parts)


class Finder(QWidget):
    """The search field and its drop-down list of patients.

    Signals: `open_patient(id)` when a patient is chosen; `new_patient(text)` when the
    person picks "New patient" because nobody fits.
    """

    open_patient = Signal(str)
    new_patient = Signal(str)
    shown = Signal()  # results updated on screen (tests and benchmarks wait for it)

    def __init__(self, clinic: Clinic, overlay_parent: QWidget, parent: QWidget | None = None):
        super().__init__(parent)
        self.clinic = clinic
        self.service = SearchService(clinic)
        self.service.ready.connect(self._collect)
        self.field = QLineEdit()
        self.field.setPlaceholderText(
            "Find a patient: name, birth date, phone, email or record number   (Ctrl+K)"
        )
        self.field.setAccessibleName("Find a patient")
        self.field.setAccessibleDescription(
            "Type to search. Up and Down choose, Enter opens, Escape closes the list."
        )
        self.field.setClearButtonEnabled(True)
        self.field.textChanged.connect(self._typed)
        self.field.installEventFilter(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.field)

        # The list floats over the page below the field, like a browser's address bar.
        self.panel = QFrame(overlay_parent)
        self.panel.setObjectName("finderPanel")
        self.panel.setFrameShape(QFrame.Shape.StyledPanel)
        self.panel.setAutoFillBackground(True)
        self.results = QListWidget()
        self.results.setAccessibleName("Matching patients")
        self.results.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # typing stays in the field
        self.results.itemActivated.connect(self._activate)
        self.results.itemClicked.connect(self._activate)
        self.status = QLabel("")
        self.status.setAccessibleName("Search status")
        self.status.setWordWrap(True)
        panel_layout = QVBoxLayout(self.panel)
        panel_layout.setContentsMargins(6, 6, 6, 6)
        panel_layout.addWidget(self.status)
        panel_layout.addWidget(self.results)
        self.panel.hide()
        self.shown_text = ""

    # --- keyboard --------------------------------------------------------------------

    def focus(self) -> None:
        self.field.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.field.selectAll()
        if self.field.text().strip():
            self._place_panel()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        is_key = isinstance(event, QKeyEvent) and event.type() == QEvent.Type.KeyPress
        if watched is self.field and is_key and self._key(event):  # type: ignore[arg-type]
            return True
        # Clicking a result moves the focus only after the click is handled.
        left = watched is self.field and event.type() == QEvent.Type.FocusOut
        if left and not self.results.underMouse():
            self.panel.hide()
        return super().eventFilter(watched, event)

    def _key(self, event: QKeyEvent) -> bool:
        key = event.key()
        if key in (Qt.Key.Key_Down, Qt.Key.Key_Up, Qt.Key.Key_PageDown, Qt.Key.Key_PageUp):
            steps = {Qt.Key.Key_Down: 1, Qt.Key.Key_Up: -1, Qt.Key.Key_PageDown: 5}
            step = steps.get(Qt.Key(key), -5)
            count = self.results.count()
            if count:
                row = max(0, min(count - 1, self.results.currentRow() + step))
                self.results.setCurrentRow(row)
                self._place_panel()
            return True
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.service_flush()
            item = self.results.currentItem()
            if item is not None:
                self._activate(item)
            return True
        if key == Qt.Key.Key_Escape:
            if self.panel.isVisible():
                self.panel.hide()
            else:
                self.field.clear()
            return True
        return False

    # --- searching -------------------------------------------------------------------

    def _typed(self, text: str) -> None:
        if not text.strip():
            self.results.clear()
            self.status.setText("")
            self.panel.hide()
            self.shown_text = text
            self.shown.emit()
            return
        self.service.request(text)

    def service_flush(self) -> None:
        """Enter pressed before the newest answer arrived: wait for it (milliseconds),
        so Enter opens the patient matching what is typed, not the previous list."""
        if self.field.text().strip() and self.shown_text != self.field.text():
            deadline = time.monotonic() + 2
            while not self.service.idle and time.monotonic() < deadline:
                time.sleep(0.002)
            self._collect()

    def _collect(self) -> None:
        answer = self.service.take()
        if answer is None or answer.text != self.field.text():
            return
        self._show(answer)

    def _show(self, answer: Answer) -> None:
        region = self.clinic.settings.region
        zone = ZoneInfo(self.clinic.settings.timezone)
        self.results.setUpdatesEnabled(False)
        self.results.clear()
        for result in answer.results:
            line = describe(result, region, zone)
            item = QListWidgetItem(line)
            item.setData(Qt.ItemDataRole.UserRole, result.patient_id)
            item.setData(Qt.ItemDataRole.AccessibleTextRole, line)
            self.results.addItem(item)
        typed = " ".join(answer.text.split())
        new = QListWidgetItem(f"+  New patient “{typed}”…")
        new.setData(Qt.ItemDataRole.UserRole, NEW_PATIENT)
        new.setToolTip("Nobody fits? Add a new patient; similar patients are checked first.")
        self.results.addItem(new)
        self.results.setCurrentRow(0)
        self.results.setUpdatesEnabled(True)
        if answer.failed:
            self.status.setText(
                "The search did not work this time. Try again; if it keeps "
                "failing, tell your administrator (details are in the log)."
            )
        elif not answer.results:
            self.status.setText(
                "No patient matches. Check the spelling, or try the birth date or phone."
            )
        else:
            self.status.setText("")
        self.status.setVisible(bool(self.status.text()))
        self.shown_text = answer.text
        self._place_panel()
        self.shown.emit()

    def _activate(self, item: QListWidgetItem) -> None:
        value = str(item.data(Qt.ItemDataRole.UserRole))
        self.panel.hide()
        if value == NEW_PATIENT:
            self.new_patient.emit(self.field.text().strip())
            return
        self.open_patient.emit(value)
        self.field.clear()

    def patient_ids(self) -> list[str]:
        """The ids listed, in order, without the New patient row."""
        items = (self.results.item(i) for i in range(self.results.count()))
        ids = (str(item.data(Qt.ItemDataRole.UserRole)) for item in items)
        return [value for value in ids if value != NEW_PATIENT]

    # --- placing the drop-down -------------------------------------------------------

    def _place_panel(self) -> None:
        host = self.panel.parentWidget()
        if host is None or not self.field.text().strip():
            return
        corner = self.field.mapTo(host, QPoint(0, self.field.height()))
        rows = min(self.results.count(), RESULT_LIMIT + 1)
        row_height = max(self.results.sizeHintForRow(0), self.fontMetrics().height() + 6)
        status_height = self.status.sizeHint().height() if self.status.text() else 0
        height = rows * row_height + status_height + 24
        width = max(self.field.width(), 480)
        height = min(height, max(120, host.height() - corner.y() - 8))
        self.panel.setGeometry(corner.x(), corner.y() + 2, width, height)
        self.panel.show()
        self.panel.raise_()

    def close_service(self) -> None:
        self.service.close()
