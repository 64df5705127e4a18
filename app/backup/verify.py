"""Checking a backup before anyone relies on it: whole, this clinic's, readable, complete.

The checks run from cheapest to dearest and stop at the first failure, whose reason is
said in words a person can act on: damaged (a checksum differs: bit rot, a file cut
short), from another clinic, made by a newer Frontdesk, or not opening with this
clinic's key. A wrong key never says which secret was wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from app.audit.anchor import AuditHead
from app.audit.verify import VerifyReport as AuditReport
from app.audit.verify import verify as verify_chain
from app.backup.manifest import KEY_MEMBER, Manifest, read_manifest
from app.backup.reading import WRONG_KEY, clinic_facts, open_read_only
from app.backup.snapshot import hash_file
from app.errors import BackupError
from app.ops import CancelToken, Progress, no_progress
from app.store import keys, migrations
from app.store.database import Connection, DatabaseError

DAMAGED = (
    "This backup is damaged ({what}). Do not rely on it: use another backup, and check "
    "the drive it is on."
)


@dataclass(frozen=True)
class VerifyReport:
    path: Path
    ok: bool
    reason: str = ""  # why it failed, in plain words ('' when ok)
    manifest: Manifest | None = None
    checked: tuple[str, ...] = field(default_factory=tuple)  # what passed, in plain words


def verify(
    folder: Path,
    *,
    data_key: bytes,
    clinic_id: str | None = None,
    thorough: bool = True,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> VerifyReport:
    """Check the backup against its manifest and the key; never changes the backup.

    `clinic_id` is the clinic it must belong to (None on a new computer). `thorough`
    adds SQLite's full integrity_check (minutes on a very large clinic) to the page
    checks that always run.
    """
    checked: list[str] = []
    try:
        manifest = read_manifest(folder)
    except BackupError as exc:
        return VerifyReport(folder, False, str(exc))

    def fail(reason: str) -> VerifyReport:
        return VerifyReport(folder, False, reason, manifest, tuple(checked))

    if clinic_id is not None and manifest.clinic_id != clinic_id:
        name = f" ({manifest.clinic_name})" if manifest.clinic_name else ""
        return fail(f"This backup is from another clinic{name}, not this one.")
    if manifest.schema_version > migrations.latest_version():
        return fail(
            f"This backup was made by a newer version of Frontdesk "
            f"({manifest.app_version}). Install that version or a later one to restore it."
        )
    total = sum(int(f.get("bytes", 0)) for f in manifest.files.values())
    done = 0
    for name, expected in manifest.files.items():
        path = folder / name
        if not path.is_file():
            return fail(DAMAGED.format(what=f"its file {name} is missing"))
        if path.stat().st_size != int(expected["bytes"]):
            return fail(DAMAGED.format(what=f"its file {name} has the wrong size"))
        progress(done, total, "Checking the backup's checksums")
        if hash_file(path, cancel=cancel).sha256 != expected["sha256"]:
            return fail(DAMAGED.format(what=f"the checksum of {name} does not match"))
        done += int(expected["bytes"])
    checked.append("The checksums match: the files are as they were written.")
    if KEY_MEMBER not in manifest.files:
        return fail(DAMAGED.format(what="its key file is missing"))
    if keys.key_fingerprint(data_key) != manifest.key_fingerprint:
        return fail(WRONG_KEY)
    progress(0, 0, "Opening the backup with the clinic key")
    try:
        with open_read_only(folder, data_key) as conn:
            checked.append("It opens with the clinic key.")
            progress(0, 0, "Checking every page of the backup")
            bad_pages = conn.execute("PRAGMA cipher_integrity_check").fetchall()
            if bad_pages:
                return fail(DAMAGED.format(what=f"{len(bad_pages)} page(s) fail their check"))
            checked.append("Every page passes its encryption check.")
            if cancel is not None:
                cancel.raise_if_cancelled()
            progress(0, 0, "Checking the backup's structure")
            pragma = "integrity_check" if thorough else "quick_check"
            result = conn.execute(f"PRAGMA {pragma}").fetchone()
            if result is None or result[0] != "ok":
                return fail(DAMAGED.format(what="its inner structure is broken"))
            checked.append("Its structure is sound.")
            found_id, version, counts = clinic_facts(conn)
            chain = _audit_chain(conn, manifest, thorough, cancel)
    except BackupError as exc:
        return fail(str(exc))
    except DatabaseError:
        return fail(DAMAGED.format(what="it cannot be read"))
    if found_id != manifest.clinic_id:
        return fail(DAMAGED.format(what="its data does not match its description"))
    if version != manifest.schema_version or counts != manifest.counts:
        return fail(DAMAGED.format(what="its record counts differ from its description"))
    checked.append(f"It holds {counts.get('patient', 0):,} patients, as recorded.")
    if chain is not None:
        if not chain.intact:
            return fail(DAMAGED.format(what="its audit log was changed after it was made"))
        checked.append(f"Its audit log is intact: {chain.entries:,} entries, as recorded.")
    return VerifyReport(folder, True, "", manifest, tuple(checked))


def require_verified(report: VerifyReport) -> Manifest:
    if not report.ok or report.manifest is None:
        raise BackupError(report.reason)
    return report.manifest


def backup_key(
    folder: Path, *, passphrase: str | None = None, recovery_key: str | None = None
) -> bytes:
    """The data key of a backup from its own key file: for a backup made under an earlier
    key, or on a new computer. Wrong secrets raise WrongPassphraseError (which says
    nothing about which part was wrong)."""
    key_file = keys.read_key_file(folder / KEY_MEMBER)
    if passphrase is not None:
        return keys.unwrap(key_file, "passphrase", passphrase)
    if recovery_key is not None:
        return keys.unwrap(key_file, "recovery", recovery_key)
    raise BackupError("Enter the passphrase or the recovery key that was in use for this backup.")


def _audit_chain(
    conn: Connection, manifest: Manifest, thorough: bool, cancel: CancelToken | None
) -> AuditReport | None:
    """The copy's audit chain checked against the newest entry its manifest noted: an
    entry rewritten, removed or added since (manifest checksums recomputed too) shows.
    Skipped by the quick check, and for backups made before the manifest noted it."""
    noted = manifest.audit_head
    if not thorough or not noted:
        return None
    anchor = AuditHead(int(str(noted.get("seq", 0))), str(noted.get("hash", "")))
    return verify_chain(conn, manifest.clinic_id, anchor, cancel=cancel)
