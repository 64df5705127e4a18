"""The sync line of the status bar: each state in desk words, hidden when sync is off,
and a click that opens Settings ▸ Sync."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.sync.relay_api import REMOVED
from app.sync.service import SyncStatus, sync_status
from tests.support.acting import administrator_acting  # noqa: F401
from ui.main_window import MainWindow
from ui.sync.status import SyncStatusButton
from ui.sync.words import status_line

NOW = datetime(2026, 3, 10, 15, 30, tzinfo=UTC)


def words(status: SyncStatus, now: datetime = NOW) -> str:
    return status_line(status, now, UTC)


def test_synced_says_how_long_ago() -> None:
    assert words(SyncStatus("synced", last_synced_at=NOW - timedelta(seconds=20))) == (
        "Synced just now"
    )
    assert words(SyncStatus("synced", last_synced_at=NOW - timedelta(minutes=2))) == (
        "Synced 2 min ago"
    )
    assert words(SyncStatus("synced", last_synced_at=NOW - timedelta(hours=3))) == (
        "Synced at 12:30"
    )
    assert words(SyncStatus("synced", last_synced_at=NOW - timedelta(days=1))) == (
        "Synced yesterday at 15:30"
    )


def test_pending_counts_the_changes_waiting_to_be_sent() -> None:
    assert words(SyncStatus("pending", pending=3)) == "Waiting to send 3 changes"
    assert words(SyncStatus("pending", pending=1)) == "Waiting to send 1 change"


def test_offline_says_since_when_and_that_nothing_is_lost() -> None:
    since = datetime(2026, 3, 10, 10, 42, tzinfo=UTC)
    assert words(SyncStatus("offline", pending=2, offline_since=since)) == (
        "Offline since 10:42 — changes are kept and sent when the connection is back"
    )


def test_a_removed_workstation_is_told_to_ask_an_administrator() -> None:
    status = SyncStatus("error", message=REMOVED)
    assert words(status) == "Sync stopped: this workstation was removed — ask an administrator"


def test_another_stop_shows_the_first_sentence_of_the_reason() -> None:
    status = SyncStatus("error", message="The server refused the request. If it goes on, ask.")
    assert words(status) == "Sync stopped: the server refused the request"


def test_an_older_frontdesk_is_asked_to_update() -> None:
    assert words(SyncStatus("update_needed")) == (
        "Update Frontdesk: another workstation uses a newer version"
    )


def test_no_jargon_reaches_the_status_bar() -> None:
    states = [
        SyncStatus("synced", last_synced_at=NOW),
        SyncStatus("pending", pending=4),
        SyncStatus("syncing", pending=4),
        SyncStatus("offline", offline_since=NOW),
        SyncStatus("update_needed"),
        SyncStatus("error"),
    ]
    for status in states:
        text = words(status).lower()
        for jargon in ("relay", "cursor", "batch", "envelope", "token", "digest"):
            assert jargon not in text, (status.state, text)


@pytest.mark.parametrize(
    ("status", "visible"),
    [
        (SyncStatus("off"), False),
        (SyncStatus("synced", last_synced_at=NOW), True),
        (SyncStatus("pending", pending=3), True),
        (SyncStatus("offline", offline_since=NOW), True),
        (SyncStatus("error", message="This workstation was removed"), True),
        (SyncStatus("update_needed"), True),
    ],
)
def test_the_line_shows_only_while_sync_is_on(
    qtbot: QtBot, status: SyncStatus, visible: bool
) -> None:
    holder = SyncStatusButton(lambda: UTC)
    qtbot.addWidget(holder)
    holder.show_status(status)
    assert holder.isHidden() != visible
    if visible:
        assert holder.accessibleName().startswith("Sync: ")


def test_a_clinic_without_sync_shows_no_sync_line_and_the_line_opens_settings(
    qtbot: QtBot, clinic: Clinic
) -> None:
    window = MainWindow(clinic)
    qtbot.addWidget(window)
    window.show()
    assert sync_status(clinic).state == "off"
    assert window.sync_status.isHidden()

    # A state the window could be told by its runner after a round.
    window.sync_status.show_status(SyncStatus("pending", pending=3))
    assert window.sync_status.isVisible()
    assert window.sync_status.text() == "Waiting to send 3 changes"
    window.sync_status.setFocus()
    qtbot.keyClick(window.sync_status, Qt.Key.Key_Space)
    assert window.stack.currentWidget() is window.settings
    assert window.settings.tabs.currentWidget() is window.settings.sync_page
