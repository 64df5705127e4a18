"""The program version, read from the one place it is written (pyproject.toml)."""

from __future__ import annotations

import sys
import tomllib
from importlib import metadata
from pathlib import Path


def _read_version() -> str:
    # A checkout (and the PyInstaller bundle, which ships pyproject.toml) reads the
    # file; an installed wheel falls back to its metadata.
    base = Path(getattr(sys, "_MEIPASS", Path(__file__).resolve().parent.parent))
    pyproject = base / "pyproject.toml"
    if pyproject.is_file():
        with pyproject.open("rb") as handle:
            return str(tomllib.load(handle)["project"]["version"])
    return metadata.version("frontdesk")


__version__ = _read_version()
