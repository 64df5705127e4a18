"""The kiosk: a screen facing the patient that asks the 0–10 satisfaction question."""

from __future__ import annotations
