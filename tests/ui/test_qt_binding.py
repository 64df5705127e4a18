"""Guards against a Qt binding that corrupts Python's reference counts.

PySide6 6.12.0 dropped a reference to the value returned by `Signal.emit()` (True)
and by `QCoreApplication.postEvent()` (None) on every call: after a few thousand
finder keystrokes the interpreter aborted with "deallocating True" or
"deallocating None". Frontdesk pins 6.11.3; this test fails on any version that
brings the bug back, before a receptionist's window does.
"""

from __future__ import annotations

import sys
import threading

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Signal
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

CALLS = 500  # enough to see a leak, too few to exhaust True before the assert
SLACK = 100  # other threads (a finder, a count) touch True and None meanwhile; the bug is ≥ CALLS


class _Source(QObject):
    ready = Signal()


def test_emitting_signals_keeps_reference_counts(qtbot: QtBot, qapp: QApplication) -> None:
    source = _Source()
    got: list[int] = []
    source.ready.connect(lambda: got.append(1))
    before = sys.getrefcount(True), sys.getrefcount(None)
    for _ in range(CALLS):
        source.ready.emit()
    worker = threading.Thread(target=lambda: [source.ready.emit() for _ in range(CALLS)])
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: len(got) == 2 * CALLS)
    after = sys.getrefcount(True), sys.getrefcount(None)
    assert abs(after[0] - before[0]) < SLACK
    assert abs(after[1] - before[1]) < SLACK


def test_posting_events_keeps_reference_counts(qtbot: QtBot, qapp: QApplication) -> None:
    target = QObject()
    before = sys.getrefcount(None)
    for _ in range(CALLS):
        QCoreApplication.postEvent(target, QEvent(QEvent.Type.User))
    qapp.processEvents()
    assert abs(sys.getrefcount(None) - before) < SLACK
