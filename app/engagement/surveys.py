"""Satisfaction answers: recording one (from a text reply, the kiosk or the desk), listing them,
NPS by month, the visits the kiosk may take an answer for, and the clinic's review links.

An answer is kept with the provider and location of its visit as they were when it was given,
so NPS by provider stays right after a visit is edited or removed. A detractor's answer (0–6)
from a known patient puts a follow-up for the manager on Today's call list the same day: an
unhappy patient heard back from quickly is the most a survey can do. The answer, its task and
its note on the timeline are written in one transaction, so a crash never leaves an answer
without its follow-up; an answer read from a reply is stored once per reply (reply_id is
unique), so a repeated poll never records it twice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from typing import Any, Final
from zoneinfo import ZoneInfo

from app.clinic import Clinic, put_setting
from app.engagement import nps
from app.engagement.education import is_https_url
from app.errors import InvalidInputError
from app.patients.model import display_name
from app.patients.validation import mask_card_numbers
from app.reminders.planning_times import day_start
from app.store.changes import Changes, Created
from app.store.database import Connection
from app.store.writer import Tx, new_id, utc_now, utc_text

log = logging.getLogger(__name__)

CHANNELS: Final = ("sms", "email", "kiosk", "desk")
CHANNEL_LABELS: Final = {"sms": "Text", "email": "Email", "kiosk": "Kiosk", "desk": "Desk"}
MAX_COMMENT_CHARS: Final = 2000
TASK_COMMENT_CHARS: Final = 120
TIMELINE_SUBJECT_CHARS: Final = 200  # longer comments are kept whole in the note's body
REVIEW_LINKS_SETTING: Final = "engagement.review_links"
MAX_REVIEW_LINKS: Final = 5
MAX_LINK_NAME_CHARS: Final = 40
NO_GROUP: Final = "none"
"""group_id of the answers with no provider (or location) recorded, in nps_by_month."""
BY_CHOICES: Final = ("", "provider", "location")
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


@dataclass(frozen=True)
class SurveyAnswer:
    """One answer as the Surveys tab lists it (answered_at is UTC text)."""

    id: str
    patient_id: str | None
    appointment_id: str | None
    provider_id: str | None
    location_id: str | None
    score: int
    comment: str
    channel: str
    answered_at: str

    @property
    def category(self) -> str:
        """'promoter' (9–10), 'passive' (7–8) or 'detractor' (0–6)."""
        return nps.category(self.score)


@dataclass(frozen=True)
class NpsPoint:
    """The answers of one month (the clinic's local month) for one provider, location, or
    the whole clinic (group_id "")."""

    month: str  # "YYYY-MM"
    group_id: str  # "" = the whole clinic; NO_GROUP = none recorded
    group_name: str
    promoters: int
    passives: int
    detractors: int

    @property
    def answers(self) -> int:
        return self.promoters + self.passives + self.detractors

    @property
    def nps(self) -> float | None:
        """Percent promoters minus percent detractors (−100 to 100); None without answers."""
        if not self.answers:
            return None
        return float(Fraction(100 * (self.promoters - self.detractors), self.answers))


@dataclass(frozen=True)
class KioskVisit:
    """A visit of the day the desk can hand the kiosk to (the kiosk itself shows no names)."""

    appointment_id: str
    patient_id: str
    time_text: str  # "9:30", the clinic's local time
    patient_name: str
    provider_name: str


@dataclass(frozen=True)
class ReviewLink:
    """Where a happy patient can write a review: 'Google', 'https://g.page/r/…/review'."""

    name: str
    url: str


# --- recording ------------------------------------------------------------------------------


def _check_score(score: object) -> int:
    if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 10:
        raise InvalidInputError("A score is a whole number from 0 to 10.")
    return score


def _aware(at: datetime | None) -> datetime:
    if at is None:
        return datetime.now(UTC)
    if at.tzinfo is None:
        raise InvalidInputError("The time of the answer must carry its time zone.")
    return at.astimezone(UTC)


@dataclass(frozen=True)
class _Visit:
    id: str
    patient_id: str
    provider_id: str | None
    location_id: str | None
    start_at: str | None


def _visit(conn: Connection, appointment_id: str) -> _Visit:
    row = conn.execute(
        "SELECT id, patient_id, provider_id, location_id, start_at FROM appointment WHERE id = ?",
        (appointment_id,),
    ).fetchone()
    if row is None:
        raise InvalidInputError("That visit is no longer on file.")
    return _Visit(str(row[0]), str(row[1]), row[2], row[3], row[4])


def short_day(day: date, *, day_first: bool) -> str:
    """'3 Nov' or 'Nov 3', as the clinic writes dates."""
    month = _MONTHS[day.month - 1]
    return f"{day.day} {month}" if day_first else f"{month} {day.day}"


def _task_note(
    clinic: Clinic, score: int, comment: str, visit: _Visit | None, zone: ZoneInfo
) -> str:
    # Starts with "Follow up" so Today's call list shows it as written (no second lead).
    if visit is not None and visit.start_at:
        local = datetime.fromisoformat(visit.start_at.replace("Z", "+00:00")).astimezone(zone)
        when = f"after the visit of {short_day(local.date(), day_first=clinic.settings.day_first)}"
    else:
        when = "on the satisfaction survey"
    note = f"Follow up for the manager — scored {score} {when}"
    words = " ".join(comment.split())
    if words:
        cut = words if len(words) <= TASK_COMMENT_CHARS else words[: TASK_COMMENT_CHARS - 1] + "…"
        note += f": {cut}"
    return note


def record_answer(
    clinic: Clinic,
    *,
    score: int,
    comment: str = "",
    channel: str,
    patient_id: str | None = None,
    appointment_id: str | None = None,
    outbox_id: str | None = None,
    reply_id: str | None = None,
    location_id: str | None = None,
    at: datetime | None = None,
) -> Created:
    """Store one answer; a detractor's (with a patient) also gets a follow-up task for the
    manager due today, and a known patient's answer a note on their timeline.

    The visit's patient is the answer's when none is given (the desk chose the visit for
    the kiosk). `location_id` places an answer with no visit (an anonymous kiosk answer:
    the kiosk stands in one place); a visit's own location wins. An answer already read
    from `reply_id` is not stored again: its id comes back with no changes.
    """
    score = _check_score(score)
    if channel not in CHANNELS:
        raise InvalidInputError("Choose how the answer came: text, email, kiosk or desk.")
    text = mask_card_numbers(comment.strip())
    if len(text) > MAX_COMMENT_CHARS:
        raise InvalidInputError(f"Keep the comment under {MAX_COMMENT_CHARS:,} characters.")
    moment = _aware(at)
    conn = clinic.conn
    visit = _visit(conn, appointment_id) if appointment_id else None
    if visit is not None:
        if patient_id is None:
            patient_id = visit.patient_id
        elif patient_id != visit.patient_id:
            raise InvalidInputError("That visit belongs to another patient.")
    if patient_id is not None:
        found = conn.execute("SELECT 1 FROM patient WHERE id = ?", (patient_id,)).fetchone()
        if found is None:
            raise InvalidInputError("That patient is no longer on file.")
    zone = ZoneInfo(clinic.settings.timezone)
    answered_at = utc_text(moment)
    with clinic.store.write() as tx:
        if reply_id is not None:
            # Checked inside the transaction: two polls racing store the answer once.
            again = tx.conn.execute(
                "SELECT id FROM survey_response WHERE reply_id = ?", (reply_id,)
            ).fetchone()
            if again is not None:
                return Created(str(again[0]), Changes())
        answer_id = tx.insert(
            "survey_response",
            {
                "id": new_id(),
                "patient_id": patient_id,
                "appointment_id": visit.id if visit else None,
                "provider_id": visit.provider_id if visit else None,
                "location_id": visit.location_id if visit else location_id,
                "score": score,
                "comment": text,
                "channel": channel,
                "outbox_id": outbox_id,
                "reply_id": reply_id,
                "answered_at": answered_at,
                "created_at": utc_now(),
            },
        )
        if patient_id is not None:
            _note_on_timeline(tx, clinic, patient_id, score, text, visit, answered_at)
            if nps.category(score) == nps.DETRACTOR:
                tx.insert(
                    "task",
                    {
                        "patient_id": patient_id,
                        "kind": "follow-up",
                        "due_on": moment.astimezone(zone).date().isoformat(),
                        "note": _task_note(clinic, score, text, visit, zone),
                        "created_at": utc_now(),
                        "created_by": clinic.acting_user_id,
                        "interaction_id": None,
                        "done_at": None,
                        "done_by": "",
                    },
                )
    log.info("Survey answer %s recorded (%s, %s)", answer_id, channel, nps.category(score))
    return Created(answer_id, tx.changes)


def _note_on_timeline(
    tx: Tx,
    clinic: Clinic,
    patient_id: str,
    score: int,
    comment: str,
    visit: _Visit | None,
    answered_at: str,
) -> None:
    """The answer as a note on the patient's timeline (the interaction row log_interaction
    writes, here inside the answer's own transaction): the score, then the comment."""
    subject = f"Satisfaction survey: {score} out of 10 ({nps.category(score)})"
    words = " ".join(comment.split())
    if words:
        subject += f": {words}"
    if len(subject) > TIMELINE_SUBJECT_CHARS:
        subject = subject[: TIMELINE_SUBJECT_CHARS - 1] + "…"
    tx.insert(
        "interaction",
        {
            "patient_id": patient_id,
            "kind": "note",
            "direction": "in",
            "outcome": "",
            "subject": subject,
            "body": comment if len(subject) >= TIMELINE_SUBJECT_CHARS else "",
            "occurred_at": answered_at,
            "appointment_id": visit.id if visit else None,
            "recorded_by": clinic.acting_user_id,
        },
    )


# --- reading --------------------------------------------------------------------------------


def _utc_days(first: date | None, last: date | None, zone: ZoneInfo) -> tuple[str, str]:
    lo = utc_text(day_start(first, zone)) if first else ""
    hi = utc_text(day_start(last + timedelta(days=1), zone)) if last else "9999"
    return lo, hi


def answers(
    clinic: Clinic,
    *,
    first: date | None = None,
    last: date | None = None,
    provider_id: str | None = None,
    location_id: str | None = None,
    limit: int = 500,
) -> list[SurveyAnswer]:
    """Answers given on the clinic's local days first..last (either end open), newest first."""
    if first is not None and last is not None and last < first:
        raise InvalidInputError("The last day comes before the first; swap them.")
    lo, hi = _utc_days(first, last, ZoneInfo(clinic.settings.timezone))
    sql = (
        "SELECT id, patient_id, appointment_id, provider_id, location_id, score, comment, "
        "channel, answered_at FROM survey_response WHERE answered_at >= ? AND answered_at < ?"
    )
    params: list[Any] = [lo, hi]
    if provider_id is not None:
        sql += " AND provider_id = ?"
        params.append(provider_id)
    if location_id is not None:
        sql += " AND location_id = ?"
        params.append(location_id)
    sql += " ORDER BY answered_at DESC, id DESC LIMIT ?"
    params.append(max(0, limit))
    return [
        SurveyAnswer(
            id=str(r[0]),
            patient_id=r[1],
            appointment_id=r[2],
            provider_id=r[3],
            location_id=r[4],
            score=int(r[5]),
            comment=str(r[6]),
            channel=str(r[7]),
            answered_at=str(r[8]),
        )
        for r in clinic.conn.execute(sql, params).fetchall()
    ]


def _months(first: date, last: date, zone: ZoneInfo) -> list[dict[str, str]]:
    """Each local month touching first..last, as UTC bounds clipped to those days."""
    lo, hi = _utc_days(first, last, zone)
    months = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        after = (year + 1, 1) if month == 12 else (year, month + 1)
        start = utc_text(day_start(date(year, month, 1), zone))
        end = utc_text(day_start(date(after[0], after[1], 1), zone))
        months.append({"key": f"{year:04d}-{month:02d}", "lo": max(lo, start), "hi": min(hi, end)})
        year, month = after
    return months


# The group column comes from this fixed list, never from text.
_GROUP_COLUMNS: Final = {"": "''", "provider": "r.provider_id", "location": "r.location_id"}


def nps_by_month(clinic: Clinic, *, first: date, last: date, by: str = "") -> list[NpsPoint]:
    """Promoters, passives and detractors per local month of first..last, for the whole
    clinic (by="") or per provider or location. Months and groups without answers are
    left out; answers with no provider (location) recorded form the group NO_GROUP."""
    if by not in BY_CHOICES:
        raise InvalidInputError("Group the NPS by provider, by location, or not at all.")
    if last < first:
        raise InvalidInputError("The last day comes before the first; swap them.")
    zone = ZoneInfo(clinic.settings.timezone)
    months = json.dumps(_months(first, last, zone))
    group = _GROUP_COLUMNS[by]
    sql = (
        f"SELECT m.key, {group}, sum(r.score >= 9), sum(r.score BETWEEN 7 AND 8), "  # noqa: S608
        "sum(r.score <= 6) FROM (SELECT json_extract(value, '$.key') AS key, "
        "json_extract(value, '$.lo') AS lo, json_extract(value, '$.hi') AS hi "
        "FROM json_each(?)) m JOIN survey_response r "
        "ON r.answered_at >= m.lo AND r.answered_at < m.hi GROUP BY 1, 2"
    )
    rows = clinic.conn.execute(sql, (months,)).fetchall()
    names = _group_names(clinic, by)
    points = []
    for key, group, promoters, passives, detractors in rows:
        group_id = "" if not by else (str(group) if group is not None else NO_GROUP)
        points.append(
            NpsPoint(
                month=str(key),
                group_id=group_id,
                group_name=names.get(group_id, _unknown_name(by, group_id)),
                promoters=int(promoters),
                passives=int(passives),
                detractors=int(detractors),
            )
        )
    return sorted(points, key=lambda p: (p.month, p.group_name.casefold(), p.group_id))


def _unknown_name(by: str, group_id: str) -> str:
    if group_id == NO_GROUP:
        return "No provider recorded" if by == "provider" else "No location recorded"
    return "(removed)"


def _provider_label(title: str | None, given: str | None, family: str | None) -> str:
    title, given, family = (str(v or "").strip() for v in (title, given, family))
    parts = (title, family) if title else (given, family)
    return " ".join(p for p in parts if p) or "(no name)"


def _group_names(clinic: Clinic, by: str) -> dict[str, str]:
    if by == "":
        return {"": clinic.settings.name or "Whole clinic"}
    if by == "provider":
        rows = clinic.conn.execute("SELECT id, title, given_names, family_name FROM provider")
        return {str(r[0]): _provider_label(r[1], r[2], r[3]) for r in rows}
    rows = clinic.conn.execute("SELECT id, name FROM location")
    return {str(r[0]): str(r[1] or "").strip() or "(no name)" for r in rows}


def visits_for_kiosk(clinic: Clinic, day: date) -> list[KioskVisit]:
    """The day's visits that took place (arrived or seen) and have no answer yet, in time
    order: the desk picks one, and the kiosk's answer is kept for that visit."""
    zone = ZoneInfo(clinic.settings.timezone)
    lo, hi = _utc_days(day, day, zone)
    rows = clinic.conn.execute(
        "SELECT a.id, a.patient_id, a.start_at, p.family_name, p.given_names, p.preferred_name, "
        "v.title, v.given_names, v.family_name FROM appointment a "
        "JOIN patient p ON p.id = a.patient_id LEFT JOIN provider v ON v.id = a.provider_id "
        "WHERE a.status IN ('arrived', 'fulfilled') AND a.start_at >= ? AND a.start_at < ? "
        "AND NOT EXISTS (SELECT 1 FROM survey_response r WHERE r.patient_id = a.patient_id "
        "AND r.appointment_id = a.id) "
        "ORDER BY a.start_at, a.id",
        (lo, hi),
    ).fetchall()
    visits = []
    for r in rows:
        local = datetime.fromisoformat(str(r[2]).replace("Z", "+00:00")).astimezone(zone)
        visits.append(
            KioskVisit(
                appointment_id=str(r[0]),
                patient_id=str(r[1]),
                time_text=f"{local.hour}:{local.minute:02d}",
                patient_name=display_name(r[3] or "", r[4] or "", r[5] or ""),
                provider_name=""
                if r[8] is None and r[6] is None
                else _provider_label(r[6], r[7], r[8]),
            )
        )
    return visits


# --- review links -----------------------------------------------------------------------------


def read_review_links(conn: Connection) -> list[ReviewLink]:
    """The links as stored (for the planner, which has a connection, not a clinic)."""
    row = conn.execute("SELECT value FROM setting WHERE id = ?", (REVIEW_LINKS_SETTING,)).fetchone()
    if row is None:
        return []
    try:
        values = json.loads(row[0])
    except ValueError:
        log.warning("The review links setting cannot be read; treated as none")
        return []
    links = []
    for value in values if isinstance(values, list) else []:
        if isinstance(value, dict):
            name, url = str(value.get("name", "")).strip(), str(value.get("url", "")).strip()
            if name and is_https_url(url):
                links.append(ReviewLink(name, url))
    return links


def review_links(clinic: Clinic) -> list[ReviewLink]:
    """Where promoters are asked to write a review, in the clinic's order."""
    return read_review_links(clinic.conn)


def check_review_links(links: Sequence[ReviewLink]) -> list[ReviewLink]:
    """The links tidied (spaces trimmed), or InvalidInputError with the plain reason."""
    if len(links) > MAX_REVIEW_LINKS:
        raise InvalidInputError(f"Keep to {MAX_REVIEW_LINKS} review links at most.")
    tidy: list[ReviewLink] = []
    seen: set[str] = set()
    for number, link in enumerate(links, start=1):
        name, url = " ".join(link.name.split()), link.url.strip()
        if not name:
            raise InvalidInputError(f"Review link {number}: give it a name, such as Google.")
        if len(name) > MAX_LINK_NAME_CHARS:
            raise InvalidInputError(
                f"Review link {number}: keep the name under {MAX_LINK_NAME_CHARS} characters."
            )
        if name.casefold() in seen:
            raise InvalidInputError(f"Review link {number}: another link is already called {name}.")
        if not is_https_url(url):
            raise InvalidInputError(
                f"Review link {number}: the address must be a full web address starting "
                "with https://."
            )
        seen.add(name.casefold())
        tidy.append(ReviewLink(name, url))
    return tidy


def save_review_links(clinic: Clinic, links: Sequence[ReviewLink]) -> Changes:
    """Store the clinic's review links (an empty list: no review requests are planned)."""
    tidy = check_review_links(links)
    encoded = json.dumps([{"name": x.name, "url": x.url} for x in tidy], ensure_ascii=False)
    with clinic.store.write() as tx:
        put_setting(tx, REVIEW_LINKS_SETTING, encoded)
    return tx.changes
