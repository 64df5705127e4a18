"""The screen guard locks a window on idle and on the computer's screen lock, clears the
clipboard when it does, and waits while the window is locked.

The window here is a small widget keeping the LockableWindow contract (lock_screen,
is_locked, screen_unlocked): a stand-in for the main window's sign-in screen, not for any
of the guard's own logic. The idle watcher runs on a clock the test moves."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.security import lock_settings
from app.users import add_user
from ui.security.clipboard import ClipboardGuard
from ui.security.idle import IdleWatcher
from ui.security.screen_guard import ScreenGuard, attach_screen_guard
from ui.security.screen_lock import ScreenLockListener


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


class SignInWindow(QWidget):
    """Keeps the LockableWindow contract: a data label hidden behind a sign-in label."""

    screen_unlocked = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.data = QLabel("patient data")
        self.sign_in = QLabel("Sign in")
        self.sign_in.hide()
        layout = QVBoxLayout(self)
        layout.addWidget(self.data)
        layout.addWidget(self.sign_in)
        self.reasons: list[str] = []

    def lock_screen(self, reason: str) -> None:
        self.reasons.append(reason)
        self.data.hide()
        self.sign_in.show()

    def is_locked(self) -> bool:
        return self.sign_in.isVisible()

    def sign_in_again(self) -> None:
        self.sign_in.hide()
        self.data.show()
        self.screen_unlocked.emit()


def guarded(qtbot: QtBot, clinic: Clinic) -> tuple[SignInWindow, ScreenGuard, Clock]:
    window = SignInWindow()
    qtbot.addWidget(window)
    window.show()
    clock = Clock()
    idle = IdleWatcher(lock_settings.idle_lock_minutes(clinic) * 60, clock=clock)
    guard = ScreenGuard(
        window,
        clinic,
        idle=idle,
        screen=ScreenLockListener(window),
        clipboard=ClipboardGuard(clear_after_ms=3_600_000),
    )
    return window, guard, clock


def test_five_idle_minutes_lock_the_window_and_clear_the_clipboard(
    qtbot: QtBot, clinic: Clinic
) -> None:
    window, guard, clock = guarded(qtbot, clinic)
    QGuiApplication.clipboard().setText("copied from a patient field")
    clock.now += 4 * 60 + 59
    guard.idle.check()
    assert not window.is_locked()
    clock.now += 1
    guard.idle.check()
    assert window.reasons == ["idle"]
    assert window.is_locked() and not window.data.isVisible()
    assert QGuiApplication.clipboard().text() == ""
    assert guard.idle.is_paused()
    guard.close()


def test_locked_windows_are_not_locked_again_until_signed_in(qtbot: QtBot, clinic: Clinic) -> None:
    window, guard, clock = guarded(qtbot, clinic)
    clock.now += 600
    guard.idle.check()
    clock.now += 6000
    guard.idle.check()
    assert window.reasons == ["idle"]
    window.sign_in_again()
    assert not guard.idle.is_paused()
    clock.now += 299
    guard.idle.check()
    assert window.reasons == ["idle"]
    clock.now += 1
    guard.idle.check()
    assert window.reasons == ["idle", "idle"]
    guard.close()


def test_the_computer_s_screen_lock_locks_the_window(qtbot: QtBot, clinic: Clinic) -> None:
    window, guard, _clock = guarded(qtbot, clinic)
    guard.screen.notice("lock")
    assert window.reasons == ["screen-locked"]
    assert guard.idle.is_paused()
    guard.close()


def test_the_screen_lock_can_be_switched_off_but_still_clears_the_clipboard(
    qtbot: QtBot, clinic: Clinic
) -> None:
    clinic.acting_user_id = add_user(clinic, "Ada Admin", "administrator").id
    lock_settings.set_lock_on_screen_lock(clinic, False)
    window, guard, _clock = guarded(qtbot, clinic)
    QGuiApplication.clipboard().setText("copied from a patient field")
    guard.screen.notice("lock")
    assert window.reasons == []
    assert QGuiApplication.clipboard().text() == ""
    guard.close()


def test_a_changed_idle_setting_is_picked_up(qtbot: QtBot, clinic: Clinic) -> None:
    clinic.acting_user_id = add_user(clinic, "Ada Admin", "administrator").id
    window, guard, clock = guarded(qtbot, clinic)
    lock_settings.set_idle_lock_minutes(clinic, 1)
    guard.reload_settings()
    clock.now += 60
    guard.idle.check()
    assert window.reasons == ["idle"]
    lock_settings.set_idle_lock_minutes(clinic, 10)
    window.sign_in_again()  # the limit is read again at sign-in
    clock.now += 9 * 60
    guard.idle.check()
    assert window.reasons == ["idle"]
    guard.close()


def test_a_window_locked_another_way_pauses_the_idle_watch(qtbot: QtBot, clinic: Clinic) -> None:
    window, guard, clock = guarded(qtbot, clinic)
    window.lock_screen("switch-user")
    clock.now += 600
    guard.idle.check()
    assert window.reasons == ["switch-user"]
    assert guard.idle.is_paused()
    guard.close()


def test_attach_makes_a_guard_owned_by_the_window(qtbot: QtBot, clinic: Clinic) -> None:
    window = SignInWindow()
    qtbot.addWidget(window)
    guard = attach_screen_guard(window, clinic)
    assert guard.parent() is window
    assert guard.idle.limit_seconds == 300
    assert window.findChild(ScreenGuard) is guard
    guard.close()
