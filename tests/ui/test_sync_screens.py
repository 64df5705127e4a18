"""Pictures of the sync screens from the demo clinic, at the screen scale the process runs
with (QT_SCALE_FACTOR=2 for 200 %): Settings ▸ Sync, Add a workstation, the status bar.

They go to /tmp/sync-shots (name-100.png, name-200.png) to be looked at; with
FRONTDESK_SCREENSHOTS=1 at 100 % the ones the guides show go to docs/screenshots/. None
shows a patient: workstation names, the sync server's address and a code only.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.sync.enrollment import start_space
from app.sync.service import SyncStatus
from tests.support.acting import administrator_acting  # noqa: F401
from tests.support.relay import RunningRelay, running_relay
from tests.ui.test_accessibility import unnamed_controls
from ui.main_window import MainWindow
from ui.sync.add_dialog import AddWorkstationDialog

REPO = Path(__file__).resolve().parents[2]
SHOTS = Path("/tmp/sync-shots")


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[RunningRelay]:
    with running_relay(tmp_path) as running:
        yield running


def scale() -> int:
    return round(float(os.environ.get("QT_SCALE_FACTOR", "1")) * 100)


def save(widget: QWidget, picture_name: str, *, documented: bool = False) -> None:
    """/tmp/sync-shots/sync-settings-200.png for "sync-settings.png" at 200 %. The names
    stay literal: the privacy test reads them to know which pictures tests write."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    picture = widget.grab()
    stem = picture_name.removesuffix(".png")
    picture.save(str(SHOTS / (stem + "-" + str(scale()) + ".png")))
    if documented and scale() == 100 and os.environ.get("FRONTDESK_SCREENSHOTS"):
        picture.save(str(REPO / "docs" / "screenshots" / picture_name))


def test_pictures_of_settings_sync_and_the_status_bar(
    qtbot: QtBot, demo_clinic: Clinic, relay: RunningRelay
) -> None:
    start_space(demo_clinic, relay.url)
    window = MainWindow(demo_clinic, start_page="Settings")
    qtbot.addWidget(window)
    window.resize(1280, 720)
    window.show()
    window.settings.show_sync()
    tab = window.settings.sync
    qtbot.waitUntil(lambda: tab.last_op is not None and tab.last_op.finished, timeout=20_000)
    qtbot.waitUntil(lambda: window.sync_runner.rounds >= 1, timeout=20_000)
    assert unnamed_controls(window.settings) == []
    save(window.settings, "sync-settings.png", documented=True)

    window.sync_status.show_status(SyncStatus("pending", pending=3))
    assert window.sync_status.isVisible()
    save(window.statusBar(), "sync-status-bar.png", documented=True)


def test_pictures_of_add_a_workstation(
    qtbot: QtBot, demo_clinic: Clinic, relay: RunningRelay
) -> None:
    start_space(demo_clinic, relay.url)
    dialog = AddWorkstationDialog(demo_clinic)
    qtbot.addWidget(dialog)
    dialog.open()
    qtbot.waitUntil(lambda: dialog.state == "waiting", timeout=20_000)
    qtbot.waitUntil(dialog.tray.isVisible, timeout=5_000)
    assert unnamed_controls(dialog) == []
    # Everything fits: the code on one line, the QR whole, the buttons inside.
    assert dialog.code_label.heightForWidth(dialog.code_label.width()) <= (
        dialog.code_label.height()
    )
    assert dialog.qr.height() >= dialog.qr.minimumSizeHint().height()
    save(dialog, "sync-add-workstation.png", documented=True)
    dialog.reject()
