"""The desk's day: who comes in, who to call, whose birthday it is, in the clinic's time zone.

"Today" is always the clinic's local day (a clinic in Chicago and a laptop set to UTC
must agree on whose visit is tomorrow). Every function takes the day as a plain date,
so tests and the page can ask about any day; `clinic_today` gives the real one.
"""

from __future__ import annotations

import calendar
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.clinic import Clinic
from app.errors import InvalidInputError
from app.interactions import calls
from app.interactions.log import log_interaction
from app.patients.model import display_name
from app.patients.validation import display_phone
from app.scheduling.appointments import get as get_appointment
from app.scheduling.appointments import set_status
from app.store.changes import Changes
from app.store.writer import utc_text
from app.tasks import complete_with_call, get_task, open_tasks

# How a call went, as the desk says it. Kept here until a shared home takes it (the
# patient view's "log a call" offers the same four words).
# The log-a-call form's outcomes (app.interactions.calls), as stored.
CALL_OUTCOMES = tuple(outcome.value for outcome in calls.CALL_OUTCOMES)

# The word a receptionist reads for each appointment status.
CONFIRMATION = {
    "booked": "Not confirmed",
    "confirmed": "Confirmed",
    "arrived": "Arrived",
    "fulfilled": "Seen",
    "noshow": "No-show",
    "cancelled": "Cancelled",
}

CONFIRM_KIND = "confirm"  # a call to confirm tomorrow's visit
TASK_KIND = "task"  # a follow-up task that is due
CONFIRM_SUBJECT = "Confirm the visit"
_CLOSED = ("fulfilled", "cancelled", "noshow")


@dataclass(frozen=True)
class AgendaRow:
    appointment_id: str
    patient_id: str
    patient_name: str  # "Family, Given (Preferred)"
    starts_at: datetime  # aware, in the clinic's time zone
    ends_at: datetime | None
    provider: str  # '' when none is set
    location: str
    kind: str
    reason: str
    status: str  # the stored status (booked, confirmed, ...)
    confirmation: str  # what the desk reads: CONFIRMATION[status]
    phone: str  # the best phone, shown the clinic's way; '' when none

    @property
    def time_text(self) -> str:
        return self.starts_at.strftime("%H:%M")

    @property
    def closed(self) -> bool:
        """Cancelled or missed: still listed, so the desk sees the gap, but shown greyed."""
        return self.status in ("cancelled", "noshow")


@dataclass(frozen=True)
class CallRow:
    kind: str  # CONFIRM_KIND or TASK_KIND
    patient_id: str
    patient_name: str
    phone: str
    reason: str
    due_on: date
    overdue_days: int  # 0 = due on the day asked about
    appointment_id: str | None  # set for CONFIRM_KIND
    task_id: str | None  # set for TASK_KIND
    # CONFIRM_KIND: what the automatic reminder asking to confirm did, e.g. "Reminder
    # texted Mon 10:00, no reply"; '' when none went.
    reminder: str = ""

    @property
    def due_text(self) -> str:
        if self.overdue_days <= 0:
            return "Today"
        if self.overdue_days == 1:
            return "1 day overdue"
        return f"{self.overdue_days} days overdue"


@dataclass(frozen=True)
class BirthdayRow:
    patient_id: str
    patient_name: str
    birth_date: date
    turns: int
    phone: str


def clinic_zone(clinic: Clinic) -> ZoneInfo:
    return ZoneInfo(clinic.settings.timezone)


def clinic_today(clinic: Clinic, now: datetime | None = None) -> date:
    """The date on the clinic's wall calendar, wherever this computer thinks it is."""
    return (now or datetime.now(UTC)).astimezone(clinic_zone(clinic)).date()


def _provider_name(title: str | None, given: str | None, family: str | None) -> str:
    return " ".join(p for p in (title, given, family) if p)


def phone_text(raw: str | None, region: str) -> str:
    """The number as the desk dials it; a household payer's number says so."""
    if not raw:
        return ""
    if raw.startswith("g:"):
        return f"{display_phone(raw[2:], region)} (household)"
    return display_phone(raw, region)


def _day_bounds(zone: ZoneInfo, day: date) -> tuple[str, str]:
    """The UTC text range [start, end) of one local day (23 or 25 hours on DST days)."""
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return utc_text(start), utc_text(end)


def _local(utc_text: str, zone: ZoneInfo) -> datetime:
    return datetime.fromisoformat(utc_text.replace("Z", "+00:00")).astimezone(zone)


# The patient's first phone; a child without one is reached on the household's payer's
# phone, marked "g:" so the desk sees whose number it is.
_BEST_PHONE = (
    "coalesce("
    "(SELECT c.value FROM contact_point c WHERE c.patient_id = p.id AND +c.kind = 'phone' "
    "ORDER BY c.rank, c.id LIMIT 1), "
    "(SELECT 'g:' || c.value FROM household h JOIN contact_point c "
    "ON c.patient_id = h.guarantor_patient_id AND +c.kind = 'phone' "
    "WHERE h.id = p.household_id ORDER BY c.rank, c.id LIMIT 1)) "
)

# One query for a day's book: the range on appointment(start_at) picks the rows, the
# joins are primary-key lookups.
_AGENDA_SQL = (
    "SELECT a.id, a.patient_id, p.family_name, p.given_names, p.preferred_name, "
    "a.start_at, a.end_at, pr.title, pr.given_names, pr.family_name, l.name, "
    "a.kind, a.reason, a.status, " + _BEST_PHONE + "FROM appointment a "
    "JOIN patient p ON p.id = a.patient_id "
    "LEFT JOIN provider pr ON pr.id = a.provider_id "
    "LEFT JOIN location l ON l.id = a.location_id "
    "WHERE a.start_at >= ? AND a.start_at < ? "
    "ORDER BY a.start_at, p.family_name, p.given_names, a.id"
)


def agenda(clinic: Clinic, day: date) -> list[AgendaRow]:
    """Every appointment starting on the clinic's local `day`, cancelled ones included
    (marked by status), earliest first."""
    zone = clinic_zone(clinic)
    region = clinic.settings.region
    rows = clinic.conn.execute(_AGENDA_SQL, _day_bounds(zone, day)).fetchall()
    return [
        AgendaRow(
            appointment_id=r[0],
            patient_id=r[1],
            patient_name=display_name(r[2], r[3], r[4]),
            starts_at=_local(r[5], zone),
            ends_at=_local(r[6], zone) if r[6] else None,
            provider=_provider_name(r[7], r[8], r[9]),
            location=r[10] or "",
            kind=r[11],
            reason=r[12],
            status=r[13],
            confirmation=CONFIRMATION.get(r[13], r[13]),
            phone=phone_text(r[14], region),
        )
        for r in rows
    ]


# Tomorrow's visits still only 'booked', less those already called about today: a
# voicemail left this morning takes the row off the list (the call is on the timeline)
# though the visit stays "Not confirmed" on the agenda. (interaction has no index on
# appointment_id; the patient and time narrow it to a row or two on interaction_patient.)
_UNCONFIRMED_SQL = (  # constant text throughout; values go in as parameters
    "SELECT a.id, a.patient_id, p.family_name, p.given_names, p.preferred_name, a.start_at, "  # noqa: S608
    "pr.title, pr.given_names, pr.family_name, " + _BEST_PHONE + "FROM appointment a "
    "JOIN patient p ON p.id = a.patient_id "
    "LEFT JOIN provider pr ON pr.id = a.provider_id "
    "WHERE a.start_at >= ? AND a.start_at < ? AND a.status = 'booked' "
    "AND p.deceased = 0 AND p.do_not_contact = 0 "
    "AND NOT EXISTS (SELECT 1 FROM interaction i WHERE i.patient_id = a.patient_id "
    "AND i.occurred_at >= ? AND i.appointment_id = a.id AND i.kind = 'call' "
    "AND i.direction = 'out') "
    "ORDER BY a.start_at, p.family_name, a.id"
)


LOOK_AHEAD_DAYS = 7


def next_open_day(clinic: Clinic, day: date) -> date:
    """The next day with visits on the book after `day`, within a week; else tomorrow.

    On a Friday (or a Saturday) the desk confirms Monday's visits: whichever day the
    clinic opens next, read from the book itself rather than from opening hours the
    clinic would have to type in."""
    zone = clinic_zone(clinic)
    after, _ = _day_bounds(zone, day + timedelta(days=1))
    _, until = _day_bounds(zone, day + timedelta(days=LOOK_AHEAD_DAYS))
    row = clinic.conn.execute(
        "SELECT min(start_at) FROM appointment WHERE start_at >= ? AND start_at < ? "
        "AND status IN ('booked', 'confirmed')",
        (after, until),
    ).fetchone()
    if row is None or row[0] is None:
        return day + timedelta(days=1)
    return _local(str(row[0]), zone).date()


# The reminders that asked the patient to confirm these visits (the rule's touch says
# so), sent or failed, oldest first so the newest wins; one statement for the whole list.
# A reply is any text from the patient since it went: a "C" would have confirmed the
# visit (and taken it off the list), so what is left is a reply someone must read. The
# unary + keeps SQLite off the state index: sent messages pile up, a visit has a few.
_ASKED_SQL = (
    "SELECT o.subject_id, o.state, o.channel, o.delivery, coalesce(o.sent_at, o.updated_at), "
    "EXISTS (SELECT 1 FROM inbound_message i WHERE i.patient_id = o.patient_id "
    "AND i.received_at >= coalesce(o.sent_at, o.updated_at)) "
    "FROM outbox o JOIN reminder_rule r ON r.id = o.rule_id "
    "WHERE o.subject_id IN (SELECT value FROM json_each(?)) AND o.subject_kind = 'appointment' "
    "AND r.kind = 'appointment' AND +o.state IN ('sent', 'failed') "
    "AND json_extract(r.definition, '$.touches[' || o.touch || '].ask_to_confirm') = 1 "
    "ORDER BY 5, o.id"
)
_SENT_WORD = {"sms": "texted", "email": "emailed", "letter": "posted"}
_CHANNEL_WORD = {"sms": "text", "email": "email", "letter": "letter"}


def _reminders_asked(clinic: Clinic, appointment_ids: list[str], zone: ZoneInfo) -> dict[str, str]:
    """appointment id -> what the call list says about the reminder asking to confirm."""
    if not appointment_ids:
        return {}
    found: dict[str, str] = {}
    rows = clinic.conn.execute(_ASKED_SQL, (json.dumps(appointment_ids),)).fetchall()
    for appointment_id, state, channel, delivery, at, replied in rows:
        when = _local(str(at), zone).strftime("%a %H:%M")
        if state == "failed":
            text = f"Reminder {_CHANNEL_WORD.get(channel, 'message')} failed {when}"
        elif delivery in ("undelivered", "failed"):
            text = f"Reminder {_CHANNEL_WORD.get(channel, 'message')} did not arrive ({when})"
        else:
            answer = "replied, see Messages ▸ Inbox" if replied else "no reply"
            text = f"Reminder {_SENT_WORD.get(channel, 'sent')} {when}, {answer}"
        found[str(appointment_id)] = text
    return found


def _confirm_calls(clinic: Clinic, day: date, zone: ZoneInfo, region: str) -> list[CallRow]:
    tomorrow_start, tomorrow_end = _day_bounds(zone, next_open_day(clinic, day))
    today_start, _ = _day_bounds(zone, day)
    rows = clinic.conn.execute(
        _UNCONFIRMED_SQL, (tomorrow_start, tomorrow_end, today_start)
    ).fetchall()
    asked = _reminders_asked(clinic, [str(r[0]) for r in rows], zone)
    calls = []
    for r in rows:
        provider = _provider_name(r[6], r[7], r[8])
        when = _local(r[5], zone).strftime("%a %d %b, %H:%M")
        calls.append(
            CallRow(
                kind=CONFIRM_KIND,
                patient_id=r[1],
                patient_name=display_name(r[2], r[3], r[4]),
                phone=phone_text(r[9], region),
                reason=f"{CONFIRM_SUBJECT} ({when}{', ' + provider if provider else ''})",
                due_on=day,
                overdue_days=0,
                appointment_id=r[0],
                task_id=None,
                reminder=asked.get(str(r[0]), ""),
            )
        )
    return calls


# The ids go in as one JSON array, so the statement text never changes with their number.
_PEOPLE_SQL = (
    "SELECT p.id, p.family_name, p.given_names, p.preferred_name, "  # noqa: S608 - constants
    + _BEST_PHONE
    + "FROM patient p WHERE p.id IN (SELECT value FROM json_each(?))"
)


def _task_calls(clinic: Clinic, day: date, region: str) -> list[CallRow]:
    # Tasks are listed whoever the patient is: someone put each one here on purpose,
    # and only the desk can close it.
    tasks = open_tasks(clinic, day)
    if not tasks:
        return []
    ids = sorted({t.patient_id for t in tasks})
    people = {
        r[0]: (display_name(r[1], r[2], r[3]), r[4])
        for r in clinic.conn.execute(_PEOPLE_SQL, (json.dumps(ids),)).fetchall()
    }
    calls = []
    for task in tasks:
        name, phone = people.get(task.patient_id, ("(no name)", None))
        due = date.fromisoformat(task.due_on)
        lead = "Call back" if task.kind == "call-back" else "Follow up"
        # A note written by "log a call" already says "Call back (last call: …)".
        if task.note.lower().startswith(lead.lower()):
            lead, note = "", task.note
        else:
            note = task.note
        calls.append(
            CallRow(
                kind=TASK_KIND,
                patient_id=task.patient_id,
                patient_name=name,
                phone=phone_text(phone, region),
                reason=f"{lead}: {note}" if lead and note else (lead or note),
                due_on=due,
                overdue_days=(day - due).days,
                appointment_id=None,
                task_id=task.id,
            )
        )
    return calls


def call_list(clinic: Clinic, day: date) -> list[CallRow]:
    """The calls to make on `day`: follow-ups due (the most overdue first), then
    confirmations of the next open day's visits (in visit order)."""
    zone = clinic_zone(clinic)
    region = clinic.settings.region
    # Failed messages join here when the outbox exists (issue 7): texts and emails
    # that bounced become "Call: the text about <subject> did not arrive" rows, with
    # the message id to close them. Until then there is nothing honest to list.
    return _task_calls(clinic, day, region) + _confirm_calls(clinic, day, zone, region)


def _birthday_keys(day: date) -> tuple[str, str]:
    """The 'MM-DD' values that have their birthday on `day` (the same one twice, mostly)."""
    key = f"{day.month:02d}-{day.day:02d}"
    if key == "02-28" and not calendar.isleap(day.year):
        return (key, "02-29")  # Feb 29 birthdays are kept on Feb 28 in other years
    return (key, key)


# The WHERE repeats the expression of the patient_birthday index word for word, so
# SQLite reads only that day's patients. Partial dates ('1974', '1974-12') give '' or
# '12' there and never match 'MM-DD'.
_BIRTHDAYS_SQL = (
    "SELECT p.id, p.family_name, p.given_names, p.preferred_name, p.birth_date, "
    + _BEST_PHONE
    + "FROM patient p "
    "WHERE substr(birth_date, 6, 5) IN (?, ?) AND p.deceased = 0 AND p.merged_into IS NULL "
    "ORDER BY p.family_name, p.given_names, p.id"
)


def birthdays(clinic: Clinic, day: date) -> list[BirthdayRow]:
    """Living patients born on this month and day, with the age they turn. Patients
    who asked not to be contacted are listed too: this is for the desk to know."""
    rows = clinic.conn.execute(_BIRTHDAYS_SQL, _birthday_keys(day)).fetchall()
    region = clinic.settings.region
    found = []
    for r in rows:
        try:
            born = date.fromisoformat(r[4])
        except ValueError:
            continue  # an odd stored value is not a birthday the desk can trust
        turns = day.year - born.year
        if turns < 1:
            continue
        found.append(
            BirthdayRow(
                patient_id=r[0],
                patient_name=display_name(r[1], r[2], r[3]),
                birth_date=born,
                turns=turns,
                phone=phone_text(r[5], region),
            )
        )
    return found


def complete_call(
    clinic: Clinic, row: CallRow, outcome: str, note: str = "", *, confirmed: bool = False
) -> Changes:
    """Log a call from the list on the patient's timeline and close what asked for it.

    A follow-up task is done whatever the outcome (the note says what happened). A
    confirmation call leaves the list once logged; the visit becomes 'confirmed' only
    when the patient was reached and said yes (`confirmed`).
    """
    if outcome not in CALL_OUTCOMES:
        raise InvalidInputError("Choose how the call went.")
    if confirmed and outcome != "reached":
        raise InvalidInputError("A visit can only be confirmed by a call that reached someone.")
    if row.kind == TASK_KIND and row.task_id is not None:
        if get_task(clinic, row.task_id).done_at is not None:
            raise InvalidInputError("This call was already marked done, perhaps at another desk.")
        return complete_with_call(clinic, row.task_id, outcome, note)
    if row.kind == CONFIRM_KIND and row.appointment_id is not None:
        if confirmed and get_appointment(clinic, row.appointment_id).status in _CLOSED:
            # Checked before logging, so a refused save leaves nothing half-written.
            raise InvalidInputError(
                "This visit was cancelled or closed since the list was made. Nothing was saved."
            )
        logged = log_interaction(
            clinic,
            row.patient_id,
            "call",
            direction="out",
            outcome=outcome,
            subject=CONFIRM_SUBJECT,
            body=note,
            appointment_id=row.appointment_id,
        )
        changes = logged.changes
        if confirmed:
            changes |= set_status(clinic, row.appointment_id, "confirmed", "confirmed by phone")
        return changes
    raise InvalidInputError("This call cannot be marked done from here.")
