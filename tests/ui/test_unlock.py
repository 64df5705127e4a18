"""Opening an existing clinic: silently by keyring, or by passphrase or recovery key."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QLabel, QWidget
from pytestqt.qtbot import QtBot

from app.clinic import open_clinic
from app.errors import WrongPassphraseError
from app.users import add_user
from tests.conftest import PASSPHRASE, Template
from tests.support.memory_keyring import MemoryKeyring
from ui.startup import StartResult, start_clinic
from ui.unlock import UnlockDialog

NEW_PASSPHRASE = "copper kettles by the mill"


def open_dialog(qtbot: QtBot, home: Path) -> UnlockDialog:
    dialog = UnlockDialog(home)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow)
    return dialog


def click(qtbot: QtBot, button: QWidget) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def when_modal_opens(qtbot: QtBot, act: Callable[[UnlockDialog], None]) -> None:
    """Answer the dialog start_clinic opens with exec(), once it is on screen."""

    def answer() -> None:
        modal = QApplication.activeModalWidget()
        if not isinstance(modal, UnlockDialog):
            QTimer.singleShot(20, answer)
            return
        act(modal)
        # If the answer did not close it, close it so the test fails instead of hanging.
        QTimer.singleShot(3000, lambda: modal.isVisible() and modal.done(0))

    QTimer.singleShot(0, answer)


def test_keyring_opens_the_clinic_without_asking_and_acts_as_the_administrator(
    clinic_home: Path,
) -> None:
    with open_clinic(clinic_home) as clinic:
        admin = add_user(clinic, "Maria Lopez", "administrator")
    started = start_clinic(clinic_home)
    assert isinstance(started, StartResult)
    assert started.clinic.opened.unlocked_by == "keyring"
    assert started.clinic.acting_user_id == admin.id
    assert started.want_demo is False
    started.clinic.close()


def test_without_the_keyring_start_clinic_asks_for_the_passphrase(
    qtbot: QtBot, clinic_home: Path, memory_keyring: MemoryKeyring
) -> None:
    memory_keyring.entries.clear()

    def type_passphrase(dialog: UnlockDialog) -> None:
        qtbot.keyClicks(dialog.secret, PASSPHRASE)
        qtbot.keyClick(dialog.secret, Qt.Key.Key_Return)

    when_modal_opens(qtbot, type_passphrase)
    started = start_clinic(clinic_home)
    assert started is not None
    assert started.clinic.opened.unlocked_by == "passphrase"
    started.clinic.close()


def test_quitting_the_unlock_screen_opens_nothing(
    qtbot: QtBot, clinic_home: Path, memory_keyring: MemoryKeyring
) -> None:
    memory_keyring.entries.clear()
    when_modal_opens(qtbot, lambda dialog: qtbot.keyClick(dialog.secret, Qt.Key.Key_Escape))
    assert start_clinic(clinic_home) is None


def test_wrong_passphrase_gives_a_plain_message_and_the_next_try_works(
    qtbot: QtBot, clinic_home: Path, memory_keyring: MemoryKeyring
) -> None:
    memory_keyring.entries.clear()
    dialog = open_dialog(qtbot, clinic_home)
    for _attempt in range(3):  # no lock-out after several wrong tries
        qtbot.keyClicks(dialog.secret, "wrong passphrase 123")
        click(qtbot, dialog.unlock_button)
        assert "passphrase is not right" in dialog.error.text()
        assert "Caps Lock" in dialog.error.text()
        assert "Traceback" not in dialog.error.text()
        assert dialog.clinic is None and dialog.isVisible()
        assert dialog.secret.selectedText() == "wrong passphrase 123"
    qtbot.keyClicks(dialog.secret, PASSPHRASE)  # typing replaces the selected try
    qtbot.keyClick(dialog.secret, Qt.Key.Key_Return)
    assert dialog.clinic is not None
    assert dialog.result() == UnlockDialog.DialogCode.Accepted
    dialog.clinic.close()


def test_empty_passphrase_asks_to_type_one(
    qtbot: QtBot, clinic_home: Path, memory_keyring: MemoryKeyring
) -> None:
    memory_keyring.entries.clear()
    dialog = open_dialog(qtbot, clinic_home)
    click(qtbot, dialog.unlock_button)
    assert "Type the passphrase" in dialog.error.text()


def test_the_locked_screen_shows_nothing_about_the_clinic(
    qtbot: QtBot, clinic_home: Path, memory_keyring: MemoryKeyring
) -> None:
    memory_keyring.entries.clear()
    dialog = open_dialog(qtbot, clinic_home)
    shown = [dialog.windowTitle()] + [label.text() for label in dialog.findChildren(QLabel)]
    assert not any("Lakeside" in text or str(clinic_home) in text for text in shown)


def test_recovery_key_unlocks_and_a_new_passphrase_then_opens_the_clinic(
    qtbot: QtBot, clinic_home: Path, memory_keyring: MemoryKeyring, clinic_template: Template
) -> None:
    memory_keyring.entries.clear()
    dialog = open_dialog(qtbot, clinic_home)
    click(qtbot, dialog.switch_mode)
    assert dialog.secret.accessibleName() == "Recovery key"
    qtbot.keyClicks(dialog.secret, "ABCD-EFGH-JKLM-NPQR-STUV-WXYZ-2345-6789")
    click(qtbot, dialog.unlock_button)
    assert "recovery key does not unlock" in dialog.error.text()
    qtbot.keyClicks(dialog.secret, clinic_template.recovery_key.lower())
    click(qtbot, dialog.unlock_button)
    assert dialog.pages.currentIndex() == 1
    assert dialog.fields.passphrase.hasFocus()

    qtbot.keyClick(dialog.fields.passphrase, Qt.Key.Key_Escape)
    assert dialog.isVisible()  # the way out is a new passphrase

    fields = dialog.fields
    qtbot.keyClicks(fields.passphrase, "letmein2024")
    qtbot.keyClicks(fields.repeat, "letmein2024")
    assert fields.strength_label == "Too weak"
    click(qtbot, dialog.save_button)
    assert "guessed" in fields.passphrase_error.text()
    assert dialog.isVisible()

    for field in (fields.passphrase, fields.repeat):
        field.clear()
        qtbot.keyClicks(field, NEW_PASSPHRASE)
    qtbot.keyClick(fields.repeat, Qt.Key.Key_Return)
    assert dialog.result() == UnlockDialog.DialogCode.Accepted
    assert dialog.clinic is not None
    dialog.clinic.close()

    memory_keyring.entries.clear()
    with pytest.raises(WrongPassphraseError):
        open_clinic(clinic_home, passphrase=PASSPHRASE, use_keyring=False)
    with open_clinic(clinic_home, passphrase=NEW_PASSPHRASE, use_keyring=False) as reopened:
        assert reopened.settings.name == "Lakeside Family Practice"


def test_switching_back_to_the_passphrase_hides_what_is_typed(
    qtbot: QtBot, clinic_home: Path, memory_keyring: MemoryKeyring
) -> None:
    memory_keyring.entries.clear()
    dialog = open_dialog(qtbot, clinic_home)
    click(qtbot, dialog.switch_mode)
    click(qtbot, dialog.switch_mode)
    assert dialog.secret.accessibleName() == "Clinic passphrase"
    assert dialog.secret.echoMode() == dialog.secret.EchoMode.Password
