"""Encrypted backups of the clinic: making, checking, restoring, and the daily schedule."""

from __future__ import annotations
