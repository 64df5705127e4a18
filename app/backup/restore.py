"""Restoring a backup: checked first, opened in a new folder, then swapped in with a kept copy.

Never in place: the backup is copied into a hidden folder inside the data folder, opened
there (older schemas are brought up to date by the migrations, exactly as at start),
and the restore is recorded in the restored clinic's own audit log. Only then do the
current clinic files move into `before-restore-<time>` (kept, never overwritten, never
deleted by Frontdesk) and the restored ones take their place (app/backup/swap.py).
The swap needs the clinic closed: the command line does it at once when no Frontdesk
window is open; the window prepares, then closes and starts again, and the swap runs
at start before the clinic is unlocked.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from app.backup.create import utc_text
from app.backup.manifest import KEY_MEMBER, Manifest
from app.backup.snapshot import DB_MEMBER, WAL_MEMBER, copy_hashing
from app.backup.swap import SwapDone, complete_pending_swap, pending, write_journal
from app.backup.verify import require_verified, verify
from app.errors import BackupError, KeyFileError
from app.ops import CancelToken, Progress, no_progress
from app.store import database, keys, migrations
from app.store.lifecycle import OpenDatabase
from app.store.paths import ClinicPaths, clinic_paths


@dataclass(frozen=True)
class PreparedRestore:
    manifest: Manifest
    staging: Path
    kept_name: str  # the folder the current clinic files will move into


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d-%H%M%S")


def _kept_name(home: Path, moment: datetime) -> str:
    base = f"before-restore-{_stamp(moment)}"
    name, number = base, 2
    while (home / name).exists():
        name, number = f"{base}-{number}", number + 1
    return name


def prepare_restore(
    backup: Path,
    home: Path,
    *,
    data_key: bytes,
    clinic_id: str | None,
    user_id: str = "",
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> PreparedRestore:
    """Verify, copy and open the backup in a new folder; write the swap journal.

    `clinic_id` is the current clinic's (a backup of another clinic is refused), or None
    in a data folder with no clinic yet. Nothing in the current clinic changes.
    """
    if pending(home) is not None:
        raise BackupError(
            "A restore or key replacement is already waiting to finish. Start Frontdesk "
            "again to complete it first."
        )
    report = verify(
        backup, data_key=data_key, clinic_id=clinic_id, progress=progress, cancel=cancel
    )
    manifest = require_verified(report)
    now = datetime.now(UTC)
    staging_name = f".restore-{_stamp(now)}.partial"
    staging = home / staging_name
    home.mkdir(parents=True, exist_ok=True)
    staging.mkdir()
    try:
        total = manifest.database_bytes
        done = 0
        for member in (DB_MEMBER, WAL_MEMBER):
            if member not in manifest.files:
                continue
            copied = copy_hashing(
                backup / member,
                staging / member,
                progress=progress,
                cancel=cancel,
                done_before=done,
                total=total,
                what="Copying the backup into place",
            )
            if copied.sha256 != manifest.files[member]["sha256"]:
                raise BackupError("The backup changed while it was being restored; try again.")
            done += copied.bytes
        _place_key_file(backup, home, staging)
        progress(0, 0, "Opening the restored clinic")
        _open_and_record(staging, data_key, manifest, backup, user_id)
        kept_name = _kept_name(home, now)
        write_journal(home, "restore", staging_name, kept_name)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return PreparedRestore(manifest, staging, kept_name)


def _place_key_file(backup: Path, home: Path, staging: Path) -> None:
    """The current key file when it holds the same key for the same database file (it has
    today's passphrase and Emergency Kit); else the backup's own, as it was then."""
    ours = clinic_paths(home).key_file
    salt = database.database_salt(staging / DB_MEMBER)
    theirs = keys.read_key_file(backup / KEY_MEMBER)
    if ours.is_file():
        try:
            current = keys.read_key_file(ours)
        except KeyFileError:
            current = None
        if (
            current is not None
            and current.key_id == theirs.key_id
            and current.database_salt == salt
        ):
            shutil.copyfile(ours, staging / KEY_MEMBER)
            return
    if theirs.database_salt != salt:
        raise BackupError("This backup's key file does not belong to its database (damaged).")
    shutil.copyfile(backup / KEY_MEMBER, staging / KEY_MEMBER)


def _open_and_record(
    staging: Path, data_key: bytes, manifest: Manifest, backup: Path, user_id: str
) -> None:
    from app.audit import actions
    from app.audit.log import record, restore_anchor
    from app.clinic import Clinic

    conn = database.connect(staging / DB_MEMBER, data_key)
    try:
        applied = migrations.upgrade(conn)
    except BaseException:
        conn.close()
        raise
    opened = OpenDatabase(conn, ClinicPaths(staging), manifest.clinic_id, data_key, "restore")
    with Clinic(opened) as clinic:
        clinic.acting_user_id = user_id
        now = utc_text(datetime.now(UTC))
        clinic.conn.execute(
            "INSERT INTO local_backup_run (id, started_at, finished_at, trigger, path, bytes, "
            "status) VALUES (lower(hex(randomblob(16))), ?, ?, 'restore', ?, ?, 'done')",
            (now, now, str(backup), manifest.database_bytes),
        )
        # The restored folder's sealed head is written for the database it now holds
        # (the backup's chain was checked against its manifest by verify).
        restore_anchor(clinic)
        record(
            clinic,
            actions.RESTORE,
            target=backup.name,
            detail={
                "backup_created_at": manifest.created_at,
                "backup_schema_version": manifest.schema_version,
                "migrations_applied": applied,
                "patients": manifest.counts.get("patient", 0),
            },
        )
        clinic.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


@dataclass(frozen=True)
class RestoreResult:
    manifest: Manifest
    kept: Path | None


def restore(
    backup: Path,
    home: Path,
    *,
    data_key: bytes,
    clinic_id: str | None,
    user_id: str = "",
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> RestoreResult:
    """Prepare and swap at once: only when no connection to the clinic is open (the
    command line, with no Frontdesk window running)."""
    prepared = prepare_restore(
        backup,
        home,
        data_key=data_key,
        clinic_id=clinic_id,
        user_id=user_id,
        progress=progress,
        cancel=cancel,
    )
    done: SwapDone | None = complete_pending_swap(home)
    return RestoreResult(prepared.manifest, done.kept if done else None)
