"""Help ▸ Shortcuts lists every shortcut that works; Help ▸ About says what is installed."""

from __future__ import annotations

from pathlib import Path

import PySide6
import pytest
from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QGuiApplication, QKeySequence
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.version import __version__
from ui.help_dialogs import AboutDialog, ShortcutsDialog
from ui.shortcuts import SHORTCUTS


def test_shortcuts_dialog_lists_every_shortcut_grouped_by_where(qtbot: QtBot) -> None:
    dialog = ShortcutsDialog()
    qtbot.addWidget(dialog)

    assert sorted(dialog.visible_names()) == sorted(s.name for s in SHORTCUTS)
    assert list(dialog.groups) == list(dict.fromkeys(s.where for s in SHORTCUTS))
    for entry in SHORTCUTS:
        rows = dialog.rows[entry.where]
        shown = {row.data(0, Qt.ItemDataRole.UserRole): row for row in rows}[entry.name]
        native = QKeySequence(entry.keys).toString(QKeySequence.SequenceFormat.NativeText)
        assert shown.text(0) == native
        assert shown.text(1) == entry.action


def test_filter_narrows_the_list_by_action_or_keys(qtbot: QtBot) -> None:
    dialog = ShortcutsDialog()
    qtbot.addWidget(dialog)
    dialog.show()

    qtbot.keyClicks(dialog.filter_edit, "call")
    assert dialog.visible_names() == ["log_call"]
    assert dialog.groups["Anywhere"].isHidden()  # a group with nothing left is hidden too

    dialog.filter_edit.clear()
    qtbot.keyClicks(dialog.filter_edit, "ctrl+k")
    assert dialog.visible_names() == ["find"]

    dialog.filter_edit.clear()
    qtbot.keyClicks(dialog.filter_edit, "patient")
    names = dialog.visible_names()
    assert {"find", "new_patient", "log_call", "export"} <= set(names)

    dialog.filter_edit.clear()
    qtbot.keyClicks(dialog.filter_edit, "xyzzy")
    assert dialog.visible_names() == []
    assert dialog.empty.isVisible()

    dialog.filter_edit.clear()
    assert len(dialog.visible_names()) == len(SHORTCUTS)
    assert not dialog.empty.isVisible()


def test_shortcuts_dialog_closes_with_escape(qtbot: QtBot) -> None:
    dialog = ShortcutsDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow)

    qtbot.keyClick(dialog.filter_edit, Qt.Key.Key_Escape)

    assert not dialog.isVisible()
    assert dialog.result() == ShortcutsDialog.DialogCode.Rejected


def test_shortcuts_dialog_controls_are_named_for_screen_readers(qtbot: QtBot) -> None:
    dialog = ShortcutsDialog()
    qtbot.addWidget(dialog)

    assert dialog.filter_edit.accessibleName() == "Filter shortcuts"
    assert dialog.tree.accessibleName() == "Shortcuts"
    find = dialog.rows["Anywhere"][0]
    assert find.data(0, Qt.ItemDataRole.AccessibleTextRole).endswith("Find a patient")


def test_about_shows_the_versions_and_the_cipher_version(qtbot: QtBot, clinic: Clinic) -> None:
    cipher = clinic.conn.execute("PRAGMA cipher_version").fetchone()[0]

    dialog = AboutDialog(None, clinic)
    qtbot.addWidget(dialog)

    assert cipher  # a real SQLCipher build answers; plain SQLite would not
    assert dialog.facts["Version"] == __version__
    assert dialog.facts["SQLCipher"] == cipher
    assert dialog.facts["Qt"] == qVersion()
    assert dialog.facts["PySide6"] == PySide6.__version__
    assert dialog.facts["Data folder"] == str(clinic.home)
    assert __version__ in dialog.windowTitle() + dialog.text()
    assert cipher in dialog.text()


def test_about_holds_only_program_facts_never_clinic_records(
    qtbot: QtBot, demo_clinic: Clinic
) -> None:
    dialog = AboutDialog(None, demo_clinic)
    qtbot.addWidget(dialog)

    assert set(dialog.facts) == {
        "Version",
        "Qt",
        "PySide6",
        "SQLCipher",
        "SQLite",
        "Data folder",
        "Licence",
    }


def test_about_without_a_clinic_names_the_data_folder(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRONTDESK_HOME", str(tmp_path))

    dialog = AboutDialog()
    qtbot.addWidget(dialog)

    assert dialog.facts["Data folder"] == str(tmp_path.resolve())
    assert "SQLCipher" not in dialog.facts


def test_copy_details_puts_the_facts_on_the_clipboard(qtbot: QtBot, clinic: Clinic) -> None:
    dialog = AboutDialog(None, clinic)
    qtbot.addWidget(dialog)
    qtbot.mouseClick(dialog.copy_button, Qt.MouseButton.LeftButton)

    assert QGuiApplication.clipboard().text() == dialog.text()
