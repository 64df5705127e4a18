"""The people who work the desk: who they are and their role. Passwords, sign-in and
the rules for changing people are in app/security/accounts.py; the command line acts as
the first administrator (`act_as_default_user`)."""

from __future__ import annotations

from dataclasses import dataclass

from app.clinic import Clinic
from app.errors import InvalidInputError
from app.store.changes import Created
from app.store.writer import utc_now

ROLES = ("receptionist", "manager", "administrator")


@dataclass(frozen=True)
class User:
    id: str
    name: str
    role: str
    active: bool
    has_password: bool = False
    must_change_password: bool = False  # the password was set by an administrator


MAX_NAME = 80


def check_user_name(name: str) -> str:
    """The name as it will be saved; the wizard asks before the clinic (and so the user
    table) exists, so the rule stands on its own."""
    name = " ".join(name.split())
    if not name:
        raise InvalidInputError("Type a name.")
    if len(name) > MAX_NAME:
        raise InvalidInputError(f"A name of at most {MAX_NAME} characters, please.")
    return name


def add_user(clinic: Clinic, name: str, role: str) -> Created:
    name = check_user_name(name)
    if role not in ROLES:
        raise InvalidInputError(f"Choose a role: {', '.join(ROLES)}.")
    return clinic.store.create(
        "app_user", {"name": name, "role": role, "active": 1, "created_at": utc_now()}
    )


def users(clinic: Clinic) -> list[User]:
    rows = clinic.conn.execute(
        "SELECT id, name, role, active, password_hash <> '', must_change_password"
        " FROM app_user ORDER BY created_at, id"
    ).fetchall()
    return [User(r[0], r[1], r[2], bool(r[3]), bool(r[4]), bool(r[5])) for r in rows]


def get_user(clinic: Clinic, user_id: str) -> User | None:
    for user in users(clinic):
        if user.id == user_id:
            return user
    return None


def default_user(clinic: Clinic) -> User | None:
    """Who acts when nobody signs in: the first active administrator, else anyone active."""
    active = [u for u in users(clinic) if u.active]
    admins = [u for u in active if u.role == "administrator"]
    chosen = admins or active
    return chosen[0] if chosen else None


def act_as_default_user(clinic: Clinic) -> User | None:
    user = default_user(clinic)
    clinic.acting_user_id = user.id if user else ""
    return user
