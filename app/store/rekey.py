"""Replacing the clinic's data key (after a staff member leaves): a new file, a new key file.

Why a copy and not `PRAGMA rekey`: SQLCipher 4 rekeys a WAL database in place only with
no other connection open (a second connection then fails "file is not a database"),
gives no progress and cannot be cancelled. SQLCipher's backup API copies every page
into a new file keyed with the new key, step by step with progress; Cancel simply
drops the new file. It needs the other writers held still: a second connection takes
the write lock (BEGIN IMMEDIATE) for the whole copy, so nothing is committed that the
copy would miss, and the source connection only reads (a stepped backup restarts
whenever another connection writes, and cannot run on a connection that writes).

Order, so that a failure or Cancel before the swap leaves the clinic exactly as it was:
1. a backup under the old key (old backups keep opening with the old key: the docs
   and the dialog say so — destroy them or accept that risk);
2. the new file, verified (page checks, counts) and proven NOT to open with the old key;
3. the new key file `clinic.key.new`: a passphrase slot (the administrator typed the
   passphrase) and a NEW recovery key (the old Emergency Kit stops working); the new
   key's fingerprint (its id: issue 11's sync envelopes name keys by it) and salt;
4. the REKEY audit entry, in the new file;
5. the swap (app/backup/swap.py): the new database replaces the old, then the key file.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from app.backup.create import back_up
from app.backup.manifest import COUNTED_TABLES
from app.backup.swap import SwapDone, complete_pending_swap, pending, write_journal
from app.errors import RekeyError, StoreError
from app.ops import CancelToken, Progress, no_progress
from app.store import database, keyring_store, keys, lifecycle
from app.store.database import Connection, OperationalError
from app.store.lifecycle import OpenDatabase
from app.store.paths import ClinicPaths

if TYPE_CHECKING:
    from app.clinic import Clinic

PAGES_PER_STEP = 2048  # 8 MiB a step: progress moves, Cancel answers within a moment
_NEW_KEY_FILE = "clinic.key.new"


@dataclass
class PreparedRekey:
    """A new file and key file ready to swap in; `hold` keeps other writers waiting
    until the caller releases it (just before the swap or the restart)."""

    staging: Path
    new_key: bytes
    new_key_id: str
    recovery_key: str
    backup: Path
    hold: Connection | None

    def release(self) -> None:
        if self.hold is not None:
            if self.hold.in_transaction:
                self.hold.execute("ROLLBACK")
            self.hold.close()
            self.hold = None


def _counts(conn: Connection) -> dict[str, int]:
    present = {str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    return {
        t: int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0])  # noqa: S608 - fixed names
        for t in COUNTED_TABLES
        if t in present
    }


def prepare_rekey(
    clinic: Clinic,
    passphrase: str,
    backup_folder: Path,
    *,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
    check_role: bool = True,
) -> PreparedRekey:
    """Steps 1–4. Raises (and leaves everything as it was) on a wrong passphrase, a
    failed backup, a failed check, or Cancel.

    `check_role=False` only for the command line, which nobody signs in to: there the
    clinic passphrase, asked again here, is the proof (whoever holds it can unwrap the
    key anyway), as for `main.py passphrase` and `new-recovery-key`.
    """
    from app.security.permissions import require

    if check_role:
        require(clinic, "key.manage")
    lifecycle.verify_passphrase(clinic.opened, passphrase)
    home = clinic.home
    if pending(home) is not None:
        raise RekeyError(
            "A restore or key replacement is already waiting: restart Frontdesk first."
        )
    progress(0, 0, "Backing up under the current key first")
    backup = back_up(clinic, backup_folder, trigger="rekey", progress=progress, cancel=cancel)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d-%H%M%S")
    staging = home / f".rekey-{stamp}.partial"
    staging.mkdir()
    new_key = keys.new_data_key()
    hold = database.connect(clinic.opened.paths.database, clinic.opened.data_key)
    try:
        try:
            hold.execute("BEGIN IMMEDIATE")
        except OperationalError:
            raise RekeyError(
                "Another task kept saving, so the key could not be replaced now. Try again "
                "in a minute; nothing was changed."
            ) from None
        old_counts = _copy_under_new_key(clinic, staging, new_key, progress, cancel)
        _check_new_file(staging / "clinic.db", new_key, clinic.opened.data_key, old_counts)
        recovery = keys.new_recovery_key()
        key_file = keys.KeyFile(
            clinic_id=clinic.clinic_id,
            key_id=keys.key_fingerprint(new_key),
            database_salt=database.database_salt(staging / "clinic.db"),
            slots=(
                keys.wrap_with_passphrase(new_key, passphrase, clinic.clinic_id),
                keys.wrap_with_recovery_key(new_key, recovery, clinic.clinic_id),
            ),
        )
        keys.write_key_file(key_file, staging / _NEW_KEY_FILE)
        if cancel is not None:
            cancel.raise_if_cancelled()
        _record(clinic, staging, new_key, backup.path.name)
        write_journal(home, "rekey", staging.name)
    except BaseException:
        if hold.in_transaction:
            hold.execute("ROLLBACK")
        hold.close()
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return PreparedRekey(staging, new_key, key_file.key_id, recovery, backup.path, hold)


def _copy_under_new_key(
    clinic: Clinic, staging: Path, new_key: bytes, progress: Progress, cancel: CancelToken | None
) -> dict[str, int]:
    source = database.connect(clinic.opened.paths.database, clinic.opened.data_key)
    target = database.connect(staging / "clinic.db", new_key, create=True)
    try:
        old_counts = _counts(source)

        def step(_status: int, remaining: int, total: int) -> None:
            progress(total - remaining, total, "Copying the data under the new key")
            if cancel is not None:
                cancel.raise_if_cancelled()

        source.backup(target, pages=PAGES_PER_STEP, progress=step)
        target.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return old_counts
    finally:
        target.close()
        source.close()


def _check_new_file(path: Path, new_key: bytes, old_key: bytes, old_counts: dict[str, int]) -> None:
    conn = database.connect(path, new_key)
    try:
        if conn.execute("PRAGMA cipher_integrity_check").fetchall():
            raise RekeyError("The copy under the new key failed its check; nothing was changed.")
        if conn.execute("PRAGMA quick_check").fetchone()[0] != "ok" or _counts(conn) != old_counts:
            raise RekeyError("The copy under the new key is incomplete; nothing was changed.")
    finally:
        conn.close()
    try:
        database.connect(path, old_key).close()
    except StoreError:
        return  # as it must be: the old key no longer opens the new file
    raise RekeyError("The old key still opens the new file; nothing was changed.")


def _record(clinic: Clinic, staging: Path, new_key: bytes, backup_name: str) -> None:
    from app.audit import actions
    from app.audit.log import record, restore_anchor
    from app.clinic import Clinic

    conn = database.connect(staging / "clinic.db", new_key)
    opened = OpenDatabase(conn, ClinicPaths(staging), clinic.clinic_id, new_key, "rekey")
    with Clinic(opened) as fresh:
        fresh.acting_user_id = clinic.acting_user_id
        restore_anchor(fresh)  # the old head was sealed under the old key
        record(
            fresh,
            actions.REKEY,
            detail={
                "old_key_id": keys.key_fingerprint(clinic.opened.data_key),
                "new_key_id": keys.key_fingerprint(new_key),
                "backup_before": backup_name,
            },
        )
        fresh.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def finish_rekey(prepared: PreparedRekey, home: Path, clinic_id: str) -> SwapDone | None:
    """Step 5 when nothing else has the clinic open (the command line): release the
    hold, swap, and put the new key in this computer's keyring."""
    prepared.release()
    done = complete_pending_swap(home)
    keyring_store.save_key(clinic_id, prepared.new_key)
    return done
