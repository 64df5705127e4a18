"""The kinds of audit entries: one name per kind, stored in the entry and its `action` column."""

from __future__ import annotations

from typing import Final

SIGN_IN: Final = "signin"
SIGN_IN_FAILED: Final = "signin.failed"
SIGN_OUT: Final = "signout"
LOCK: Final = "lock"
USER_CHANGE: Final = "user.change"
PASSWORD_RESET: Final = "password.reset"  # noqa: S105 (an entry kind)
EMERGENCY_ACCESS: Final = "emergency.access"
PATIENT_VIEW: Final = "patient.view"
CHANGE: Final = "change"
# Changes made on another workstation and applied here by sync: no person of this desk.
SYNC_RECEIVED: Final = "sync.received"
EXPORT: Final = "export"
PRINT: Final = "print"
RESEARCH_EXPORT: Final = "research.export"
BACKUP: Final = "backup"
RESTORE: Final = "restore"
REKEY: Final = "rekey"
AUDIT_EXPORT: Final = "audit.export"
AUDIT_VERIFY: Final = "audit.verify"
IMPORT: Final = "import"
# Written by Frontdesk itself when, about to add an entry, it finds the newest entries do
# not match the sealed head (removed, added outside Frontdesk, rewritten, head file gone).
AUDIT_ALARM: Final = "audit.alarm"

# Plain words for the viewer's "Kind" filter and its table, in the order the filter lists them.
LABELS: Final[dict[str, str]] = {
    PATIENT_VIEW: "Patient opened",
    CHANGE: "Change saved",
    SYNC_RECEIVED: "Changes from another workstation",
    EXPORT: "Saved as a file",
    PRINT: "Printed",
    IMPORT: "Import",
    RESEARCH_EXPORT: "Research export",
    SIGN_IN: "Signed in",
    SIGN_IN_FAILED: "Sign-in failed",
    SIGN_OUT: "Signed out",
    LOCK: "Screen locked",
    USER_CHANGE: "Person or role changed",
    PASSWORD_RESET: "Password reset",
    EMERGENCY_ACCESS: "Emergency access",
    BACKUP: "Backup",
    RESTORE: "Restore",
    REKEY: "Database key replaced",
    AUDIT_EXPORT: "Audit log saved as a file",
    AUDIT_VERIFY: "Audit log checked",
    AUDIT_ALARM: "Audit log problem found",
}


def label(action: str) -> str:
    """The plain words for a kind; an unknown kind (a newer version wrote it) shows as is."""
    return LABELS.get(action, action)
