"""Crash reports a clinic can send to support without sending patient data.

An unexpected exception's message can quote whatever was being processed (a name
typed into a form, a row of an import), so a report keeps only what locates the
bug: the exception's type, the stack of file/line/function, the program version and
platform. Never the message, never local variables.
"""

from __future__ import annotations

import os
import platform
import secrets
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from app.store.paths import data_home
from app.version import __version__

FOLDER_NAME = "crash-reports"
KEEP = 20  # the newest reports; older ones go, so a crash loop cannot fill the disk


def crash_folder(home: Path | None = None) -> Path:
    return (home if home is not None else data_home()) / FOLDER_NAME


def report_text(
    kind: type[BaseException], exc: BaseException, tb: TracebackType | None, *, now: datetime
) -> str:
    lines = [
        "Frontdesk crash report (contains no patient data: no messages, no values)",
        f"time: {now.isoformat(timespec='seconds')}",
        f"version: {__version__}",
        f"frozen: {bool(getattr(sys, 'frozen', False))}",
        f"python: {platform.python_version()}",
        f"platform: {platform.platform()}",
        f"exception: {kind.__module__}.{kind.__qualname__}",
        "stack (oldest call first):",
    ]
    for frame in traceback.extract_tb(tb):
        lines.append(f"  {_short(frame.filename)}:{frame.lineno} in {frame.name}")
    cause = exc.__cause__ or exc.__context__
    depth = 0
    while cause is not None and depth < 5:
        lines.append(f"caused by: {type(cause).__module__}.{type(cause).__qualname__}")
        for frame in traceback.extract_tb(cause.__traceback__):
            lines.append(f"  {_short(frame.filename)}:{frame.lineno} in {frame.name}")
        cause = cause.__cause__ or cause.__context__
        depth += 1
    return "\n".join(lines) + "\n"


def _short(filename: str) -> str:
    """Paths from the package root on: the user's home folder (and name) stay out."""
    parts = Path(filename).parts
    for root in ("app", "ui", "site-packages", "lib"):
        if root in parts:
            return "/".join(parts[len(parts) - parts[::-1].index(root) - 1 :])
    return Path(filename).name


def write_crash_report(
    kind: type[BaseException],
    exc: BaseException,
    tb: TracebackType | None,
    home: Path | None = None,
) -> Path:
    """Write the report (readable by this user only) and return where it is."""
    now = datetime.now(UTC)
    folder = crash_folder(home)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"crash-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}.txt"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(report_text(kind, exc, tb, now=now))
    _prune(folder)
    return path


def _prune(folder: Path) -> None:
    reports = sorted(folder.glob("crash-*.txt"))
    for old in reports[:-KEEP]:
        old.unlink(missing_ok=True)
