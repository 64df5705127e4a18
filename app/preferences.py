"""How this computer shows Frontdesk (text size, theme, first page): per workstation, not synced.

These are a person's screen preferences, not clinic data: a receptionist with a large
monitor and one at a laptop may want different sizes, so they live in a small JSON file
in the data folder beside the clinic, never in the database that syncs between desks.
A damaged or unknown file must never stop the program from starting: it falls back to
the defaults and says so in the log.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from app.errors import StoreWriteError
from app.store.paths import data_home

log = logging.getLogger(__name__)

FILE_NAME = "preferences.json"
FORMAT = 1

# Steps rather than free point sizes: each one is a visible change, and the layouts are
# checked at the largest (150 % text at 200 % screen scale).
FONT_SCALES: tuple[int, ...] = (100, 115, 130, 150)
THEMES: tuple[str, ...] = ("system", "light", "dark")
START_PAGES: tuple[str, ...] = ("Today", "Patients")


@dataclass(frozen=True)
class Preferences:
    font_scale: int = 100  # percent of the operating system's normal text size
    theme: str = "system"  # "system" follows the operating system's light or dark mode
    start_page: str = "Today"

    def __post_init__(self) -> None:
        if type(self.font_scale) is not int or self.font_scale not in FONT_SCALES:
            raise ValueError(f"font_scale must be one of {FONT_SCALES}")
        if self.theme not in THEMES:
            raise ValueError(f"theme must be one of {THEMES}")
        if self.start_page not in START_PAGES:
            raise ValueError(f"start_page must be one of {START_PAGES}")


def preferences_path(home: Path | None = None) -> Path:
    """The file in the data folder (FRONTDESK_HOME when set), read before any clinic is
    unlocked so even the unlock screen uses the chosen size and theme."""
    return (home if home is not None else data_home()) / FILE_NAME


def load_preferences(path: Path | None = None) -> Preferences:
    """The saved preferences, or the defaults for any part that is missing or unreadable."""
    path = path if path is not None else preferences_path()
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Preferences()
    except (OSError, UnicodeDecodeError) as exc:
        log.warning("preferences file unreadable (%s); using defaults", type(exc).__name__)
        return Preferences()
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        log.warning("preferences file is not valid JSON; using defaults")
        return Preferences()
    if not isinstance(data, dict):
        log.warning("preferences file has an unexpected shape; using defaults")
        return Preferences()
    return _from_dict(data)


def _from_dict(data: dict[str, Any]) -> Preferences:
    # Field by field, so one bad value (hand-edited, or written by a newer version with
    # more steps) costs only that preference, not all of them.
    defaults = Preferences()
    values: dict[str, Any] = {}
    for field in fields(Preferences):
        if field.name not in data:
            continue
        candidate = {field.name: data[field.name]}
        try:
            Preferences(**candidate)
        except (TypeError, ValueError):
            log.warning("preference %s has an unknown value; using the default", field.name)
            continue
        values.update(candidate)
    return Preferences(**{**asdict(defaults), **values})


def save_preferences(prefs: Preferences, path: Path | None = None) -> None:
    """Write the file atomically: a crash mid-write leaves the old file, not half a new one."""
    path = path if path is not None else preferences_path()
    payload = json.dumps({"format": FORMAT, **asdict(prefs)}, indent=2) + "\n"
    temp_name = ""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w",
            encoding="utf-8",
            dir=path.parent,
            prefix=".preferences-",
            suffix=".tmp",
            delete=False,
        ) as handle:
            temp_name = handle.name
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        Path(temp_name).replace(path)
    except OSError as exc:
        if temp_name:
            Path(temp_name).unlink(missing_ok=True)
        log.warning("preferences not saved (%s)", type(exc).__name__)
        raise StoreWriteError(
            "Your display preferences could not be saved on this computer. "
            "They apply until Frontdesk is closed."
        ) from exc
