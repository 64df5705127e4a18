"""Restoring a backup end to end: the data comes back equal, the old files are kept."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from app.backup.create import back_up
from app.backup.restore import prepare_restore, restore
from app.backup.swap import JOURNAL, complete_pending_swap
from app.clinic import Clinic, open_clinic
from app.errors import BackupError
from app.patients.model import PatientDraft
from app.patients.records import create_patient
from tests.conftest import PASSPHRASE

KEY_TABLES = ("patient", "contact_point", "appointment", "consent", "interaction", "payment")


def _fingerprint(clinic: Clinic) -> dict[str, tuple[int, str]]:
    """Row count and a SHA-256 of every row, in id order, of the tables a clinic lives by."""
    found = {}
    for table in KEY_TABLES:
        digest = hashlib.sha256()
        rows = clinic.conn.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
        for row in rows:
            digest.update(repr(row).encode())
        found[table] = (len(rows), digest.hexdigest())
    return found


def test_backup_then_restore_gives_back_the_same_data_and_keeps_the_old_files(
    demo_clinic: Clinic, tmp_path: Path
) -> None:
    usb = tmp_path / "USB"
    usb.mkdir()
    before = _fingerprint(demo_clinic)
    backup = back_up(demo_clinic, usb, trigger="command").path
    create_patient(demo_clinic, PatientDraft(family_name="Arrival", given_names="Later"))
    after_backup = _fingerprint(demo_clinic)
    assert after_backup != before
    key, clinic_id, home = demo_clinic.opened.data_key, demo_clinic.clinic_id, demo_clinic.home
    demo_clinic.close()

    result = restore(backup, home, data_key=key, clinic_id=clinic_id)

    with open_clinic(home, passphrase=PASSPHRASE, use_keyring=False) as restored:
        assert _fingerprint(restored) == before
        entries = restored.conn.execute(
            "SELECT body FROM audit_event WHERE action = 'restore'"
        ).fetchall()
        assert len(entries) == 1 and backup.name in bytes(entries[0][0]).decode()
        run = restored.conn.execute(
            "SELECT status FROM local_backup_run WHERE trigger = 'restore'"
        ).fetchone()
        assert run == ("done",)
    assert result.kept is not None and result.kept.name.startswith("before-restore-")
    with open_clinic(result.kept, passphrase=PASSPHRASE, use_keyring=False) as kept:
        assert _fingerprint(kept) == after_backup  # the work done since is not lost
    assert not (home / JOURNAL).exists()
    assert not [p for p in home.iterdir() if p.name.endswith(".partial")]


def test_a_second_restore_keeps_both_earlier_states(clinic: Clinic, tmp_path: Path) -> None:
    usb = tmp_path / "USB"
    usb.mkdir()
    backup = back_up(clinic, usb, trigger="command")
    key, clinic_id, home = clinic.opened.data_key, clinic.clinic_id, clinic.home
    clinic.close()
    first = restore(backup.path, home, data_key=key, clinic_id=clinic_id).kept
    second = restore(backup.path, home, data_key=key, clinic_id=clinic_id).kept
    assert first is not None and second is not None and first != second
    assert (first / "clinic.db").is_file() and (second / "clinic.db").is_file()


def test_a_swap_interrupted_midway_is_finished_at_the_next_start(
    clinic: Clinic, tmp_path: Path
) -> None:
    usb = tmp_path / "USB"
    usb.mkdir()
    backup = back_up(clinic, usb, trigger="command").path
    key, clinic_id, home = clinic.opened.data_key, clinic.clinic_id, clinic.home
    clinic.close()
    prepared = prepare_restore(backup, home, data_key=key, clinic_id=clinic_id)
    # A crash after the database moved aside but before the key file did:
    kept = home / prepared.kept_name
    kept.mkdir()
    (home / "clinic.db").replace(kept / "clinic.db")
    assert (home / JOURNAL).exists()

    done = complete_pending_swap(home)

    assert done is not None and done.kept == kept
    assert (kept / "clinic.db").is_file() and (kept / "clinic.key").is_file()
    with open_clinic(home, passphrase=PASSPHRASE, use_keyring=False) as restored:
        assert restored.clinic_id == clinic_id
    assert complete_pending_swap(home) is None


def test_restore_refuses_while_another_is_waiting(clinic: Clinic, tmp_path: Path) -> None:
    usb = tmp_path / "USB"
    usb.mkdir()
    backup = back_up(clinic, usb, trigger="command").path
    key, clinic_id, home = clinic.opened.data_key, clinic.clinic_id, clinic.home
    prepare_restore(backup, home, data_key=key, clinic_id=clinic_id)
    with pytest.raises(BackupError, match="already waiting"):
        prepare_restore(backup, home, data_key=key, clinic_id=clinic_id)


def test_a_backup_from_an_older_frontdesk_is_brought_up_to_date_when_restored(
    tmp_path: Path,
) -> None:
    import json
    import shutil

    from app.backup.create import write_backup
    from app.store import database, keys, migrations
    from app.store.lifecycle import OpenDatabase
    from app.store.paths import ClinicPaths

    stored = Path(__file__).resolve().parents[1] / "data" / "schema-0007"
    expected = json.loads((stored / "expected.json").read_text())
    old_home = tmp_path / "old"
    shutil.copytree(stored, old_home)
    key_file = keys.read_key_file(old_home / "clinic.key")
    key = keys.unwrap(key_file, "passphrase", expected["passphrase"])
    conn = database.connect(old_home / "clinic.db", key)  # opened as version 7 left it
    usb = tmp_path / "USB"
    usb.mkdir()
    try:
        made = write_backup(
            OpenDatabase(conn, ClinicPaths(old_home), key_file.clinic_id, key, "t"), usb
        )
    finally:
        conn.close()
    assert made.manifest.schema_version == 7

    new_home = tmp_path / "new-computer"
    restore(made.path, new_home, data_key=key, clinic_id=None)

    with open_clinic(new_home, passphrase=expected["passphrase"], use_keyring=False) as restored:
        assert migrations.schema_version(restored.conn) == migrations.latest_version()
        assert restored.conn.execute("SELECT count(*) FROM patient").fetchone()[0] == 40
        body = restored.conn.execute(
            "SELECT body FROM audit_event WHERE action = 'restore'"
        ).fetchone()[0]
        assert b'"backup_schema_version":7' in bytes(body)


def test_a_prepared_restore_whose_files_vanished_leaves_the_clinic_as_it_is(
    clinic: Clinic, tmp_path: Path
) -> None:
    import shutil

    usb = tmp_path / "USB"
    usb.mkdir()
    backup = back_up(clinic, usb, trigger="command").path
    key, clinic_id, home = clinic.opened.data_key, clinic.clinic_id, clinic.home
    clinic.close()
    prepared = prepare_restore(backup, home, data_key=key, clinic_id=clinic_id)
    shutil.rmtree(prepared.staging)

    assert complete_pending_swap(home) is None
    assert not (home / JOURNAL).exists() and not (home / prepared.kept_name).exists()
    with open_clinic(home) as same:
        assert same.clinic_id == clinic_id
