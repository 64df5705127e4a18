"""Reminders on a synced desk: the chosen desk stays "the sender" on screen while it waits
for its sending turn, says why it does not send yet, and catches up through the window's
sync runner so its next pass sends. Real clinic, the real relay on loopback, real
widgets offscreen, a loopback mail server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QApplication, QMainWindow
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.reminders.service import MODE_SENDING
from app.reminders.settings import update_settings
from app.sync import sender_lease
from app.sync.enrollment import start_space
from app.sync.service import sync_once
from tests.support.acting import administrator_acting  # noqa: F401
from tests.support.fake_smtp import Mailbox
from tests.support.relay import running_relay
from tests.ui.test_reminder_runner import WAIT_MS, _due_email_reminder, mailbox  # noqa: F401
from ui.bus import DataBus
from ui.messages.outbox_view import banner_text
from ui.reminder_runner import PassCounts, attach_reminders
from ui.reminder_settings.page import RemindersTab
from ui.sync.runner import SyncRunner


class SyncedDesk(QMainWindow):
    """Wired as MainWindow wires them: the reminders use the window's sync runner."""

    def __init__(self, clinic: Clinic) -> None:
        super().__init__()
        self.bus = DataBus(self)
        self.reminders = attach_reminders(self, clinic, self.bus, start_after_ms=60_000)
        self.sync_runner = SyncRunner(clinic, self.bus, self)
        self.reminders.use_sync(self.sync_runner)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.reminders.stop()
        self.sync_runner.stop()
        super().closeEvent(event)


@pytest.fixture(autouse=True)
def no_turns_left() -> Iterator[None]:
    """Turns live in this process's memory, keyed by clinic and device ids, which the
    test clinics share: none from an earlier test, none left for a later one."""

    def forget() -> None:
        with sender_lease._lock:
            sender_lease._turns.clear()
            sender_lease._take_over_wanted.clear()
            sender_lease._no_turn.clear()

    forget()
    yield
    forget()


@pytest.fixture
def synced(clinic: Clinic, tmp_path: Path) -> Iterator[Clinic]:
    """This clinic connected to the relay and its starting copy sent; sending on, from here."""
    with running_relay(tmp_path) as relay:
        start_space(clinic, relay.url)
        assert sync_once(clinic).status.state == "synced"
        update_settings(clinic, enabled=True, sender_device=clinic.store.device_id)
        yield clinic


@pytest.fixture
def desk(qtbot: QtBot, synced: Clinic) -> Iterator[SyncedDesk]:
    window = SyncedDesk(synced)
    qtbot.addWidget(window)
    yield window
    window.reminders.stop()
    window.sync_runner.stop()
    QApplication.setQuitOnLastWindowClosed(True)


def test_the_chosen_desk_without_its_turn_is_still_the_sender_and_says_why(
    desk: SyncedDesk, synced: Clinic
) -> None:
    runner = desk.reminders
    runner.refresh_status()

    assert runner.mode() == MODE_SENDING  # not "another computer sends"
    assert runner.status.text() == "Reminders: on"
    assert runner.wants_tray()  # closing keeps it running to send when its turn comes
    assert sender_lease.sender_turn(synced).message in runner.status.toolTip()
    assert banner_text(synced) == sender_lease.sender_turn(synced).message


def test_a_pass_that_gained_the_turn_catches_up_through_the_sync_runner_then_sends(
    qtbot: QtBot,
    desk: SyncedDesk,
    synced: Clinic,
    mailbox: Mailbox,  # noqa: F811 - the fixture imported above
) -> None:
    _due_email_reminder(synced)
    passes: list[PassCounts] = []
    desk.reminders.pass_done.connect(passes.append)

    desk.reminders.start()
    qtbot.waitUntil(lambda: len(passes) >= 1, timeout=WAIT_MS)
    first = passes[0]
    assert first.catching_up and first.sent == 0
    assert "waiting for the sending turn" in desk.reminders.status.text()
    assert "catches up" in desk.reminders.status.toolTip()

    qtbot.waitUntil(lambda: len(mailbox.messages()) == 1, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: any(p.sent == 1 for p in passes), timeout=WAIT_MS)
    assert desk.sync_runner.rounds >= 1
    assert desk.reminders.status.text().startswith("Reminders: on · last pass ")
    assert banner_text(synced) == ""  # it holds the turn now
    assert len(mailbox.messages()) == 1


def test_settings_reminders_names_this_computer_and_its_turn(
    qtbot: QtBot,
    synced: Clinic,
    relay_down: None,
) -> None:
    tab = RemindersTab(synced, DataBus())
    qtbot.addWidget(tab)
    assert sender_lease.prepare_to_send(synced) == sender_lease.NOT_REACHED
    tab.refresh()

    words = tab.sender_label.text()

    assert words.startswith("This computer sends the messages.")
    assert "sync server cannot be reached" in words and "relay" not in words
    assert not tab.claim_button.isEnabled()


@pytest.fixture
def relay_down(synced: Clinic) -> None:
    """The relay this desk uses stops answering (its address points at nobody)."""
    from tests.support.fake_smtp import free_port

    synced.conn.execute(
        "UPDATE local_sync SET relay_url = ?", (f"http://127.0.0.1:{free_port()}",)
    )
