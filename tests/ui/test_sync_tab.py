"""Settings ▸ Sync on real encrypted clinics and the real relay on loopback: turning sync
on, the list of workstations, removing one, and what a receptionist sees."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.reminders import settings as reminder_settings
from app.sync import devices
from app.sync.enrollment import put_device, start_space
from app.sync.service import is_enabled
from app.users import add_user
from tests.support.acting import administrator_acting  # noqa: F401
from tests.support.relay import RunningRelay, TestSpace, enroll_device, running_relay
from tests.ui.test_accessibility import unnamed_controls
from ui.bus import DataBus
from ui.settings_page import SettingsPage
from ui.sync.tab import SyncTab

SHOTS = Path("/tmp/sync-shots")


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[RunningRelay]:
    """The real relay on loopback (SQLite in tmp_path)."""
    with running_relay(tmp_path) as running:
        yield running


def shown(qtbot: QtBot, widget: QWidget) -> QWidget:
    qtbot.addWidget(widget)
    widget.resize(1100, 800)
    widget.show()
    widget.activateWindow()
    qtbot.waitUntil(widget.isActiveWindow)
    return widget


def finished(qtbot: QtBot, tab: SyncTab) -> None:
    qtbot.waitUntil(lambda: tab.last_op is not None and tab.last_op.finished, timeout=30_000)


def answer_next_question(button: QMessageBox.StandardButton) -> None:
    def press() -> None:
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox), "a question should be showing"
        box.button(button).click()

    QTimer.singleShot(0, press)


def shot(widget: QWidget, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    widget.grab().save(str(SHOTS / name))


def test_an_administrator_tests_the_address_and_turns_sync_on(
    qtbot: QtBot, clinic: Clinic, relay: RunningRelay
) -> None:
    relay_url = relay.url
    tab = SyncTab(clinic, DataBus())
    shown(qtbot, tab)
    assert tab.setup_box.isVisible() and not tab.devices_box.isVisible()
    assert not tab.turn_on_button.isEnabled()  # nothing typed yet
    shot(tab, "sync-tab-off.png")

    qtbot.keyClicks(tab.address, "http://127.0.0.1:1")  # nobody answers there
    tab.test_button.click()
    finished(qtbot, tab)
    assert tab.error.isVisible() and "could not be reached" in tab.error.text()

    tab.address.clear()
    qtbot.keyClicks(tab.address, relay_url)
    tab.test_button.click()
    finished(qtbot, tab)
    assert tab.test_result.isVisible()
    assert tab.test_result.text().startswith("The sync server answered")

    asked: list[bool] = []
    tab.sync_requested.connect(lambda: asked.append(True))
    tab.turn_on_button.click()
    finished(qtbot, tab)
    assert is_enabled(clinic)
    assert asked == [True]
    assert not tab.setup_box.isVisible() and tab.devices_box.isVisible()
    assert relay_url in tab.server_label.text()
    # The list asks the sync server; this desk is in it, marked.
    tab.load_devices()
    finished(qtbot, tab)
    first = tab.device_tree.topLevelItem(0)
    assert first is not None and first.text(2) == "this workstation"
    assert not tab.remove_button.isEnabled()  # a desk cannot remove itself
    assert unnamed_controls(tab) == []
    shot(tab, "sync-tab-on.png")


def test_a_receptionist_reads_the_sync_tab_but_changes_nothing(
    qtbot: QtBot, clinic: Clinic, relay: RunningRelay
) -> None:
    relay_url = relay.url
    start_space(clinic, relay_url)
    clinic.acting_user_id = add_user(clinic, "Dana Reyes", "receptionist").id
    page = SettingsPage(clinic, DataBus(), preferences_file=clinic.home / "prefs.json")
    shown(qtbot, page)
    page.show_sync()
    tab = page.sync
    finished(qtbot, tab)  # the list asks the sync server when the tab shows
    assert page.role_note.isVisible()
    assert "Only an administrator" in page.role_note.text()
    assert "You can read these settings" in page.role_note.text()
    assert not tab.add_button.isEnabled()
    assert not tab.make_sender_button.isEnabled()
    assert tab.device_tree.topLevelItemCount() == 1  # she still sees the workstations
    shot(page, "sync-tab-receptionist.png")


def test_removing_a_workstation_asks_then_offers_to_replace_the_key(
    qtbot: QtBot, clinic: Clinic, relay: RunningRelay
) -> None:
    start_space(clinic, relay.url)
    # A second desk joined through a real invite and claim; the clinic knows its name.
    setup_token = clinic.conn.execute("SELECT device_token FROM local_sync").fetchone()[0]
    other = enroll_device(
        TestSpace(relay.url, clinic.clinic_id, clinic.store.device_id, setup_token)
    )
    put_device(clinic, other.device_id, name="FRONT-DESK-2", public_key=bytes(32))
    tab = SyncTab(clinic, DataBus())
    shown(qtbot, tab)
    tab.load_devices()
    finished(qtbot, tab)
    names = [
        tab.device_tree.topLevelItem(i).text(0) for i in range(tab.device_tree.topLevelItemCount())
    ]
    assert "FRONT-DESK-2" in names
    row = names.index("FRONT-DESK-2")
    tab.device_tree.setCurrentItem(tab.device_tree.topLevelItem(row))
    assert tab.remove_button.isEnabled()

    answer_next_question(QMessageBox.StandardButton.No)
    tab.remove_button.click()
    assert devices.known_devices(clinic.conn)[other.device_id].revoked_at is None

    answer_next_question(QMessageBox.StandardButton.Yes)
    tab.remove_button.click()
    finished(qtbot, tab)
    qtbot.waitUntil(lambda: getattr(tab, "removed_box", None) is not None)
    assert devices.known_devices(clinic.conn)[other.device_id].revoked_at is not None
    box = tab.removed_box
    assert box.isVisible() and "Replace the database key now?" in box.text()
    shot(box, "sync-removed-rekey.png")
    box.buttons()[0].click()  # Replace the database key now…
    qtbot.waitUntil(lambda: tab.rekey_dialog is not None and tab.rekey_dialog.isVisible())
    assert tab.rekey_dialog is not None
    tab.rekey_dialog.reject()
    # The removed desk is gone from the list.
    finished(qtbot, tab)
    names = [
        tab.device_tree.topLevelItem(i).text(0) for i in range(tab.device_tree.topLevelItemCount())
    ]
    assert "FRONT-DESK-2" not in names


def test_making_this_workstation_the_sender_takes_the_turn_at_the_sync_server(
    qtbot: QtBot, clinic: Clinic, relay: RunningRelay
) -> None:
    start_space(clinic, relay.url)
    other = enroll_device(TestSpace(relay.url, clinic.clinic_id, "", clinic_token(clinic)))
    put_device(clinic, other.device_id, name="FRONT-DESK-1", public_key=bytes(32))
    reminder_settings.update_settings(clinic, sender_device=other.device_id)
    tab = SyncTab(clinic, DataBus())
    shown(qtbot, tab)
    assert "Messages are sent by <b>FRONT-DESK-1</b>" in tab.sender_label.text()
    assert tab.make_sender_button.isEnabled()

    answer_next_question(QMessageBox.StandardButton.Yes)
    tab.make_sender_button.click()
    finished(qtbot, tab)
    assert tab.last_op is not None and tab.last_op.error is None
    assert reminder_settings.is_chosen_sender(clinic)
    assert "Messages are sent by <b>this workstation</b>" in tab.sender_label.text()
    assert not tab.make_sender_button.isEnabled()
    held = requests.get(f"{relay.url}/v1/sender", headers=other.headers, timeout=5).json()
    assert held["holder"] == clinic.store.device_id


def clinic_token(clinic: Clinic) -> str:
    return str(clinic.conn.execute("SELECT device_token FROM local_sync").fetchone()[0])


def test_an_administrator_renames_this_workstation_and_a_receptionist_cannot(
    qtbot: QtBot, clinic: Clinic, relay: RunningRelay
) -> None:
    start_space(clinic, relay.url)
    tab = SyncTab(clinic, DataBus())
    shown(qtbot, tab)
    finished(qtbot, tab)  # the list as the sync server gave it, before the rename
    published: list[object] = []
    tab.bus.changed.connect(published.append)
    assert tab.name_edit.text() == devices.known_devices(clinic.conn)[clinic.store.device_id].name
    assert not tab.rename_button.isEnabled()  # nothing changed yet

    tab.name_edit.selectAll()
    qtbot.keyClicks(tab.name_edit, "  Reception   left ")
    assert tab.rename_button.isEnabled()
    shot(tab, "sync-tab-rename.png")
    tab.rename_button.click()

    assert devices.known_devices(clinic.conn)[clinic.store.device_id].name == "Reception left"
    assert tab.device_tree.topLevelItem(0).text(0) == "Reception left"
    assert tab.name_edit.text() == "Reception left" and not tab.rename_button.isEnabled()
    assert published  # the window's runner then sends it to the others

    clinic.acting_user_id = add_user(clinic, "Dana Reyes", "receptionist").id
    page = SettingsPage(clinic, DataBus(), preferences_file=clinic.home / "prefs.json")
    shown(qtbot, page)
    page.show_sync()
    finished(qtbot, page.sync)
    assert not page.sync.rename_row.isEnabled()


def test_an_address_that_is_not_a_sync_server_is_named_so(
    qtbot: QtBot, clinic: Clinic, relay: RunningRelay
) -> None:
    tab = SyncTab(clinic, DataBus())
    shown(qtbot, tab)
    qtbot.keyClicks(tab.address, relay.url + "/not-the-api")  # a page, not the sync API
    tab.test_button.click()
    finished(qtbot, tab)
    assert tab.error.isVisible()
    assert "not a Frontdesk sync server" in tab.error.text()
    assert "relay" not in tab.error.text().lower()
