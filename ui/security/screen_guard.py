"""What locks the main window by itself: inactivity, the computer's screen lock, and the
clipboard cleared when it does (45 CFR 164.312(a)(2)(iii), automatic logoff).

The window hides the patient data itself (`lock_screen`); this module only decides when,
through the small LockableWindow contract, so it never reaches into the window's widgets.
"""

from __future__ import annotations

import logging
from typing import Final, Protocol

from PySide6.QtCore import QObject, QTimer, SignalInstance
from PySide6.QtWidgets import QWidget

from app.clinic import Clinic
from app.security.lock_settings import idle_lock_minutes, lock_on_screen_lock
from ui.security.clipboard import ClipboardGuard
from ui.security.idle import IdleWatcher
from ui.security.screen_lock import ScreenLockListener

log = logging.getLogger(__name__)

REASON_IDLE: Final = "idle"
REASON_SCREEN_LOCKED: Final = "screen-locked"
# Settings changed at another desk arrive by sync; reading one row a minute keeps every
# desk's limit current without a signal from the settings screen.
SETTINGS_REFRESH_MS: Final = 60_000


class LockableWindow(Protocol):
    """All the guard asks of the main window (the sign-in screen belongs to the window)."""

    screen_unlocked: SignalInstance

    def lock_screen(self, reason: str) -> None: ...

    def is_locked(self) -> bool: ...


class ScreenGuard(QObject):
    """The three watchers of one window; made by attach_screen_guard."""

    def __init__(
        self,
        window: LockableWindow,
        clinic: Clinic,
        *,
        idle: IdleWatcher | None = None,
        screen: ScreenLockListener | None = None,
        clipboard: ClipboardGuard | None = None,
    ) -> None:
        super().__init__(window if isinstance(window, QObject) else None)
        self.setObjectName("screenGuard")
        self.window = window
        self.clinic = clinic
        native = window if isinstance(window, QWidget) else None
        self.idle = idle or IdleWatcher(idle_lock_minutes(clinic) * 60, parent=self)
        self.screen = screen or ScreenLockListener(native, self)
        self.clipboard = clipboard or ClipboardGuard(self)
        self.idle.idle.connect(self._idle_reached)
        self.screen.screen_locked.connect(self._screen_locked)
        window.screen_unlocked.connect(self._unlocked)
        self._closed = False
        self._refresh = QTimer(self)
        self._refresh.setInterval(SETTINGS_REFRESH_MS)
        self._refresh.timeout.connect(self.reload_settings)
        self._refresh.start()
        if window.is_locked():
            self.idle.pause()  # signed out at start: nothing to time until sign-in

    def reload_settings(self) -> None:
        """Pick up a changed idle limit (Settings here, or another desk through sync)."""
        if self._clinic_gone():
            return
        self.idle.set_limit(idle_lock_minutes(self.clinic) * 60)

    def lock(self, reason: str) -> None:
        self.clipboard.clear_now()
        self.idle.pause()
        if not self.window.is_locked():
            log.info("window locked (%s)", reason)
        self.window.lock_screen(reason)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._refresh.stop()
        self.idle.stop()
        self.screen.close()
        self.clipboard.close()

    def _clinic_gone(self) -> bool:
        """After the clinic closed (the program quitting) the guard only stops ticking:
        tearing down filters and connections from inside a timer's own call is left to
        the window's close."""
        if self.clinic.closed:
            self.idle.pause()
            self._refresh.stop()
        return self.clinic.closed

    def _idle_reached(self) -> None:
        if self._clinic_gone():
            return
        if self.window.is_locked():
            self.idle.pause()  # locked some other way (Switch user): wait for sign-in
            return
        self.lock(REASON_IDLE)

    def _screen_locked(self, _why: str) -> None:
        if self._clinic_gone():
            self.clipboard.clear_now()
            return
        if lock_on_screen_lock(self.clinic):
            self.lock(REASON_SCREEN_LOCKED)
        else:
            self.clipboard.clear_now()  # the clipboard is cleared whenever the desk is left

    def _unlocked(self) -> None:
        self.reload_settings()
        self.idle.resume()


def attach_screen_guard(window: LockableWindow, clinic: Clinic) -> ScreenGuard:
    """Lock `window` after the clinic's idle minutes and when the computer's screen locks;
    clear Frontdesk's clipboard copies whenever it locks. The guard lives as long as the
    window (it is the window's child when the window is a QObject)."""
    return ScreenGuard(window, clinic)
