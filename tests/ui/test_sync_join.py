"""First start on a new computer: "join a clinic that already uses Frontdesk" in the set-up
wizard, end to end against the real relay on loopback, with a second clinic home; and
the mistakes a person makes with a code, said in words."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWizard
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.patients.model import PatientDraft
from app.patients.records import create_patient
from app.store.lifecycle import clinic_exists
from app.sync.enrollment import admit, create_invite, start_space, wait_for_claim
from app.sync.service import sync_once
from tests.support.acting import administrator_acting  # noqa: F401
from tests.support.relay import RunningRelay, running_relay
from tests.ui.test_accessibility import unnamed_controls
from ui.first_run import CLINIC_PAGE, JOIN_PAGE, FirstRunWizard
from ui.sync.join_page import copy_words

SHOTS = Path("/tmp/sync-shots")
REPO = Path(__file__).resolve().parents[2]
Button = QWizard.WizardButton


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[RunningRelay]:
    with running_relay(tmp_path) as running:
        yield running


@pytest.fixture
def desk_a(clinic: Clinic, relay: RunningRelay) -> Clinic:
    """The clinic's first computer: connected, with a patient, its data at the relay."""
    create_patient(clinic, PatientDraft("Okafor", "Ada", birth_date="1975-03-04"))
    start_space(clinic, relay.url)
    result = sync_once(clinic)
    assert result.status.state == "synced", result.status.message
    return clinic


def open_join_page(qtbot: QtBot, home: Path) -> FirstRunWizard:
    wizard = FirstRunWizard(home)
    qtbot.addWidget(wizard)
    wizard.resize(900, 640)
    wizard.show()
    wizard.activateWindow()
    qtbot.waitUntil(wizard.isActiveWindow)
    assert wizard.currentId() == CLINIC_PAGE
    save(wizard, "sync-join-first-page.png")
    # By keyboard: typing starts in the clinic's name; Alt+J (or Tab past the form) joins.
    assert wizard.clinic_page.name.hasFocus()
    qtbot.keyClick(wizard.clinic_page.name, Qt.Key.Key_J, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: wizard.currentId() == JOIN_PAGE)  # a mnemonic clicks animated
    assert wizard.join_page.code.hasFocus()
    return wizard


def save(wizard: FirstRunWizard, name: str, *, documented: str = "") -> None:
    """To /tmp to look at; with FRONTDESK_SCREENSHOTS=1 also as docs/screenshots/<documented>
    (no patient on it: a code, a check code, the sync server's address)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    picture = wizard.grab()
    picture.save(str(SHOTS / name))
    if documented and os.environ.get("FRONTDESK_SCREENSHOTS"):
        picture.save(str(REPO / "docs" / "screenshots" / documented))


def test_a_new_computer_joins_with_the_code_and_opens_at_the_sign_in(
    qtbot: QtBot, desk_a: Clinic, tmp_path: Path
) -> None:
    home = tmp_path / "desk-b"
    wizard = open_join_page(qtbot, home)
    page = wizard.join_page
    assert unnamed_controls(wizard) == []
    assert not wizard.button(Button.FinishButton).isEnabled()
    save(wizard, "sync-join-empty.png")

    invite = create_invite(desk_a)
    # Typed the way people do: small letters, spaces for dashes.
    qtbot.keyClicks(page.code, invite.code.lower().replace("-", " "))
    qtbot.keyClick(page.code, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: page.step in ("waiting", "code"), timeout=20_000)
    assert page.step == "waiting", page.code_error.text()
    assert page.check_box.isVisible()
    qtbot.waitUntil(page.tray.isVisible, timeout=5_000)
    assert page.tray.label.text() == "Waiting for the other workstation to confirm…"
    save(wizard, "sync-join-waiting.png", documented="sync-join.png")

    # On the first computer the administrator sees the same check code and lets it join.
    seen = wait_for_claim(desk_a, invite, poll_seconds=0.05)
    assert seen.check_code == page.check_label.text()
    admit(desk_a, invite, seen)

    qtbot.waitUntil(lambda: page.step in ("joined", "code"), timeout=60_000)
    assert page.step == "joined", page.code_error.text()
    assert wizard.button(Button.FinishButton).isEnabled()
    assert wizard.button(Button.FinishButton).hasFocus()
    assert not wizard.button(Button.CancelButton).isVisible()  # the clinic is here now
    assert page.done_label.isVisible()
    save(wizard, "sync-join-done.png")
    wizard.button(Button.FinishButton).click()
    joined = wizard.clinic
    assert joined is not None
    try:
        assert joined.clinic_id == desk_a.clinic_id
        assert joined.store.device_id != desk_a.store.device_id
        assert joined.settings.name == desk_a.settings.name
        # The same patients; opened by this computer's keyring, so the start-up shows the
        # usual sign-in (not the new-clinic administrator's straight entry).
        assert joined.conn.execute(
            "SELECT family_name FROM patient WHERE given_names = 'Ada'"
        ).fetchone() == ("Okafor",)
        assert joined.opened.unlocked_by != "new"
        assert not wizard.want_demo
    finally:
        joined.close()


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("ABCD-EFGH", "starts with the"),
        ("https://sync.example.org ABCD-EFGH-JKLM-NPQR-STUV-WXY0", "never contains"),
        ("https://sync.example.org ABCD-EFGH-JKLM", "24 letters and digits"),
    ],
)
def test_a_mistyped_code_is_explained_before_anything_is_sent(
    qtbot: QtBot, tmp_path: Path, typed: str, words: str
) -> None:
    wizard = open_join_page(qtbot, tmp_path / "desk-b")
    page = wizard.join_page
    qtbot.keyClicks(page.code, typed)
    page.join_button.click()
    assert page.code_error.isVisible()
    assert words in page.code_error.text()
    assert page.last_op is None  # refused on the spot, nothing sent


def test_an_unknown_code_and_a_server_that_does_not_answer_are_said_in_words(
    qtbot: QtBot, tmp_path: Path, relay: RunningRelay
) -> None:
    wizard = open_join_page(qtbot, tmp_path / "desk-b")
    page = wizard.join_page
    qtbot.keyClicks(page.code, f"{relay.url} ABCD-EFGH-JKLM-NPQR-STUV-WXYZ")
    page.join_button.click()
    qtbot.waitUntil(lambda: page.last_op is not None and page.last_op.finished, timeout=20_000)
    assert "That code was not accepted" in page.code_error.text()
    save(wizard, "sync-join-refused.png")

    page.code.clear()
    qtbot.keyClicks(page.code, "http://127.0.0.1:1 ABCD-EFGH-JKLM-NPQR-STUV-WXYZ")
    page.join_button.click()
    qtbot.waitUntil(lambda: page.last_op is not None and page.last_op.finished, timeout=20_000)
    assert "could not be reached" in page.code_error.text()
    assert not clinic_exists(tmp_path / "desk-b")


def test_cancel_while_waiting_leaves_no_clinic_and_the_code_can_be_used_again_later(
    qtbot: QtBot, desk_a: Clinic, tmp_path: Path
) -> None:
    home = tmp_path / "desk-b"
    wizard = open_join_page(qtbot, home)
    page = wizard.join_page
    qtbot.keyClicks(page.code, create_invite(desk_a).code)
    page.join_button.click()
    qtbot.waitUntil(lambda: page.step == "waiting", timeout=20_000)
    qtbot.waitUntil(page.tray.isVisible, timeout=5_000)
    page.tray.cancel_button.click()
    qtbot.waitUntil(lambda: page.step == "code", timeout=10_000)
    assert "Cancelled" in page.code_error.text()
    assert not clinic_exists(home)
    assert page.join_button.isEnabled() and page.instead.isEnabled()


def test_set_up_a_new_clinic_instead_goes_back_to_the_first_page(
    qtbot: QtBot, tmp_path: Path
) -> None:
    wizard = open_join_page(qtbot, tmp_path / "desk-b")
    wizard.join_page.instead.click()
    assert wizard.currentId() == CLINIC_PAGE


def test_the_copy_is_said_in_gigabytes() -> None:
    assert copy_words(1_200_000_000, 2_500_000_000) == (
        "Copying the clinic's data (1.2 GB of 2.5 GB)"
    )
    assert copy_words(0, 0) == "Copying the clinic's data…"
