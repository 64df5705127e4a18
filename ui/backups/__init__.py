"""Settings ▸ Backups: the daily backup, checking and restoring backups, replacing the key."""

from __future__ import annotations
