"""Fixtures of the widget tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
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
