"""Making a backup: a consistent encrypted copy, its key file and manifest, never half-named.

The backup is written into a hidden `.… .partial` folder beside where it will live,
fsynced, opened with the key (proving the copy and the key file belong together) and
described; only then is the folder renamed to its final name. A backup cut short by a
full disk, an unplugged USB drive or Cancel never carries a backup's name, and its
partial folder is removed.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from app.backup.manifest import (
    KEY_MEMBER,
    FoundBackup,
    Manifest,
    backup_name,
    clinic_backups,
    partial_name,
    write_manifest,
)
from app.backup.reading import audit_head_of, clinic_facts, open_read_only
from app.backup.snapshot import copy_hashing, copy_live_database
from app.errors import BackupError, FrontdeskError
from app.ops import CancelToken, OperationCancelledError, Progress, no_progress
from app.store.keys import key_fingerprint
from app.store.lifecycle import OpenDatabase
from app.version import __version__

if TYPE_CHECKING:
    from app.clinic import Clinic

log = logging.getLogger(__name__)
TRIGGERS = ("schedule", "manual", "command", "restore", "rekey")
_OWNER = "owner.json"  # in a partial folder only: whose it is, so a stale one can be cleared
_STALE_PARTIAL = timedelta(days=1)


@dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest: Manifest
    seconds: float
    lock_seconds: float = 0.0  # how long other connections could not save


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _fsync_dir(folder: Path) -> None:
    # A rename is durable only once its directory is; Windows has no directory fsync.
    if os.name == "nt":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def explain_os_error(exc: OSError, folder: Path) -> BackupError:
    """Plain words for what goes wrong with backup folders (no patient data in them)."""
    if exc.errno == errno.ENOSPC:
        return BackupError(f"There is not enough free space in {folder} for the backup.")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return BackupError(f"Frontdesk may not write in {folder}. Choose another backup folder.")
    if not folder.exists():
        return BackupError(
            f"The backup folder {folder} cannot be found. If it is on a USB drive, the "
            "drive is not plugged in."
        )
    return BackupError(f"The backup could not be written to {folder} ({exc.strerror}).")


def write_backup(
    source: OpenDatabase,
    folder: Path,
    *,
    clinic_name: str = "",
    zone: tzinfo = UTC,
    now: datetime | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> BackupResult:
    """Write one backup of `source` into `folder`; writes nothing to the clinic's files."""
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    if not folder.is_dir():
        raise explain_os_error(FileNotFoundError(errno.ENOENT, "missing"), folder)
    try:
        final_name = backup_name(now.astimezone(zone), folder)
        partial = folder / partial_name(final_name)
        partial.mkdir()
    except OSError as exc:
        raise explain_os_error(exc, folder) from None
    try:
        (partial / _OWNER).write_text(json.dumps({"clinic_id": source.clinic_id}), "utf-8")
        live = copy_live_database(
            source.paths.database, source.data_key, partial, progress=progress, cancel=cancel
        )
        files = dict(live.files)
        files[KEY_MEMBER] = copy_hashing(source.paths.key_file, partial / KEY_MEMBER)
        progress(0, 0, "Checking the backup")
        with open_read_only(partial, source.data_key) as conn:
            clinic_id, version, counts = clinic_facts(conn)
            head = audit_head_of(conn)
            cipher = str(conn.execute("PRAGMA cipher_version").fetchone()[0])
        if clinic_id != source.clinic_id:
            raise BackupError("The copy does not hold this clinic's data; no backup was made.")
        manifest = Manifest(
            created_at=utc_text(now),
            app_version=__version__,
            schema_version=version,
            sqlcipher_version=cipher,
            clinic_id=clinic_id,
            clinic_name=clinic_name,
            key_fingerprint=key_fingerprint(source.data_key),
            counts=counts,
            files={name: {"sha256": d.sha256, "bytes": d.bytes} for name, d in files.items()},
            audit_head=head,
        )
        (partial / _OWNER).unlink()
        write_manifest(manifest, partial)
        _fsync_dir(partial)
        final = folder / final_name
        partial.rename(final)
        _fsync_dir(folder)
    except BaseException as exc:
        shutil.rmtree(partial, ignore_errors=True)
        if isinstance(exc, OSError):
            raise explain_os_error(exc, folder) from None
        raise
    return BackupResult(final, manifest, time.perf_counter() - started, live.lock_seconds)


def back_up(
    clinic: Clinic,
    folder: Path,
    *,
    trigger: str = "manual",
    keep: int | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> BackupResult:
    """A backup as the desk makes it: recorded in local_backup_run and the audit log,
    then older backups of this clinic in that folder beyond `keep` are removed."""
    from app.audit import actions
    from app.audit.log import record
    from app.security.permissions import require
    from app.today import clinic_zone

    if trigger not in TRIGGERS:
        raise ValueError(f"unknown trigger {trigger!r}")
    if trigger == "manual":
        require(clinic, "backup.now")
    run_id = str(uuid.uuid4())
    clinic.conn.execute(
        "INSERT INTO local_backup_run (id, started_at, trigger, path, status) "
        "VALUES (?, ?, ?, ?, 'running')",
        (run_id, utc_text(datetime.now(UTC)), trigger, str(folder)),
    )
    try:
        result = write_backup(
            clinic.opened,
            folder,
            clinic_name=clinic.settings.name,
            zone=clinic_zone(clinic),
            progress=progress,
            cancel=cancel,
        )
    except BaseException as exc:
        message = str(exc) if isinstance(exc, FrontdeskError) else type(exc).__name__
        if isinstance(exc, OperationCancelledError):
            message = "Cancelled."
        _finish_run(clinic, run_id, "failed", message, None, "")
        raise
    _finish_run(clinic, run_id, "done", "", result.manifest.database_bytes, str(result.path))
    record(
        clinic,
        actions.BACKUP,
        target=result.path.name,
        detail={
            "trigger": trigger,
            "bytes": result.manifest.database_bytes,
            "schema_version": result.manifest.schema_version,
        },
    )
    if keep is not None:
        prune(folder, clinic.clinic_id, keep)
    return result


def _finish_run(
    clinic: Clinic, run_id: str, status: str, message: str, size: int | None, path: str
) -> None:
    clinic.conn.execute(
        "UPDATE local_backup_run SET finished_at = ?, status = ?, message = ?, bytes = ?, "
        "path = CASE WHEN ? = '' THEN path ELSE ? END WHERE id = ?",
        (utc_text(datetime.now(UTC)), status, message, size, path, path, run_id),
    )


def prune(folder: Path, clinic_id: str, keep: int) -> list[str]:
    """Remove this clinic's backups beyond the newest `keep`, and its own partial folders
    left by a crash more than a day ago. Nothing else in the folder is ever touched."""
    removed: list[str] = []
    backups: list[FoundBackup] = clinic_backups(folder, clinic_id)
    for old in backups[max(keep, 1) :]:
        shutil.rmtree(old.path)
        removed.append(old.path.name)
    cutoff = time.time() - _STALE_PARTIAL.total_seconds()
    with contextlib.suppress(OSError):
        for entry in folder.iterdir():
            if not (
                entry.name.startswith(".Frontdesk backup ") and entry.name.endswith(".partial")
            ):
                continue
            try:
                owner = json.loads((entry / _OWNER).read_text("utf-8")).get("clinic_id")
                stale = entry.stat().st_mtime < cutoff
            except (OSError, ValueError, AttributeError):
                continue
            if owner == clinic_id and stale:
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry.name)
    if removed:
        log.info("removed %d old backup(s)", len(removed))
    return removed
