"""Logging a phone call from the desk: how it went, and when to call back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from app.clinic import Clinic
from app.errors import InvalidDateError, InvalidInputError
from app.interactions.log import log_interaction
from app.store.changes import Changes
from app.tasks import add_task


@dataclass(frozen=True)
class CallOutcome:
    value: str  # stored in interaction.outcome, lower-case
    label: str  # what the receptionist clicks


CALL_OUTCOMES: tuple[CallOutcome, ...] = (
    CallOutcome("reached", "Reached"),
    CallOutcome("voicemail", "Voicemail"),
    CallOutcome("no answer", "No answer"),
    CallOutcome("wrong number", "Wrong number"),
)
_LABELS = {o.value: o.label for o in CALL_OUTCOMES}

# Who dialled, in the words of the person at the desk; stored as interaction.direction.
CALL_DIRECTIONS: tuple[tuple[str, str], ...] = (("out", "I called them"), ("in", "They called"))

FOLLOW_UP_WORKING_DAYS = 2
NOTE_PREVIEW = 120  # characters of the call note carried onto the call-back task


def outcome_label(value: str) -> str:
    return _LABELS.get(value, value)


def add_working_days(start: date, days: int) -> date:
    """Saturdays and Sundays do not count: a call-back set on Friday lands on Tuesday."""
    current = start
    left = days
    while left > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            left -= 1
    return current


def default_follow_up(today: date) -> date:
    return add_working_days(today, FOLLOW_UP_WORKING_DAYS)


def check_follow_up(follow_up: date, today: date) -> None:
    if follow_up < today:
        raise InvalidDateError("The call-back date has passed; choose today or a later day.")


def log_call(
    clinic: Clinic,
    patient_id: str,
    *,
    direction: str,
    outcome: str,
    note: str = "",
    follow_up: date | None = None,
    today: date,
) -> Changes:
    """Log the call and, when a call-back date is given, the task that brings it back on
    Today. Everything is checked before the first write so a refusal leaves no half call."""
    if outcome not in _LABELS:
        raise InvalidInputError("Choose how the call went.")
    if direction not in {d for d, _ in CALL_DIRECTIONS}:
        raise InvalidInputError("Choose who made the call.")
    if follow_up is not None:
        check_follow_up(follow_up, today)
    logged = log_interaction(
        clinic, patient_id, "call", direction=direction, outcome=outcome, body=note
    )
    if follow_up is None:
        return logged.changes
    task = add_task(
        clinic,
        patient_id,
        follow_up,
        note=follow_up_note(outcome, note),
        interaction_id=logged.id,
        today=today,
    )
    return logged.changes | task.changes


def follow_up_note(outcome: str, note: str) -> str:
    """What the call list on Today shows: why to call, in one line."""
    first_line = next((line.strip() for line in note.splitlines() if line.strip()), "")
    if len(first_line) > NOTE_PREVIEW:
        first_line = first_line[: NOTE_PREVIEW - 1].rstrip() + "…"
    reason = f"Call back (last call: {outcome_label(outcome).lower()})"
    return f"{reason}: {first_line}" if first_line else reason
