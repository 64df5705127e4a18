"""The idle watcher: real events through the application's filter, a clock the test moves."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QEvent, QPointF, Qt
from PySide6.QtGui import QKeyEvent, QMouseEvent
from PySide6.QtWidgets import QLineEdit
from pytestqt.qtbot import QtBot

from ui.security.idle import IdleWatcher


class Clock:
    """Monotonic seconds the test advances: minutes pass without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


FIELDS: dict[int, QLineEdit] = {}


def make_watcher(qtbot: QtBot, limit: float = 300) -> tuple[IdleWatcher, Clock, list[int]]:
    clock = Clock()
    watcher = IdleWatcher(limit, clock=clock)
    fired: list[int] = []
    watcher.idle.connect(lambda: fired.append(1))
    field = QLineEdit()
    qtbot.addWidget(field)
    FIELDS.clear()
    FIELDS[id(watcher)] = field
    return watcher, clock, fired


def field_of(watcher: IdleWatcher) -> QLineEdit:
    return FIELDS[id(watcher)]


def type_a_key(qtbot: QtBot, watcher: IdleWatcher) -> None:
    field = field_of(watcher)
    press = QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_A, Qt.KeyboardModifier.NoModifier, "a")
    QCoreApplication.postEvent(field, press)
    QCoreApplication.processEvents()


def test_idle_fires_once_when_the_limit_passes_without_input(qtbot: QtBot) -> None:
    watcher, clock, fired = make_watcher(qtbot)
    clock.now += 299
    watcher.check()
    assert fired == []
    clock.now += 1
    watcher.check()
    watcher.check()
    assert fired == [1]
    watcher.stop()


def test_a_key_press_starts_the_count_again(qtbot: QtBot) -> None:
    watcher, clock, fired = make_watcher(qtbot)
    clock.now += 250
    type_a_key(qtbot, watcher)
    assert field_of(watcher).text() == "a"  # the key still reached the field
    clock.now += 250
    watcher.check()
    assert fired == []
    clock.now += 50
    watcher.check()
    assert fired == [1]
    watcher.stop()


def test_mouse_moves_count_as_input_but_repaints_do_not(qtbot: QtBot) -> None:
    watcher, clock, fired = make_watcher(qtbot, limit=60)
    field = field_of(watcher)
    clock.now += 59
    move = QMouseEvent(
        QEvent.Type.MouseMove,
        QPointF(3, 3),
        QPointF(3, 3),
        Qt.MouseButton.NoButton,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QCoreApplication.postEvent(field, move)
    QCoreApplication.processEvents()
    clock.now += 59
    QCoreApplication.postEvent(field, QEvent(QEvent.Type.UpdateRequest))
    QCoreApplication.processEvents()
    watcher.check()
    assert fired == []
    clock.now += 1
    watcher.check()
    assert fired == [1]
    watcher.stop()


def test_paused_while_locked_and_counting_afresh_after_resume(qtbot: QtBot) -> None:
    watcher, clock, fired = make_watcher(qtbot)
    watcher.pause()
    clock.now += 3600
    watcher.check()
    assert fired == []
    watcher.resume()
    clock.now += 299
    watcher.check()
    assert fired == []
    clock.now += 1
    watcher.check()
    assert fired == [1]
    watcher.stop()


def test_a_shorter_limit_applies_to_the_time_already_idle(qtbot: QtBot) -> None:
    watcher, clock, fired = make_watcher(qtbot)
    clock.now += 120
    watcher.check()
    assert fired == []
    watcher.set_limit(60)
    watcher.check()
    assert fired == [1]
    watcher.stop()


def test_the_watchers_own_timer_does_the_checking(qtbot: QtBot) -> None:
    watcher, clock, _fired = make_watcher(qtbot)
    clock.now += 301
    with qtbot.waitSignal(watcher.idle, timeout=5000):
        pass  # the 1-second tick, not the test, notices
    watcher.stop()


def test_a_stopped_watcher_leaves_the_application_filter(qtbot: QtBot) -> None:
    watcher, clock, fired = make_watcher(qtbot)
    watcher.stop()
    watcher.resume()
    clock.now += 200
    type_a_key(qtbot, watcher)  # no longer seen
    clock.now += 100
    watcher.check()
    assert fired == [1]
    watcher.pause()
