"""The encrypted clinic on disk: creation, unlock order, re-keying and refusals."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from app.clinic import create_clinic, open_clinic
from app.errors import (
    ClinicExistsError,
    DatabaseCorruptError,
    KeyFileError,
    WeakPassphraseError,
    WrongPassphraseError,
)
from app.patients.model import PatientDraft, PhoneDraft
from app.patients.records import create_patient
from app.store import lifecycle
from app.store.keyring_store import SERVICE
from app.store.paths import clinic_paths, data_home
from tests.conftest import PASSPHRASE, Template
from tests.support.memory_keyring import MemoryKeyring


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_database_file_holds_no_plaintext_header_or_patient_name(clinic_home: Path) -> None:
    clinic = open_clinic(clinic_home)
    create_patient(
        clinic,
        PatientDraft(
            "Quixotebergh",
            "Zebulon",
            birth_date="1975-03-04",
            phones=(PhoneDraft("(612) 555-0142"),),
        ),
    )
    clinic.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    clinic.close()
    paths = clinic_paths(clinic_home)
    raw = paths.database.read_bytes()
    assert not raw.startswith(b"SQLite format 3")
    for needle in ("Quixotebergh", "Zebulon", "16125550142", "1975-03-04"):
        assert needle.encode("utf-8") not in raw
        assert needle.encode("utf-16-le") not in raw
    assert b"Quixotebergh" not in paths.key_file.read_bytes()


def test_keyring_unlocks_silently(clinic_home: Path) -> None:
    clinic = open_clinic(clinic_home)
    assert clinic.opened.unlocked_by == "keyring"
    assert clinic.settings.name == "Lakeside Family Practice"
    clinic.close()


def test_without_keyring_entry_the_passphrase_is_needed_then_remembered(
    clinic_home: Path, memory_keyring: MemoryKeyring
) -> None:
    memory_keyring.entries.clear()
    with pytest.raises(lifecycle.PassphraseNeededError):
        open_clinic(clinic_home)
    clinic = open_clinic(clinic_home, passphrase=PASSPHRASE)
    assert clinic.opened.unlocked_by == "passphrase"
    clinic.close()
    assert open_clinic(clinic_home).opened.unlocked_by == "keyring"


def test_wrong_passphrase_says_so_and_changes_nothing(
    clinic_home: Path, memory_keyring: MemoryKeyring
) -> None:
    memory_keyring.entries.clear()
    paths = clinic_paths(clinic_home)
    before = (_digest(paths.database), _digest(paths.key_file))
    with pytest.raises(WrongPassphraseError, match="not right"):
        open_clinic(clinic_home, passphrase="lakeside tulips 2719 harbour")
    assert (_digest(paths.database), _digest(paths.key_file)) == before
    assert not memory_keyring.entries


def test_recovery_key_unlocks_in_any_case_and_spacing(
    clinic_home: Path, clinic_template: Template, memory_keyring: MemoryKeyring
) -> None:
    memory_keyring.entries.clear()
    typed = clinic_template.recovery_key.lower().replace("-", " ")
    clinic = open_clinic(clinic_home, recovery_key=typed)
    assert clinic.opened.unlocked_by == "recovery"
    clinic.close()


def test_a_wrong_recovery_key_is_refused_plainly(
    clinic_home: Path, memory_keyring: MemoryKeyring
) -> None:
    memory_keyring.entries.clear()
    with pytest.raises(WrongPassphraseError, match="recovery key"):
        open_clinic(clinic_home, recovery_key="ABCD-EFGH-JKLM-NPQR-STUV-WXYZ-2345-6789")
    with pytest.raises(WrongPassphraseError, match="8 groups of 4"):
        open_clinic(clinic_home, recovery_key="not a key")


def test_changing_the_passphrase_rewraps_without_reencrypting(
    clinic_home: Path, memory_keyring: MemoryKeyring
) -> None:
    paths = clinic_paths(clinic_home)
    clinic = open_clinic(clinic_home)
    clinic.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    database_before = _digest(paths.database)
    lifecycle.change_passphrase(clinic.opened, "new harbour lanterns 31")
    clinic.close()
    assert _digest(paths.database) == database_before
    memory_keyring.entries.clear()
    with pytest.raises(WrongPassphraseError):
        open_clinic(clinic_home, passphrase=PASSPHRASE, use_keyring=False)
    reopened = open_clinic(clinic_home, passphrase="new harbour lanterns 31", use_keyring=False)
    reopened.close()


def test_weak_passphrases_are_refused_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(WeakPassphraseError, match="at least 10"):
        create_clinic("Clinic", "short", tmp_path / "a", use_keyring=False)
    with pytest.raises(WeakPassphraseError, match="guessed"):
        create_clinic("Clinic", "mypassword2024", tmp_path / "b", use_keyring=False)
    assert not (tmp_path / "a" / "clinic.db").exists()


def test_creating_over_an_existing_clinic_is_refused(clinic_home: Path) -> None:
    before = _digest(clinic_paths(clinic_home).database)
    with pytest.raises(ClinicExistsError):
        create_clinic("Another", "another long passphrase 9", clinic_home, use_keyring=False)
    assert _digest(clinic_paths(clinic_home).database) == before


def test_passphrase_from_environment_unlocks_headless_commands(
    clinic_home: Path, memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    memory_keyring.entries.clear()
    with pytest.raises(lifecycle.PassphraseNeededError, match="FRONTDESK_PASSPHRASE"):
        lifecycle.unlock_headless(clinic_home)
    monkeypatch.setenv("FRONTDESK_PASSPHRASE", PASSPHRASE)
    opened = lifecycle.unlock_headless(clinic_home)
    assert opened.unlocked_by == "passphrase"
    opened.conn.close()


def test_frontdesk_home_overrides_the_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRONTDESK_HOME", str(tmp_path / "portable"))
    assert data_home() == (tmp_path / "portable").resolve()
    monkeypatch.delenv("FRONTDESK_HOME")
    assert "Frontdesk" in str(data_home())


def test_a_key_file_from_another_clinic_is_refused(
    clinic_home: Path, tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    other = create_clinic(
        "Other", "other clinic passphrase 5", tmp_path / "other", use_keyring=False
    )
    other.clinic.close()
    shutil.copy(tmp_path / "other" / "clinic.key", clinic_home / "clinic.key")
    memory_keyring.entries.clear()
    with pytest.raises(KeyFileError, match="different database"):
        open_clinic(clinic_home, passphrase="other clinic passphrase 5")


def test_a_missing_key_file_points_to_the_backup(clinic_home: Path) -> None:
    (clinic_home / "clinic.key").unlink()
    with pytest.raises(KeyFileError, match="from a backup"):
        open_clinic(clinic_home)


@pytest.mark.parametrize("damage", ["truncate", "scribble"])
def test_a_damaged_database_is_refused_and_left_untouched(clinic_home: Path, damage: str) -> None:
    path = clinic_paths(clinic_home).database
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2 + 100]
    else:
        data[5000:5400] = bytes(400)  # inside page 2, past the salt
    path.write_bytes(bytes(data))
    before = _digest(path)
    with pytest.raises(DatabaseCorruptError, match="backup"):
        open_clinic(clinic_home)
    assert _digest(path) == before


def test_a_stale_keyring_entry_falls_back_to_the_passphrase(
    clinic_home: Path, clinic_template: Template, memory_keyring: MemoryKeyring
) -> None:
    memory_keyring.set_password(SERVICE, clinic_template.clinic_id, "00" * 32)
    with pytest.raises(lifecycle.PassphraseNeededError):
        open_clinic(clinic_home)
    clinic = open_clinic(clinic_home, passphrase=PASSPHRASE)
    assert clinic.opened.unlocked_by == "passphrase"
    clinic.close()
