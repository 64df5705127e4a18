"""Where a clinic's files live: the per-user data folder, or FRONTDESK_HOME."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "Frontdesk"
APP_AUTHOR = "Frontdesk"


@dataclass(frozen=True)
class ClinicPaths:
    """The files of one clinic, all in one folder so a backup or a move takes them together."""

    home: Path

    @property
    def database(self) -> Path:
        return self.home / "clinic.db"

    @property
    def key_file(self) -> Path:
        return self.home / "clinic.key"

    @property
    def logs(self) -> Path:
        return self.home / "logs"


def data_home() -> Path:
    """The data folder: FRONTDESK_HOME when set (tests, portable installs), else the OS's."""
    override = os.environ.get("FRONTDESK_HOME")
    if override:
        return Path(override).expanduser().resolve()
    return Path(platformdirs.user_data_dir(APP_NAME, APP_AUTHOR, roaming=False))


def clinic_paths(home: Path | None = None) -> ClinicPaths:
    return ClinicPaths(home if home is not None else data_home())


def resource_root() -> Path:
    """The folder holding db/ and resources/: the checkout, or the PyInstaller bundle."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle)
    return Path(__file__).resolve().parent.parent.parent


def migrations_dir() -> Path:
    return resource_root() / "db" / "migrations"
