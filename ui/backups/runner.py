"""The window's daily backup: checks once a minute whether one is due, runs it off the GUI thread.

The backup runs on its own thread and its own connection (clinic.fork()); only words
cross back to the GUI thread (the status line, free of patient data). A backup missed
while the computer was off is caught up shortly after start (app/backup/schedule.py's
"latest slot" rule). While a key replacement or a restore is being prepared the runner
is paused, so no backup competes for the write lock.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from PySide6.QtCore import QObject, QTimer, Signal

from app.backup.schedule import is_due, last_success, load_settings, run_scheduled, status_line
from app.clinic import Clinic
from app.errors import FrontdeskError
from app.ops import CancelToken
from app.today import clinic_zone

log = logging.getLogger(__name__)
CHECK_EVERY_MS = 60_000
START_AFTER_MS = 20_000  # the window and the reminder catch-up come first


class BackupRunner(QObject):
    """One per window. `status` carries the line for Settings ▸ Backups."""

    status = Signal(str)
    finished = Signal(bool, str)  # ok, words (the path's folder or the reason)

    def __init__(self, clinic: Clinic, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.clinic = clinic
        self.paused = False
        self._running: threading.Thread | None = None
        self._cancel = CancelToken()
        self._timer = QTimer(self)
        self._timer.setInterval(CHECK_EVERY_MS)
        self._timer.timeout.connect(self.check)
        self.finished.connect(self._after)

    def start(self) -> None:
        self._timer.start()
        QTimer.singleShot(START_AFTER_MS, self.check)

    def stop(self) -> None:
        self._timer.stop()
        self._cancel.cancel()
        if self._running is not None:
            self._running.join(timeout=10)

    @property
    def running(self) -> bool:
        return self._running is not None and self._running.is_alive()

    def check(self) -> None:
        """Start the daily backup when due (never two at once, never while paused)."""
        if self.paused or self.running or self.clinic.closed:
            return
        settings = load_settings(self.clinic.home)
        now = datetime.now(UTC)
        if is_due(settings, last_success(self.clinic), now, clinic_zone(self.clinic)):
            self.run_now("schedule")

    def run_now(self, trigger: str = "schedule") -> bool:
        if self.running:
            return False
        settings = load_settings(self.clinic.home)
        self._cancel = CancelToken()
        cancel = self._cancel

        def work() -> None:
            fork = self.clinic.fork()
            try:
                result = run_scheduled(fork, settings, trigger=trigger, cancel=cancel)
                self.finished.emit(True, str(result.path.parent))
            except FrontdeskError as exc:
                self.finished.emit(False, str(exc))
            except Exception as exc:  # noqa: BLE001 - logged by type; the window goes on
                log.error("scheduled backup failed: %s", type(exc).__name__)
                self.finished.emit(False, "Something unexpected stopped the backup.")
            finally:
                fork.close()

        self._running = threading.Thread(target=work, name="daily-backup", daemon=True)
        self._running.start()
        self.status.emit("A backup is running…")
        return True

    def _after(self, ok: bool, words: str) -> None:
        thread, self._running = self._running, None
        if thread is not None:
            thread.join(timeout=5)  # only its connection is still closing
        self.status.emit(status_line(self.clinic))
