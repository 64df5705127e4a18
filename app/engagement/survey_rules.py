"""Satisfaction surveys after a fulfilled visit, and review requests to promoters: what
each wants planned, how its open messages are judged, and what holds at send time.

The planner and the send-time checks of app/reminders call into this module for its kinds
(rules.ENGAGEMENT_KINDS), through WANTERS, JUDGES and the three functions below.

- survey: the anchor is the local day of a visit marked as seen (fulfilled); subject_id is
  that visit. Only patients with such a real visit are asked, and at most once in
  `every_months`: not when they answered a survey (any channel, the kiosk included) or were
  sent or are about to be sent another survey since `every_months` before the visit.
- review: the anchor is the local day a promoter (9–10) of a known patient answered;
  subject_id is that answer. Nothing is planned while the clinic has no review links in
  Settings, nor for a patient asked for a review in the last `every_months`.

"Since N months before" is one SQL expression on the visit's (answer's) UTC time, used by
the planning query, the judge and the send-time check alike, so the three never disagree.
Every read is one statement for a whole rule and span (or a whole batch of messages), never
one per patient: the planner runs every few minutes on clinics of 100,000 patients.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from app.clinic import Clinic
from app.engagement.surveys import read_review_links
from app.errors import InvalidInputError, RecordNotFoundError
from app.growth import segments
from app.patients.model import Patient
from app.reminders.outbox import Message
from app.reminders.planning_base import OpenMessage, Span, Verdict, Wanted
from app.reminders.planning_subjects import REACHABLE, Visit, utc_range, visit_facts
from app.reminders.planning_times import local_day, parse_utc
from app.reminders.rules import Rule, Touch
from app.reminders.settings import DEFAULT_CONSENT, SETTING
from app.reminders.subject_facts import Facts, Gone
from app.scheduling.appointments import get as get_appointment
from app.store.database import Connection

log = logging.getLogger(__name__)

KINDS: Final = ("survey", "review")

Wanter = Callable[[Connection, Rule, Span], Iterable[Wanted]]
Judge = Callable[[Connection, Rule, Sequence[OpenMessage], Span], dict[str, Verdict]]

# Why a message was cancelled or skipped, as the Messages page shows it. The first three
# are the planner's own words (planner.py), so a passing change plans the survey again.
VISIT_REMOVED: Final = "The visit was removed"
VISIT_MOVED: Final = "The visit was moved to another day"
NOT_COVERED: Final = "The rule no longer covers this visit"
NOT_SEEN: Final = "The visit is no longer marked as seen"
ANSWERED: Final = "The patient has answered a survey since"
SURVEYED: Final = "The patient was sent another survey recently"
ANSWER_REMOVED: Final = "The survey answer was removed"
NOT_PROMOTER: Final = "The survey answer was changed and is no longer 9 or 10"
ANSWER_MOVED: Final = "The survey answer was changed"
NO_LINKS: Final = "The clinic has no review links in Settings"
REVIEWED: Final = "The patient was sent another review request recently"
NO_SEGMENT: Final = "The rule's segment was removed"
NOT_IN_SEGMENT: Final = "The patient is no longer in the rule's segment"

# Rows that count as "got (or is about to get) one": a cancelled or skipped one does not.
_TAKEN: Final = "('planned', 'due', 'sending', 'sent')"
_GONE_OUT: Final = "('sending', 'sent')"


def _since(column: str) -> str:
    """N months before `column` (UTC text), as UTC text comparable with stored times."""
    return f"strftime('%Y-%m-%dT%H:%M:%SZ', {column}, :back)"


def _back(rule: Rule) -> str:
    return f"-{max(0, rule.every_months)} months"


def _list(values: Sequence[str]) -> str:
    return json.dumps(list(values))


# --- the words a survey and a review request carry -----------------------------------------

_SURVEY_WORDS: Final[Mapping[str, Mapping[str, str]]] = {
    "en": {
        "survey_question": "How likely are you to recommend us to a friend or family member?",
        "reply_instructions": "Reply with a number from 0 to 10. A comment is welcome too.",
    },
    "es": {
        "survey_question": "¿Qué tan probable es que nos recomiende?",
        "reply_instructions": "Responda con un número del 0 al 10.",
    },
}


def _settings_values(conn: Connection) -> dict[str, Any]:
    row = conn.execute("SELECT value FROM setting WHERE id = ?", (SETTING,)).fetchone()
    if row is None:
        return {}
    values = json.loads(row[0])
    return values if isinstance(values, dict) else {}


def _base(language: str) -> str:
    return segments.base_language(language)


def words_language(conn: Connection, patient_language: str) -> str:
    """The language of the survey's words: the patient's, else the clinic's (the order the
    sender picks templates in), else English."""
    clinic_language = str(_settings_values(conn).get("language") or "en")
    for code in (patient_language, clinic_language):
        if code.strip() and _base(code) in _SURVEY_WORDS:
            return _base(code)
    return "en"


def survey_words(language: str) -> dict[str, str]:
    """survey_question and reply_instructions in `language` (English when not written)."""
    return dict(_SURVEY_WORDS.get(_base(language), _SURVEY_WORDS["en"]))


def _patient_language(conn: Connection, patient_id: str) -> str:
    row = conn.execute("SELECT language FROM patient WHERE id = ?", (patient_id,)).fetchone()
    return str(row[0] or "") if row else ""


def review_values(conn: Connection) -> dict[str, str]:
    """review_links ("Google: https://…", one a line) and review_link_first; none without
    links."""
    links = read_review_links(conn)
    if not links:
        return {}
    return {
        "review_links": "\n".join(f"{link.name}: {link.url}" for link in links),
        "review_link_first": links[0].url,
    }


# --- segments --------------------------------------------------------------------------------


def _in_segment(
    conn: Connection, rule: Rule, patient_ids: Sequence[str], zone: ZoneInfo, today: date
) -> set[str] | None:
    """Those of the patients in the rule's segment; None when the rule has no segment. A
    segment removed (or unreadable) holds nobody: better no survey than one to everybody."""
    if not rule.segment_id:
        return None
    row = conn.execute("SELECT definition FROM segment WHERE id = ?", (rule.segment_id,)).fetchone()
    if row is None or not patient_ids:
        return set()
    settings = _settings_values(conn)
    consent = settings.get("consent")
    policy = segments.ClinicPolicy(
        timezone=zone.key,
        consent={**DEFAULT_CONSENT, **(consent if isinstance(consent, dict) else {})},
        default_language=_base(str(settings.get("language") or "en")) or "en",
    )
    try:
        sql, params = segments.compile_terms(
            segments.from_json(str(row[0])), today=today, policy=policy
        )
    except InvalidInputError as exc:
        log.warning("Segment %s of rule %s cannot be read: %s", rule.segment_id, rule.id, exc)
        return set()
    # The candidates are few: the segment's terms are tested on them alone.
    sql += " AND p.id IN (SELECT value FROM json_each(?))"
    rows = conn.execute(sql, [*params, _list(patient_ids)]).fetchall()
    return {str(r[0]) for r in rows}


def _segment_gone(
    clinic: Clinic, rule: Rule, patient_id: str, now: datetime, zone: ZoneInfo
) -> str:
    if not rule.segment_id:
        return ""
    exists = clinic.conn.execute(
        "SELECT 1 FROM segment WHERE id = ?", (rule.segment_id,)
    ).fetchone()
    if exists is None:
        return NO_SEGMENT
    members = _in_segment(clinic.conn, rule, [patient_id], zone, local_day(now, zone))
    return "" if members is None or patient_id in members else NOT_IN_SEGMENT


# --- surveys ----------------------------------------------------------------------------------

_KIND_FILTER: Final = " AND a.kind IN (SELECT value FROM json_each(:kinds))"
_PROVIDER_FILTER: Final = " AND a.provider_id IN (SELECT value FROM json_each(:providers))"
_LOCATION_FILTER: Final = " AND a.location_id IN (SELECT value FROM json_each(:locations))"

# Answered (any channel) since N months before the visit, the visit's own answer included.
_ANSWERED: Final = (
    "EXISTS (SELECT 1 FROM survey_response r WHERE r.patient_id = a.patient_id "  # noqa: S608
    f"AND r.answered_at >= {_since('a.start_at')})"
)
# Another survey sent or on its way since N months before the visit (the visit's own
# touches are the rule's follow-ups, not another survey).
_OTHER_SURVEY: Final = (
    "EXISTS (SELECT 1 FROM outbox o WHERE o.patient_id = a.patient_id "  # noqa: S608
    f"AND o.subject_kind = 'survey' AND o.state IN {_TAKEN} AND o.subject_id != a.id "
    f"AND o.due_at >= {_since('a.start_at')})"
)
# Seen visits in [lo, hi) (appointment_status_start), of patients who may be contacted.
_SURVEY_SQL: Final = (
    "SELECT a.id, a.patient_id, a.start_at FROM appointment a "  # noqa: S608 - constants
    "JOIN patient p ON p.id = a.patient_id "
    "WHERE a.status = 'fulfilled' AND a.start_at >= :lo AND a.start_at < :hi AND "
    + REACHABLE
    + "{filters} AND NOT "
    + _ANSWERED
    + " AND NOT "
    + _OTHER_SURVEY
    + " ORDER BY a.patient_id, a.start_at, a.id"
)


def _survey_sql(rule: Rule) -> str:
    filters = ""
    if rule.appointment_kinds:
        filters += _KIND_FILTER
    if rule.provider_ids:
        filters += _PROVIDER_FILTER
    if rule.location_ids:
        filters += _LOCATION_FILTER
    return _SURVEY_SQL.format(filters=filters)


def _want_surveys(conn: Connection, rule: Rule, span: Span) -> Iterable[Wanted]:
    for touch in range(len(rule.touches)):
        first, last = span.anchors(rule, touch)
        lo, hi = utc_range(first, last, span.zone)
        params = {
            "lo": lo,
            "hi": hi,
            "back": _back(rule),
            "kinds": _list(rule.appointment_kinds),
            "providers": _list(rule.provider_ids),
            "locations": _list(rule.location_ids),
        }
        rows = conn.execute(_survey_sql(rule), params).fetchall()
        # One survey per patient: two visits in one span ask about the first.
        first_visits: dict[str, tuple[str, str]] = {}
        for visit_id, patient_id, start_at in rows:
            first_visits.setdefault(str(patient_id), (str(visit_id), str(start_at)))
        members = _in_segment(
            conn, rule, sorted(first_visits), span.zone, local_day(span.now, span.zone)
        )
        for patient_id, (visit_id, start_at) in first_visits.items():
            if members is not None and patient_id not in members:
                continue
            day = local_day(parse_utc(start_at), span.zone)
            due, stale = span.timing(rule, touch, day)
            yield Wanted(touch, patient_id, visit_id, day.isoformat(), due, stale)


_ANSWERED_VISITS_SQL: Final = (
    "SELECT a.id FROM appointment a WHERE a.id IN (SELECT value FROM json_each(:ids)) "  # noqa: S608
    "AND a.start_at IS NOT NULL AND " + _ANSWERED
)


def _answered_visits(conn: Connection, rule: Rule, visit_ids: Sequence[str]) -> set[str]:
    """Which of these visits' patients answered a survey since N months before the visit."""
    rows = conn.execute(
        _ANSWERED_VISITS_SQL, {"ids": _list(visit_ids), "back": _back(rule)}
    ).fetchall()
    return {str(r[0]) for r in rows}


def _survey_problem(
    rule: Rule, visit: Visit | None, occurrence: str, answered: bool, zone: ZoneInfo
) -> str:
    """Why a survey about this visit no longer holds ('' = it holds)."""
    if visit is None or visit.start_at is None:
        return VISIT_REMOVED
    if visit.status != "fulfilled":
        return NOT_SEEN
    if local_day(parse_utc(visit.start_at), zone).isoformat() != occurrence[:10]:
        return VISIT_MOVED
    if not visit.matches(rule):
        return NOT_COVERED
    if answered:
        return ANSWERED
    return ""


def _judge_surveys(
    conn: Connection, rule: Rule, messages: Sequence[OpenMessage], span: Span
) -> dict[str, Verdict]:
    ids = sorted({m.subject_id for m in messages})
    visits = visit_facts(conn, ids)
    answered = _answered_visits(conn, rule, ids)
    verdicts: dict[str, Verdict] = {}
    for m in messages:
        visit = visits.get(m.subject_id)
        problem = _survey_problem(rule, visit, m.occurrence, m.subject_id in answered, span.zone)
        if problem:
            verdicts[m.id] = problem
        else:
            verdicts[m.id] = span.timing(rule, m.touch, date.fromisoformat(m.occurrence[:10]))
    return verdicts


def _other_gone_out(
    conn: Connection, rule: Rule, message: Message, subject_kind: str, since_of: str
) -> bool:
    """Whether another message of this kind went to the patient since N months before
    `since_of` (UTC text): at send time, only what really went (or is going) counts."""
    row = conn.execute(
        "SELECT 1 FROM outbox o WHERE o.patient_id = :patient AND o.subject_kind = :kind "  # noqa: S608
        f"AND o.state IN {_GONE_OUT} AND o.subject_id != :subject AND o.id != :id "
        f"AND o.due_at >= {_since(':at')} LIMIT 1",
        {
            "patient": message.patient_id,
            "kind": subject_kind,
            "subject": message.subject_id,
            "id": message.id,
            "at": since_of,
            "back": _back(rule),
        },
    ).fetchone()
    return row is not None


def _survey_holds(
    clinic: Clinic, rule: Rule, message: Message, patient: Patient, now: datetime, zone: ZoneInfo
) -> Facts | Gone:
    conn = clinic.conn
    visit = visit_facts(conn, [message.subject_id]).get(message.subject_id)
    answered = bool(_answered_visits(conn, rule, [message.subject_id]))
    problem = _survey_problem(rule, visit, message.occurrence, answered, zone)
    if problem:
        return Gone(problem)
    assert visit is not None and visit.start_at is not None  # checked above
    if _other_gone_out(conn, rule, message, "survey", visit.start_at):
        return Gone(SURVEYED)
    gone = _segment_gone(clinic, rule, patient.id, now, zone)
    if gone:
        return Gone(gone)
    return _survey_facts(clinic, message.subject_id, patient.language)


def _survey_facts(clinic: Clinic, visit_id: str, patient_language: str) -> Facts:
    words = survey_words(words_language(clinic.conn, patient_language))
    visit = None
    if visit_id:
        try:
            visit = get_appointment(clinic, visit_id)
        except RecordNotFoundError:
            visit = None
    return Facts(visit=visit, extra=words)


# --- review requests ----------------------------------------------------------------------------

_OTHER_REVIEW: Final = (
    "EXISTS (SELECT 1 FROM outbox o WHERE o.patient_id = r.patient_id "  # noqa: S608
    f"AND o.subject_kind = 'review' AND o.state IN {_TAKEN} AND o.subject_id != r.id "
    f"AND o.due_at >= {_since('r.answered_at')})"
)
# Promoters' answers in [lo, hi) (survey_response_answered), of patients who may be contacted.
_REVIEW_SQL: Final = (
    "SELECT r.id, r.patient_id, r.answered_at FROM survey_response r "  # noqa: S608
    "JOIN patient p ON p.id = r.patient_id "
    "WHERE r.score >= 9 AND r.answered_at >= :lo AND r.answered_at < :hi AND "
    + REACHABLE
    + " AND NOT "
    + _OTHER_REVIEW
    + " ORDER BY r.patient_id, r.answered_at, r.id"
)


def _want_reviews(conn: Connection, rule: Rule, span: Span) -> Iterable[Wanted]:
    if not read_review_links(conn):
        return
    for touch in range(len(rule.touches)):
        first, last = span.anchors(rule, touch)
        lo, hi = utc_range(first, last, span.zone)
        rows = conn.execute(_REVIEW_SQL, {"lo": lo, "hi": hi, "back": _back(rule)}).fetchall()
        first_answers: dict[str, tuple[str, str]] = {}
        for answer_id, patient_id, answered_at in rows:
            first_answers.setdefault(str(patient_id), (str(answer_id), str(answered_at)))
        members = _in_segment(
            conn, rule, sorted(first_answers), span.zone, local_day(span.now, span.zone)
        )
        for patient_id, (answer_id, answered_at) in first_answers.items():
            if members is not None and patient_id not in members:
                continue
            day = local_day(parse_utc(answered_at), span.zone)
            due, stale = span.timing(rule, touch, day)
            yield Wanted(touch, patient_id, answer_id, day.isoformat(), due, stale)


def _answers(conn: Connection, ids: Sequence[str]) -> dict[str, tuple[str | None, int, str]]:
    rows = conn.execute(
        "SELECT id, patient_id, score, answered_at FROM survey_response "
        "WHERE id IN (SELECT value FROM json_each(?))",
        (_list(ids),),
    ).fetchall()
    return {str(r[0]): (r[1], int(r[2]), str(r[3])) for r in rows}


def _review_problem(
    answer: tuple[str | None, int, str] | None, patient_id: str, occurrence: str, zone: ZoneInfo
) -> str:
    if answer is None:
        return ANSWER_REMOVED
    who, score, answered_at = answer
    if score < 9:
        return NOT_PROMOTER
    if who != patient_id or local_day(parse_utc(answered_at), zone).isoformat() != occurrence[:10]:
        return ANSWER_MOVED
    return ""


def _judge_reviews(
    conn: Connection, rule: Rule, messages: Sequence[OpenMessage], span: Span
) -> dict[str, Verdict]:
    if not read_review_links(conn):
        return {m.id: NO_LINKS for m in messages}
    found = _answers(conn, sorted({m.subject_id for m in messages}))
    verdicts: dict[str, Verdict] = {}
    for m in messages:
        problem = _review_problem(found.get(m.subject_id), m.patient_id, m.occurrence, span.zone)
        if problem:
            verdicts[m.id] = problem
        else:
            verdicts[m.id] = span.timing(rule, m.touch, date.fromisoformat(m.occurrence[:10]))
    return verdicts


def _review_holds(
    clinic: Clinic, rule: Rule, message: Message, patient: Patient, now: datetime, zone: ZoneInfo
) -> Facts | Gone:
    conn = clinic.conn
    values = review_values(conn)
    if not values:
        return Gone(NO_LINKS)
    answer = _answers(conn, [message.subject_id]).get(message.subject_id)
    problem = _review_problem(answer, patient.id, message.occurrence, zone)
    if problem:
        return Gone(problem)
    assert answer is not None  # checked above
    if _other_gone_out(conn, rule, message, "review", answer[2]):
        return Gone(REVIEWED)
    gone = _segment_gone(clinic, rule, patient.id, now, zone)
    if gone:
        return Gone(gone)
    return Facts(extra=values)


# --- what the planner and the sender call --------------------------------------------------

WANTERS: Final[dict[str, Wanter]] = {"survey": _want_surveys, "review": _want_reviews}
JUDGES: Final[dict[str, Judge]] = {"survey": _judge_surveys, "review": _judge_reviews}


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
    if rule.kind == "survey":
        return _survey_holds(clinic, rule, message, patient, now, zone)
    if rule.kind == "review":
        return _review_holds(clinic, rule, message, patient, now, zone)
    return Gone("This kind of message is not one Frontdesk knows")


def facts_for(
    clinic: Clinic, rule: Rule, patient_id: str, subject_id: str, occurrence: str
) -> Facts:
    """The values a message about this visit (survey) or answer (review) shows, unchecked."""
    if rule.kind == "survey":
        language = _patient_language(clinic.conn, patient_id)
        exists = visit_facts(clinic.conn, [subject_id]) if subject_id else {}
        return _survey_facts(clinic, subject_id if subject_id in exists else "", language)
    if rule.kind == "review":
        return Facts(extra=review_values(clinic.conn))
    return Facts()


def upcoming_facts(clinic: Clinic, rule: Rule, patient_id: str, *, now: datetime) -> Facts:
    """For the preview: a survey about the patient's last visit seen; a review request."""
    if rule.kind == "survey":
        row = clinic.conn.execute(
            "SELECT id FROM appointment WHERE patient_id = ? AND status = 'fulfilled' "
            "AND start_at IS NOT NULL ORDER BY start_at DESC LIMIT 1",
            (patient_id,),
        ).fetchone()
        language = _patient_language(clinic.conn, patient_id)
        return _survey_facts(clinic, str(row[0]) if row else "", language)
    if rule.kind == "review":
        return Facts(extra=review_values(clinic.conn))
    return Facts()
