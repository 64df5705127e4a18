"""Emergency access: the Emergency Kit's recovery key lets someone give an administrator
account a new password when no administrator can sign in (45 CFR 164.312(a)(2)(ii)).

The recovery key already opens the whole database (it unwraps the data key), so it is
the natural proof here: whoever holds the kit holds the clinic's data anyway. It is
checked against the key file's recovery slot of this very clinic, never just its shape.
Every use, and every refused key, is an audit entry; the desk shows a notice afterwards
so the other administrators learn of it.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.audit import actions
from app.audit import log as audit
from app.clinic import Clinic
from app.errors import InvalidInputError, KeyFileError, WrongPassphraseError
from app.security import passwords, signin_throttle
from app.security.permissions import ADMINISTRATOR
from app.store import keys
from app.store.writer import utc_now
from app.users import User, get_user, users

NOTICE_DAYS = 14


def administrators(clinic: Clinic) -> list[User]:
    """The accounts emergency access can give a new password to."""
    return [u for u in users(clinic) if u.active and u.role == ADMINISTRATOR]


def check_recovery_key(clinic: Clinic, recovery_key: str) -> None:
    """Refuse a key that does not open this clinic's key file (WrongPassphraseError)."""
    key_file = keys.read_key_file(clinic.opened.paths.key_file)
    data_key = keys.unwrap(key_file, "recovery", recovery_key)
    if not hmac.compare_digest(data_key, clinic.opened.data_key):
        raise KeyFileError("That recovery key belongs to another clinic's key file.")


def emergency_sign_in(clinic: Clinic, recovery_key: str, admin_id: str, new_password: str) -> User:
    """With the recovery key, set a new password for an administrator and sign them in.

    The password is the person's own from now on (not temporary: they typed it here).
    """
    admin = get_user(clinic, admin_id)
    if admin is None or not admin.active or admin.role != ADMINISTRATOR:
        raise InvalidInputError("Choose one of the clinic's administrators.")
    try:
        check_recovery_key(clinic, recovery_key)
    except (WrongPassphraseError, KeyFileError):
        audit.record(
            clinic,
            actions.SIGN_IN_FAILED,
            user_id=admin_id,
            detail={"how": "recovery key", "reason": "wrong key"},
        )
        raise
    passwords.check_password(new_password, ["frontdesk", admin.name, clinic.settings.name])
    values = {
        "password_hash": passwords.hash_password(new_password),
        "password_changed_at": utc_now(),
        "must_change_password": 0,
    }
    previous = clinic.acting_user_id
    with clinic.store.write() as tx:
        tx.update("app_user", admin_id, values)
        signin_throttle.reset(clinic.conn, signin_throttle.keys_for(admin_id))
        if previous and previous != admin_id:
            audit.record(clinic, actions.SIGN_OUT, user_id=previous, detail={"reason": "switch"})
        audit.record(
            clinic,
            actions.EMERGENCY_ACCESS,
            user_id=admin_id,
            target=admin_id,
            detail={"how": "recovery key", "change": "new password"},
        )
        audit.record(clinic, actions.SIGN_IN, user_id=admin_id, detail={"how": "recovery key"})
    clinic.acting_user_id = admin_id
    return get_user(clinic, admin_id) or admin


@dataclass(frozen=True)
class EmergencyNotice:
    at: str  # UTC text of the entry
    user_id: str  # the administrator whose password was set


def recent_emergency_access(
    clinic: Clinic, now: datetime | None = None, days: int = NOTICE_DAYS
) -> EmergencyNotice | None:
    """The newest emergency access of the last `days` days, for the notice on screen."""
    since = (now or datetime.now(UTC)) - timedelta(days=days)
    row = clinic.conn.execute(
        "SELECT at, user_id FROM audit_event WHERE action = ? AND at >= ?"
        " ORDER BY seq DESC LIMIT 1",
        (actions.EMERGENCY_ACCESS, audit.utc_millis(since)),
    ).fetchone()
    return EmergencyNotice(str(row[0]), str(row[1])) if row else None
