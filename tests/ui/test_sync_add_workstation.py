"""Add a workstation: the code in letters and as a QR picture, the wait with Cancel, the
check code, and the clinic's key sent — against the real relay on loopback, with the new
desk's side played by the core's own claim."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QColor, QGuiApplication
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.errors import DeviceRevokedError
from app.sync import devices
from app.sync.enrollment import claim, start_space, wait_for_package
from app.sync.qr import qr_matrix
from tests.support.acting import administrator_acting  # noqa: F401
from tests.support.relay import RunningRelay, running_relay
from tests.ui.test_accessibility import unnamed_controls
from ui.sync.add_dialog import AddWorkstationDialog, countdown_words, split_code
from ui.sync.qr_picture import QUIET_ZONE, QrPicture

SHOTS = Path("/tmp/sync-shots")


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[RunningRelay]:
    with running_relay(tmp_path) as running:
        yield running


def opened(qtbot: QtBot, clinic: Clinic) -> AddWorkstationDialog:
    dialog = AddWorkstationDialog(clinic)
    qtbot.addWidget(dialog)
    dialog.open()
    qtbot.waitUntil(lambda: dialog.state == "waiting" or dialog.state == "failed", timeout=20_000)
    assert dialog.state == "waiting", dialog.error.text()
    return dialog


def test_the_dialog_shows_the_code_in_groups_and_as_a_qr_picture(
    qtbot: QtBot, clinic: Clinic, relay: RunningRelay
) -> None:
    start_space(clinic, relay.url)
    dialog = opened(qtbot, clinic)
    invite = dialog.invite
    assert invite is not None
    address, groups = split_code(invite.code)
    assert address == relay.url
    assert len(groups.split("-")) == 6
    assert dialog.code_label.text() == groups.replace("-", "  ")
    assert dialog.countdown.text().startswith("The code works for 1")  # 14:59 or 15:00

    # The picture is the QR of the whole code text, with its light quiet zone.
    assert dialog.qr.matrix == qr_matrix(invite.code)
    image = dialog.qr.grab().toImage()
    assert image.pixelColor(2, 2) == QColor("white")
    dark = sum(
        image.pixelColor(x, y) == QColor("black")
        for x in range(0, image.width(), 3)
        for y in range(0, image.height(), 3)
    )
    assert dark > 50

    dialog.copy_button.click()
    assert QGuiApplication.clipboard().text() == invite.code
    qtbot.waitUntil(dialog.tray.isVisible)  # the wait shows itself after half a second
    assert dialog.tray.label.text().startswith("Waiting for the new workstation")
    assert unnamed_controls(dialog) == []
    SHOTS.mkdir(parents=True, exist_ok=True)
    dialog.grab().save(str(SHOTS / "sync-add-code.png"))
    dialog.reject()


def test_cancel_stops_the_wait_and_forgets_the_code(
    qtbot: QtBot, clinic: Clinic, relay: RunningRelay
) -> None:
    start_space(clinic, relay.url)
    dialog = opened(qtbot, clinic)
    op = dialog.last_op
    assert op is not None and not op.finished
    dialog.close_button.click()
    assert not dialog.isVisible()
    assert dialog.invite is None
    qtbot.waitUntil(lambda: op.finished, timeout=5_000)
    assert dialog.state == "waiting"  # nothing more happened after Cancel


def test_the_new_desk_is_checked_then_let_in_and_receives_the_key(
    qtbot: QtBot, clinic: Clinic, relay: RunningRelay
) -> None:
    start_space(clinic, relay.url)
    dialog = opened(qtbot, clinic)
    assert dialog.invite is not None
    typed = dialog.invite.code.lower().replace("-", " ")  # typed sloppily on the new desk
    pending = claim(typed, name="FRONT-DESK-2")  # sealed in the claim: the relay cannot read it

    qtbot.waitUntil(lambda: dialog.state == "claimed", timeout=20_000)
    assert dialog.check_label.text() == pending.check_code
    assert "FRONT-DESK-2 wants to join — the code matched" in dialog.claim_title.text()
    assert dialog.claim_title.accessibleName() == "FRONT-DESK-2 wants to join"
    SHOTS.mkdir(parents=True, exist_ok=True)
    dialog.grab().save(str(SHOTS / "sync-add-claimed.png"))
    joined: list[object] = []
    dialog.joined.connect(joined.append)
    dialog.admit_button.click()
    qtbot.waitUntil(lambda: dialog.state in ("done", "failed"), timeout=20_000)
    assert dialog.state == "done", dialog.error.text()
    assert joined and dialog.close_button.text() == "Close"
    assert pending.device_id in devices.known_devices(clinic.conn)

    package = wait_for_package(pending)
    assert package.clinic_id == clinic.clinic_id
    assert package.data_key == clinic.opened.data_key
    dialog.accept()


def test_a_refused_or_unknown_code_is_said_in_words(
    qtbot: QtBot, clinic: Clinic, relay: RunningRelay
) -> None:
    # The sync server stops between making the code and the wait: the dialog says so and
    # offers a new code instead of a traceback.
    start_space(clinic, relay.url)
    dialog = opened(qtbot, clinic)
    relay.stop()
    qtbot.waitUntil(lambda: dialog.state == "failed", timeout=30_000)
    assert dialog.error.isVisible() and "could not be reached" in dialog.error.text()
    assert dialog.again_button.isVisible()
    dialog.reject()


def test_the_countdown_reads_minutes_and_seconds() -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
    assert countdown_words(now + timedelta(minutes=14, seconds=5), now) == (
        "The code works for 14:05 more (minutes:seconds)."
    )
    assert countdown_words(now, now) == "The code has expired."


def test_the_qr_picture_keeps_whole_square_modules(qtbot: QtBot) -> None:
    picture = QrPicture()
    qtbot.addWidget(picture)
    matrix = qr_matrix("https://sync.example.org ABCD-EFGH-JKLM-NPQR-STUV-WXYZ")
    picture.set_matrix(matrix)
    picture.resize(picture.sizeHint())
    image = picture.grab().toImage()
    side = len(matrix) + 2 * QUIET_ZONE
    module = min(image.width(), image.height()) // side
    assert module >= 4
    # The finder pattern's corner module is dark, the quiet zone before it light.
    left = (image.width() - module * side) // 2 + QUIET_ZONE * module
    top = (image.height() - module * side) // 2 + QUIET_ZONE * module
    assert image.pixelColor(left + module // 2, top + module // 2) == QColor("black")
    assert image.pixelColor(left - module // 2, top - module // 2) == QColor("white")


def test_a_computer_not_let_in_is_removed_and_gets_nothing(
    qtbot: QtBot, clinic: Clinic, relay: RunningRelay
) -> None:
    start_space(clinic, relay.url)
    dialog = opened(qtbot, clinic)
    assert dialog.invite is not None
    pending = claim(dialog.invite.code)
    qtbot.waitUntil(lambda: dialog.state == "claimed", timeout=20_000)
    dialog.refuse_button.click()
    assert not dialog.isVisible()
    op = dialog.last_op
    qtbot.waitUntil(lambda: op is not None and op.finished, timeout=20_000)
    assert op is not None and op.error is None
    assert devices.known_devices(clinic.conn)[pending.device_id].revoked_at is not None
    with pytest.raises(DeviceRevokedError):
        wait_for_package(pending, timeout_seconds=5)
