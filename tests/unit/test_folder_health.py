"""The data folder's state shown in the status bar (app.store.folder_health)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from app.store.folder_health import LOW_SPACE_BYTES, FolderHealth, check_folder


def test_a_normal_folder_is_ok_and_says_how_much_is_free(tmp_path: Path) -> None:
    health = check_folder(tmp_path)
    assert health.writable
    assert health.free_bytes > 0
    assert "free" in health.words


def test_low_space_warns_before_saves_fail() -> None:
    health = FolderHealth(LOW_SPACE_BYTES - 1, True)
    assert not health.ok
    assert health.words.startswith("Disk almost full")


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root ignores modes")
def test_read_only_folder_is_reported(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        health = check_folder(folder)
    finally:
        folder.chmod(0o700)
    assert not health.writable
    assert "read-only" in health.words


def test_missing_folder_is_not_ok(tmp_path: Path) -> None:
    assert not check_folder(tmp_path / "gone").ok
