"""Background work in the status bar: what is running, how far along, and Cancel.

Ops that should not block the window (the demo clinic filling in, later an import)
report here instead of a modal dialog; the widget hides itself when nothing runs.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from app.ops import CancelToken

SHOW_AFTER_MS = 500  # quick work never flickers a progress bar


class TaskTray(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.label.setAccessibleName("Background task")
        self.bar = QProgressBar()
        self.bar.setAccessibleName("Background task progress")
        self.bar.setMaximumWidth(160)
        self.bar.setTextVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setAccessibleName("Cancel the background task")
        self.cancel_button.clicked.connect(self._cancel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)
        self._tokens: dict[int, tuple[str, CancelToken]] = {}
        self._next = 0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._reveal)
        self.hide()

    @property
    def running(self) -> int:
        return len(self._tokens)

    def start(self, title: str, cancel: CancelToken) -> int:
        self._next += 1
        self._tokens[self._next] = (title, cancel)
        self.label.setText(title)
        self.bar.setRange(0, 0)
        self.cancel_button.setEnabled(True)
        if not self.isVisible() and not self._timer.isActive():
            self._timer.start(SHOW_AFTER_MS)
        return self._next

    def progress(self, handle: int, done: int, total: int, what: str) -> None:
        if handle not in self._tokens:
            return
        self.bar.setRange(0, max(total, 0))
        if total:
            self.bar.setValue(min(done, total))
        self.label.setText(what or self._tokens[handle][0])

    def finish(self, handle: int) -> None:
        self._tokens.pop(handle, None)
        if not self._tokens:
            self._timer.stop()
            self.hide()
        else:
            self.label.setText(next(iter(self._tokens.values()))[0])

    def _reveal(self) -> None:
        if self._tokens:
            self.show()

    def _cancel(self) -> None:
        for _title, token in self._tokens.values():
            token.cancel()
        self.label.setText("Cancelling…")
        self.cancel_button.setEnabled(False)
