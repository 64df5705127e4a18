"""The window's sync: a round with the sync server off the GUI thread, when it is worth one.

A round (app/sync/service.sync_once) runs on its own thread and its own connection
(clinic.fork()): at start, a second after local data changed (the bus; several saves in
a row make one round), as soon as another workstation's work reaches the sync server
(the watcher, below), every three minutes all the same, and when someone presses "Sync
now". Never two at once: a change during a round asks for one more round after it. What
a round applied from the other workstations is published on the bus like a local write,
so the open views refresh; that publication does not itself ask for a round (it would
only find nothing to send).

While sync is on, a watcher thread keeps a question open on the sync server ("anything
after my cursor from another workstation?", app/sync/watch.py), reading the cursor on a
connection of its own (idle while it waits) before each question. News asks the GUI
thread for a round, and the watcher waits for that round to end before asking again; a
round that did not take the news in (the server unreachable, a refusal) makes it pause,
longer each time, so a failing round is never repeated in a loop. The watcher ends when
sync is turned off (the next round with sync on starts it again).

Syncing goes on behind the locked screen (nothing is shown there). The runner stands
down once its clinic is closed, and `stop()` (at window close) cancels a round under
way, hangs up the watcher's question and waits for both threads.
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
from app.sync.watch import WAIT_S, NewsWatch, watch_point
from ui.bus import DataBus

log = logging.getLogger(__name__)
START_AFTER_MS = 2_000  # the window shows first
AFTER_CHANGE_MS = 1_000  # a burst of saves becomes one round
EVERY_MS = 3 * 60_000  # fetch the other workstations' work
SHOW_SYNCING_AFTER_MS = 1_000  # a quick round never flickers "Syncing…"
STOP_WAIT_S = 10
NEWS_ROUND_WAIT_S = 120  # the watcher waits this long at most for the round it asked for
# Pauses before watching again after a round that did not take the news in (1st, 2nd…).
NEWS_RETRY_S = (5, 10, 20, 40, 80, 160)


class SyncRunner(QObject):
    """One per window. `status_changed` carries a SyncStatus (the status bar, the tab);
    `progress` the round's own words while it runs; `round_finished` follows each round
    (after its changes were published), for whoever waits on one (the reminders)."""

    status_changed = Signal(object)
    progress = Signal(int, int, str)
    round_finished = Signal()
    _round_over = Signal()  # from the worker thread, no payload: the result waits on self
    _news = Signal()  # from the watcher thread: another workstation's work waits

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
        self._watcher: threading.Thread | None = None
        self._watch: NewsWatch | None = None
        self._news_pending = False  # news came; the next round to start takes it in
        self._round_takes_news = False  # the round under way started after news
        self._news_round_over = threading.Event()  # the watcher waits on it
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
        self._news.connect(self._on_news)
        bus.changed.connect(self._local_change)

    # --- lifetime ----------------------------------------------------------------------

    def start(self, delay_ms: int = START_AFTER_MS) -> None:
        self.refresh_status()
        self._every.start()
        QTimer.singleShot(delay_ms, self, self.sync_now)
        self._watch_if_on()

    def stop(self) -> None:
        """Window close: no new round; one under way is cancelled and waited for, the
        watcher's question hung up and its thread waited for."""
        self.stopped = True
        for timer in (self._after_change, self._every, self._slow):
            timer.stop()
        self._cancel.cancel()
        self._stop_watching()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=STOP_WAIT_S)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def watching(self) -> bool:
        """Whether the watcher thread waits for the other workstations' work."""
        return self._watcher is not None and self._watcher.is_alive()

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
        self._round_takes_news, self._news_pending = self._news_pending, False

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
        if self._round_takes_news:
            self._round_takes_news = False
            self._news_round_over.set()
        if self._standing_down():
            self._stop_watching()
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
        if self._news_pending:  # news came during the round: fetch it now
            self._again = False
            self.sync_now()
        elif self._again:
            self._again = False
            self._after_change.start()
        self._watch_if_on()

    def refresh_status(self) -> None:
        """Read the state from this desk's own records (no network) and tell the views."""
        if self.clinic.closed:
            return
        status = sync_status(self.clinic)
        self.last_status = status
        self.status_changed.emit(status)

    # --- the watcher -----------------------------------------------------------------------

    def _on_news(self) -> None:
        """Another workstation's work waits on the sync server: a round now (or right
        after the one under way)."""
        self._news_pending = True
        if not self.sync_now() and not self.running:  # none will run (off, standing down)
            self._news_pending = False
            self._news_round_over.set()

    def _watch_if_on(self) -> None:
        if self._standing_down() or self.watching or not is_enabled(self.clinic):
            return
        watch = NewsWatch()
        self._watch = watch
        self._watcher = threading.Thread(
            target=self._watch_for_news, args=(watch,), name="sync-watch", daemon=True
        )
        self._watcher.start()

    def _stop_watching(self) -> None:
        watch, thread = self._watch, self._watcher
        if watch is not None:
            watch.hang_up()
        self._news_round_over.set()
        if thread is not None:
            thread.join(timeout=STOP_WAIT_S)
        if watch is not None:
            watch.close()

    def _watch_for_news(self, watch: NewsWatch) -> None:
        """On the watcher thread, with a connection of its own: until hung up, sync is off
        or the runner stands down."""
        try:
            fork = self.clinic.fork()
        except Exception as exc:  # noqa: BLE001 - no watcher; the timed rounds go on
            log.warning("sync watcher not started: %s", type(exc).__name__)
            return
        try:
            self._watch_with(fork, watch)
        except RuntimeError:  # the runner was deleted under the thread (no stop() first)
            log.info("sync watcher ended with its runner")
        except Exception as exc:  # noqa: BLE001 - the next round starts a new watcher
            log.warning("sync watcher stopped: %s", type(exc).__name__)
        finally:
            fork.close()

    def _watch_with(self, fork: Clinic, watch: NewsWatch) -> None:
        retries = 0
        while not watch.hung_up and not self._standing_down():
            point = watch_point(fork)  # this desk's cursor now (rounds move it)
            if point is None:
                return
            if not watch.news_after(point, WAIT_S):
                continue
            before = watch_point(fork)  # rounds may have moved it while the question was open
            self._news_round_over.clear()
            self._news.emit()
            self._news_round_over.wait(NEWS_ROUND_WAIT_S)
            later = watch_point(fork)
            if before is not None and later is not None and later.cursor == before.cursor:
                watch.pause(NEWS_RETRY_S[min(retries, len(NEWS_RETRY_S) - 1)])
                retries += 1
            else:
                retries = 0
