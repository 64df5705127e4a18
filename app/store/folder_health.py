"""Is the data folder healthy? Free space and write access, checked while the desk works.

A full disk or a folder that turned read-only (a USB drive pulled, a permissions
change by IT) is found here, shown in the status bar, before a save fails.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

LOW_SPACE_BYTES = 500 * 1024 * 1024  # room for a day of work, the WAL and a backup copy


@dataclass(frozen=True)
class FolderHealth:
    free_bytes: int
    writable: bool

    @property
    def ok(self) -> bool:
        return self.writable and self.free_bytes >= LOW_SPACE_BYTES

    @property
    def words(self) -> str:
        """Status-bar text: short, and says what to do when something is wrong."""
        if not self.writable:
            return "Data folder is read-only: changes cannot be saved. Call your administrator."
        free = _size(self.free_bytes)
        if self.free_bytes < LOW_SPACE_BYTES:
            return f"Disk almost full ({free} free): free some space soon."
        return f"Data folder OK ({free} free)"


def _size(count: int) -> str:
    value = float(count)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:,.0f} {unit}" if unit == "bytes" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{value:,.1f} TB"  # pragma: no cover - the loop returns at GB


def check_folder(home: Path) -> FolderHealth:
    try:
        free = shutil.disk_usage(home).free
    except OSError:
        return FolderHealth(0, False)
    return FolderHealth(free, os.access(home, os.W_OK))


FULL_BYTES = 50 * 1024 * 1024  # below this even opening the clinic (its WAL) may fail


def startup_problem(home: Path) -> str | None:
    """What stops Frontdesk from working in `home`, said plainly; None when all is well.

    Checked before the database is opened: SQLite's own error for a read-only folder
    ("attempt to write a readonly database") would mean nothing at the desk.
    """
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError:
        return (
            f"Frontdesk cannot create its data folder ({home}). The disk may be read-only "
            "or the folder may belong to another user. Ask your administrator."
        )
    return problem_words(check_folder(home), home)


def problem_words(health: FolderHealth, home: Path) -> str | None:
    if not health.writable:
        return (
            f"Frontdesk cannot save anything in its data folder ({home}): the disk or the "
            "folder is read-only. Nothing has been changed. Ask your administrator to make "
            "the folder writable, or to move the data to a disk that is."
        )
    if health.free_bytes < FULL_BYTES:
        return (
            f"The disk that holds Frontdesk's data folder ({home}) is full. Free some "
            "space (empty the recycle bin, remove old downloads), then start Frontdesk again."
        )
    return None
