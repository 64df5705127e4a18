"""The automatic lock's settings: minutes of inactivity, and whether the OS screen lock locks too.

Clinic-wide and synced (rows of `setting`), not per workstation: the idle limit is a
security policy the administrator sets once for every desk (45 CFR 164.312(a)(2)(iii),
automatic logoff), not a screen preference a receptionist may lengthen at one desk.
A stored value outside the allowed range (hand-edited, or from another version) falls
back to the default rather than to "never lock".
"""

from __future__ import annotations

import json
import logging
from typing import Final

from app.clinic import Clinic, put_setting
from app.errors import InvalidInputError
from app.security.permissions import require
from app.store.changes import Changes

log = logging.getLogger(__name__)

IDLE_MINUTES_SETTING: Final = "security.idle_lock_minutes"
SCREEN_LOCK_SETTING: Final = "security.lock_on_screen_lock"
DEFAULT_IDLE_MINUTES: Final = 5
MIN_IDLE_MINUTES: Final = 1
MAX_IDLE_MINUTES: Final = 60
DEFAULT_LOCK_ON_SCREEN_LOCK: Final = True


def _stored(clinic: Clinic, key: str) -> object | None:
    row = clinic.conn.execute("SELECT value FROM setting WHERE id = ?", (key,)).fetchone()
    if row is None:
        return None
    try:
        value: object = json.loads(row[0])
    except (TypeError, json.JSONDecodeError):
        log.warning("setting %s is not valid JSON; using the default", key)
        return None
    return value


def idle_lock_minutes(clinic: Clinic) -> int:
    """Minutes without input before Frontdesk locks (default 5; always 1–60)."""
    value = _stored(clinic, IDLE_MINUTES_SETTING)
    if value is None:
        return DEFAULT_IDLE_MINUTES
    if type(value) is not int or not MIN_IDLE_MINUTES <= value <= MAX_IDLE_MINUTES:
        log.warning("setting %s out of range; using the default", IDLE_MINUTES_SETTING)
        return DEFAULT_IDLE_MINUTES
    return value


def set_idle_lock_minutes(clinic: Clinic, minutes: int) -> Changes:
    """Store the idle limit for every desk of the clinic (administrators only)."""
    require(clinic, "settings.clinic")
    if type(minutes) is not int or not MIN_IDLE_MINUTES <= minutes <= MAX_IDLE_MINUTES:
        raise InvalidInputError(
            f"Choose between {MIN_IDLE_MINUTES} and {MAX_IDLE_MINUTES} minutes "
            "before Frontdesk locks."
        )
    with clinic.store.write() as tx:
        put_setting(tx, IDLE_MINUTES_SETTING, json.dumps(minutes))
    return tx.changes


def lock_on_screen_lock(clinic: Clinic) -> bool:
    """Whether Frontdesk locks when the computer's own screen locks (default yes)."""
    value = _stored(clinic, SCREEN_LOCK_SETTING)
    if type(value) is not bool:
        if value is not None:
            log.warning("setting %s is not yes/no; using the default", SCREEN_LOCK_SETTING)
        return DEFAULT_LOCK_ON_SCREEN_LOCK
    return value


def set_lock_on_screen_lock(clinic: Clinic, enabled: bool) -> Changes:
    """Store whether the computer's screen lock also locks Frontdesk (administrators only)."""
    require(clinic, "settings.clinic")
    with clinic.store.write() as tx:
        put_setting(tx, SCREEN_LOCK_SETTING, json.dumps(bool(enabled)))
    return tx.changes
