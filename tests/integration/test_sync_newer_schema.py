"""A desk on an older Frontdesk keeps what a newer one sent (parked), asks to be updated,
and applies it once updated: nothing is lost, the rest of sync goes on meanwhile."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.clinic import Clinic
from app.patients.model import PatientDraft
from app.patients.records import create_patient
from app.store import database, migrations
from app.store.hlc import Hlc
from app.store.lifecycle import OpenDatabase
from app.store.paths import clinic_paths
from app.sync import payload
from app.sync.merge import ChangeRow
from app.sync.service import sync_status
from tests.support.acting import administrator_acting  # noqa: F401
from tests.support.relay import relay, relay_url  # noqa: F401
from tests.support.sync_relay_desks import first_desk, join_desk, push_as, sync


@pytest.fixture
def desk_a(clinic: Clinic, relay_url: str) -> Clinic:  # noqa: F811
    return first_desk(clinic, relay_url)


@pytest.fixture
def desk_b(desk_a: Clinic, tmp_path: Path) -> Iterator[Clinic]:
    desk = join_desk(desk_a, tmp_path / "desk-b")
    yield desk
    desk.close()


def _push_as_newer_frontdesk(desk: Clinic, row: dict[str, object]) -> str:
    """A's next batch as a Frontdesk one schema ahead would send it: a patient with a
    column (nickname) this version does not have."""
    newer = migrations.schema_version(desk.conn) + 1
    stamp = desk.store.clock.now().encode()
    patient_id = str(uuid.uuid4())
    change = ChangeRow(stamp, desk.store.device_id, "patient", patient_id, "*", json.dumps(row))
    data = payload.encode(newer, [change])
    push_as(desk, data)
    return patient_id


def _newer_patient_row(desk: Clinic, patient_id: str) -> dict[str, object]:
    value = desk.conn.execute(
        "SELECT value FROM change WHERE tbl = 'patient' AND row_id = ? AND col = '*'",
        (patient_id,),
    ).fetchone()[0]
    row = json.loads(value)
    return {**row, "nickname": "Addie"}


def _update(desk: Clinic, tmp_path: Path) -> Clinic:
    """This desk gets the newer Frontdesk: its migration adds the column; reopened."""
    folder = tmp_path / "migrations"
    shutil.copytree(migrations.migrations_dir(), folder)
    version = migrations.latest_version() + 1
    (folder / f"{version:04d}_nickname.sql").write_text(
        "ALTER TABLE patient ADD COLUMN nickname TEXT NOT NULL DEFAULT '';"
    )
    home, key, clinic_id = desk.home, desk.opened.data_key, desk.clinic_id
    desk.close()
    conn = database.connect(home / "clinic.db", key)
    assert migrations.upgrade(conn, folder) == [version]
    return Clinic(OpenDatabase(conn, clinic_paths(home), clinic_id, key, "keyring"))


def test_a_batch_from_a_newer_frontdesk_is_parked_then_applied_after_the_update(
    desk_a: Clinic, desk_b: Clinic, tmp_path: Path
) -> None:
    template = create_patient(desk_a, PatientDraft("Okafor", "Ada"))
    sync(desk_a)
    newer_id = _push_as_newer_frontdesk(desk_a, _newer_patient_row(desk_a, template.id))
    later = create_patient(desk_a, PatientDraft("Lindqvist", "Ben"))  # an ordinary batch after
    sync(desk_a)

    result = sync(desk_b)
    assert result.status.state == "update_needed"
    assert "Update this one" in result.status.message
    ids = {r[0] for r in desk_b.conn.execute("SELECT id FROM patient")}
    assert ids == {template.id, later.id}  # the rest of sync went on
    assert desk_b.conn.execute("SELECT count(*) FROM local_sync_parked").fetchone()[0] == 1
    create_patient(desk_b, PatientDraft("Nwosu", "Chi"))
    assert sync(desk_b).pushed == 1  # and this desk still sends its own work

    updated = _update(desk_b, tmp_path)
    try:
        result = sync(updated)
        assert result.status.state == "synced", result.status.message
        row = updated.conn.execute(
            "SELECT family_name, nickname FROM patient WHERE id = ?", (newer_id,)
        ).fetchone()
        assert row == ("Okafor", "Addie")
        assert updated.conn.execute("SELECT count(*) FROM local_sync_parked").fetchone()[0] == 0
        assert sync_status(updated).state == "synced"
    finally:
        updated.close()


def test_a_change_naming_an_unknown_column_in_a_batch_of_this_version_is_parked_too(
    desk_a: Clinic, desk_b: Clinic
) -> None:
    """Whatever the version says, a column this desk lacks parks the batch (never half)."""
    template = create_patient(desk_a, PatientDraft("Okafor", "Ada"))
    sync(desk_a)
    row = _newer_patient_row(desk_a, template.id)
    stamp = Hlc.decode(desk_a.store.clock.now().encode())
    assert stamp  # a real stamp from A's clock
    version = migrations.schema_version(desk_a.conn)
    data = payload.encode(
        version,
        [
            ChangeRow(
                stamp.encode(), desk_a.store.device_id, "patient", "p-new", "*", json.dumps(row)
            ),
            ChangeRow(
                stamp.encode(), desk_a.store.device_id, "patient", template.id, "language", '"ig"'
            ),
        ],
    )
    push_as(desk_a, data)
    result = sync(desk_b)
    assert result.status.state == "update_needed"
    language = desk_b.conn.execute(
        "SELECT language FROM patient WHERE id = ?", (template.id,)
    ).fetchone()[0]
    assert language == ""  # not applied in part
