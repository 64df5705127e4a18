"""The import screens: the wizard, its CSV mapping step, merge review and past imports."""

from __future__ import annotations
