"""The 360° header card's facts (app.patients.summary) over a real encrypted clinic."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from app.billing import ledger
from app.clinic import Clinic
from app.interactions.log import log_interaction
from app.patients import records
from app.patients.model import PatientDraft
from app.patients.summary import patient_summary
from app.scheduling import appointments
from app.tasks import add_task
from app.users import add_user

TODAY = date(2026, 11, 28)


def new_patient(clinic: Clinic, birth: str = "1975-03-04") -> str:
    return records.create_patient(clinic, PatientDraft("Okafor", "Ada", birth_date=birth)).id


def test_age_balance_and_open_tasks(clinic: Clinic) -> None:
    patient = new_patient(clinic)
    ledger.post_charge(clinic, patient, 12_000, "Visit")
    ledger.record_payment(clinic, patient, 4_500, "card")
    add_task(clinic, patient, TODAY, note="Call about results")
    summary = patient_summary(clinic, patient, today=TODAY)
    assert summary.age == 51
    assert summary.balance.due_cents == 7_500
    assert summary.open_tasks == 1
    assert summary.reachable


def test_next_appointment_is_the_next_open_one_and_last_visit_the_newest(clinic: Clinic) -> None:
    patient = new_patient(clinic)
    now = datetime.now(UTC).replace(microsecond=0)
    past = appointments.book(
        clinic, patient, now - timedelta(days=30), now - timedelta(days=30) + timedelta(minutes=20)
    )
    appointments.set_status(clinic, past.id, "fulfilled")
    cancelled = appointments.book(
        clinic, patient, now + timedelta(days=2), now + timedelta(days=2, minutes=20)
    )
    appointments.set_status(clinic, cancelled.id, "cancelled")
    upcoming = appointments.book(
        clinic, patient, now + timedelta(days=9), now + timedelta(days=9, minutes=20)
    )
    walk_in = (now - timedelta(days=3)).isoformat().replace("+00:00", "Z")
    log_interaction(clinic, patient, "visit", occurred_at=walk_in)
    summary = patient_summary(clinic, patient)
    assert summary.next_appointment is not None
    assert summary.next_appointment.id == upcoming.id
    assert summary.last_visit == walk_in


def test_consent_badges_cover_every_channel_and_purpose_with_who_said_it(clinic: Clinic) -> None:
    patient = new_patient(clinic)
    clinic.acting_user_id = add_user(clinic, "Dana Reyes", "receptionist").id
    records.record_consent(clinic, patient, "sms", "appointment", True, "form")
    records.record_consent(clinic, patient, "email", "marketing", True, "form")
    records.record_consent(clinic, patient, "email", "marketing", False, "phone")
    badges = {(b.channel, b.purpose): b for b in patient_summary(clinic, patient).badges}
    assert len(badges) == 4 * 6
    assert badges[("sms", "appointment")].state == "granted"
    assert badges[("sms", "appointment")].recorded_by == "Dana Reyes"
    assert badges[("email", "marketing")].state == "withdrawn"
    assert badges[("letter", "billing")].state == "unknown"


def test_deceased_patient_has_no_age_and_is_not_reachable(clinic: Clinic) -> None:
    patient = new_patient(clinic)
    records.mark_deceased(clinic, patient, "2026-01-05")
    summary = patient_summary(clinic, patient, today=TODAY)
    assert summary.age is None
    assert not summary.reachable
    assert summary.patient.deceased_date == "2026-01-05"
