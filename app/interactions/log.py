"""Logging a contact with a patient: a call taken, a text sent, a note written."""

from __future__ import annotations

from app.clinic import Clinic
from app.errors import InvalidInputError
from app.patients.validation import mask_card_numbers
from app.store.changes import Created
from app.store.writer import utc_now

KINDS = ("call", "email", "sms", "letter", "visit", "note")
DIRECTIONS = ("in", "out", "none")


def log_interaction(
    clinic: Clinic,
    patient_id: str,
    kind: str,
    *,
    direction: str = "none",
    outcome: str = "",
    subject: str = "",
    body: str = "",
    occurred_at: str | None = None,
    appointment_id: str | None = None,
    recorded_by: str | None = None,
) -> Created:
    """Card numbers read out on the phone and typed into a note are masked before saving."""
    if kind not in KINDS:
        raise InvalidInputError(f"Unknown kind of contact; use one of {', '.join(KINDS)}.")
    if direction not in DIRECTIONS:
        raise InvalidInputError("Direction must be in, out or none.")
    return clinic.store.create(
        "interaction",
        {
            "patient_id": patient_id,
            "kind": kind,
            "direction": direction,
            "outcome": outcome.strip(),
            "subject": mask_card_numbers(subject.strip()),
            "body": mask_card_numbers(body.strip()),
            "occurred_at": occurred_at or utc_now(),
            "appointment_id": appointment_id,
            "recorded_by": clinic.acting_user_id if recorded_by is None else recorded_by,
        },
    )
