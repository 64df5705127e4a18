"""The role table: which of the three roles may do what (docs/security.md prints it).

Checked in the core (`require`), not only by hiding buttons, so the command line and any
future screen obey the same table. The acting person is `clinic.acting_user_id`; the
desktop sets it at sign-in, the command line acts as the first administrator (the person
at the terminal already holds the key to the whole database).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from app.errors import PermissionDeniedError

if TYPE_CHECKING:
    from app.clinic import Clinic

RECEPTIONIST: Final = "receptionist"
MANAGER: Final = "manager"
ADMINISTRATOR: Final = "administrator"
ROLES: Final = (RECEPTIONIST, MANAGER, ADMINISTRATOR)

# permission -> (plain words for the docs and messages, roles that have it)
PERMISSIONS: Final[dict[str, tuple[str, frozenset[str]]]] = {
    "patients.work": (
        "find, view and edit patients; book, call, message, take payments",
        frozenset(ROLES),
    ),
    "letters.print": ("print letters and labels", frozenset(ROLES)),
    "backup.now": ("make a backup now", frozenset(ROLES)),
    "patients.import": (
        "import from the EMR and undo an import",
        frozenset({MANAGER, ADMINISTRATOR}),
    ),
    "data.export": (
        "save patient lists and reports as files (CSV, pictures)",
        frozenset({MANAGER, ADMINISTRATOR}),
    ),
    "research.export": (
        "make a de-identified research export",
        frozenset({MANAGER, ADMINISTRATOR}),
    ),
    "campaigns.manage": (
        "change reminder rules, campaigns, surveys and health tips",
        frozenset({MANAGER, ADMINISTRATOR}),
    ),
    "audit.view": ("see and export the audit log", frozenset({MANAGER, ADMINISTRATOR})),
    "sync.resolve": (
        "decide on changes that need a decision after sync (keep deleted or restore)",
        frozenset({MANAGER, ADMINISTRATOR}),
    ),
    "settings.clinic": (
        "change the clinic's settings, email and text accounts",
        frozenset({ADMINISTRATOR}),
    ),
    "users.manage": (
        "add people, set roles, reset passwords, disable accounts",
        frozenset({ADMINISTRATOR}),
    ),
    "backup.manage": (
        "choose the backup folder and schedule, restore a backup",
        frozenset({ADMINISTRATOR}),
    ),
    "key.manage": (
        "replace the database key, change the clinic passphrase, new Emergency Kit",
        frozenset({ADMINISTRATOR}),
    ),
    "sync.manage": (
        "connect this clinic to a sync server, add, rename and remove workstations",
        frozenset({ADMINISTRATOR}),
    ),
}


def can(role: str, permission: str) -> bool:
    """Whether a role has a permission; an unknown permission is a programming error."""
    return role in PERMISSIONS[permission][1]


def role_of(clinic: Clinic) -> str:
    """The acting person's role, or '' when nobody (or a disabled account) is acting."""
    if not clinic.acting_user_id:
        return ""
    row = clinic.conn.execute(
        "SELECT role FROM app_user WHERE id = ? AND active = 1", (clinic.acting_user_id,)
    ).fetchone()
    return str(row[0]) if row else ""


def allowed(clinic: Clinic, permission: str) -> bool:
    return can(role_of(clinic), permission)


def require(clinic: Clinic, permission: str) -> None:
    """Refuse, in words the person understands, what their role may not do."""
    if allowed(clinic, permission):
        return
    raise PermissionDeniedError(f"{refusal(permission)} Ask one to do it.")


def refusal(permission: str) -> str:
    """Who may, in words: "Only a manager or administrator can import from the EMR…"."""
    words, roles = PERMISSIONS[permission]
    who = " or ".join(r for r in ROLES if r in roles)
    return f"Only {_article(who)} {who} can {words.split(';')[0]}."


def _article(words: str) -> str:
    return "an" if words[:1] in "aeiou" else "a"
