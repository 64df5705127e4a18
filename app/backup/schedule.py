"""The daily backup of this workstation: where to, when, how many to keep, and how it went.

Per workstation, not per clinic: the backup folder is a USB drive or a network share
as *this* computer sees it (E:\\ here, /Volumes/BACKUP there), so the settings live in
a small JSON file in the data folder beside preferences.json, never in the synced
database. A damaged file falls back to the defaults (no folder: nothing runs) and the
Backups tab says so.

A backup is due when the most recent daily slot (the chosen time, on the clinic's
clock) has passed without a successful backup since: that one rule gives both the daily
run and the catch-up at start after a day the computer was off.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from app.backup.create import BackupResult, back_up
from app.backup.verify import verify
from app.errors import BackupError, InvalidInputError
from app.ops import CancelToken, Progress, no_progress

if TYPE_CHECKING:
    from app.clinic import Clinic

log = logging.getLogger(__name__)
SETTINGS_FILE = "backup-settings.json"
DEFAULT_KEEP = 14
MAX_KEEP = 365


@dataclass(frozen=True)
class BackupSettings:
    folder: str = ""  # '' = not chosen yet: nothing runs
    daily: bool = True
    at: str = "12:30"  # HH:MM on the clinic's clock (lunch: the desk is quiet, the PC on)
    keep: int = DEFAULT_KEEP

    def __post_init__(self) -> None:
        if not 1 <= self.keep <= MAX_KEEP:
            raise InvalidInputError(f"Keep between 1 and {MAX_KEEP} backups.")
        try:
            time.fromisoformat(self.at)
        except ValueError:
            raise InvalidInputError(
                "Give the backup time as hours and minutes, e.g. 12:30."
            ) from None

    @property
    def slot_time(self) -> time:
        return time.fromisoformat(self.at)


def settings_path(home: Path) -> Path:
    return home / SETTINGS_FILE


def load_settings(home: Path) -> BackupSettings:
    try:
        data = json.loads(settings_path(home).read_text("utf-8"))
        return BackupSettings(
            folder=str(data.get("folder", "")),
            daily=bool(data.get("daily", True)),
            at=str(data.get("at", "12:30")),
            keep=int(data.get("keep", DEFAULT_KEEP)),
        )
    except FileNotFoundError:
        return BackupSettings()
    except (OSError, ValueError, TypeError, AttributeError, InvalidInputError):
        log.warning("backup settings unreadable; using the defaults")
        return BackupSettings()


def save_settings(clinic: Clinic, settings: BackupSettings) -> None:
    """Administrators only (backup.manage): where backups go decides who can carry them off."""
    from app.security.permissions import require

    require(clinic, "backup.manage")
    path = settings_path(clinic.home)
    fd, temp = tempfile.mkstemp(prefix=".backup-settings-", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(asdict(settings), handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    Path(temp).replace(path)


@dataclass(frozen=True)
class BackupRun:
    started_at: datetime
    finished_at: datetime | None
    trigger: str
    path: str
    bytes: int | None
    status: str  # running / done / failed
    message: str


def _parse(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def recent_runs(clinic: Clinic, limit: int = 20) -> list[BackupRun]:
    rows = clinic.conn.execute(
        "SELECT started_at, finished_at, trigger, path, bytes, status, message "
        "FROM local_backup_run ORDER BY started_at DESC LIMIT ?",
        (limit,),
    ).fetchall()
    return [
        BackupRun(_parse(r[0]) or datetime.now(UTC), _parse(r[1]), r[2], r[3], r[4], r[5], r[6])
        for r in rows
    ]


def last_success(clinic: Clinic) -> datetime | None:
    row = clinic.conn.execute(
        "SELECT max(finished_at) FROM local_backup_run WHERE status = 'done' "
        "AND trigger IN ('schedule', 'manual', 'command', 'rekey')"
    ).fetchone()
    return _parse(row[0]) if row and row[0] else None


def latest_slot(settings: BackupSettings, now: datetime, zone: tzinfo) -> datetime:
    local = now.astimezone(zone)
    today = datetime.combine(local.date(), settings.slot_time, tzinfo=zone)
    return today if today <= local else today - timedelta(days=1)


def is_due(settings: BackupSettings, last: datetime | None, now: datetime, zone: tzinfo) -> bool:
    if not settings.daily or not settings.folder:
        return False
    return last is None or last < latest_slot(settings, now, zone)


def run_scheduled(
    clinic: Clinic,
    settings: BackupSettings,
    *,
    trigger: str = "schedule",
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> BackupResult:
    """Back up, prune beyond `keep`, then check the new backup (page checks, counts)."""
    if not settings.folder:
        raise BackupError("Choose a backup folder in Settings ▸ Backups first.")
    result = back_up(
        clinic,
        Path(settings.folder),
        trigger=trigger,
        keep=settings.keep,
        progress=progress,
        cancel=cancel,
    )
    report = verify(
        result.path,
        data_key=clinic.opened.data_key,
        clinic_id=clinic.clinic_id,
        thorough=False,
        progress=progress,
        cancel=cancel,
    )
    clinic.conn.execute(
        "UPDATE local_backup_run SET status = ?, message = ? WHERE path = ? AND status = 'done'",
        (
            "done" if report.ok else "failed",
            "checked" if report.ok else report.reason,
            str(result.path),
        ),
    )
    if not report.ok:
        raise BackupError(f"The new backup failed its check: {report.reason}")
    return result


def _size_words(size: int | None) -> str:
    if size is None:
        return ""
    if size >= 1 << 30:
        return f"{size / (1 << 30):.1f} GB"
    return f"{max(size / (1 << 20), 0.1):.1f} MB"


def _when_words(moment: datetime, now: datetime, zone: tzinfo) -> str:
    local, today = moment.astimezone(zone), now.astimezone(zone).date()
    day: date = local.date()
    if day == today:
        words = "today"
    elif day == today - timedelta(days=1):
        words = "yesterday"
    else:
        words = f"{local:%a %d %b %Y}"
    return f"{words} {local:%H:%M}"


def status_line(clinic: Clinic, now: datetime | None = None) -> str:
    """'Last backup: today 08:00, 1.2 GB, checked', or the reason the last one failed."""
    from app.today import clinic_zone

    now = now or datetime.now(UTC)
    zone = clinic_zone(clinic)
    runs = [r for r in recent_runs(clinic, 5) if r.trigger != "restore"]
    if not runs:
        return "No backup has been made on this computer yet."
    last = runs[0]
    when = _when_words(last.started_at, now, zone)
    if last.status == "running":
        return f"A backup is running (started {when})."
    if last.status == "failed":
        return f"The backup of {when} failed: {last.message}"
    parts = [f"Last backup: {when}", _size_words(last.bytes)]
    if last.message == "checked":
        parts.append("checked")
    return ", ".join(p for p in parts if p)
