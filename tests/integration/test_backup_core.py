"""Backups of a real encrypted clinic: what they hold, how they are checked, what is refused."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from app.backup.create import back_up, prune
from app.backup.manifest import COUNTED_TABLES, clinic_backups, is_backup_name
from app.backup.restore import restore
from app.backup.verify import verify
from app.clinic import Clinic, create_clinic, open_clinic
from app.errors import BackupError, PermissionDeniedError
from app.interactions.log import log_interaction
from app.ops import CancelToken, OperationCancelledError
from app.store import keys, migrations
from app.users import add_user
from tests.conftest import PASSPHRASE


def _counts(clinic: Clinic) -> dict[str, int]:
    return {
        t: clinic.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in COUNTED_TABLES
    }


@pytest.fixture
def usb(tmp_path: Path) -> Path:
    """The backup folder: a USB drive, say."""
    folder = tmp_path / "USB"
    folder.mkdir()
    return folder


def _as(clinic: Clinic, role: str) -> None:
    clinic.acting_user_id = add_user(clinic, f"Pat {role.title()}", role).id


def test_backup_holds_the_encrypted_database_its_key_file_and_a_manifest(
    demo_clinic: Clinic, usb: Path, tmp_path: Path
) -> None:
    _as(demo_clinic, "receptionist")
    result = back_up(demo_clinic, usb, trigger="manual")

    assert is_backup_name(result.path.name)
    members = {p.name for p in result.path.iterdir()}
    assert {"clinic.db", "clinic.key", "manifest.json"} <= members
    manifest = json.loads((result.path / "manifest.json").read_text("utf-8"))
    assert manifest["clinic_id"] == demo_clinic.clinic_id
    assert manifest["key_fingerprint"] == keys.key_fingerprint(demo_clinic.opened.data_key)
    assert demo_clinic.opened.data_key.hex() not in json.dumps(manifest)
    assert manifest["counts"]["patient"] == _counts(demo_clinic)["patient"] == 300
    assert manifest["schema_version"] == migrations.latest_version()
    assert manifest["audit_head"]["seq"] >= 0
    raw = (result.path / "clinic.db").read_bytes()
    assert not raw.startswith(b"SQLite format 3")
    assert [p.name for p in usb.iterdir()] == [result.path.name]  # no partial left
    report = verify(
        result.path, data_key=demo_clinic.opened.data_key, clinic_id=demo_clinic.clinic_id
    )
    assert report.ok, report.reason
    run = demo_clinic.conn.execute("SELECT trigger, status, path FROM local_backup_run").fetchone()
    assert run == ("manual", "done", str(result.path))
    actions = [r[0] for r in demo_clinic.conn.execute("SELECT action FROM audit_event")]
    assert "backup" in actions


def test_a_backup_taken_while_another_connection_keeps_writing_restores_consistently(
    demo_clinic: Clinic, usb: Path, tmp_path: Path
) -> None:
    patient = demo_clinic.conn.execute("SELECT id FROM patient LIMIT 1").fetchone()[0]
    writer = demo_clinic.fork()
    committed: list[str] = []
    stop = threading.Event()

    def keep_writing() -> None:
        while not stop.is_set():
            created = log_interaction(writer, patient, "note", subject="backup test")
            committed.append(created.id)

    thread = threading.Thread(target=keep_writing)
    thread.start()
    try:
        while len(committed) < 20:
            stop.wait(0.01)
        before = list(committed)
        result = back_up(demo_clinic, usb, trigger="schedule")
        written_during = len(committed) - len(before)
    finally:
        stop.set()
        thread.join()
        writer.close()
    assert written_during > 0  # the writer really ran during the backup
    key, clinic_id, home = demo_clinic.opened.data_key, demo_clinic.clinic_id, demo_clinic.home
    demo_clinic.close()
    restore(result.path, home, data_key=key, clinic_id=clinic_id)
    with open_clinic(home) as restored:
        assert restored.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        present = {r[0] for r in restored.conn.execute("SELECT id FROM interaction")}
        assert set(before) <= present


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_a_damaged_backup_fails_verify_and_restore_changes_nothing(
    demo_clinic: Clinic, usb: Path, tmp_path: Path, damage: str
) -> None:
    result = back_up(demo_clinic, usb, trigger="command")
    db = result.path / "clinic.db"
    data = bytearray(db.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0x01
        db.write_bytes(bytes(data))
    else:
        db.write_bytes(bytes(data[: len(data) // 2]))
    key, clinic_id, home = demo_clinic.opened.data_key, demo_clinic.clinic_id, demo_clinic.home
    report = verify(result.path, data_key=key, clinic_id=clinic_id)
    assert not report.ok and "damaged" in report.reason
    demo_clinic.close()
    before = sorted(p.name for p in home.iterdir())
    database_bytes = (home / "clinic.db").read_bytes()
    with pytest.raises(BackupError, match="damaged"):
        restore(result.path, home, data_key=key, clinic_id=clinic_id)
    assert sorted(p.name for p in home.iterdir()) == before
    assert (home / "clinic.db").read_bytes() == database_bytes


def test_a_backup_from_another_clinic_is_refused_with_that_reason(
    clinic: Clinic, usb: Path, tmp_path: Path
) -> None:
    other = create_clinic("Hillside Clinic", PASSPHRASE, tmp_path / "other", use_keyring=False)
    with other.clinic as hillside:
        result = back_up(hillside, usb, trigger="command")
    report = verify(result.path, data_key=clinic.opened.data_key, clinic_id=clinic.clinic_id)
    assert not report.ok
    assert "from another clinic (Hillside Clinic)" in report.reason


def test_a_backup_made_by_a_newer_frontdesk_is_refused_with_that_reason(
    clinic: Clinic, usb: Path, tmp_path: Path
) -> None:
    clinic.conn.execute("PRAGMA user_version = 99")  # as a later version would leave it
    result = back_up(clinic, usb, trigger="command")
    clinic.conn.execute("PRAGMA user_version = 8")
    report = verify(result.path, data_key=clinic.opened.data_key, clinic_id=clinic.clinic_id)
    assert not report.ok and "newer version of Frontdesk" in report.reason


def test_a_backup_does_not_open_with_another_key(clinic: Clinic, usb: Path, tmp_path: Path) -> None:
    result = back_up(clinic, usb, trigger="command")
    report = verify(result.path, data_key=keys.new_data_key(), clinic_id=clinic.clinic_id)
    assert not report.ok and "does not open with this clinic's key" in report.reason


def test_cancel_leaves_no_backup_and_no_partial_folder(
    clinic: Clinic, usb: Path, tmp_path: Path
) -> None:
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(OperationCancelledError):
        back_up(clinic, usb, trigger="command", cancel=cancel)
    assert list(usb.iterdir()) == []
    status = clinic.conn.execute("SELECT status, message FROM local_backup_run").fetchone()
    assert status == ("failed", "Cancelled.")


def test_a_missing_usb_drive_is_said_plainly(clinic: Clinic, usb: Path, tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="not plugged in"):
        back_up(clinic, tmp_path / "USB-DRIVE", trigger="command")


def test_pruning_keeps_the_newest_and_never_touches_other_files(
    clinic: Clinic, usb: Path, tmp_path: Path
) -> None:
    made = [back_up(clinic, usb, trigger="command").path for _ in range(4)]
    (usb / "holiday photos").mkdir()
    (usb / "notes.txt").write_text("mine")
    removed = prune(usb, clinic.clinic_id, keep=2)
    assert len(removed) == 2
    left = {b.path for b in clinic_backups(usb, clinic.clinic_id)}
    assert len(left) == 2 and left <= set(made)
    assert (usb / "holiday photos").is_dir() and (usb / "notes.txt").is_file()
    assert prune(usb, "another-clinic", keep=1) == []


def test_a_receptionist_may_back_up_now_but_nobody_unknown(
    clinic: Clinic, usb: Path, tmp_path: Path
) -> None:
    clinic.acting_user_id = ""
    with pytest.raises(PermissionDeniedError):
        back_up(clinic, usb, trigger="manual")
    _as(clinic, "receptionist")
    assert back_up(clinic, usb, trigger="manual").path.is_dir()


def test_a_backup_whose_audit_log_was_rewritten_fails_verify_even_with_new_checksums(
    clinic: Clinic, usb: Path
) -> None:
    """Someone with the key edits an audit entry in the copy and recomputes the manifest's
    checksums: the chain checked against the head the manifest noted still shows it."""
    from dataclasses import replace

    from app.backup.manifest import read_manifest, write_manifest
    from app.backup.snapshot import hash_file
    from app.store import database

    _as(clinic, "administrator")
    _a_patient(clinic)
    result = back_up(clinic, usb, trigger="manual")
    copy = result.path / "clinic.db"
    conn = database.connect(copy, clinic.opened.data_key)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("DROP TRIGGER audit_event_no_update")
    changed = conn.execute(
        "UPDATE audit_event SET body = replace(body, 'patient', 'patiens') WHERE seq = "
        "(SELECT max(seq) FROM audit_event WHERE instr(body, 'patient') > 0)"
    ).rowcount
    assert changed == 1
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()
    manifest = read_manifest(result.path)
    files = {name: dict(facts) for name, facts in manifest.files.items()}
    for name in list(files):
        if (result.path / name).is_file():
            digest = hash_file(result.path / name)
            files[name] = {"sha256": digest.sha256, "bytes": digest.bytes}
        else:  # the WAL went into the file when the copy was edited
            del files[name]
    write_manifest(replace(manifest, files=files), result.path)

    report = verify(result.path, data_key=clinic.opened.data_key, clinic_id=clinic.clinic_id)
    assert not report.ok
    assert "audit log was changed" in report.reason


def _a_patient(clinic: Clinic) -> str:
    from app.patients.model import PatientDraft
    from app.patients.records import create_patient

    return create_patient(clinic, PatientDraft(family_name="Okafor", given_names="Ada")).id
