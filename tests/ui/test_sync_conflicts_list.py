"""Changes that need a decision, on two desks joined through the real relay: a patient
deleted on desk A while desk B changed them; a manager on A restores or keeps deleted,
and the decision reaches B."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.patients.model import PatientDraft
from app.patients.records import create_patient, update_patient
from app.sync.conflicts import open_conflicts
from app.sync.enrollment import start_space
from app.sync.service import sync_once
from app.users import add_user
from tests.support.acting import administrator_acting  # noqa: F401
from tests.support.enrolled_desks import join
from tests.support.relay import RunningRelay, running_relay
from tests.support.sync_desks import delete_patient
from tests.ui.test_accessibility import unnamed_controls
from ui.bus import DataBus
from ui.sync.conflicts import ConflictsBox
from ui.sync.tab import SyncTab

SHOTS = Path("/tmp/sync-shots")


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[RunningRelay]:
    with running_relay(tmp_path) as running:
        yield running


@pytest.fixture
def desks(clinic: Clinic, relay: RunningRelay, tmp_path: Path) -> Iterator[tuple[Clinic, Clinic]]:
    start_space(clinic, relay.url)
    assert sync_once(clinic).status.state == "synced"
    desk_b, _joined = join(clinic, tmp_path / "desk-b")
    yield clinic, desk_b
    desk_b.close()


def deleted_while_changed(desk_a: Clinic, desk_b: Clinic) -> str:
    """Ada Okafor reaches both desks; A deletes her while B, offline, changes her name."""
    ada = create_patient(desk_a, PatientDraft("Okafor", "Ada")).id
    sync_once(desk_a)
    sync_once(desk_b)
    assert desk_b.conn.execute("SELECT count(*) FROM patient WHERE id = ?", (ada,)).fetchone()
    delete_patient(desk_a, ada)
    update_patient(desk_b, ada, {"preferred_name": "Addie"})
    sync_once(desk_a)
    sync_once(desk_b)
    sync_once(desk_a)
    return ada


def test_a_manager_restores_a_patient_deleted_while_changed_elsewhere(
    qtbot: QtBot, desks: tuple[Clinic, Clinic]
) -> None:
    desk_a, desk_b = desks
    deleted_while_changed(desk_a, desk_b)
    desk_a.acting_user_id = add_user(desk_a, "Maria Lopez", "manager").id
    tab = SyncTab(desk_a, DataBus())
    qtbot.addWidget(tab)
    tab.resize(1100, 800)
    tab.show()
    box = tab.conflicts
    assert box.isVisible()
    assert box.list.rowCount() == 1  # one line for the record
    changed, happened = box.list.item(0, 1), box.list.item(0, 2)
    assert changed is not None and happened is not None
    assert changed.text().startswith("preferred name changed to “Addie” on ")
    assert "version" not in changed.text()
    assert happened.text()  # the core's own words
    assert box.restore_button.isEnabled() and box.keep_button.isEnabled()
    assert unnamed_controls(box) == []
    SHOTS.mkdir(parents=True, exist_ok=True)
    qtbot.wait(50)  # the rows take their height after the columns settle
    tab.grab().save(str(SHOTS / "sync-conflicts.png"))

    decided = box.selected_key()
    box.restore_button.click()
    assert not box.error.isVisible(), box.error.text()
    assert decided not in {c.key for c in open_conflicts(desk_a)}
    restored = desk_a.conn.execute(
        "SELECT family_name, preferred_name FROM patient WHERE given_names = 'Ada'"
    ).fetchall()
    assert restored == [("Okafor", "Addie")]
    assert open_conflicts(desk_a) == [] and box.list.rowCount() == 0
    assert not box.isVisible()

    # The decision and the restored patient reach desk B: it stops listing the conflict.
    sync_once(desk_a)
    sync_once(desk_b)
    assert desk_b.conn.execute(
        "SELECT preferred_name FROM patient WHERE given_names = 'Ada'"
    ).fetchall() == [("Addie",)]
    assert decided not in {c.key for c in open_conflicts(desk_b)}
    assert open_conflicts(desk_b) == []


def test_keep_deleted_leaves_the_patient_deleted_and_a_receptionist_only_reads(
    qtbot: QtBot, desks: tuple[Clinic, Clinic]
) -> None:
    desk_a, desk_b = desks
    ada = deleted_while_changed(desk_a, desk_b)
    box = ConflictsBox(desk_a, DataBus())
    qtbot.addWidget(box)
    box.show()
    assert box.list.rowCount() == 1
    box.keep_button.click()
    assert box.list.rowCount() == 0 and open_conflicts(desk_a) == []
    assert desk_a.conn.execute("SELECT count(*) FROM patient WHERE id = ?", (ada,)).fetchone() == (
        0,
    )

    # Another such change; a receptionist sees it listed and who decides, no buttons.
    deleted_while_changed(desk_a, desk_b)
    desk_a.acting_user_id = add_user(desk_a, "Dana Reyes", "receptionist").id
    box.refresh()
    assert box.list.rowCount() == 1
    assert box.notice.isVisible()
    assert not box.keep_button.isVisible() and not box.restore_button.isVisible()
