"""Log files: rotating, in the per-user log folder, and never holding patient data.

Modules log events and error types, not values; this filter is a second line of
defence that drops the arguments of any record that slipped a value through.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
from pathlib import Path

import platformdirs

from app.store.paths import APP_AUTHOR, APP_NAME

_DIGITS_OR_EMAIL = re.compile(r"\d{4,}|[^\s@]+@[^\s@]+")


class RedactingFilter(logging.Filter):
    """Blanks long digit runs and email addresses: phone numbers, dates, card numbers."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg = _DIGITS_OR_EMAIL.sub("[redacted]", message)
        record.args = None
        return True


def log_dir() -> Path:
    """FRONTDESK_HOME keeps logs beside a portable or test clinic; else the OS's log folder."""
    override = os.environ.get("FRONTDESK_HOME")
    if override:
        return Path(override).expanduser().resolve() / "logs"
    return Path(platformdirs.user_log_dir(APP_NAME, APP_AUTHOR))


def configure(folder: Path | None = None, level: int = logging.INFO) -> Path:
    folder = folder or log_dir()
    folder.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(
        folder / "frontdesk.log", maxBytes=1_000_000, backupCount=5, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.setLevel(level)
    root.addHandler(handler)
    return folder
