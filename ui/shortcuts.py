"""Every keyboard shortcut of the desktop, in one table: the menus, the views and the
Help ▸ Shortcuts dialog all read it, so the list shown is always the list that works."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QKeySequence


@dataclass(frozen=True)
class Shortcut:
    name: str  # stable key used in code
    keys: str  # portable text, e.g. "Ctrl+K" (Qt shows Cmd on macOS)
    action: str  # what a receptionist reads in the Help dialog
    where: str  # "Anywhere", "Patient", "Today"...

    def sequence(self) -> QKeySequence:
        return QKeySequence(self.keys)


SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut("find", "Ctrl+K", "Find a patient", "Anywhere"),
    Shortcut("today", "Ctrl+1", "Go to Today", "Anywhere"),
    Shortcut("patients", "Ctrl+2", "Go to Patients", "Anywhere"),
    Shortcut("messages", "Ctrl+3", "Go to Messages", "Anywhere"),
    Shortcut("letters", "Ctrl+4", "Go to Letters", "Anywhere"),
    Shortcut("campaigns", "Ctrl+5", "Go to Campaigns", "Anywhere"),
    Shortcut("reports", "Ctrl+6", "Go to Reports", "Anywhere"),
    Shortcut("settings", "Ctrl+,", "Open Settings", "Anywhere"),
    Shortcut("new_patient", "Ctrl+Shift+N", "Add a new patient", "Anywhere"),
    Shortcut("import", "Ctrl+I", "Import patients from your EMR", "Anywhere"),
    Shortcut("help_shortcuts", "F1", "Show this list of shortcuts", "Anywhere"),
    Shortcut("lock", "Ctrl+Shift+L", "Lock the screen or switch user", "Anywhere"),
    Shortcut("log_call", "Ctrl+L", "Log a call", "Patient"),
    Shortcut("add_note", "Ctrl+N", "Add a note", "Patient"),
    Shortcut("book", "Ctrl+B", "Book an appointment", "Patient"),
    Shortcut("edit_details", "Ctrl+E", "Edit contact details and consents", "Patient"),
    Shortcut("payment", "Ctrl+P", "Record a payment", "Patient"),
    Shortcut("tag", "Ctrl+T", "Add a tag", "Patient"),
    Shortcut("timeline_filter", "Ctrl+F", "Filter the timeline", "Patient"),
    Shortcut("close_patient", "Ctrl+W", "Close the patient", "Patient"),
    Shortcut("refresh", "F5", "Refresh the list", "Today, Patients and Messages"),
    Shortcut("export", "Ctrl+Shift+E", "Export the list to a CSV file", "Patients"),
    Shortcut("kiosk_leave", "Ctrl+Shift+Q", "Leave the kiosk (staff)", "Kiosk"),
)
_BY_NAME = {s.name: s for s in SHORTCUTS}


def shortcut(name: str) -> Shortcut:
    return _BY_NAME[name]
