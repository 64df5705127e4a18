"""The header card of the 360° view: who the patient is and where things stand, in one read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from app.billing.ledger import Balance, balance
from app.clinic import Clinic
from app.patients.editing import source_words
from app.patients.model import CHANNELS, PURPOSES, Patient
from app.patients.records import get_patient
from app.patients.search import age_on
from app.scheduling.appointments import Appointment, next_for_patient
from app.store.writer import utc_now
from app.today import clinic_today


@dataclass(frozen=True)
class ConsentBadge:
    channel: str
    purpose: str
    state: str  # "granted", "withdrawn" or "unknown" (never asked)
    recorded_at: str | None
    recorded_by: str  # the user's name, '' when unknown


@dataclass(frozen=True)
class PatientSummary:
    patient: Patient
    age: int | None
    balance: Balance
    next_appointment: Appointment | None
    last_visit: str | None  # UTC ISO of the last fulfilled visit
    badges: tuple[ConsentBadge, ...]
    open_tasks: int
    insurance: tuple[str, ...] = ()  # payers of the coverages in force, from an import
    source: str = ""  # how they heard about us, in the clinic's words ("" = not recorded)

    @property
    def reachable(self) -> bool:
        """False when nobody should contact the patient at all."""
        return not (self.patient.deceased or self.patient.do_not_contact)


def _last_visit(clinic: Clinic, patient_id: str, now: str) -> str | None:
    # A visit is a fulfilled appointment or a logged walk-in; the newer of the two.
    row = clinic.conn.execute(
        "SELECT max(at) FROM ("
        " SELECT max(start_at) AS at FROM appointment"
        "  WHERE patient_id = :p AND status = 'fulfilled' AND start_at <= :now"
        " UNION ALL"
        " SELECT max(occurred_at) FROM interaction WHERE patient_id = :p AND kind = 'visit')",
        {"p": patient_id, "now": now},
    ).fetchone()
    return str(row[0]) if row and row[0] else None


def _insurance(clinic: Clinic, patient_id: str, day: date) -> tuple[str, ...]:
    """Who pays, as the desk asks at check-in: coverages not ended or cancelled."""
    rows = clinic.conn.execute(
        "SELECT coalesce(o.name, ''), c.payer_name, c.plan FROM coverage c "
        "LEFT JOIN organization o ON o.id = c.payer_id "
        "WHERE c.patient_id = ? AND c.status NOT IN ('cancelled', 'entered-in-error') "
        "AND (c.end_on IS NULL OR c.end_on >= ?) ORDER BY c.start_on DESC",
        (patient_id, day.isoformat()),
    ).fetchall()
    names = []
    for linked, given, plan in rows:
        payer = linked or given
        if payer:
            names.append(f"{payer} ({plan})" if plan and plan != payer else payer)
    return tuple(dict.fromkeys(names))


def _badges(clinic: Clinic, patient: Patient) -> tuple[ConsentBadge, ...]:
    names = dict(clinic.conn.execute("SELECT id, name FROM app_user").fetchall())
    badges = []
    for channel in CHANNELS:
        for purpose in PURPOSES:
            consent = patient.consent_for(channel, purpose)
            if consent is None:
                badges.append(ConsentBadge(channel, purpose, "unknown", None, ""))
            else:
                badges.append(
                    ConsentBadge(
                        channel,
                        purpose,
                        "granted" if consent.granted else "withdrawn",
                        consent.recorded_at,
                        str(names.get(consent.recorded_by, "")),
                    )
                )
    return tuple(badges)


def patient_summary(clinic: Clinic, patient_id: str, today: date | None = None) -> PatientSummary:
    patient = get_patient(clinic, patient_id)
    now = utc_now()
    day = today or clinic_today(clinic)
    open_tasks = clinic.conn.execute(
        "SELECT count(*) FROM task WHERE patient_id = ? AND done_at IS NULL", (patient_id,)
    ).fetchone()[0]
    return PatientSummary(
        patient=patient,
        age=None if patient.deceased else age_on(patient.birth_date, day),
        balance=balance(clinic, patient_id),
        next_appointment=next_for_patient(clinic, patient_id, now),
        last_visit=_last_visit(clinic, patient_id, now),
        badges=_badges(clinic, patient),
        open_tasks=int(open_tasks),
        insurance=_insurance(clinic, patient_id, day),
        source=source_words(clinic, patient.acquisition_source),
    )
