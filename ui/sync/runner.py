"""The window's sync: a round with the sync server off the GUI thread, when it is worth one.

A round (app/sync/service.sync_once) runs on its own thread and its own connection
(clinic.fork()): at start, a second after local data changed (the bus; several saves in
a row make one round), every three minutes to fetch what the other workstations did,
and when someone presses "Sync now". Never two at once: a change during a round asks
for one more round after it. What a round applied from the other workstations is
published on the bus like a local write, so the open views refresh; that publication
does not itself ask for a round (it would only find nothing to send).

Syncing goes on behind the locked screen (nothing is shown there). The runner stands
down once its clinic is closed, and `stop()` (at window close) cancels a round under
way and waits for its thread.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace

from PySide6.QtCore import QObject, QTimer, Signal

from app.clinic import Clinic
from app.ops import CancelToken
from app.store.changes import Changes
from app.sync.service import SyncResult, SyncStatus, is_enabled, sync_once, sync_status
from ui.bus import DataBus

log = logging.getLogger(__name__)
START_AFTER_MS = 2_000  # the window shows first
AFTER_CHANGE_MS = 1_000  # a burst of saves becomes one round
EVERY_MS = 3 * 60_000  # fetch the other workstations' work
SHOW_SYNCING_AFTER_MS = 1_000  # a quick round never flickers "Syncing…"
STOP_WAIT_S = 10


class SyncRunner(QObject):
    """One per window. `status_changed` carries a SyncStatus (the status bar, the tab);
    `progress` the round's own words while it runs; `round_finished` follows each round
    (after its changes were published), for whoever waits on one (the reminders)."""

    status_changed = Signal(object)
    progress = Signal(int, int, str)
    round_finished = Signal()
    _round_over = Signal()  # from the worker thread, no payload: the result waits on self

    def __init__(self, clinic: Clinic, bus: DataBus, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.clinic = clinic
        self.bus = bus
        self.stopped = False
        self.rounds = 0  # finished rounds (tests wait on it)
        self.last_status: SyncStatus | None = None
        self._thread: threading.Thread | None = None
        self._result: SyncResult | None = None
        self._cancel = CancelToken()
        self._again = False
        self._publishing = False
        self._after_change = QTimer(self)
        self._after_change.setSingleShot(True)
        self._after_change.setInterval(AFTER_CHANGE_MS)
        self._after_change.timeout.connect(self.sync_now)
        self._every = QTimer(self)
        self._every.setInterval(EVERY_MS)
        self._every.timeout.connect(self.sync_now)
        self._slow = QTimer(self)
        self._slow.setSingleShot(True)
        self._slow.setInterval(SHOW_SYNCING_AFTER_MS)
        self._slow.timeout.connect(self._show_syncing)
        self._round_over.connect(self._after_round)
        bus.changed.connect(self._local_change)

    # --- lifetime ----------------------------------------------------------------------

    def start(self, delay_ms: int = START_AFTER_MS) -> None:
        self.refresh_status()
        self._every.start()
        QTimer.singleShot(delay_ms, self, self.sync_now)

    def stop(self) -> None:
        """Window close: no new round; one under way is cancelled and waited for."""
        self.stopped = True
        for timer in (self._after_change, self._every, self._slow):
            timer.stop()
        self._cancel.cancel()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=STOP_WAIT_S)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # --- asking for a round --------------------------------------------------------------

    def _standing_down(self) -> bool:
        return self.stopped or self.clinic.closed

    def _local_change(self, changes: Changes) -> None:
        if self._publishing or self._standing_down() or not changes:
            return
        self._after_change.start()  # restarts: the round follows the last save of a burst

    def sync_now(self) -> bool:
        """Start a round unless one runs (then one more follows it); False when none started."""
        if self._standing_down():
            return False
        if self.running:
            self._again = True
            return False
        if not is_enabled(self.clinic):
            self.refresh_status()
            return False
        self._cancel = CancelToken()
        cancel = self._cancel
        clinic = self.clinic

        def work() -> None:
            result: SyncResult | None = None
            try:
                fork = clinic.fork()
                try:
                    result = sync_once(fork, cancel, self.progress.emit)
                finally:
                    fork.close()
            except Exception as exc:  # noqa: BLE001 - sync_once says how it went; this is a bug
                log.error("sync round failed: %s", type(exc).__name__)
            self._result = result
            self._round_over.emit()

        self._result = None
        self._thread = threading.Thread(target=work, name="sync-round", daemon=True)
        self._thread.start()
        self._slow.start()
        return True

    # --- on the GUI thread ---------------------------------------------------------------

    def _show_syncing(self) -> None:
        if self.running and self.last_status is not None and self.last_status.state != "off":
            self.status_changed.emit(replace(self.last_status, state="syncing"))

    def _after_round(self) -> None:
        self._slow.stop()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=5)  # only its connection is still closing
        self.rounds += 1
        result, self._result = self._result, None
        if self._standing_down():
            return
        if result is not None and result.changes:
            # What the other workstations did reaches the open views like a local save.
            self._publishing = True
            try:
                self.bus.publish(result.changes)
            finally:
                self._publishing = False
        self.refresh_status()
        self.round_finished.emit()
        if self._again:
            self._again = False
            self._after_change.start()

    def refresh_status(self) -> None:
        """Read the state from this desk's own records (no network) and tell the views."""
        if self.clinic.closed:
            return
        status = sync_status(self.clinic)
        self.last_status = status
        self.status_changed.emit(status)
