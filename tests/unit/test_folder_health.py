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


def test_a_healthy_folder_has_no_startup_problem_and_is_created(tmp_path: Path) -> None:
    from app.store.folder_health import startup_problem

    home = tmp_path / "new" / "Frontdesk"
    assert startup_problem(home) is None
    assert home.is_dir()


def test_a_folder_that_cannot_be_created_is_explained(tmp_path: Path) -> None:
    from app.store.folder_health import startup_problem

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    message = startup_problem(blocker / "Frontdesk")
    assert message is not None and "cannot create its data folder" in message


def test_read_only_and_full_disks_get_plain_words(tmp_path: Path) -> None:
    from app.store.folder_health import FULL_BYTES, problem_words

    read_only = problem_words(FolderHealth(10**12, False), tmp_path)
    full = problem_words(FolderHealth(FULL_BYTES - 1, True), tmp_path)
    assert read_only is not None and "read-only" in read_only
    assert full is not None and "is full" in full
    assert problem_words(FolderHealth(10**12, True), tmp_path) is None
