"""Creating, unlocking and re-keying a clinic: the database file and its key file together.

Unlock tries, in order: the OS keyring (silent), the passphrase, the recovery key.
A wrong secret changes nothing on disk; a damaged file is refused and never rewritten.
"""

from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from app.errors import (
    ClinicExistsError,
    ClinicNotFoundError,
    KeyFileError,
    StoreError,
    WrongPassphraseError,
)
from app.store import database, keyring_store, keys, migrations
from app.store.paths import ClinicPaths, clinic_paths

log = logging.getLogger(__name__)
PASSPHRASE_ENV = "FRONTDESK_PASSPHRASE"  # noqa: S105 - the variable's name, not a secret


class PassphraseNeededError(StoreError):
    """No silent way to unlock: ask the person for the passphrase or recovery key."""


@dataclass(frozen=True)
class OpenDatabase:
    """A connection and the facts about the clinic it belongs to."""

    conn: database.Connection
    paths: ClinicPaths
    clinic_id: str
    data_key: bytes
    unlocked_by: str  # "keyring", "passphrase", "recovery" or "new"


@dataclass(frozen=True)
class CreatedDatabase:
    opened: OpenDatabase
    recovery_key: str
    keyring_saved: bool


def clinic_exists(home: Path | None = None) -> bool:
    return clinic_paths(home).database.exists()


def create(
    passphrase: str, home: Path | None = None, *, use_keyring: bool = True
) -> CreatedDatabase:
    """Make a new encrypted clinic database, its key file and its recovery key."""
    paths = clinic_paths(home)
    if paths.database.exists() or paths.key_file.exists():
        raise ClinicExistsError(
            "A clinic already exists in this data folder; it was left untouched."
        )
    keys.check_passphrase_strength(passphrase)
    paths.home.mkdir(parents=True, exist_ok=True)
    clinic_id = str(uuid.uuid4())
    data_key = keys.new_data_key()
    recovery_key = keys.new_recovery_key()
    try:
        conn = database.connect(paths.database, data_key, create=True)
        migrations.upgrade(conn)
        conn.execute("INSERT INTO meta (key, value) VALUES ('clinic_id', ?)", (clinic_id,))
        conn.execute("INSERT INTO meta (key, value) VALUES ('device_id', ?)", (str(uuid.uuid4()),))
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        key_file = keys.KeyFile(
            clinic_id=clinic_id,
            key_id=keys.key_fingerprint(data_key),
            database_salt=database.database_salt(paths.database),
            slots=(
                keys.wrap_with_passphrase(data_key, passphrase, clinic_id),
                keys.wrap_with_recovery_key(data_key, recovery_key, clinic_id),
            ),
        )
        keys.write_key_file(key_file, paths.key_file)
    except BaseException:
        # Only files this call created are removed: there was no clinic here before.
        for leftover in (paths.database, paths.key_file):
            for suffix in ("", "-wal", "-shm"):
                Path(str(leftover) + suffix).unlink(missing_ok=True)
        raise
    saved = keyring_store.save_key(clinic_id, data_key) if use_keyring else False
    opened = OpenDatabase(conn, paths, clinic_id, data_key, "new")
    return CreatedDatabase(opened, recovery_key, saved)


def unlock(
    home: Path | None = None,
    *,
    passphrase: str | None = None,
    recovery_key: str | None = None,
    use_keyring: bool = True,
) -> OpenDatabase:
    paths = clinic_paths(home)
    if not paths.database.exists():
        raise ClinicNotFoundError("There is no clinic in this data folder yet.")
    key_file = keys.read_key_file(paths.key_file)
    database.check_pair(paths.database, key_file.database_salt)

    if use_keyring:
        stored = keyring_store.load_key(key_file.clinic_id)
        if stored is not None and keys.key_fingerprint(stored) == key_file.key_id:
            return _open(paths, key_file, stored, "keyring")
        if stored is not None:
            log.warning("keyring holds an outdated key for this clinic; asking instead")

    if passphrase is not None:
        data_key = keys.unwrap(key_file, "passphrase", passphrase)
        opened = _open(paths, key_file, data_key, "passphrase")
    elif recovery_key is not None:
        data_key = keys.unwrap(key_file, "recovery", recovery_key)
        opened = _open(paths, key_file, data_key, "recovery")
    else:
        raise PassphraseNeededError("Enter the clinic passphrase to unlock Frontdesk.")
    if use_keyring:
        keyring_store.save_key(key_file.clinic_id, data_key)
    return opened


def unlock_headless(home: Path | None = None) -> OpenDatabase:
    """For commands without a window: keyring, else FRONTDESK_PASSPHRASE."""
    try:
        return unlock(home)
    except PassphraseNeededError:
        secret = os.environ.get(PASSPHRASE_ENV)
        if not secret:
            raise PassphraseNeededError(
                "No keyring on this computer holds the clinic key. Set the "
                f"{PASSPHRASE_ENV} environment variable to the clinic passphrase."
            ) from None
        return unlock(home, passphrase=secret)


def _open(paths: ClinicPaths, key_file: keys.KeyFile, data_key: bytes, how: str) -> OpenDatabase:
    conn = database.connect(paths.database, data_key)
    try:
        migrations.upgrade(conn)
        row = conn.execute("SELECT value FROM meta WHERE key = 'clinic_id'").fetchone()
    except database.DatabaseError as exc:
        conn.close()
        raise database.explain_failure(exc) from None
    except BaseException:
        conn.close()
        raise
    if row is None or row[0] != key_file.clinic_id:
        conn.close()
        raise KeyFileError("The key file belongs to a different clinic than this database.")
    return OpenDatabase(conn, paths, key_file.clinic_id, data_key, how)


def change_passphrase(opened: OpenDatabase, new_passphrase: str) -> None:
    """Rewrap the same data key under a new passphrase; the database is not touched."""
    keys.check_passphrase_strength(new_passphrase)
    key_file = keys.read_key_file(opened.paths.key_file)
    slot = keys.wrap_with_passphrase(opened.data_key, new_passphrase, opened.clinic_id)
    keys.write_key_file(key_file.with_slot(slot), opened.paths.key_file)


def new_recovery_key(opened: OpenDatabase) -> str:
    """Replace the recovery key (the old Emergency Kit stops working)."""
    key_file = keys.read_key_file(opened.paths.key_file)
    recovery = keys.new_recovery_key()
    slot = keys.wrap_with_recovery_key(opened.data_key, recovery, opened.clinic_id)
    keys.write_key_file(key_file.with_slot(slot), opened.paths.key_file)
    return recovery


def verify_passphrase(opened: OpenDatabase, passphrase: str) -> None:
    """Raise WrongPassphraseError unless the passphrase opens this clinic's key file."""
    key_file = keys.read_key_file(opened.paths.key_file)
    if keys.unwrap(key_file, "passphrase", passphrase) != opened.data_key:
        raise WrongPassphraseError("That passphrase belongs to another key.")
