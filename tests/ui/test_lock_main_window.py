"""The real main window on the demo clinic: five idle minutes lock it, nothing of the
open patient stays on screen or on the clipboard, and the count starts again at sign-in."""

from __future__ import annotations

from PySide6.QtGui import QGuiApplication, QKeySequence
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from tests.ui.test_signin_lock import (
    MARIA_PASSWORD,
    a_patient,
    open_window,
    people,
    sign_in_as,
    visible_texts,
)
from ui.security.clipboard import ClipboardGuard
from ui.security.idle import IdleWatcher
from ui.security.screen_guard import ScreenGuard
from ui.security.screen_lock import ScreenLockListener


class Clock:
    def __init__(self) -> None:
        self.now = 10_000.0

    def __call__(self) -> float:
        return self.now


def test_idle_locks_the_main_window_and_hides_the_patient(
    qtbot: QtBot, demo_clinic: Clinic
) -> None:
    maria, _dana = people(demo_clinic)
    window = open_window(qtbot, demo_clinic)
    for existing in window.findChildren(ScreenGuard):
        existing.close()  # the window's own guard, if wired: this one runs on a test clock
        existing.setParent(None)
    clock = Clock()
    guard = ScreenGuard(
        window,
        demo_clinic,
        idle=IdleWatcher(300, clock=clock),
        screen=ScreenLockListener(window),
        clipboard=ClipboardGuard(clear_after_ms=3_600_000),
    )
    patient_id, family, _given = a_patient(demo_clinic)
    window.open_patient(patient_id)
    name = window.patient_view.header.name
    name.setSelection(0, len(name.text()))
    name.setFocus()
    QTest.keySequence(name, QKeySequence.StandardKey.Copy)
    assert family in QGuiApplication.clipboard().text()
    assert any(family in text for text in visible_texts())

    clock.now += 299
    guard.idle.check()
    assert not window.is_locked()
    clock.now += 1
    guard.idle.check()

    assert window.is_locked()
    assert not window.work.isVisible()
    assert not any(family in text for text in visible_texts())
    assert QGuiApplication.clipboard().text() == ""
    assert guard.idle.is_paused()

    sign_in_as(qtbot, window, maria, MARIA_PASSWORD)
    qtbot.waitUntil(lambda: not window.is_locked())
    assert not guard.idle.is_paused()
    assert any(family in text for text in visible_texts())  # the work came back
    clock.now += 300
    guard.idle.check()
    assert window.is_locked()
    guard.close()
