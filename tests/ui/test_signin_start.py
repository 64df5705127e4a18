"""Starting Frontdesk: an existing clinic opens on the sign-in screen, before any patient data."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.clinic import open_clinic
from app.security import accounts
from ui.application import run_gui
from ui.main_window import MainWindow


def test_the_window_starts_locked_with_nobody_acting_until_someone_signs_in(
    qtbot: QtBot, clinic_home: Path, app_looks: QApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # run_gui sets its own
    with open_clinic(clinic_home) as clinic:
        maria = accounts.set_first_password(clinic, "orchard ladders in april", name="Maria").id
    seen: dict[str, object] = {}

    def look() -> None:
        window = next(
            (w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)), None
        )
        if window is None or not window.isVisible():
            QTimer.singleShot(20, look)
            return
        seen["locked"] = window.is_locked()
        seen["work shown"] = window.work.isVisible()
        seen["acting"] = window.clinic.acting_user_id
        seen["chosen"] = window.sign_in_screen.selected_id()
        window.sign_in_screen.password.setText("orchard ladders in april")
        window.sign_in_screen.sign_in()
        seen["after"] = window.clinic.acting_user_id
        window.reminders.stop()
        window.hide()
        QApplication.quit()

    QTimer.singleShot(0, look)
    assert run_gui(clinic_home) == 0
    assert seen == {
        "locked": True,
        "work shown": False,
        "acting": "",
        "chosen": maria,  # the only person is chosen already: type and press Enter
        "after": maria,
    }
    with open_clinic(clinic_home) as clinic:
        actions = [
            r[0]
            for r in clinic.conn.execute(
                "SELECT action FROM audit_event WHERE action LIKE 'sign%' ORDER BY seq"
            )
        ]
    assert actions[-2:] == ["signin", "signout"]  # quitting signs out
