"""The window's side of the reminder scheduler: its state in the status bar, and the tray.

The scheduler runs passes on its own thread and connection; each result reaches the GUI
thread through a signal that carries counts only (never a name, number or text), and the
pages refresh through the bus when a pass changed something. While this computer sends,
closing the window can leave Frontdesk in the system tray so the reminders keep going;
the tray's menu opens the window again, sends at once, or quits for real.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QAction, QIcon
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QMainWindow,
    QMenu,
    QStyle,
    QSystemTrayIcon,
)

from app.clinic import Clinic
from app.reminders.outbox import count_by_state
from app.reminders.scheduler import ReminderScheduler
from app.reminders.service import (
    MODE_OFF,
    MODE_OTHER_SENDER,
    MODE_SENDING,
    PassReport,
    keep_running_in_tray,
    last_pass,
    set_keep_running_in_tray,
)
from app.reminders.settings import is_chosen_sender, load_settings
from app.store.changes import Changes
from app.sync import sender_lease
from app.today import clinic_zone
from ui.bus import DataBus
from ui.sync.runner import SyncRunner

# What a pass can change that a page shows: the outbox (Messages, the timeline), replies
# (Inbox), confirmed visits (Today, the agenda) and STOP opt-outs (consents).
PASS_TABLES = frozenset({"outbox", "inbound_message", "appointment", "consent"})
START_AFTER_MS = 3000  # the window shows first; the catch-up pass follows


@dataclass(frozen=True)
class PassCounts:
    """What crosses from the scheduler's thread to the window: numbers and words of ours."""

    at: str  # UTC text
    mode: str
    sent: int
    failed: int
    problems: tuple[str, ...]  # the typed errors' own words, free of patient data
    changed: bool
    summary: str
    turn: str = ""  # with sync on: why the chosen desk did not send (the turn's words)
    catching_up: bool = False  # it just gained the turn and sends after a sync round

    @classmethod
    def of(cls, report: PassReport) -> PassCounts:
        return cls(
            at=report.at,
            mode=report.mode,
            sent=report.sent,
            failed=report.failed,
            problems=tuple(report.problem_lines()),
            changed=report.changed,
            summary=report.summary(),
            turn=report.turn,
            catching_up=report.catching_up,
        )


class ReminderRunner(QObject):
    """Owns the scheduler for one window; `status` is the label it puts in the status bar."""

    pass_done = Signal(object)  # PassCounts
    pass_failed = Signal(str)

    def __init__(
        self,
        window: QMainWindow,
        clinic: Clinic,
        bus: DataBus,
        *,
        interval_s: float = 60,
    ) -> None:
        super().__init__(window)
        self.window = window
        self.clinic = clinic
        self.bus = bus
        self.quitting = False  # set by the tray's Quit: the window's close is then for real
        self.last: PassCounts | None = None
        self.problem = ""
        self.shown_mode = ""
        self.sync_runner: SyncRunner | None = None
        self._pass_after_sync = False
        self.scheduler = ReminderScheduler(
            clinic.fork,
            on_pass=lambda report: self.pass_done.emit(PassCounts.of(report)),
            on_failure=self.pass_failed.emit,
            interval_s=interval_s,
        )
        # Emitted on the scheduler's thread; Qt queues them to this (the GUI) thread.
        self.pass_done.connect(self._show_pass)
        self.pass_failed.connect(self._show_failure)
        bus.changed.connect(self._changed)

        self.status = QLabel()
        self.status.setAccessibleName("Reminders status")
        self.status.setToolTip("Automatic reminders: whether this computer sends them")
        self.tray: QSystemTrayIcon | None = None
        self._told_about_tray = False
        self.keep_action = QAction("Keep sending when the window is closed", self)
        self.keep_action.setCheckable(True)
        self.keep_action.setChecked(keep_running_in_tray(clinic))
        self.keep_action.toggled.connect(self.set_keep_sending)
        self.menu = self._make_menu()  # the tray's; built even where there is no tray
        if QSystemTrayIcon.isSystemTrayAvailable():
            self.tray = self._make_tray()
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.stop)
        self.refresh_status()

    # --- the scheduler -------------------------------------------------------------------

    def start(self) -> None:
        self.scheduler.start()

    def start_later(self, delay_ms: int = START_AFTER_MS) -> None:
        """Start once the window is up; a window closed before then never starts it."""
        QTimer.singleShot(delay_ms, self, self._start_if_shown)

    def _start_if_shown(self) -> None:
        if self.window.isVisible() and not self.quitting:
            self.start()

    def stop(self) -> None:
        """App exit: a pass under way stops between messages; returns when it has."""
        self.scheduler.stop(wait=True)

    def use_sync(self, runner: SyncRunner) -> None:
        """The window's sync runner: a pass that gained the sending turn asks it for a
        round (the catch-up), and the pass after that round sends."""
        self.sync_runner = runner
        runner.round_finished.connect(self._sync_round_finished)

    def _catch_up(self) -> None:
        """After a pass that just gained the turn: a sync round in a later whole second
        (the turn counts only such a round), then a pass at once."""
        if self.sync_runner is None or self.quitting:
            return
        self._pass_after_sync = True
        runner = self.sync_runner
        QTimer.singleShot(1010 - int(time.time() * 1000) % 1000, runner, runner.sync_now)

    def _sync_round_finished(self) -> None:
        if self._pass_after_sync and self.scheduler.running:
            self._pass_after_sync = False
            self.scheduler.run_now()

    def send_now(self) -> None:
        if not self.scheduler.running:
            self.start()
        else:
            self.scheduler.run_now()

    # --- results on the GUI thread -------------------------------------------------------

    def _show_pass(self, counts: PassCounts) -> None:
        self.last = counts
        self.problem = counts.problems[0] if counts.problems else ""
        if counts.changed:
            self.bus.publish(Changes(tables=PASS_TABLES))
        self.refresh_status()
        if counts.catching_up:
            self._catch_up()

    def _show_failure(self, message: str) -> None:
        self.problem = message
        self.refresh_status()

    def _changed(self, changes: Changes) -> None:
        if changes.touches("setting"):
            self.sync_keep_action()  # e.g. ticked in Settings ▸ Reminders
            was = self.shown_mode
            self.refresh_status()
            if was != MODE_SENDING and self.shown_mode == MODE_SENDING and self.scheduler.running:
                self.scheduler.run_now()  # sending just turned on here: no minute's wait
        elif changes.touches("outbox"):
            self.refresh_status()

    # --- state ---------------------------------------------------------------------------

    def mode(self) -> str:
        settings = load_settings(self.clinic)
        if not settings.enabled:
            return MODE_OFF
        # Not chosen yet: this computer takes the role at its next pass (run_pass). The
        # chosen one is the sender here even while, with sync on, it waits for its turn.
        if not settings.sender_device or is_chosen_sender(self.clinic, settings):
            return MODE_SENDING
        return MODE_OTHER_SENDER

    def turn_words(self) -> str:
        """With sync on, why the chosen desk does not send right now ("" when it does)."""
        if not sender_lease.sync_on(self.clinic):
            return ""
        turn = sender_lease.sender_turn(self.clinic)
        return "" if turn.holds else turn.message

    def status_text(self, mode: str) -> str:
        if mode == MODE_OFF:
            return "Reminders: off"
        recorded = last_pass(self.clinic)
        if mode == MODE_OTHER_SENDER:
            text = "Reminders: sent by another computer"
            if recorded is not None and recorded.at:
                text += f" · last pass {self._clock(recorded.at)}"
            return text
        parts = ["Reminders: on"]
        if self.last is not None and self.last.turn:
            parts.append("waiting for the sending turn")
        elif self.last is not None and self.last.mode == MODE_SENDING:
            parts.append(f"last pass {self._clock(self.last.at)}")
        elif recorded is not None and recorded.device == self.clinic.store.device_id:
            parts.append(f"last pass {self._clock(recorded.at)}")  # e.g. the scheduled task's
        failed = count_by_state(self.clinic).get("failed", 0)
        if failed:
            parts.append(f"{failed} failed")
        if self.problem:
            parts.append("a sending problem")
        return " · ".join(parts)

    def refresh_status(self) -> None:
        self.shown_mode = self.mode()
        text = self.status_text(self.shown_mode)
        self.status.setText(text)
        tip = "Automatic reminders: whether this computer sends them"
        if self.last is not None:
            tip += f"\nLast pass: {self.last.summary}"
        if self.problem:
            tip += f"\n{self.problem}"
        turn = self.turn_words() if self.shown_mode == MODE_SENDING else ""
        if turn and turn != self.problem:
            tip += f"\n{turn}"
        self.status.setToolTip(tip)
        if self.tray is not None:
            self.tray.setToolTip(f"Frontdesk — {text}")
            if self.shown_mode == MODE_SENDING:
                self.tray.show()
            elif self.window.isVisible():
                self.tray.hide()

    def _clock(self, utc: str) -> str:
        moment = datetime.fromisoformat(utc.replace("Z", "+00:00"))
        return moment.astimezone(clinic_zone(self.clinic)).strftime("%H:%M")

    # --- the tray ------------------------------------------------------------------------

    def _make_menu(self) -> QMenu:
        menu = QMenu(self.window)
        menu.setAccessibleName("Frontdesk tray menu")
        menu.addAction("Open Frontdesk", self.open_window)
        menu.addAction("Send now", self.send_now)
        menu.addAction(self.keep_action)
        menu.addSeparator()
        menu.addAction("Quit", self.quit)
        # The same choice is in Settings ▸ Reminders: show what is saved when it opens.
        menu.aboutToShow.connect(self.sync_keep_action)
        return menu

    def _make_tray(self) -> QSystemTrayIcon:
        icon = QApplication.windowIcon()
        if icon.isNull():
            icon = self.window.style().standardIcon(QStyle.StandardPixmap.SP_ComputerIcon)
        tray = QSystemTrayIcon(QIcon(icon), self)
        tray.setContextMenu(self.menu)
        tray.activated.connect(self._tray_activated)
        return tray

    def _tray_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (
            QSystemTrayIcon.ActivationReason.Trigger,
            QSystemTrayIcon.ActivationReason.DoubleClick,
        ):
            self.open_window()

    def set_keep_sending(self, keep: bool) -> None:
        if keep != keep_running_in_tray(self.clinic):  # not when the tick only catches up
            self.bus.publish(set_keep_running_in_tray(self.clinic, keep))
        if self.keep_action.isChecked() != keep:
            self.keep_action.setChecked(keep)

    def sync_keep_action(self) -> None:
        """Tick the tray's "Keep sending…" as saved for this computer, without saving."""
        keep = keep_running_in_tray(self.clinic)
        if self.keep_action.isChecked() != keep:
            self.keep_action.blockSignals(True)
            self.keep_action.setChecked(keep)
            self.keep_action.blockSignals(False)

    def wants_tray(self) -> bool:
        """Whether closing the window should keep Frontdesk sending: this computer sends,
        the person did not pick Quit, and "Keep sending when the window is closed" is on."""
        return (
            not self.quitting and self.mode() == MODE_SENDING and keep_running_in_tray(self.clinic)
        )

    def should_stay_in_tray(self) -> bool:
        """What the window's closeEvent asks: stay in the tray (only if there is one)."""
        return self.tray is not None and self.wants_tray()

    def hide_to_tray(self) -> None:
        # While the window is hidden, Qt must not take the hidden window for a closed
        # one and end the program; opening it again puts the normal rule back.
        QApplication.setQuitOnLastWindowClosed(False)
        self.window.hide()
        if self.tray is not None:
            self.tray.show()
            if not self._told_about_tray:
                self._told_about_tray = True
                self.tray.showMessage(
                    "Frontdesk is still sending reminders",
                    "Frontdesk keeps running here. Use this icon to open it again or to quit.",
                    QSystemTrayIcon.MessageIcon.Information,
                    8000,
                )

    def open_window(self) -> None:
        QApplication.setQuitOnLastWindowClosed(True)
        if self.window.isMinimized():
            self.window.showNormal()
        else:
            self.window.show()
        self.window.raise_()
        self.window.activateWindow()

    def quit(self) -> None:
        """The tray's Quit: close the window for real (it may still ask about unsaved
        edits, and then nothing quits), stop the scheduler and end the program."""
        self.quitting = True
        if not self.window.close():
            self.quitting = False
            self.open_window()
            return
        if self.tray is not None:
            self.tray.hide()
        self.stop()
        QApplication.quit()


def attach_reminders(
    window: QMainWindow, clinic: Clinic, bus: DataBus, *, start_after_ms: int = START_AFTER_MS
) -> ReminderRunner:
    """Give the window its reminder scheduler: the status label goes in its status bar and
    the scheduler starts a moment after the window shows."""
    runner = ReminderRunner(window, clinic, bus)
    window.statusBar().addPermanentWidget(runner.status)
    runner.start_later(start_after_ms)
    return runner
