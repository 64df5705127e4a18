"""The role table on screen: controls a role may not use are shown, greyed, with the reason.

The core checks the same table (app/security/permissions.require) where the work is done;
this only spares a receptionist a click that would be refused.
"""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

from app.clinic import Clinic
from app.security.permissions import allowed, refusal


def gate(widget: QWidget, clinic: Clinic, permission: str, tooltip: str = "") -> bool:
    """Enable the widget for roles that have the permission; otherwise grey it and say why.
    `tooltip` is the widget's own hint, put back when it is enabled again."""
    ok = allowed(clinic, permission)
    widget.setEnabled(ok)
    widget.setToolTip(tooltip if ok else refusal(permission))
    return ok


def permitted(parent: QWidget | None, clinic: Clinic, permission: str) -> bool:
    """At the moment of the action (a shortcut can reach a greyed button's work)."""
    if allowed(clinic, permission):
        return True
    QMessageBox.information(parent, "Frontdesk", f"{refusal(permission)} Ask one to do it.")
    return False
