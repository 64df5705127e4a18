"""The research export dialog: de-identified files for a researcher (managers)."""
