"""Crash reports locate the bug and carry no patient data."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from app.crash_report import KEEP, crash_folder, write_crash_report


def _explode(patient_name: str) -> None:
    secret_phone = "+16125550142"  # a local variable: must never reach the report
    raise KeyError(f"{patient_name} {secret_phone}")


def _caught() -> tuple[type[BaseException], BaseException, object]:
    try:
        try:
            _explode("Okafor, Ada")
        except KeyError as inner:
            raise RuntimeError("while saving Ada Okafor") from inner
    except RuntimeError as exc:
        return type(exc), exc, exc.__traceback__
    raise AssertionError("no exception")


def test_report_names_the_bug_and_where_but_no_message_or_values(tmp_path: Path) -> None:
    kind, exc, tb = _caught()
    path = write_crash_report(kind, exc, tb, home=tmp_path)  # type: ignore[arg-type]
    text = path.read_text("utf-8")
    assert path.parent == crash_folder(tmp_path)
    assert "builtins.RuntimeError" in text and "caused by: builtins.KeyError" in text
    assert "in _explode" in text and "test_crash_report.py" in text
    for secret in ("Okafor", "Ada", "5550142", "while saving"):
        assert secret not in text
    assert "Okafor" not in path.name


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
def test_report_is_readable_by_this_user_only(tmp_path: Path) -> None:
    kind, exc, tb = _caught()
    path = write_crash_report(kind, exc, tb, home=tmp_path)  # type: ignore[arg-type]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_only_the_newest_reports_are_kept(tmp_path: Path) -> None:
    kind, exc, tb = _caught()
    folder = crash_folder(tmp_path)
    folder.mkdir(parents=True)
    for n in range(KEEP + 5):
        (folder / f"crash-20200101-0000{n:02d}-aaaaaa.txt").write_text("old")
    newest = write_crash_report(kind, exc, tb, home=tmp_path)  # type: ignore[arg-type]
    left = sorted(folder.glob("crash-*.txt"))
    assert len(left) == KEEP
    assert newest in left
