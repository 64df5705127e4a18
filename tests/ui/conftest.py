"""Fixtures of the widget tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import shiboken6
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication

from ui import theme


@pytest.fixture
def app_looks(qapp: QApplication) -> Iterator[QApplication]:
    """The QApplication is shared by every test in the process: put its style, palette
    and font back as they were, and drop the system-theme follower this test made."""
    style = qapp.style().name()
    palette = QPalette(qapp.palette())
    font = qapp.font()
    yield qapp
    follower = qapp.findChild(theme._SystemSchemeFollower, theme._SYSTEM_FOLLOWER)
    if follower is not None:
        follower.setParent(None)
        follower.deleteLater()
    qapp.setStyle(style)
    qapp.setPalette(palette)
    qapp.setFont(font)


@pytest.fixture(autouse=True)
def quiet_leftover_windows(qapp: QApplication) -> Iterator[None]:
    """After each test, main windows the test left open stop their application-wide
    watchers (idle event filter, clipboard watcher, screen lock), their daily backup
    timer and their sync runner (its timers, and a round under way): hundreds of them
    piling up in one process made Qt crash now and then. The windows are not closed
    (closing may ask about unsaved settings)."""
    yield
    for widget in qapp.topLevelWidgets():
        guard = getattr(widget, "screen_guard", None)
        if guard is not None and shiboken6.isValid(guard):
            guard.close()
        for name in ("backup_runner", "sync_runner"):
            runner = getattr(widget, name, None)
            if runner is not None and shiboken6.isValid(runner):
                runner.stop()
