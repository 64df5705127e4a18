"""Replacing the data key: the new key opens, the old does not; the kit and backups follow."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.backup.verify import backup_key, verify
from app.clinic import Clinic, open_clinic
from app.errors import PermissionDeniedError, WrongPassphraseError
from app.ops import CancelToken, OperationCancelledError
from app.store import database, keys
from app.store.rekey import finish_rekey, prepare_rekey
from app.users import add_user
from tests.conftest import PASSPHRASE, Template
from tests.support.memory_keyring import MemoryKeyring


@pytest.fixture
def admin_clinic(demo_clinic: Clinic) -> Clinic:
    demo_clinic.acting_user_id = add_user(demo_clinic, "Ann Admin", "administrator").id
    return demo_clinic


def _counts(clinic: Clinic) -> tuple[int, int, int]:
    row = clinic.conn.execute(
        "SELECT (SELECT count(*) FROM patient), (SELECT count(*) FROM appointment), "
        "(SELECT count(*) FROM consent)"
    ).fetchone()
    return (row[0], row[1], row[2])


def test_rekey_replaces_the_key_everywhere_and_the_old_one_opens_nothing_new(
    admin_clinic: Clinic, tmp_path: Path, demo_template: Template, memory_keyring: MemoryKeyring
) -> None:
    usb = tmp_path / "USB"
    usb.mkdir()
    home, clinic_id = admin_clinic.home, admin_clinic.clinic_id
    old_key = admin_clinic.opened.data_key
    counts = _counts(admin_clinic)

    prepared = prepare_rekey(admin_clinic, PASSPHRASE, usb)
    admin_clinic.close()
    finish_rekey(prepared, home, clinic_id)

    assert prepared.new_key != old_key
    with pytest.raises(database.StoreError):
        database.connect(home / "clinic.db", old_key)
    with open_clinic(home) as by_keyring:  # the keyring holds the new key
        assert by_keyring.opened.data_key == prepared.new_key
        assert _counts(by_keyring) == counts
        actions = [r[0] for r in by_keyring.conn.execute("SELECT action FROM audit_event")]
        assert "rekey" in actions
    with open_clinic(home, passphrase=PASSPHRASE, use_keyring=False) as by_passphrase:
        assert by_passphrase.opened.data_key == prepared.new_key
    with open_clinic(home, recovery_key=prepared.recovery_key, use_keyring=False):
        pass
    with pytest.raises(WrongPassphraseError):
        open_clinic(home, recovery_key=demo_template.recovery_key, use_keyring=False)
    key_file = keys.read_key_file(home / "clinic.key")
    assert key_file.key_id == prepared.new_key_id == keys.key_fingerprint(prepared.new_key)
    assert key_file.database_salt == database.database_salt(home / "clinic.db")
    assert not (home / "clinic.key.new").exists()

    # The backup made first opens with the old key only, and says so to the new one.
    assert verify(prepared.backup, data_key=old_key, clinic_id=clinic_id).ok
    refused = verify(prepared.backup, data_key=prepared.new_key, clinic_id=clinic_id)
    assert not refused.ok and "does not open with this clinic's key" in refused.reason
    assert backup_key(prepared.backup, passphrase=PASSPHRASE) == old_key


def test_cancel_during_rekey_leaves_the_clinic_as_it_was(
    admin_clinic: Clinic, tmp_path: Path
) -> None:
    usb = tmp_path / "USB"
    usb.mkdir()
    home = admin_clinic.home
    key_file_before = (home / "clinic.key").read_bytes()
    cancel = CancelToken()

    def progress(done: int, total: int, what: str) -> None:
        if what.startswith("Copying the data under the new key"):
            cancel.cancel()

    with pytest.raises(OperationCancelledError):
        prepare_rekey(admin_clinic, PASSPHRASE, usb, progress=progress, cancel=cancel)

    assert (home / "clinic.key").read_bytes() == key_file_before
    assert not [p for p in home.iterdir() if p.name.startswith((".rekey", "pending"))]
    admin_clinic.conn.execute("INSERT INTO meta (key, value) VALUES ('still', 'writable')")
    old_key = admin_clinic.opened.data_key
    admin_clinic.close()
    with open_clinic(home, passphrase=PASSPHRASE, use_keyring=False) as same:
        assert same.opened.data_key == old_key


def test_only_an_administrator_with_the_passphrase_may_rekey(
    demo_clinic: Clinic, tmp_path: Path
) -> None:
    demo_clinic.acting_user_id = add_user(demo_clinic, "Mo Manager", "manager").id
    with pytest.raises(PermissionDeniedError):
        prepare_rekey(demo_clinic, PASSPHRASE, tmp_path)
    demo_clinic.acting_user_id = add_user(demo_clinic, "Ann Admin", "administrator").id
    with pytest.raises(WrongPassphraseError):
        prepare_rekey(demo_clinic, "not the passphrase at all 123", tmp_path)
    assert not list(tmp_path.glob("Frontdesk backup*"))
