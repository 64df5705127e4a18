"""Mapping profiles the clinic saved, kept in the clinic's own settings.

A profile says which column of the clinic's EMR export holds what. It is built once in
the wizard's mapping step and used for every later export of the same kind, on any
workstation: so it lives in the (synced, encrypted) settings table, not in a file
next to one installation. Profiles hold column names only, never patient data.
"""

from __future__ import annotations

import logging
from pathlib import Path

from app.clinic import Clinic, put_setting
from app.errors import InvalidInputError
from app.importers.csv.profiles import SYNTHEA_PROFILES, Profile
from app.store.changes import Changes

__all__ = ["delete_profile", "find_profile", "save_profile", "saved_profiles"]

log = logging.getLogger(__name__)

_PREFIX = "import.profile."
MAX_NAME = 80


def _setting_id(name: str) -> str:
    return _PREFIX + name.strip().casefold()


def save_profile(clinic: Clinic, profile: Profile) -> Changes:
    """Save (or replace) a profile under its name."""
    name = profile.name.strip()
    if not name or len(name) > MAX_NAME:
        raise InvalidInputError(f"Give the mapping a name of 1 to {MAX_NAME} characters.")
    key = _setting_id(name)
    value = profile.to_json()
    with clinic.store.write() as tx:
        put_setting(tx, key, value)
    return tx.changes


def saved_profiles(clinic: Clinic) -> list[Profile]:
    """The clinic's own profiles, by name; a damaged one is left out rather than fatal."""
    profiles = []
    for (value,) in clinic.conn.execute(
        "SELECT value FROM setting WHERE id LIKE ? ORDER BY id", (_PREFIX + "%",)
    ):
        try:
            profiles.append(Profile.from_json(value))
        except (InvalidInputError, KeyError, TypeError, ValueError):
            # Left out of the list: the wizard offers to build the mapping again.
            log.warning("a saved import mapping could not be read; it is not offered")
    return profiles


def delete_profile(clinic: Clinic, name: str) -> Changes:
    key = _setting_id(name)
    with clinic.store.write() as tx:
        tx.delete("setting", key)
    return tx.changes


def find_profile(clinic: Clinic, name: str) -> Profile:
    """A profile by name (saved, or a shipped Synthea one) or from a .json file path."""
    for profile in saved_profiles(clinic):
        if profile.name.strip().casefold() == name.strip().casefold():
            return profile
    for table, profile in SYNTHEA_PROFILES.items():
        if name.strip().casefold() in (table, profile.name.casefold()):
            return profile
    path = Path(name)
    if path.suffix.lower() == ".json" and path.is_file():
        return Profile.load(path)
    raise InvalidInputError(
        f"There is no saved mapping called {name!r}. Build it in the import window first, "
        "or give the path of a mapping file."
    )
