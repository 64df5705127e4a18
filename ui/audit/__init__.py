"""The audit log viewer for managers and administrators."""
