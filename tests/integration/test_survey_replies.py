"""Text replies to a satisfaction survey, polled from the loopback Twilio: a plain score is
recorded as the answer, anything in doubt waits in the Inbox, and STOP, HELP and confirm
keep their meaning first."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from app.clinic import Clinic
from app.engagement import surveys
from app.patients.model import PatientDraft, PhoneDraft
from app.patients.records import create_patient
from app.reminders import outbox, replies
from app.reminders.sms_channel import SmsClient
from app.scheduling import appointments
from app.store.writer import utc_text
from app.today import call_list
from tests.support.fake_twilio import FakeTwilio, account_for, running_fake_twilio

NOW = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)  # Monday 9:00 in Chicago
VISIT = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)  # Friday 27 November, 10:00 in Chicago
MOBILE = "+13125550199"


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with running_fake_twilio() as state:
        yield state


@pytest.fixture
def sms(fake: FakeTwilio) -> Iterator[SmsClient]:
    client = SmsClient(account_for(fake, max_attempts=2), sleep=lambda _s: None)
    yield client
    client.close()


def _patient(clinic: Clinic) -> str:
    draft = PatientDraft(family_name="Okafor", given_names="Ada", phones=(PhoneDraft(MOBILE),))
    return create_patient(clinic, draft).id


def _seen(clinic: Clinic, patient_id: str) -> str:
    visit = appointments.book(clinic, patient_id, VISIT, VISIT + timedelta(minutes=30)).id
    appointments.set_status(clinic, visit, "fulfilled")
    return visit


def _texted(
    clinic: Clinic,
    patient_id: str,
    subject_id: str,
    *,
    kind: str = "survey",
    sent_at: datetime = NOW - timedelta(hours=20),
) -> str:
    """A survey (or another) text as the sender leaves it in the outbox."""
    occurrence = utc_text(sent_at)
    row = outbox.new_row(
        idem=outbox.idem_key(f"rule-{kind}", 0, subject_id, occurrence),
        rule_id=f"rule-{kind}",
        touch=0,
        purpose="survey" if kind == "survey" else "appointment",
        patient_id=patient_id,
        subject_kind=kind,
        subject_id=subject_id,
        occurrence=occurrence,
        due_at=utc_text(sent_at),
        stale_at=utc_text(sent_at + timedelta(hours=24)),
        now=utc_text(sent_at),
    )
    row.update(
        state="sent",
        channel="sms",
        recipient=MOBILE,
        body="Lakeside: How likely are you to recommend us? Reply with a number from 0 to 10.",
        provider_ref=f"SMout{row['id'][-12:]}",
        sent_at=utc_text(sent_at),
    )
    with clinic.store.write() as tx:
        tx.insert_many("outbox", [row])
    return str(row["id"])


def _reply(fake: FakeTwilio, body: str, minutes_ago: int = 30) -> str:
    return fake.add_inbound(MOBILE, body, NOW - timedelta(minutes=minutes_ago))


def _answers(clinic: Clinic) -> list[tuple[object, ...]]:
    """(patient, visit, score, comment, channel, outbox, reply) read independently."""
    rows = clinic.conn.execute(
        "SELECT patient_id, appointment_id, score, comment, channel, outbox_id, reply_id "
        "FROM survey_response ORDER BY answered_at"
    ).fetchall()
    return [tuple(r) for r in rows]


@pytest.mark.parametrize(
    ("text", "score", "comment"),
    [
        ("10!", 10, ""),
        ("ten", 10, ""),
        ("9/10", 9, ""),
        ("I'd say 8", 8, ""),
        ("9 - the nurse was lovely", 9, "the nurse was lovely"),
        ("Diez, muy buena atención", 10, "muy buena atención"),
    ],
)
def test_a_score_texted_back_is_recorded_as_the_survey_answer(
    clinic: Clinic, fake: FakeTwilio, sms: SmsClient, text: str, score: int, comment: str
) -> None:
    ada = _patient(clinic)
    visit = _seen(clinic, ada)
    survey = _texted(clinic, ada, visit)
    _reply(fake, text)

    report = replies.poll_replies(clinic, sms, now=NOW)

    [item] = replies.inbox(clinic, include_handled=True)
    assert _answers(clinic) == [(ada, visit, score, comment, "sms", survey, item.id)]
    assert item.handled and item.meaning_label == f"Survey answer: {score}"
    assert item.action.startswith(f"Survey answer: {score}")
    assert (report.survey_answers, report.to_inbox) == (1, 0)
    assert replies.inbox(clinic) == []
    assert report.changes.touches("survey_response", "inbound_message")


@pytest.mark.parametrize(
    "text",
    [
        "the parking was awful",
        "7 or 8",
        "Can I move my appointment to 3pm?",
        "5/5",
    ],
)
def test_a_reply_that_is_not_plainly_a_score_waits_in_the_inbox(
    clinic: Clinic, fake: FakeTwilio, sms: SmsClient, text: str
) -> None:
    ada = _patient(clinic)
    _texted(clinic, ada, _seen(clinic, ada))
    _reply(fake, text)

    report = replies.poll_replies(clinic, sms, now=NOW)

    assert _answers(clinic) == []
    [item] = replies.inbox(clinic)
    assert item.body == text and item.meaning_label == "Message"
    assert (report.survey_answers, report.to_inbox) == (0, 1)


def test_a_detractor_by_text_puts_a_follow_up_on_todays_call_list(
    clinic: Clinic, fake: FakeTwilio, sms: SmsClient
) -> None:
    ada = _patient(clinic)
    _texted(clinic, ada, _seen(clinic, ada))
    _reply(fake, "3. The wait was far too long")

    replies.poll_replies(clinic, sms, now=NOW)

    [item] = replies.inbox(clinic, include_handled=True)
    assert item.action == ("Survey answer: 3 (a follow-up for the manager is on Today's call list)")
    [call] = [c for c in call_list(clinic, date(2026, 11, 30)) if c.task_id is not None]
    assert call.patient_id == ada
    assert call.reason == (
        "Follow up for the manager — scored 3 after the visit of Nov 27: The wait was far too long"
    )


def test_a_repeated_poll_never_records_an_answer_twice(
    clinic: Clinic, fake: FakeTwilio, sms: SmsClient
) -> None:
    ada = _patient(clinic)
    _texted(clinic, ada, _seen(clinic, ada))
    _reply(fake, "10")

    replies.poll_replies(clinic, sms, now=NOW)
    # The cursor moved on, but the service may list the same reply again (overlap).
    again = replies.poll_replies(clinic, sms, now=NOW + timedelta(minutes=5))

    assert again.received == 0
    assert len(_answers(clinic)) == 1


def test_an_answer_left_unfinished_by_a_crash_is_finished_once(
    clinic: Clinic, fake: FakeTwilio, sms: SmsClient
) -> None:
    ada = _patient(clinic)
    _texted(clinic, ada, _seen(clinic, ada))
    _reply(fake, "2")
    replies.poll_replies(clinic, sms, now=NOW)
    [item] = replies.inbox(clinic, include_handled=True)
    # As if the app stopped after the answer was stored but before the reply was marked.
    with clinic.store.write() as tx:
        tx.update("inbound_message", item.id, {"action": "", "handled_at": None})

    replies.poll_replies(clinic, sms, now=NOW + timedelta(minutes=5))

    assert len(_answers(clinic)) == 1
    assert clinic.conn.execute("SELECT count(*) FROM task").fetchone()[0] == 1
    assert replies.get_item(clinic, item.id).handled


def test_a_second_score_for_the_same_survey_is_for_a_person(
    clinic: Clinic, fake: FakeTwilio, sms: SmsClient
) -> None:
    ada = _patient(clinic)
    _texted(clinic, ada, _seen(clinic, ada))
    _reply(fake, "9", minutes_ago=40)
    _reply(fake, "actually 6", minutes_ago=30)

    replies.poll_replies(clinic, sms, now=NOW)

    assert [a[2] for a in _answers(clinic)] == [9]
    [waiting] = replies.inbox(clinic)
    assert waiting.body == "actually 6" and waiting.action == replies.SECOND_ANSWER


@pytest.mark.parametrize(
    ("text", "meaning"), [("STOP", "stop"), ("help", "help"), ("C", "confirm")]
)
def test_stop_help_and_confirm_keep_their_meaning_after_a_survey(
    clinic: Clinic, fake: FakeTwilio, sms: SmsClient, text: str, meaning: str
) -> None:
    ada = _patient(clinic)
    _texted(clinic, ada, _seen(clinic, ada))
    _reply(fake, text)

    replies.poll_replies(clinic, sms, now=NOW)

    [item] = replies.inbox(clinic, include_handled=True)
    assert item.meaning == meaning and item.survey_score is None
    assert _answers(clinic) == []


def test_a_score_answering_a_reminder_is_not_a_survey_answer(
    clinic: Clinic, fake: FakeTwilio, sms: SmsClient
) -> None:
    ada = _patient(clinic)
    _texted(clinic, ada, _seen(clinic, ada), kind="survey", sent_at=NOW - timedelta(days=2))
    upcoming = appointments.book(
        clinic, ada, NOW + timedelta(days=2), NOW + timedelta(days=2, hours=1)
    )
    _texted(clinic, ada, upcoming.id, kind="appointment", sent_at=NOW - timedelta(hours=2))
    _reply(fake, "10")

    replies.poll_replies(clinic, sms, now=NOW)

    assert _answers(clinic) == []
    assert [i.body for i in replies.inbox(clinic)] == ["10"]


def test_the_answer_counts_in_the_clinics_nps(
    clinic: Clinic, fake: FakeTwilio, sms: SmsClient
) -> None:
    ada = _patient(clinic)
    _texted(clinic, ada, _seen(clinic, ada))
    _reply(fake, "10")

    replies.poll_replies(clinic, sms, now=NOW)

    [point] = surveys.nps_by_month(clinic, first=date(2026, 11, 1), last=date(2026, 11, 30))
    assert (point.month, point.promoters, point.nps) == ("2026-11", 1, 100.0)
