"""Booking, moving and closing appointments, with every status change kept as history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.clinic import Clinic
from app.errors import InvalidInputError, RecordNotFoundError
from app.patients.validation import mask_card_numbers
from app.store.changes import Changes, Created
from app.store.writer import Tx, utc_now, utc_text

STATUSES = ("booked", "confirmed", "arrived", "fulfilled", "cancelled", "noshow")
# A closed appointment cannot be reopened by accident; rebooking makes a new one.
_FINAL = {"fulfilled", "cancelled", "noshow"}


@dataclass(frozen=True)
class Appointment:
    id: str
    patient_id: str
    provider_id: str | None
    location_id: str | None
    start_at: str | None
    end_at: str | None
    kind: str
    reason: str
    status: str


def _aware_utc_text(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise InvalidInputError("An appointment time needs its time zone.")
    return utc_text(moment)


def _record_status(tx: Tx, appointment_id: str, status: str, note: str) -> None:
    tx.insert(
        "appointment_status",
        {"appointment_id": appointment_id, "status": status, "changed_at": utc_now(), "note": note},
    )


def book(
    clinic: Clinic,
    patient_id: str,
    start: datetime,
    end: datetime,
    *,
    provider_id: str | None = None,
    location_id: str | None = None,
    kind: str = "",
    reason: str = "",
) -> Created:
    if end <= start:
        raise InvalidInputError("The appointment must end after it starts.")
    with clinic.store.write() as tx:
        appointment_id = tx.insert(
            "appointment",
            {
                "patient_id": patient_id,
                "provider_id": provider_id,
                "location_id": location_id,
                "start_at": _aware_utc_text(start),
                "end_at": _aware_utc_text(end),
                "kind": kind,
                "reason": reason,
                "status": "booked",
                "created_at": utc_now(),
            },
        )
        _record_status(tx, appointment_id, "booked", "")
    return Created(appointment_id, tx.changes)


def get(clinic: Clinic, appointment_id: str) -> Appointment:
    row = clinic.conn.execute(
        "SELECT id, patient_id, provider_id, location_id, start_at, end_at, kind, reason, status "
        "FROM appointment WHERE id = ?",
        (appointment_id,),
    ).fetchone()
    if row is None:
        raise RecordNotFoundError("That appointment no longer exists.")
    return Appointment(*row)


def set_status(clinic: Clinic, appointment_id: str, status: str, note: str = "") -> Changes:
    if status not in STATUSES:
        raise InvalidInputError(f"Unknown appointment status; use one of {', '.join(STATUSES)}.")
    current = get(clinic, appointment_id)
    if current.status == status:
        return Changes()
    if current.status in _FINAL:
        raise InvalidInputError(
            "This appointment is already closed; book a new one instead of reopening it."
        )
    with clinic.store.write() as tx:
        tx.update("appointment", appointment_id, {"status": status})
        _record_status(tx, appointment_id, status, note)
    return tx.changes


def move(clinic: Clinic, appointment_id: str, start: datetime, end: datetime) -> Changes:
    if end <= start:
        raise InvalidInputError("The appointment must end after it starts.")
    current = get(clinic, appointment_id)
    if current.status in _FINAL:
        raise InvalidInputError("A closed appointment cannot be moved; book a new one.")
    with clinic.store.write() as tx:
        tx.update(
            "appointment",
            appointment_id,
            {
                "start_at": _aware_utc_text(start),
                "end_at": _aware_utc_text(end),
                "status": "booked",
            },
        )
        _record_status(tx, appointment_id, "booked", "moved")
    return tx.changes


def update_details(
    clinic: Clinic,
    appointment_id: str,
    *,
    provider_id: str | None,
    location_id: str | None,
    kind: str,
    reason: str,
) -> Changes:
    """Who, where and what for; the time has move() and the state set_status()."""
    current = get(clinic, appointment_id)
    if current.status in _FINAL:
        raise InvalidInputError("A closed appointment cannot be changed; book a new one.")
    values = {
        "provider_id": provider_id,
        "location_id": location_id,
        "kind": kind.strip(),
        "reason": mask_card_numbers(reason.strip()),
    }
    with clinic.store.write() as tx:
        tx.update("appointment", appointment_id, values)
    return tx.changes


def next_for_patient(clinic: Clinic, patient_id: str, now: str | None = None) -> Appointment | None:
    row = clinic.conn.execute(
        "SELECT id, patient_id, provider_id, location_id, start_at, end_at, kind, reason, status "
        "FROM appointment WHERE patient_id = ? AND start_at >= ? "
        "AND status IN ('booked', 'confirmed') ORDER BY start_at LIMIT 1",
        (patient_id, now or utc_now()),
    ).fetchone()
    return Appointment(*row) if row else None
