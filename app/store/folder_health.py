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
