"""What a backup says about itself (manifest.json), and how backups are named and found.

A backup is a folder `Frontdesk backup 2026-11-29 0800.fdbackup` holding the encrypted
database exactly as copied (clinic.db, and clinic.db-wal when the copy caught one), the
clinic key file (its key wrapped under the passphrase and the recovery key) and this
manifest. A folder rather than a ZIP: the database is opened and checked where it lies,
so neither making nor verifying a backup needs a second 2 GB copy, and it is carried by
copying the folder. Names hold a date and time only, never patient data.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from app.errors import BackupError

MANIFEST = "manifest.json"
KEY_MEMBER = "clinic.key"
FORMAT = 1
SUFFIX = ".fdbackup"
_NAME = re.compile(r"^Frontdesk backup \d{4}-\d{2}-\d{2} \d{4}( \(\d+\))?\.fdbackup$")
# The tables a person would miss: compared on verify and shown next to a backup.
COUNTED_TABLES = (
    "patient",
    "contact_point",
    "address",
    "consent",
    "appointment",
    "interaction",
    "charge",
    "payment",
    "task",
    "outbox",
    "app_user",
    "audit_event",
)


@dataclass(frozen=True)
class Manifest:
    created_at: str  # UTC ISO, "2026-11-29T14:00:00Z"
    app_version: str
    schema_version: int
    sqlcipher_version: str
    clinic_id: str
    clinic_name: str
    key_fingerprint: str  # keys.key_fingerprint: names the key, never reveals it
    counts: dict[str, int]
    files: dict[str, dict[str, Any]]  # member name → {"sha256": hex, "bytes": n}
    audit_head: dict[str, Any] = field(default_factory=dict)  # {"seq": n, "hash": hex}
    format: int = FORMAT

    @property
    def database_bytes(self) -> int:
        return sum(int(f["bytes"]) for name, f in self.files.items() if name != KEY_MEMBER)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "created_at": self.created_at,
            "app_version": self.app_version,
            "schema_version": self.schema_version,
            "sqlcipher_version": self.sqlcipher_version,
            "clinic_id": self.clinic_id,
            "clinic_name": self.clinic_name,
            "key_fingerprint": self.key_fingerprint,
            "counts": self.counts,
            "files": self.files,
            "audit_head": self.audit_head,
        }


def write_manifest(manifest: Manifest, folder: Path) -> None:
    path = folder / MANIFEST
    with path.open("w", encoding="utf-8") as handle:
        json.dump(manifest.to_json(), handle, indent=2, ensure_ascii=False)
        handle.flush()
        os.fsync(handle.fileno())


def read_manifest(folder: Path) -> Manifest:
    """The manifest, or a BackupError that says in plain words what is wrong."""
    if not folder.is_dir():
        raise BackupError(
            f"{folder.name} is not a Frontdesk backup (a backup is a folder ending in {SUFFIX})."
        )
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(
            "This backup is incomplete or damaged: its description (manifest.json) is missing."
        ) from None
    except (OSError, ValueError):
        raise BackupError(
            "This backup is damaged: its description (manifest.json) cannot be read."
        ) from None
    try:
        if int(data["format"]) > FORMAT:
            raise BackupError(
                "This backup was made by a newer version of Frontdesk. Install that version "
                "to use it."
            )
        return Manifest(
            created_at=str(data["created_at"]),
            app_version=str(data["app_version"]),
            schema_version=int(data["schema_version"]),
            sqlcipher_version=str(data["sqlcipher_version"]),
            clinic_id=str(data["clinic_id"]),
            clinic_name=str(data.get("clinic_name", "")),
            key_fingerprint=str(data["key_fingerprint"]),
            counts={str(k): int(v) for k, v in dict(data["counts"]).items()},
            files={str(k): dict(v) for k, v in dict(data["files"]).items()},
            audit_head=dict(data.get("audit_head") or {}),
        )
    except BackupError:
        raise
    except (KeyError, TypeError, ValueError):
        raise BackupError(
            "This backup is damaged: its description (manifest.json) is incomplete."
        ) from None


def backup_name(local: datetime, folder: Path) -> str:
    """'Frontdesk backup 2026-11-29 0800.fdbackup', with ' (2)' when that name is taken."""
    base = f"Frontdesk backup {local:%Y-%m-%d %H%M}"
    name = base + SUFFIX
    number = 2
    while (folder / name).exists() or (folder / partial_name(name)).exists():
        name = f"{base} ({number}){SUFFIX}"
        number += 1
    return name


def partial_name(final_name: str) -> str:
    """Where a backup is written until it is complete: hidden, and never the final name."""
    return f".{final_name}.partial"


def is_backup_name(name: str) -> bool:
    return bool(_NAME.match(name))


@dataclass(frozen=True)
class FoundBackup:
    path: Path
    manifest: Manifest


def clinic_backups(folder: Path, clinic_id: str) -> list[FoundBackup]:
    """This clinic's backups in a folder, newest first; anything else there is ignored."""
    found: list[FoundBackup] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    for entry in entries:
        if not is_backup_name(entry.name) or not entry.is_dir():
            continue
        try:
            manifest = read_manifest(entry)
        except BackupError:
            continue
        if manifest.clinic_id == clinic_id:
            found.append(FoundBackup(entry, manifest))
    found.sort(key=lambda b: b.manifest.created_at, reverse=True)
    return found
