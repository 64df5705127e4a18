"""The real widgets, offscreen: first run, unlock, and finding a patient with Ctrl+K."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.patients.model import PatientDraft, PhoneDraft
from app.patients.records import create_patient
from tests.conftest import PASSPHRASE
from tests.support.memory_keyring import MemoryKeyring
from ui.main_window import MainWindow
from ui.unlock import CreateClinicDialog, RecoveryKeyDialog, UnlockDialog


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


def test_wrong_passphrase_shows_a_plain_message_and_stays_open(
    qtbot: QtBot, clinic_home: Path, memory_keyring: MemoryKeyring
) -> None:
    memory_keyring.entries.clear()
    dialog = UnlockDialog(clinic_home)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.keyClicks(dialog.secret, "wrong passphrase 123")
    dialog._unlock()
    assert "not right" in dialog.error.text()
    assert dialog.clinic is None and dialog.isVisible()
    dialog.secret.clear()
    qtbot.keyClicks(dialog.secret, PASSPHRASE)
    dialog._unlock()
    assert dialog.clinic is not None
    dialog.clinic.close()


def test_first_run_refuses_a_weak_passphrase_then_creates_the_clinic(
    qtbot: QtBot, tmp_path: Path
) -> None:
    dialog = CreateClinicDialog(tmp_path / "new")
    qtbot.addWidget(dialog)
    qtbot.keyClicks(dialog.name, "Lakeside Family Practice")
    qtbot.keyClicks(dialog.passphrase, "short")
    qtbot.keyClicks(dialog.repeat, "short")
    dialog._create()
    assert "at least 10" in dialog.error.text()
    assert not (tmp_path / "new" / "clinic.db").exists()
    for field in (dialog.passphrase, dialog.repeat):
        field.clear()
        qtbot.keyClicks(field, "harbour lanterns at dusk")
    dialog._create()
    assert dialog.clinic is not None
    assert len(dialog.recovery_key) == 39
    kit = RecoveryKeyDialog(dialog.clinic, dialog.recovery_key)
    qtbot.addWidget(kit)
    assert not kit.done_button.isEnabled()
    kit.stored.setChecked(True)
    assert kit.done_button.isEnabled()
    dialog.clinic.close()
