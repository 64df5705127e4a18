"""Settings ▸ Backups on a real clinic: back up now, the list, checking, roles, the daily runner,
and replacing the key from the window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.backup.manifest import clinic_backups
from app.backup.schedule import BackupSettings, is_due, latest_slot, save_settings
from app.backup.swap import JOURNAL, complete_pending_swap
from app.clinic import Clinic, open_clinic
from app.users import add_user
from tests.conftest import PASSPHRASE
from ui.backups.rekey_dialog import RekeyDialog
from ui.backups.runner import BackupRunner
from ui.backups.tab import BackupsTab
from ui.bus import DataBus


@pytest.fixture
def usb(tmp_path: Path) -> Path:
    folder = tmp_path / "USB"
    folder.mkdir()
    return folder


def _admin(clinic: Clinic, usb: Path) -> None:
    clinic.acting_user_id = add_user(clinic, "Ann Admin", "administrator").id
    save_settings(clinic, BackupSettings(folder=str(usb), keep=3))


def _shown(qtbot: QtBot, widget: BackupsTab) -> BackupsTab:
    qtbot.addWidget(widget)
    widget.resize(1280, 720)
    widget.show()
    widget.activateWindow()
    qtbot.waitUntil(widget.isActiveWindow)
    return widget


def test_back_up_now_lists_the_backup_and_says_when(
    qtbot: QtBot, clinic: Clinic, usb: Path
) -> None:
    _admin(clinic, usb)
    tab = _shown(qtbot, BackupsTab(clinic, DataBus()))
    assert "No backup has been made" in tab.status.text()

    qtbot.mouseClick(tab.back_up_button, Qt.MouseButton.LeftButton)
    assert tab.last_op is not None
    qtbot.waitUntil(lambda: tab.last_op is not None and tab.last_op.finished, timeout=30_000)

    assert tab.last_op.error is None
    assert "Backup made and checked" in tab.result.text()
    assert tab.status.text().startswith("Last backup: today")
    assert "checked" in tab.status.text()
    assert tab.list.topLevelItemCount() == 1
    tab.grab().save(str(usb.parent / "backups-tab.png"))


def test_checking_the_selected_backup_says_it_is_good_or_why_not(
    qtbot: QtBot, clinic: Clinic, usb: Path
) -> None:
    _admin(clinic, usb)
    tab = _shown(qtbot, BackupsTab(clinic, DataBus()))
    tab.back_up_now()
    qtbot.waitUntil(lambda: tab.last_op is not None and tab.last_op.finished, timeout=30_000)
    tab.verify_selected()
    qtbot.waitUntil(lambda: tab.last_op is not None and tab.last_op.finished, timeout=30_000)
    assert tab.result.text().startswith("The backup is good.")

    backup = tab.selected_backup()
    assert backup is not None
    (backup / "clinic.key").write_text("{}")
    tab.verify_selected()
    qtbot.waitUntil(lambda: tab.last_op is not None and tab.last_op.finished, timeout=30_000)
    assert "damaged" in tab.error.text()


def test_a_receptionist_may_only_back_up_now(qtbot: QtBot, clinic: Clinic, usb: Path) -> None:
    _admin(clinic, usb)
    clinic.acting_user_id = add_user(clinic, "Dana Reyes", "receptionist").id
    tab = _shown(qtbot, BackupsTab(clinic, DataBus()))
    assert tab.back_up_button.isEnabled()
    for widget in (tab.choose, tab.daily, tab.at, tab.keep, tab.save_button):
        assert not widget.isEnabled()
    assert not tab.restore_button.isEnabled() and not tab.verify_button.isEnabled()
    assert not tab.rekey_button.isEnabled()
    assert tab.read_only.isVisible()


def test_a_missing_folder_is_refused_inline(qtbot: QtBot, clinic: Clinic, usb: Path) -> None:
    _admin(clinic, usb)
    tab = _shown(qtbot, BackupsTab(clinic, DataBus()))
    tab.folder.setText(str(usb / "unplugged drive"))
    tab.save()
    assert "cannot be found" in tab.settings_error.text()
    assert tab.settings_error.isVisible()


def test_the_daily_slot_is_due_once_passed_and_caught_up_after_a_day_off() -> None:
    settings = BackupSettings(folder="/backups", at="12:30")
    noon = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    after = noon + timedelta(hours=1)
    assert latest_slot(settings, after, UTC) == datetime(2026, 11, 29, 12, 30, tzinfo=UTC)
    assert is_due(settings, None, noon, UTC)  # never backed up: at once
    made_yesterday = datetime(2026, 11, 28, 12, 31, tzinfo=UTC)
    assert not is_due(settings, made_yesterday, noon, UTC)
    assert is_due(settings, made_yesterday, after, UTC)
    two_days_ago = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)
    assert is_due(settings, two_days_ago, noon, UTC)  # the computer was off yesterday
    assert not is_due(BackupSettings(folder=""), None, after, UTC)
    assert not is_due(BackupSettings(folder="/b", daily=False), None, after, UTC)


def test_the_runner_makes_the_due_backup_off_the_gui_thread(
    qtbot: QtBot, clinic: Clinic, usb: Path
) -> None:
    _admin(clinic, usb)
    runner = BackupRunner(clinic)
    lines: list[str] = []
    runner.status.connect(lines.append)
    runner.check()
    assert runner.running
    qtbot.waitUntil(lambda: not runner.running and len(lines) >= 2, timeout=30_000)
    assert len(clinic_backups(usb, clinic.clinic_id)) == 1
    assert lines[-1].startswith("Last backup: today")
    runner.check()  # done for today: nothing more
    assert not runner.running
    runner.stop()


def test_replacing_the_key_from_the_window_shows_the_new_kit_and_finishes_at_next_start(
    qtbot: QtBot, demo_clinic: Clinic, usb: Path, tmp_path: Path
) -> None:
    _admin(demo_clinic, usb)
    dialog = RekeyDialog(demo_clinic)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow)
    dialog.passphrase.setText(PASSPHRASE)
    dialog.begin()
    qtbot.waitUntil(lambda: dialog.op is not None and dialog.op.finished, timeout=60_000)
    assert dialog.op is not None and dialog.op.error is None, dialog.error.text()
    assert dialog.done_box.isVisible()
    recovery = dialog.recovery.text()
    assert len(recovery) == 39
    dialog.grab().save(str(tmp_path / "rekey-done.png"))
    kit = tmp_path / "kit.pdf"
    dialog.write_kit(kit)
    assert kit.read_bytes().startswith(b"%PDF")
    quits: list[bool] = []
    dialog.quit_requested.connect(lambda: quits.append(True))
    dialog.close_to_finish()
    assert quits == [True]

    home = demo_clinic.home
    assert (home / JOURNAL).exists()
    demo_clinic.close()
    assert complete_pending_swap(home) is not None  # what the next start does first
    with open_clinic(home, recovery_key=recovery, use_keyring=False) as reopened:
        assert reopened.conn.execute("SELECT count(*) FROM patient").fetchone()[0] == 300


def test_cancel_while_replacing_the_key_says_nothing_changed(
    qtbot: QtBot, demo_clinic: Clinic, usb: Path
) -> None:
    _admin(demo_clinic, usb)
    before = (demo_clinic.home / "clinic.key").read_bytes()
    dialog = RekeyDialog(demo_clinic)
    qtbot.addWidget(dialog)
    dialog.passphrase.setText(PASSPHRASE)
    dialog.begin()
    assert dialog.op is not None
    dialog.op.cancel.cancel()
    qtbot.waitUntil(lambda: dialog.op is not None and dialog.op.finished, timeout=60_000)
    assert "Nothing was changed" in dialog.error.text()
    assert (demo_clinic.home / "clinic.key").read_bytes() == before
    assert not (demo_clinic.home / JOURNAL).exists()


def test_restore_from_the_tab_prepares_then_closes_and_the_next_start_finishes(
    qtbot: QtBot, clinic: Clinic, usb: Path
) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    _admin(clinic, usb)
    tab = _shown(qtbot, BackupsTab(clinic, DataBus()))
    tab.back_up_now()
    qtbot.waitUntil(lambda: tab.last_op is not None and tab.last_op.finished, timeout=30_000)
    clinic.conn.execute("INSERT INTO meta (key, value) VALUES ('after-backup', 'yes')")
    closed: list[bool] = []
    tab.close_frontdesk = lambda: closed.append(True)

    def answer(button: QMessageBox.StandardButton) -> None:
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox), "the question should be showing"
        box.button(button).click()

    QTimer.singleShot(0, lambda: answer(QMessageBox.StandardButton.Yes))
    tab.restore_selected()
    qtbot.waitUntil(lambda: tab.last_op is not None and tab.last_op.finished, timeout=30_000)
    assert tab.last_op is not None and tab.last_op.error is None
    ready = [w for w in QApplication.topLevelWidgets() if w.accessibleName() == "Restore ready"]
    assert ready and ready[0].isVisible()
    ready[0].close()
    qtbot.waitUntil(lambda: closed == [True])

    home = clinic.home
    clinic.close()
    done = complete_pending_swap(home)  # what the next start does first
    assert done is not None and done.kind == "restore" and done.kept is not None
    with open_clinic(home) as restored:
        assert restored.conn.execute(
            "SELECT count(*) FROM meta WHERE key = 'after-backup'"
        ).fetchone() == (0,)
    with open_clinic(done.kept) as kept:
        assert kept.conn.execute(
            "SELECT value FROM meta WHERE key = 'after-backup'"
        ).fetchone() == ("yes",)
