"""Whether what a message is about still holds, read from the current data at send time.

The planner made the message days ago; since then the visit may have been cancelled or
moved, the bill paid, the patient seen. `still_holds` answers from the record as it is now,
with the facts the message needs (the visit as booked now, the balance now) or the reason
in a sentence for the Messages page. `facts_for` and `upcoming_facts` give the same facts
without the checks, for the template editor's preview.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from app.billing.ledger import balance
from app.clinic import Clinic
from app.engagement import campaign_rules, survey_rules
from app.errors import RecordNotFoundError
from app.patients.model import Patient
from app.reminders import wording
from app.reminders.outbox import Message
from app.reminders.planning_times import add_months, birthday_in, local_day, parse_utc
from app.reminders.rules import Rule, Touch
from app.reminders.subject_facts import Facts, Gone
from app.scheduling.appointments import Appointment, next_for_patient
from app.scheduling.appointments import get as get_appointment
from app.store.writer import utc_text

_UPCOMING = ("booked", "confirmed")
_SEEN = ("arrived", "fulfilled")


def _iso_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _birthday(year: int, birth_date: str | None) -> date | None:
    """This year's birthday; None when the record holds only a year or a month (imports
    often do)."""
    if not birth_date or len(birth_date) != 10:
        return None
    born = _iso_date(birth_date)
    return None if born is None else birthday_in(year, born)


def _local_day(utc: str, zone: ZoneInfo) -> date:
    return local_day(parse_utc(utc), zone)


# --- checks per kind -----------------------------------------------------------------------


def still_holds(
    clinic: Clinic,
    rule: Rule,
    touch: Touch,
    message: Message,
    patient: Patient,
    *,
    now: datetime,
    zone: ZoneInfo,
) -> Facts | Gone:
    if rule.kind == "appointment":
        return _appointment(clinic, rule, message, now=now, zone=zone)
    if rule.kind == "no_show":
        return _no_show(clinic, message)
    if rule.kind == "recall":
        return _recall(clinic, rule, message, patient, now=now, zone=zone)
    if rule.kind == "billing":
        return _billing(clinic, rule, patient)
    if rule.kind == "birthday":
        return _birthday_greeting(touch, message, patient, now=now, zone=zone)
    if rule.kind in survey_rules.KINDS:
        return survey_rules.still_holds(clinic, rule, touch, message, patient, now=now, zone=zone)
    if rule.kind in campaign_rules.KINDS:
        return campaign_rules.still_holds(clinic, rule, touch, message, patient, now=now, zone=zone)
    return Gone("This kind of message is not one Frontdesk knows")


def _visit(clinic: Clinic, appointment_id: str) -> Appointment | None:
    try:
        return get_appointment(clinic, appointment_id)
    except RecordNotFoundError:
        return None


def _appointment(
    clinic: Clinic, rule: Rule, message: Message, *, now: datetime, zone: ZoneInfo
) -> Facts | Gone:
    visit = _visit(clinic, message.subject_id)
    if visit is None:
        return Gone("The visit was removed")
    if visit.status == "cancelled":
        return Gone("The visit was cancelled")
    if visit.status == "noshow":
        return Gone("The visit was marked as missed")
    if visit.status in _SEEN:
        return Gone("The visit already took place")
    if visit.start_at is None:
        return Gone("The visit no longer has a time")
    if _local_day(visit.start_at, zone).isoformat() != message.occurrence[:10]:
        return Gone("The visit was moved to another day")
    if parse_utc(visit.start_at) <= now:
        return Gone("The visit already took place")
    if (
        (rule.appointment_kinds and visit.kind not in rule.appointment_kinds)
        or (rule.provider_ids and visit.provider_id not in rule.provider_ids)
        or (rule.location_ids and visit.location_id not in rule.location_ids)
    ):
        return Gone("The visit was changed and this rule no longer covers it")
    return Facts(visit=visit)


def _no_show(clinic: Clinic, message: Message) -> Facts | Gone:
    visit = _visit(clinic, message.subject_id)
    if visit is None:
        return Gone("The missed visit was removed")
    if visit.status != "noshow":
        return Gone("The visit is no longer marked as missed")
    since = visit.start_at or ""
    again = clinic.conn.execute(
        "SELECT 1 FROM appointment WHERE patient_id = ? AND id != ? "
        "AND status IN ('booked', 'confirmed', 'arrived', 'fulfilled') "
        "AND (start_at > ? OR created_at > ?) LIMIT 1",
        (visit.patient_id, visit.id, since, since),
    ).fetchone()
    if again is not None:
        return Gone("The patient has booked again")
    return Facts(visit=visit)


def _kind_filter(rule: Rule) -> tuple[str, list[str]]:
    if not rule.recall_visit_kinds:
        return "", []
    marks = ", ".join("?" for _ in rule.recall_visit_kinds)
    return f" AND kind IN ({marks})", list(rule.recall_visit_kinds)


def _last_seen(clinic: Clinic, rule: Rule, patient_id: str) -> tuple[str, str] | None:
    """(start_at, kind) of the patient's last visit of the rule's kinds that took place."""
    where, kinds = _kind_filter(rule)
    row = clinic.conn.execute(
        "SELECT start_at, kind FROM appointment WHERE patient_id = ? "  # noqa: S608 - marks
        f"AND status IN ('arrived', 'fulfilled') AND start_at IS NOT NULL{where} "
        "ORDER BY start_at DESC LIMIT 1",
        (patient_id, *kinds),
    ).fetchone()
    return None if row is None else (str(row[0]), str(row[1]))


def _recall_kind(rule: Rule, last_kind: str) -> str:
    if wording.known_recall_kind(last_kind):
        return last_kind
    for kind in rule.recall_visit_kinds:
        if wording.known_recall_kind(kind):
            return kind
    return "checkup"


def _recall(
    clinic: Clinic, rule: Rule, message: Message, patient: Patient, *, now: datetime, zone: ZoneInfo
) -> Facts | Gone:
    due = _iso_date(message.occurrence)
    if due is None:
        return Gone("The recall date of this message cannot be read")
    last = _last_seen(clinic, rule, patient.id)
    if last is not None and add_months(_local_day(last[0], zone), rule.recall_months) > due:
        return Gone("The patient has been seen since")
    where, kinds = _kind_filter(rule)
    booked = clinic.conn.execute(
        "SELECT 1 FROM appointment WHERE patient_id = ? "  # noqa: S608 - marks
        f"AND status IN ('booked', 'confirmed') AND start_at > ?{where} LIMIT 1",
        (patient.id, utc_text(now), *kinds),
    ).fetchone()
    if booked is not None:
        return Gone("The patient has a visit booked")
    return Facts(due_date=due, recall_kind=_recall_kind(rule, last[1] if last else ""))


def _billing(clinic: Clinic, rule: Rule, patient: Patient) -> Facts | Gone:
    due = balance(clinic, patient.id).due_cents
    if due <= 0:
        return Gone("The balance was paid")
    if due < rule.min_balance_cents:
        return Gone(
            "The balance is now under "
            f"{wording.money(rule.min_balance_cents, clinic.settings.region)}"
        )
    return Facts(balance_cents=due)


def _birthday_greeting(
    touch: Touch, message: Message, patient: Patient, *, now: datetime, zone: ZoneInfo
) -> Facts | Gone:
    try:
        year = int(message.occurrence[:4])
    except ValueError:
        return Gone("The year of this greeting cannot be read")
    birthday = _birthday(year, patient.birth_date)
    if birthday is None:
        return Gone("The birth date is no longer on file")
    day = birthday + timedelta(days=touch.days)
    if _local_day(message.due_at, zone) != day:
        return Gone("The birth date on file was changed")
    if now.astimezone(zone).date() != day:
        return Gone("The birthday has passed")
    return Facts()


# --- facts without checks (values for a message named by its parts, and the preview) -------


def facts_for(
    clinic: Clinic, rule: Rule, patient_id: str, subject_id: str, occurrence: str
) -> Facts:
    """The facts a message with this subject and occurrence would show, as the record
    stands; parts that are gone are left out (the caller decides what that means)."""
    if rule.kind in ("appointment", "no_show"):
        return Facts(visit=_visit(clinic, subject_id) if subject_id else None)
    if rule.kind == "recall":
        last = _last_seen(clinic, rule, patient_id)
        return Facts(
            due_date=_iso_date(occurrence),
            recall_kind=_recall_kind(rule, last[1] if last else ""),
        )
    if rule.kind == "billing":
        return Facts(balance_cents=balance(clinic, patient_id).due_cents)
    if rule.kind in survey_rules.KINDS:
        return survey_rules.facts_for(clinic, rule, patient_id, subject_id, occurrence)
    if rule.kind in campaign_rules.KINDS:
        return campaign_rules.facts_for(clinic, rule, patient_id, subject_id, occurrence)
    return Facts()


def upcoming_facts(clinic: Clinic, rule: Rule, patient_id: str, *, now: datetime) -> Facts:
    """The patient's real subject for a preview: the next visit, the last missed one, the
    recall due date from the last visit, the balance. Missing parts stay None."""
    zone = ZoneInfo(clinic.settings.timezone)
    if rule.kind == "appointment":
        return Facts(visit=next_for_patient(clinic, patient_id, utc_text(now)))
    if rule.kind == "no_show":
        row = clinic.conn.execute(
            "SELECT id FROM appointment WHERE patient_id = ? AND status = 'noshow' "
            "AND start_at IS NOT NULL ORDER BY start_at DESC LIMIT 1",
            (patient_id,),
        ).fetchone()
        return Facts(visit=_visit(clinic, str(row[0])) if row else None)
    if rule.kind == "recall":
        last = _last_seen(clinic, rule, patient_id)
        if last is None:
            return Facts(recall_kind=_recall_kind(rule, ""))
        due = add_months(_local_day(last[0], zone), rule.recall_months)
        return Facts(due_date=due, recall_kind=_recall_kind(rule, last[1]))
    if rule.kind == "billing":
        owed = balance(clinic, patient_id).due_cents
        return Facts(balance_cents=owed if owed > 0 else None)
    if rule.kind in survey_rules.KINDS:
        return survey_rules.upcoming_facts(clinic, rule, patient_id, now=now)
    if rule.kind in campaign_rules.KINDS:
        return campaign_rules.upcoming_facts(clinic, rule, patient_id, now=now)
    return Facts()
