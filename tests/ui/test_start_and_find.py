"""The real widgets, offscreen: finding a patient with Ctrl+K. (First run and unlock have
their own tests: test_first_run.py and test_unlock.py.)"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.patients.model import PatientDraft, PhoneDraft
from app.patients.records import create_patient
from ui.main_window import MainWindow


def _window(qtbot: QtBot, clinic: Clinic) -> MainWindow:
    window = MainWindow(clinic)
    qtbot.addWidget(window)
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    return window


def test_ctrl_k_focuses_the_finder_and_typing_lists_the_patient(
    qtbot: QtBot, clinic: Clinic, tmp_path: Path
) -> None:
    create_patient(
        clinic,
        PatientDraft(
            "Okafor", "Ada", birth_date="1975-03-04", phones=(PhoneDraft("(612) 555-0142"),)
        ),
    )
    create_patient(clinic, PatientDraft("Okonkwo", "Chidi"))
    window = _window(qtbot, clinic)
    window.nav.setFocus()
    qtbot.keyClick(window.nav, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    assert window.finder.hasFocus()
    qtbot.keyClicks(window.finder, "okaf")
    assert window.results.count() == 1
    assert "Okafor, Ada" in window.results.item(0).text()
    assert "(612) 555-0142" in window.results.item(0).text()
    window.grab().save(str(tmp_path / "finder.png"))
    assert (tmp_path / "finder.png").stat().st_size > 1000


def test_no_match_says_what_to_try_next(qtbot: QtBot, clinic: Clinic) -> None:
    window = _window(qtbot, clinic)
    qtbot.keyClicks(window.finder, "zzzzqqq")
    assert window.results.count() == 0
    assert "No patient matches" in window.empty.text()


def test_window_title_shows_no_clinic_or_patient_data(qtbot: QtBot, clinic: Clinic) -> None:
    window = _window(qtbot, clinic)
    assert window.windowTitle() == "Frontdesk"
