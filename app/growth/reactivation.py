"""Reactivation: the worklist of patients who have not been back, and how well each
reactivation campaign brings them back.

A patient is lapsed when they were seen (a fulfilled visit of the chosen kinds) but not for
`months`, and nothing is booked; the deceased, merged, do-not-contact and moved away are
left out (campaign_rules.lapsed_since, the campaign's own reading). A patient is reactivated by a
campaign when they book (an appointment created) within 60 days after the campaign first
reached them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from app.clinic import Clinic
from app.engagement.campaign_rules import lapsed_since
from app.errors import InvalidInputError
from app.patients.validation import display_phone
from app.reminders.planning_subjects import utc_range
from app.reminders.planning_times import local_day, parse_utc
from app.reminders.sender import CALL_LIST_REASON, CALL_TASK_NAMESPACE

REACTIVATED_WITHIN: Final = timedelta(days=60)
_MONTHS: Final = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)
_SENT_WORDS: Final = {"sms": "Texted", "email": "Emailed", "letter": "Letter sent"}


@dataclass(frozen=True)
class LapsedPatient:
    patient_id: str
    name: str
    phone: str
    last_visit: date
    last_kind: str
    months_away: int
    step: str  # "Not contacted yet", "Texted 3 Nov", "Call due", "Called 17 Nov", ...


@dataclass(frozen=True)
class ReactivationRate:
    rule_id: str
    name: str
    reached: int
    reactivated: int

    @property
    def rate(self) -> float | None:
        return self.reactivated / self.reached if self.reached else None


def _check(months: int) -> None:
    if isinstance(months, bool) or not 1 <= months <= 120:
        raise InvalidInputError("Choose 1 to 120 months without a visit.")


def _today(clinic: Clinic, today: date | None) -> tuple[date, ZoneInfo]:
    zone = ZoneInfo(clinic.settings.timezone)
    return today or datetime.now(zone).date(), zone


def _short(day: date) -> str:
    return f"{day.day} {_MONTHS[day.month - 1]}"


def _months_between(first: date, last: date) -> int:
    months = (last.year - first.year) * 12 + last.month - first.month
    return months - 1 if last.day < first.day else months


def lapsed_count(
    clinic: Clinic, *, months: int, visit_kinds: Sequence[str] = (), today: date | None = None
) -> int:
    _check(months)
    day, zone = _today(clinic, today)
    found = lapsed_since(clinic.conn, months=months, visit_kinds=visit_kinds, today=day, zone=zone)
    return len(found)


_DETAILS_SQL: Final = (
    "SELECT p.id, trim(p.given_names || ' ' || p.family_name), (SELECT c.value FROM "
    "contact_point c WHERE c.patient_id = p.id AND c.kind = 'phone' AND c.value != '' "
    "ORDER BY c.use != 'mobile', c.rank LIMIT 1) FROM patient p "
    "WHERE p.id IN (SELECT value FROM json_each(?))"
)
# The kind of each listed patient's last visit, only for the page's patients (lapsed_since
# reads the last visits whole, ~0.35 s instead of ~0.9 s at 100k, without their kind).
_LAST_KINDS_SQL: Final = (
    "SELECT json_extract(j.value, '$[0]'), (SELECT a.kind FROM appointment a "
    "WHERE a.patient_id = json_extract(j.value, '$[0]') AND a.status = 'fulfilled' "
    "AND a.start_at = json_extract(j.value, '$[1]') "
    "AND (? = '[]' OR a.kind IN (SELECT value FROM json_each(?))) LIMIT 1) FROM json_each(?) j"
)
_OUTREACH_SQL: Final = (
    "SELECT patient_id, channel, state, reason, sent_at, id, occurrence FROM outbox "
    "WHERE subject_kind = 'reactivation' AND patient_id IN (SELECT value FROM json_each(?)) "
    "ORDER BY patient_id, coalesce(sent_at, due_at)"
)


def lapsed_patients(
    clinic: Clinic,
    *,
    months: int,
    visit_kinds: Sequence[str] = (),
    today: date | None = None,
    limit: int = 500,
) -> list[LapsedPatient]:
    """The worklist: longest away first, with where each patient's outreach stands."""
    _check(months)
    if limit < 0:
        raise InvalidInputError("The number of patients to list must be 0 or more.")
    day, zone = _today(clinic, today)
    since_visit = lapsed_since(
        clinic.conn, months=months, visit_kinds=visit_kinds, today=day, zone=zone
    )
    found = list(since_visit.items())[:limit]
    ids = json.dumps([pid for pid, _ in found])
    kinds = json.dumps(list(visit_kinds))
    last_kinds = {
        str(r[0]): str(r[1] or "")
        for r in clinic.conn.execute(_LAST_KINDS_SQL, (kinds, kinds, json.dumps(found)))
    }
    details = {
        str(r[0]): (str(r[1] or ""), r[2]) for r in clinic.conn.execute(_DETAILS_SQL, (ids,))
    }
    since = {pid: local_day(parse_utc(last), zone).isoformat() for pid, last in found}
    steps = _steps(clinic, ids, since, zone)
    region = clinic.settings.region
    listed: list[LapsedPatient] = []
    for pid, last in found:
        name, phone = details.get(pid, ("", None))
        seen = local_day(parse_utc(last), zone)
        listed.append(
            LapsedPatient(
                patient_id=pid,
                name=name,
                phone=display_phone(str(phone), region) if phone else "",
                last_visit=seen,
                last_kind=last_kinds.get(pid, ""),
                months_away=_months_between(seen, day),
                step=steps.get(pid, "Not contacted yet"),
            )
        )
    return listed


def _steps(clinic: Clinic, ids: str, since: dict[str, str], zone: ZoneInfo) -> dict[str, str]:
    """Each patient's latest reactivation step in plain words (of the outreach since their
    last visit: an earlier campaign that brought them back is history)."""
    steps: dict[str, str] = {}
    rows = clinic.conn.execute(_OUTREACH_SQL, (ids,)).fetchall()
    for pid, channel, state, reason, sent_at, message_id, occurrence in rows:
        if str(occurrence) < since.get(str(pid), ""):
            continue
        if state in ("cancelled", "skipped", "failed"):
            continue
        if state in ("planned", "due"):
            steps.setdefault(str(pid), "Not contacted yet")
            continue
        if reason == CALL_LIST_REASON:
            steps[str(pid)] = _call_step(clinic, str(message_id), zone)
            continue
        if state == "to_print":
            steps[str(pid)] = "Letter waiting for print"
        elif sent_at:
            words = _SENT_WORDS.get(str(channel), "Sent")
            steps[str(pid)] = f"{words} {_short(local_day(parse_utc(str(sent_at)), zone))}"
    return steps


def _call_step(clinic: Clinic, message_id: str, zone: ZoneInfo) -> str:
    task_id = str(uuid.uuid5(CALL_TASK_NAMESPACE, message_id))
    row = clinic.conn.execute("SELECT done_at FROM task WHERE id = ?", (task_id,)).fetchone()
    if row is None or row[0] is None:
        return "Call due"
    return f"Called {_short(local_day(parse_utc(str(row[0])), zone))}"


# --- the rate by campaign ------------------------------------------------------------------------

# One statement: each (rule, patient)'s first sent message, kept when it falls in the range,
# and whether the patient booked within 60 days after it. The outbox is read patient by
# patient through its (patient_id, subject_kind, state) index (every message has its patient:
# the foreign key cascades): the `state` index alone would visit every sent message of every
# kind, about four times slower at 100k patients. Messages sent after the range cannot be a
# first one inside it, so they are left out before grouping.
_RATES_SQL: Final = """
WITH reached AS (
    SELECT o.rule_id, o.patient_id, min(o.sent_at) AS first_sent
    FROM patient p CROSS JOIN outbox o
        ON o.patient_id = p.id AND o.subject_kind = 'reactivation' AND o.state = 'sent'
    WHERE o.sent_at < :hi
    GROUP BY o.rule_id, o.patient_id
    HAVING first_sent >= :lo
)
SELECT r.rule_id, count(*), sum(EXISTS (
    SELECT 1 FROM appointment a
    WHERE a.patient_id = r.patient_id AND a.created_at > r.first_sent
        AND a.created_at <= strftime('%Y-%m-%dT%H:%M:%SZ', r.first_sent, :within)
))
FROM reached r
GROUP BY r.rule_id
"""


def reactivation_rates(clinic: Clinic, *, first: date, last: date) -> list[ReactivationRate]:
    """Per reactivation rule: the patients whose first sent message of that rule went out in
    [first, last] (local days of the clinic), and of them those who booked (an appointment
    created) within 60 days after that first message. Every reactivation rule is listed, with
    zeros when it reached nobody; a rule since deleted shows as "A deleted campaign"."""
    if last < first:
        raise InvalidInputError("The end of the period is before its start.")
    zone = ZoneInfo(clinic.settings.timezone)
    lo, hi = utc_range(first, last, zone)
    names = {
        str(r[0]): str(r[1])
        for r in clinic.conn.execute(
            "SELECT id, name FROM reminder_rule WHERE kind = 'reactivation'"
        )
    }
    counts = {rule: (0, 0) for rule in names}
    within = f"+{REACTIVATED_WITHIN.days} days"
    for rule_id, reached, back in clinic.conn.execute(
        _RATES_SQL, {"lo": lo, "hi": hi, "within": within}
    ):
        counts[str(rule_id)] = (int(reached), int(back))
    rates = [
        ReactivationRate(rule, names.get(rule, "A deleted campaign"), reached, back)
        for rule, (reached, back) in counts.items()
    ]
    return sorted(rates, key=lambda r: (r.name.casefold(), r.rule_id))
