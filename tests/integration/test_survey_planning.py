"""Satisfaction surveys and review requests through the real planner and send-time checks:
only after a visit that took place, at most once in N months, with consent, and review
requests only to promoters of a clinic that has review links."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.clinic import Clinic
from app.engagement import survey_rules
from app.engagement.surveys import ReviewLink, record_answer, save_review_links
from app.growth.segments import Segment, SegmentTerms, save_segment
from app.patients.model import PatientDraft, PhoneDraft
from app.patients.records import add_tag, create_patient, record_consent, remove_tag
from app.reminders import outbox, rules
from app.reminders.compose import decide
from app.reminders.planner import plan
from app.reminders.rules import Rule, Touch, get_rule, save_rule
from app.reminders.settings import ReminderSettings
from app.scheduling.appointments import book, set_status
from app.store.writer import utc_text

CHICAGO = ZoneInfo("America/Chicago")
SETTINGS = ReminderSettings()
VISIT_DAY = date(2027, 1, 20)  # a Wednesday, CST (UTC-6)


@pytest.fixture
def surveying(clinic: Clinic) -> Clinic:
    clinic.update_settings(phone="(312) 555-0100")
    return clinic


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute)).replace(tzinfo=CHICAGO)


def _patient(
    clinic: Clinic, family: str = "Okafor", *, language: str = "en", consent: bool = True
) -> str:
    draft = PatientDraft(
        family_name=family,
        given_names="Ada",
        language=language,
        phones=(PhoneDraft("312-555-0142"),),
        emails=(f"{family.lower()}@example.com",),
    )
    pid = create_patient(clinic, draft).id
    if consent:
        record_consent(clinic, pid, "sms", "survey", True, "form", recorded_by="")
        record_consent(clinic, pid, "email", "survey", True, "form", recorded_by="")
    return pid


def _seen(clinic: Clinic, pid: str, day: date = VISIT_DAY, hour: int = 14, **details: str) -> str:
    start = _at(day, hour)
    visit = book(clinic, pid, start, start + timedelta(minutes=30), **details).id
    set_status(clinic, visit, "fulfilled")
    return visit


def _survey_rule(clinic: Clinic, **terms: object) -> Rule:
    rule = Rule(
        id="",
        kind="survey",
        name="Satisfaction survey",
        touches=(Touch(days=1, at=time(18, 0)),),
        channels=("sms", "email"),
        window_hours=24,
        every_months=6,
    )
    return save_rule(clinic, replace(rule, **terms))  # type: ignore[arg-type]


def _review_rule(clinic: Clinic) -> Rule:
    rule = Rule(
        id="",
        kind="review",
        name="Review request",
        touches=(Touch(days=1, at=time(10, 0)),),
        channels=("email", "sms"),
        window_hours=24,
        every_months=12,
    )
    return save_rule(clinic, rule)


def _rows(clinic: Clinic, kind: str) -> list[tuple[str, str, str, str, str]]:
    """(patient, subject, occurrence, state, reason) of the outbox, read independently."""
    rows = clinic.conn.execute(
        "SELECT patient_id, subject_id, occurrence, state, reason FROM outbox "
        "WHERE subject_kind = ? ORDER BY due_at, patient_id",
        (kind,),
    ).fetchall()
    return [tuple(str(v) for v in r) for r in rows]  # type: ignore[misc]


def _mark_sent(clinic: Clinic, kind: str) -> None:
    """As the sender leaves a message it sent."""
    ids = [
        r[0] for r in clinic.conn.execute("SELECT id FROM outbox WHERE subject_kind = ?", (kind,))
    ]
    with clinic.store.write() as tx:
        for message_id in ids:
            tx.update("outbox", message_id, {"state": "sent", "sent_at": "2027-01-21T00:00:00Z"})


def _only_message(clinic: Clinic, kind: str) -> outbox.Message:
    [row] = clinic.conn.execute("SELECT id FROM outbox WHERE subject_kind = ?", (kind,)).fetchall()
    return outbox.get_message(clinic, str(row[0]))


EVENING = _at(VISIT_DAY, 20)
SEND_TIME = _at(VISIT_DAY + timedelta(days=1), 18, 5)


# --- planning -----------------------------------------------------------------------------


def test_a_survey_is_planned_the_evening_after_a_visit_that_took_place(surveying: Clinic) -> None:
    rule = _survey_rule(surveying)
    ada = _patient(surveying)
    visit = _seen(surveying, ada)

    report = plan(surveying, now=EVENING)

    assert report.planned == 1
    message = _only_message(surveying, "survey")
    assert (message.patient_id, message.subject_id, message.occurrence) == (
        ada,
        visit,
        "2027-01-20",
    )
    assert message.due_at == "2027-01-22T00:00:00Z"  # 18:00 in Chicago the next day
    assert message.purpose == "survey" and message.rule_id == rule.id
    assert plan(surveying, now=EVENING + timedelta(minutes=5)).planned == 0


@pytest.mark.parametrize("status", ["booked", "confirmed", "arrived", "cancelled", "noshow"])
def test_no_survey_without_a_visit_marked_as_seen(surveying: Clinic, status: str) -> None:
    _survey_rule(surveying)
    ada = _patient(surveying)
    start = _at(VISIT_DAY, 14)
    visit = book(surveying, ada, start, start + timedelta(minutes=30)).id
    if status != "booked":
        set_status(surveying, visit, status)

    assert plan(surveying, now=EVENING).planned == 0
    assert _rows(surveying, "survey") == []


def test_a_patient_is_surveyed_at_most_once_in_the_rules_months(surveying: Clinic) -> None:
    _survey_rule(surveying, every_months=6)
    ada = _patient(surveying)
    first = _seen(surveying, ada)
    plan(surveying, now=EVENING)
    _mark_sent(surveying, "survey")

    second_day = VISIT_DAY + timedelta(days=30)
    _seen(surveying, ada, second_day)
    assert plan(surveying, now=_at(second_day, 20)).planned == 0

    later_day = VISIT_DAY + timedelta(days=200)  # more than six months on
    later = _seen(surveying, ada, later_day)
    assert plan(surveying, now=_at(later_day, 20)).planned == 1
    assert [r[1] for r in _rows(surveying, "survey")] == [first, later]


def test_two_visits_in_one_span_ask_about_the_first_only(surveying: Clinic) -> None:
    _survey_rule(surveying)
    ada = _patient(surveying)
    morning = _seen(surveying, ada, hour=9)
    _seen(surveying, ada, VISIT_DAY + timedelta(days=1), hour=9)

    plan(surveying, now=EVENING)
    plan(surveying, now=EVENING + timedelta(days=1))

    assert [r[1] for r in _rows(surveying, "survey") if r[3] != "cancelled"] == [morning]


def test_an_answer_at_the_kiosk_means_no_survey_by_text(surveying: Clinic) -> None:
    _survey_rule(surveying)
    ada = _patient(surveying)
    visit = _seen(surveying, ada)
    record_answer(surveying, score=8, channel="kiosk", appointment_id=visit, at=_at(VISIT_DAY, 15))

    assert plan(surveying, now=EVENING).planned == 0


def test_every_patient_of_the_day_gets_their_own_survey(surveying: Clinic) -> None:
    _survey_rule(surveying)
    patients = [_patient(surveying, name) for name in ("Okafor", "Diaz", "Nguyen")]
    visits = {pid: _seen(surveying, pid, hour=9 + n) for n, pid in enumerate(patients)}

    assert plan(surveying, now=EVENING).planned == 3
    keys = surveying.conn.execute("SELECT count(DISTINCT idem_key) FROM outbox").fetchone()[0]
    assert keys == 3
    assert {(r[0], r[1]) for r in _rows(surveying, "survey")} == set(visits.items())


def test_the_rules_visit_filters_and_segment_choose_the_patients(surveying: Clinic) -> None:
    segment = save_segment(surveying, Segment("", "Regulars", SegmentTerms(tags=("regular",))))
    _survey_rule(surveying, appointment_kinds=("checkup",), segment_id=segment.id)
    regular, newcomer, other_kind = (_patient(surveying, n) for n in ("Okafor", "Diaz", "Lee"))
    for pid in (regular, other_kind):
        add_tag(surveying, pid, "regular")
    _seen(surveying, regular, kind="checkup")
    _seen(surveying, newcomer, kind="checkup")
    _seen(surveying, other_kind, kind="vaccination")

    plan(surveying, now=EVENING)

    assert [r[0] for r in _rows(surveying, "survey")] == [regular]


def test_a_patient_who_left_the_rules_segment_is_not_sent_the_survey(surveying: Clinic) -> None:
    segment = save_segment(surveying, Segment("", "Regulars", SegmentTerms(tags=("regular",))))
    rule = _survey_rule(surveying, segment_id=segment.id)
    ada = _patient(surveying)
    add_tag(surveying, ada, "regular")
    _seen(surveying, ada)
    plan(surveying, now=EVENING)
    message = _only_message(surveying, "survey")

    remove_tag(surveying, ada, "regular")

    decision = decide(surveying, message, rule, now=SEND_TIME, settings=SETTINGS)
    assert decision.skip == survey_rules.NOT_IN_SEGMENT


def test_a_rule_whose_segment_was_removed_plans_nobody(surveying: Clinic) -> None:
    _survey_rule(surveying, segment_id="no-such-segment")
    _seen(surveying, _patient(surveying))

    assert plan(surveying, now=EVENING).planned == 0


# --- the planned survey follows the record --------------------------------------------------


def _set_visit_status(clinic: Clinic, visit: str, status: str) -> None:
    """A correction from an import or another workstation: the visit did not take place."""
    with clinic.store.write() as tx:
        tx.update("appointment", visit, {"status": status})


def test_a_survey_is_cancelled_when_the_visit_is_no_longer_marked_as_seen(
    surveying: Clinic,
) -> None:
    rule = _survey_rule(surveying)
    ada = _patient(surveying)
    visit = _seen(surveying, ada)
    plan(surveying, now=EVENING)

    _set_visit_status(surveying, visit, "noshow")
    report = plan(surveying, now=EVENING + timedelta(hours=1))

    assert report.cancelled == 1
    assert _rows(surveying, "survey")[0][3:] == ("cancelled", survey_rules.NOT_SEEN)
    message = _only_message(surveying, "survey")
    assert decide(surveying, message, rule, now=SEND_TIME, settings=SETTINGS).skip


def test_a_survey_is_cancelled_when_the_visit_is_removed(surveying: Clinic) -> None:
    _survey_rule(surveying)
    visit = _seen(surveying, _patient(surveying))
    plan(surveying, now=EVENING)

    statuses = surveying.conn.execute(
        "SELECT id FROM appointment_status WHERE appointment_id = ?", (visit,)
    ).fetchall()
    with surveying.store.write() as tx:
        tx.delete_many("appointment_status", [str(r[0]) for r in statuses])
        tx.delete("appointment", visit)
    plan(surveying, now=EVENING + timedelta(hours=1))

    assert _rows(surveying, "survey")[0][3:] == ("cancelled", survey_rules.VISIT_REMOVED)


def test_a_survey_answered_meanwhile_is_cancelled_and_not_sent(surveying: Clinic) -> None:
    rule = _survey_rule(surveying)
    ada = _patient(surveying)
    visit = _seen(surveying, ada)
    plan(surveying, now=EVENING)
    message = _only_message(surveying, "survey")

    record_answer(surveying, score=9, channel="desk", appointment_id=visit, at=EVENING)

    decision = decide(surveying, message, rule, now=SEND_TIME, settings=SETTINGS)
    assert decision.skip == survey_rules.ANSWERED
    plan(surveying, now=EVENING + timedelta(hours=1))
    assert _rows(surveying, "survey")[0][3:] == ("cancelled", survey_rules.ANSWERED)


# --- sending: consent and words ------------------------------------------------------------


def test_a_survey_without_consent_is_not_sent_and_says_why(surveying: Clinic) -> None:
    rule = _survey_rule(surveying)
    _seen(surveying, _patient(surveying, consent=False))
    plan(surveying, now=EVENING)

    decision = decide(
        surveying, _only_message(surveying, "survey"), rule, now=SEND_TIME, settings=SETTINGS
    )

    assert decision.drafts == ()
    assert "Text: the patient has not agreed to texts for surveys" in decision.skip
    assert "Email: the patient has not agreed to emails for surveys" in decision.skip


def test_a_no_to_survey_texts_wins_and_the_survey_goes_by_email(surveying: Clinic) -> None:
    rule = _survey_rule(surveying)
    ada = _patient(surveying)
    record_consent(surveying, ada, "sms", "survey", False, "phone call", recorded_by="")
    _seen(surveying, ada)
    plan(surveying, now=EVENING)

    decision = decide(
        surveying, _only_message(surveying, "survey"), rule, now=SEND_TIME, settings=SETTINGS
    )

    assert [d.channel for d in decision.drafts] == ["email"]
    assert decision.blocked == ("Text: the patient said no to texts for surveys",)


def test_the_survey_text_asks_the_question_with_reply_instructions(surveying: Clinic) -> None:
    rule = _survey_rule(surveying)
    _seen(surveying, _patient(surveying))
    plan(surveying, now=EVENING)

    decision = decide(
        surveying, _only_message(surveying, "survey"), rule, now=SEND_TIME, settings=SETTINGS
    )

    text, email = decision.drafts
    assert text.body == (
        "Lakeside Family Practice: Hi Ada, thank you for your visit on Wednesday, January 20. "
        "How likely are you to recommend us to a friend or family member? Reply with a number "
        "from 0 to 10. A comment is welcome too."
    )
    assert email.subject == "How was your visit to Lakeside Family Practice?"
    assert "Simply answer this email" in email.body


def test_a_spanish_speaker_is_asked_in_spanish(surveying: Clinic) -> None:
    rule = _survey_rule(surveying)
    _seen(surveying, _patient(surveying, language="es-MX"))
    plan(surveying, now=EVENING)

    decision = decide(
        surveying, _only_message(surveying, "survey"), rule, now=SEND_TIME, settings=SETTINGS
    )

    assert decision.drafts[0].language == "es-MX"  # the Spanish template, as the sender picks
    assert decision.drafts[0].body == (
        "Lakeside Family Practice: Gracias por su visita, Ada. ¿Qué tan probable es que nos "
        "recomiende? Responda con un número del 0 al 10."
    )


def test_a_second_survey_sent_meanwhile_stops_this_one_at_send_time(surveying: Clinic) -> None:
    rule = _survey_rule(surveying)
    ada = _patient(surveying)
    _seen(surveying, ada)
    plan(surveying, now=EVENING)
    message = _only_message(surveying, "survey")
    other = replace(rule, id="")
    row = outbox.new_row(
        idem="other-survey",
        rule_id=save_rule(surveying, replace(other, name="Another survey")).id,
        touch=0,
        purpose="survey",
        patient_id=ada,
        subject_kind="survey",
        subject_id="another-visit",
        occurrence="2027-01-19",
        due_at=utc_text(EVENING),
        stale_at=utc_text(EVENING + timedelta(hours=24)),
        now=utc_text(EVENING),
    )
    row["state"] = "sent"
    with surveying.store.write() as tx:
        tx.insert_many("outbox", [row])

    decision = decide(
        surveying, message, get_rule(surveying, rule.id), now=SEND_TIME, settings=SETTINGS
    )

    assert decision.skip == survey_rules.SURVEYED


# --- review requests --------------------------------------------------------------------------


LINKS = [
    ReviewLink("Google", "https://g.page/r/lakeside/review"),
    ReviewLink("Yelp", "https://www.yelp.com/writeareview/biz/lakeside"),
]


def test_a_promoter_gets_a_review_request_only_once_the_clinic_has_links(
    surveying: Clinic,
) -> None:
    rule = _review_rule(surveying)
    ada = _patient(surveying)
    visit = _seen(surveying, ada)
    answer = record_answer(surveying, score=10, channel="sms", appointment_id=visit, at=EVENING)

    assert plan(surveying, now=EVENING + timedelta(minutes=1)).planned == 0

    save_review_links(surveying, LINKS)
    assert plan(surveying, now=EVENING + timedelta(minutes=2)).planned == 1
    message = _only_message(surveying, "review")
    assert (message.patient_id, message.subject_id) == (ada, answer.id)
    assert message.due_at == "2027-01-21T16:00:00Z"  # 10:00 the next day

    decision = decide(
        surveying, message, rule, now=_at(VISIT_DAY + timedelta(days=1), 10, 5), settings=SETTINGS
    )
    email = decision.drafts[0]
    assert email.channel == "email"
    assert "Google: https://g.page/r/lakeside/review\nYelp: https://www.yelp.com/" in email.body


@pytest.mark.parametrize("score", [0, 6, 7, 8])
def test_no_review_request_below_nine(surveying: Clinic, score: int) -> None:
    _review_rule(surveying)
    save_review_links(surveying, LINKS)
    ada = _patient(surveying)
    record_answer(surveying, score=score, channel="desk", patient_id=ada, at=EVENING)

    assert plan(surveying, now=EVENING + timedelta(minutes=1)).planned == 0


def test_an_anonymous_kiosk_promoter_gets_no_review_request(surveying: Clinic) -> None:
    _review_rule(surveying)
    save_review_links(surveying, LINKS)
    record_answer(surveying, score=10, channel="kiosk", at=EVENING)

    assert plan(surveying, now=EVENING + timedelta(minutes=1)).planned == 0


def test_a_review_request_goes_at_most_once_in_the_rules_months(surveying: Clinic) -> None:
    _review_rule(surveying)
    save_review_links(surveying, LINKS)
    ada = _patient(surveying)
    record_answer(surveying, score=9, channel="desk", patient_id=ada, at=EVENING)
    plan(surveying, now=EVENING + timedelta(minutes=1))
    _mark_sent(surveying, "review")

    again = EVENING + timedelta(days=60)
    record_answer(surveying, score=10, channel="desk", patient_id=ada, at=again)

    assert plan(surveying, now=again + timedelta(minutes=1)).planned == 0
    assert len(_rows(surveying, "review")) == 1


def test_removing_the_links_cancels_the_planned_review_requests(surveying: Clinic) -> None:
    rule = _review_rule(surveying)
    save_review_links(surveying, LINKS)
    record_answer(surveying, score=9, channel="desk", patient_id=_patient(surveying), at=EVENING)
    plan(surveying, now=EVENING + timedelta(minutes=1))
    message = _only_message(surveying, "review")

    save_review_links(surveying, [])

    later = _at(VISIT_DAY + timedelta(days=1), 10, 5)
    assert decide(surveying, message, rule, now=later, settings=SETTINGS).skip == (
        survey_rules.NO_LINKS
    )
    plan(surveying, now=EVENING + timedelta(hours=1))
    assert _rows(surveying, "review")[0][3:] == ("cancelled", survey_rules.NO_LINKS)


# --- checks on the rule ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("terms", "words"),
    [
        ({"touches": (Touch(days=-1, at=time(10, 0)),)}, "the day of the visit or after"),
        ({"every_months": 0}, "at most once in 1 to 60 months"),
    ],
)
def test_a_survey_rule_that_cannot_work_is_refused(
    surveying: Clinic, terms: dict[str, object], words: str
) -> None:
    with pytest.raises(Exception, match=words):
        _survey_rule(surveying, **terms)


def test_the_ready_made_survey_and_review_rules_are_valid_and_read_back_equal(
    surveying: Clinic,
) -> None:
    ready = rules.satisfaction_rules()
    assert [(r.kind, r.every_months) for r in ready] == [("survey", 6), ("review", 12)]
    assert all(r in rules.default_rules() for r in ready)
    for rule in ready:
        stored = save_rule(surveying, rule)
        assert get_rule(surveying, stored.id) == stored
        assert stored.purpose == "survey"
