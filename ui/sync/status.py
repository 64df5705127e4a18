"""The sync line of the status bar: "Synced 2 min ago", "Waiting to send 3 changes"…

A flat button, so the keyboard reaches it and a click (or Space) opens Settings ▸ Sync.
It only shows what the runner last learnt (ui/sync/runner.py); a minute timer redraws
the words so "2 min ago" does not go stale between syncs. Hidden while sync is off.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, tzinfo

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QPushButton, QWidget

from ui import theme
from ui.sync.words import OFF, StatusFacts, status_line, tone

REDRAW_MS = 30_000


class SyncStatusButton(QPushButton):
    open_settings = Signal()

    def __init__(self, zone: Callable[[], tzinfo], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._zone = zone
        self.status: StatusFacts | None = None
        self.setFlat(True)
        self.setAccessibleDescription("Opens Settings ▸ Sync")
        self.clicked.connect(self.open_settings)
        self._timer = QTimer(self)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self.redraw)
        self.hide()

    def show_status(self, status: StatusFacts) -> None:
        self.status = status
        self.redraw()

    def redraw(self) -> None:
        status = self.status
        words = status_line(status, datetime.now(UTC), self._zone()) if status else ""
        self.setText(words)
        self.setAccessibleName(f"Sync: {words}" if words else "Sync")
        # The core's whole sentence (the line may carry only its start).
        detail = status.message if status is not None else ""
        self.setToolTip(f"{detail}\nClick to open Settings ▸ Sync." if detail else "")
        colour = tone(status) if status else None
        self.setStyleSheet(f"color: {theme.css(colour)}; font-weight: bold;" if colour else "")
        visible = bool(words) and status is not None and status.state != OFF
        self.setVisible(visible)
        if visible and not self._timer.isActive():
            self._timer.start()
        elif not visible:
            self._timer.stop()

    def stop(self) -> None:
        self._timer.stop()
