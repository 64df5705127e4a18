"""Satisfaction answers on a real clinic: recording (with the manager's follow-up for a
detractor), listing, NPS by month against independent SQL counts, the kiosk's visits and
the clinic's review links."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.clinic import Clinic
from app.directory import add_location, add_provider
from app.engagement import surveys
from app.engagement.surveys import NpsPoint, ReviewLink, SurveyAnswer, record_answer
from app.errors import InvalidInputError
from app.patients.model import PatientDraft
from app.patients.records import create_patient
from app.patients.timeline import timeline
from app.scheduling.appointments import book, set_status
from app.store.writer import utc_text
from app.today import call_list

CHICAGO = ZoneInfo("America/Chicago")
DAY = date(2027, 1, 20)


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute)).replace(tzinfo=CHICAGO)


def _patient(clinic: Clinic, family: str = "Okafor", given: str = "Ada") -> str:
    return create_patient(clinic, PatientDraft(family_name=family, given_names=given)).id


def _visit(
    clinic: Clinic,
    pid: str,
    *,
    day: date = DAY,
    hour: int = 9,
    minute: int = 30,
    status: str = "fulfilled",
    provider_id: str | None = None,
    location_id: str | None = None,
) -> str:
    start = _at(day, hour, minute)
    visit = book(
        clinic,
        pid,
        start,
        start + timedelta(minutes=20),
        provider_id=provider_id,
        location_id=location_id,
    ).id
    if status != "booked":
        set_status(clinic, visit, status)
    return visit


# --- recording -----------------------------------------------------------------------------


def test_a_detractor_puts_a_follow_up_for_the_manager_on_todays_call_list(
    clinic: Clinic,
) -> None:
    ada = _patient(clinic)
    visit = _visit(clinic, ada)
    comment = "The wait was far too long and nobody told us why. " * 4

    record_answer(
        clinic, score=4, comment=comment, channel="sms", appointment_id=visit, at=_at(DAY, 19)
    )

    [call] = [c for c in call_list(clinic, DAY) if c.task_id is not None]
    assert call.patient_id == ada and call.due_text == "Today"
    assert call.reason.startswith(
        "Follow up for the manager — scored 4 after the visit of Jan 20: The wait was far too"
    )
    assert call.reason.endswith("…") and len(call.reason) < 200
    kind, due_on = clinic.conn.execute(
        "SELECT kind, due_on FROM task WHERE patient_id = ?", (ada,)
    ).fetchone()
    assert (kind, due_on) == ("follow-up", "2027-01-20")


def test_the_follow_up_note_follows_a_day_first_clinic(clinic: Clinic) -> None:
    clinic.update_settings(day_first=True)
    ada = _patient(clinic)
    visit = _visit(clinic, ada, day=date(2026, 11, 3))

    record_answer(clinic, score=0, channel="desk", appointment_id=visit, at=_at(DAY, 9))

    [note] = [r[0] for r in clinic.conn.execute("SELECT note FROM task")]
    assert note == "Follow up for the manager — scored 0 after the visit of 3 Nov"


@pytest.mark.parametrize("score", [7, 8, 9, 10])
def test_passives_and_promoters_make_no_task(clinic: Clinic, score: int) -> None:
    ada = _patient(clinic)
    record_answer(clinic, score=score, channel="desk", patient_id=ada, at=_at(DAY, 9))
    assert clinic.conn.execute("SELECT count(*) FROM task").fetchone()[0] == 0


def test_an_anonymous_kiosk_detractor_is_counted_without_a_task(clinic: Clinic) -> None:
    created = record_answer(clinic, score=2, channel="kiosk", at=_at(DAY, 9))
    assert clinic.conn.execute("SELECT count(*) FROM task").fetchone()[0] == 0
    [answer] = surveys.answers(clinic)
    assert (answer.id, answer.patient_id, answer.category) == (created.id, None, "detractor")


def test_the_answer_keeps_its_visits_provider_and_location_and_shows_on_the_timeline(
    clinic: Clinic,
) -> None:
    provider = add_provider(clinic, "Rivera", "Maria", title="Dr.").id
    location = add_location(clinic, "Main Street office").id
    ada = _patient(clinic)
    visit = _visit(clinic, ada, provider_id=provider, location_id=location)

    created = record_answer(
        clinic, score=9, comment=" Lovely nurse ", channel="kiosk", appointment_id=visit
    )

    [answer] = surveys.answers(clinic)
    assert answer == SurveyAnswer(
        id=created.id,
        patient_id=ada,
        appointment_id=visit,
        provider_id=provider,
        location_id=location,
        score=9,
        comment="Lovely nurse",
        channel="kiosk",
        answered_at=answer.answered_at,
    )
    assert answer.category == "promoter"
    notes = [e for e in timeline(clinic, ada) if e.kind == "note"]
    assert [n.detail for n in notes] == [
        "Satisfaction survey: 9 out of 10 (promoter): Lovely nurse"
    ]
    assert created.changes.touches("survey_response", "interaction")


def test_an_answer_read_from_a_reply_is_stored_once(clinic: Clinic) -> None:
    ada = _patient(clinic)
    first = record_answer(clinic, score=3, channel="sms", patient_id=ada, reply_id="reply-1")
    again = record_answer(clinic, score=3, channel="sms", patient_id=ada, reply_id="reply-1")

    assert again.id == first.id and not again.changes
    assert clinic.conn.execute("SELECT count(*) FROM survey_response").fetchone()[0] == 1
    assert clinic.conn.execute("SELECT count(*) FROM task").fetchone()[0] == 1


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"score": 11}, "whole number from 0 to 10"),
        ({"score": -1}, "whole number from 0 to 10"),
        ({"score": True}, "whole number from 0 to 10"),
        ({"score": 7.5}, "whole number from 0 to 10"),
        ({"channel": "fax"}, "text, email, kiosk or desk"),
        ({"comment": "x" * 2001}, "under 2,000 characters"),
        ({"appointment_id": "no-such-visit"}, "visit is no longer on file"),
        ({"patient_id": "no-such-patient"}, "patient is no longer on file"),
        ({"at": datetime(2027, 1, 20, 9, 0)}, "time zone"),
    ],
)
def test_bad_answers_are_refused_in_plain_words(
    clinic: Clinic, changes: dict[str, object], words: str
) -> None:
    values: dict[str, object] = {"score": 8, "channel": "desk", **changes}
    with pytest.raises(InvalidInputError, match=words):
        record_answer(clinic, **values)  # type: ignore[arg-type]
    assert clinic.conn.execute("SELECT count(*) FROM survey_response").fetchone()[0] == 0


def test_a_visit_of_another_patient_is_refused(clinic: Clinic) -> None:
    ada, ben = _patient(clinic), _patient(clinic, "Diaz", "Ben")
    visit = _visit(clinic, ada)
    with pytest.raises(InvalidInputError, match="belongs to another patient"):
        record_answer(clinic, score=8, channel="desk", patient_id=ben, appointment_id=visit)


# --- listing ----------------------------------------------------------------------------------


def test_answers_are_listed_by_the_clinics_local_days_newest_first(clinic: Clinic) -> None:
    provider = add_provider(clinic, "Rivera").id
    ada = _patient(clinic)
    late = record_answer(clinic, score=9, channel="desk", patient_id=ada, at=_at(DAY, 23, 30))
    early = record_answer(clinic, score=5, channel="desk", patient_id=ada, at=_at(DAY, 0, 5))
    visit = _visit(clinic, ada, provider_id=provider)
    seen = record_answer(clinic, score=10, channel="desk", appointment_id=visit, at=_at(DAY, 12))
    record_answer(clinic, score=7, channel="desk", patient_id=ada, at=_at(DAY + timedelta(1), 0, 5))
    record_answer(clinic, score=7, channel="desk", patient_id=ada, at=_at(DAY - timedelta(1), 23))

    day = surveys.answers(clinic, first=DAY, last=DAY)
    assert [a.id for a in day] == [late.id, seen.id, early.id]
    assert [a.id for a in surveys.answers(clinic, first=DAY, last=DAY, provider_id=provider)] == [
        seen.id
    ]
    assert len(surveys.answers(clinic)) == 5
    assert len(surveys.answers(clinic, limit=2)) == 2


def _month_bounds(year: int, month: int) -> tuple[str, str]:
    after = (year + 1, 1) if month == 12 else (year, month + 1)
    start = datetime(year, month, 1, tzinfo=CHICAGO).astimezone(UTC)
    end = datetime(after[0], after[1], 1, tzinfo=CHICAGO).astimezone(UTC)
    return utc_text(start), utc_text(end)


def _independent(clinic: Clinic, year: int, month: int, provider: str | None) -> tuple[int, ...]:
    lo, hi = _month_bounds(year, month)
    test = "provider_id IS ?" if provider != "" else "? = ''"
    counts = []
    for band in ("score >= 9", "score IN (7, 8)", "score <= 6"):
        row = clinic.conn.execute(
            f"SELECT count(*) FROM survey_response WHERE answered_at >= ? AND answered_at < ? "
            f"AND {test} AND {band}",
            (lo, hi, provider),
        ).fetchone()
        counts.append(int(row[0]))
    return tuple(counts)


def test_nps_by_month_equals_independent_sql_counts(clinic: Clinic) -> None:
    rivera = add_provider(clinic, "Rivera", "Maria", title="Dr.").id
    chen = add_provider(clinic, "Chen", "Li").id
    ada = _patient(clinic)
    randomly = random.Random(9)
    # Visits and answers across a year; some right at the local month's edges (23:30 on the
    # last day is the next month in UTC), some with no provider.
    for n in range(160):
        day = date(2026, 1, 1) + timedelta(days=randomly.randrange(365))
        if n % 10 == 0:
            day = date(2026, randomly.randrange(1, 12) + 1, 1) - timedelta(days=1)
        provider = randomly.choice([rivera, chen, None])
        visit = _visit(clinic, ada, day=day, provider_id=provider)
        moment = _at(day, 23, 30) if n % 10 == 0 else _at(day, 10 + n % 8)
        record_answer(
            clinic,
            score=randomly.randrange(11),
            channel="desk",
            appointment_id=visit,
            at=moment,
        )

    whole = surveys.nps_by_month(clinic, first=date(2026, 1, 1), last=date(2026, 12, 31))
    by_provider = surveys.nps_by_month(
        clinic, first=date(2026, 1, 1), last=date(2026, 12, 31), by="provider"
    )

    assert sum(p.answers for p in whole) == 160
    for point in whole:
        year, month = (int(x) for x in point.month.split("-"))
        assert (point.promoters, point.passives, point.detractors) == _independent(
            clinic, year, month, ""
        )
        assert point.group_id == "" and point.group_name == "Lakeside Family Practice"
    assert {p.group_name for p in by_provider} == {"Dr. Rivera", "Li Chen", "No provider recorded"}
    for point in by_provider:
        year, month = (int(x) for x in point.month.split("-"))
        provider = None if point.group_id == surveys.NO_GROUP else point.group_id
        counts = (point.promoters, point.passives, point.detractors)
        assert counts == _independent(clinic, year, month, provider)
    assert sum(p.answers for p in by_provider) == 160


def test_nps_is_percent_promoters_minus_percent_detractors() -> None:
    point = NpsPoint("2027-01", "", "Clinic", promoters=5, passives=3, detractors=2)
    assert (point.answers, point.nps) == (10, 30.0)
    assert NpsPoint("2027-01", "", "Clinic", 0, 0, 0).nps is None


def test_nps_by_month_clips_to_the_days_asked_for(clinic: Clinic) -> None:
    ada = _patient(clinic)
    record_answer(clinic, score=10, channel="desk", patient_id=ada, at=_at(date(2027, 1, 5), 9))
    record_answer(clinic, score=0, channel="desk", patient_id=ada, at=_at(date(2027, 1, 25), 9))

    [point] = surveys.nps_by_month(clinic, first=date(2027, 1, 10), last=date(2027, 2, 10))

    assert (point.month, point.promoters, point.detractors) == ("2027-01", 0, 1)
    with pytest.raises(InvalidInputError):
        surveys.nps_by_month(clinic, first=DAY, last=DAY, by="weekday")


# --- the kiosk's visits ---------------------------------------------------------------------


def test_the_desk_chooses_among_todays_visits_that_took_place_and_are_not_answered(
    clinic: Clinic,
) -> None:
    provider = add_provider(clinic, "Rivera", "Maria", title="Dr.").id
    ada, ben, cy, di = (
        _patient(clinic, family, given)
        for family, given in (("Okafor", "Ada"), ("Diaz", "Ben"), ("Lee", "Cy"), ("Moss", "Di"))
    )
    arrived = _visit(clinic, ada, hour=9, minute=5, status="arrived", provider_id=provider)
    seen = _visit(clinic, ben, hour=8, status="fulfilled")
    _visit(clinic, cy, hour=10, status="booked")
    answered = _visit(clinic, di, hour=11, status="fulfilled")
    _visit(clinic, ada, day=DAY + timedelta(days=1), status="arrived")
    record_answer(clinic, score=8, channel="kiosk", appointment_id=answered)

    visits = surveys.visits_for_kiosk(clinic, DAY)

    assert visits == [
        surveys.KioskVisit(seen, ben, "8:30", "Diaz, Ben", ""),
        surveys.KioskVisit(arrived, ada, "9:05", "Okafor, Ada", "Dr. Rivera"),
    ]


# --- review links ---------------------------------------------------------------------------


def test_review_links_are_saved_and_read_back_in_order(clinic: Clinic) -> None:
    assert surveys.review_links(clinic) == []
    links = [
        ReviewLink(" Google ", " https://g.page/r/lakeside/review "),
        ReviewLink("Yelp", "https://www.yelp.com/writeareview/biz/lakeside"),
    ]
    changes = surveys.save_review_links(clinic, links)

    assert changes.touches("setting")
    assert surveys.review_links(clinic) == [
        ReviewLink("Google", "https://g.page/r/lakeside/review"),
        ReviewLink("Yelp", "https://www.yelp.com/writeareview/biz/lakeside"),
    ]
    surveys.save_review_links(clinic, [])
    assert surveys.review_links(clinic) == []


@pytest.mark.parametrize(
    ("links", "words"),
    [
        ([ReviewLink("Google", "http://g.page/r/x")], "https://"),
        ([ReviewLink("Google", "g.page/r/x")], "https://"),
        ([ReviewLink("", "https://g.page/r/x")], "give it a name"),
        (
            [ReviewLink("Google", "https://a.example"), ReviewLink("google", "https://b.example")],
            "already called google",
        ),
        ([ReviewLink(f"Site {n}", f"https://{n}.example") for n in range(6)], "5 review links"),
    ],
)
def test_bad_review_links_are_refused_with_the_reason(
    clinic: Clinic, links: list[ReviewLink], words: str
) -> None:
    with pytest.raises(InvalidInputError, match=words):
        surveys.save_review_links(clinic, links)
    assert surveys.review_links(clinic) == []
