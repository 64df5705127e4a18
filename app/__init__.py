"""Frontdesk core: the clinic's data and every operation on it, with no GUI."""

from __future__ import annotations

__all__ = ["__version__"]

from app.version import __version__
