"""Logging a call: outcomes are checked, call-backs skip weekends and never land in the past."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from app.clinic import Clinic
from app.errors import InvalidDateError, InvalidInputError
from app.interactions.calls import (
    CALL_OUTCOMES,
    add_working_days,
    default_follow_up,
    follow_up_note,
    log_call,
    outcome_label,
)
from app.patients.model import PatientDraft
from app.patients.records import add_tag, create_patient
from app.patients.tags import all_tags, existing_spelling
from app.patients.timeline import timeline
from app.scheduling.appointments import book
from app.scheduling.kinds import appointment_kinds
from app.tasks import open_tasks

FRIDAY = date(2026, 11, 27)


def test_outcomes_are_stored_lower_case_with_readable_labels() -> None:
    assert [o.value for o in CALL_OUTCOMES] == ["reached", "voicemail", "no answer", "wrong number"]
    assert outcome_label("no answer") == "No answer"


def test_call_back_set_on_friday_lands_on_tuesday() -> None:
    assert add_working_days(FRIDAY, 2) == date(2026, 12, 1)
    assert default_follow_up(date(2026, 11, 24)) == date(2026, 11, 26)  # Tuesday -> Thursday
    assert add_working_days(date(2026, 11, 28), 1) == date(2026, 11, 30)  # Saturday -> Monday


def test_follow_up_note_carries_the_outcome_and_first_line_of_the_note() -> None:
    assert follow_up_note("voicemail", "") == "Call back (last call: voicemail)"
    note = follow_up_note("no answer", "\n  results ready\nsecond line")
    assert note == "Call back (last call: no answer): results ready"
    assert len(follow_up_note("reached", "x" * 500)) < 200


@pytest.fixture
def patient_id(clinic: Clinic) -> str:
    return create_patient(clinic, PatientDraft("Okafor", "Ada")).id


def test_unknown_outcome_is_refused_before_anything_is_written(
    clinic: Clinic, patient_id: str
) -> None:
    with pytest.raises(InvalidInputError, match="how the call went"):
        log_call(clinic, patient_id, direction="out", outcome="", today=FRIDAY)
    assert timeline(clinic, patient_id) == []


def test_past_call_back_refuses_the_whole_call(clinic: Clinic, patient_id: str) -> None:
    with pytest.raises(InvalidDateError):
        log_call(
            clinic,
            patient_id,
            direction="out",
            outcome="no answer",
            follow_up=date(2026, 11, 26),
            today=FRIDAY,
        )
    assert timeline(clinic, patient_id) == []


def test_call_with_call_back_logs_both_and_links_them(clinic: Clinic, patient_id: str) -> None:
    changes = log_call(
        clinic,
        patient_id,
        direction="out",
        outcome="voicemail",
        note="card 4111 1111 1111 1111 declined",
        follow_up=date(2026, 12, 1),
        today=FRIDAY,
    )
    assert changes.touches("interaction") and changes.touches("task")
    [call] = timeline(clinic, patient_id, kinds={"call"})
    [task] = open_tasks(clinic, date(2026, 12, 1), patient_id=patient_id)
    assert task.interaction_id == call.record_id
    assert "4111 1111 1111 1111" not in call.detail and "4111 1111" not in task.note


def test_tags_in_use_are_offered_in_the_clinics_spelling(clinic: Clinic, patient_id: str) -> None:
    add_tag(clinic, patient_id, "wheelchair")
    add_tag(clinic, patient_id, "Interpreter")
    assert all_tags(clinic) == ["Interpreter", "wheelchair"]
    assert existing_spelling("  WHEELCHAIR ", all_tags(clinic)) == "wheelchair"
    assert existing_spelling("hard  of hearing", all_tags(clinic)) == "hard of hearing"


def test_appointment_types_in_use_are_offered_most_used_first(
    clinic: Clinic, patient_id: str
) -> None:
    start = datetime(2027, 1, 12, 15, tzinfo=UTC)
    for kind in ("checkup", "vaccination", "checkup", ""):
        book(clinic, patient_id, start, start + timedelta(minutes=15), kind=kind)
    assert appointment_kinds(clinic) == ["checkup", "vaccination"]
