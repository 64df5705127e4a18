"""The form dialogs of the desk: quick actions on a patient and the patient editors."""

from __future__ import annotations
