"""Two-way SMS on a real clinic against the loopback Twilio: confirm, stop, help, the Inbox."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from app.clinic import Clinic
from app.patients.model import PURPOSES, PatientDraft, PhoneDraft
from app.patients.records import create_patient, get_patient
from app.reminders import outbox, replies
from app.reminders.sms_channel import InboundSms, SmsClient
from app.scheduling import appointments
from app.store.writer import utc_text
from tests.support.fake_twilio import FakeTwilio, account_for, running_fake_twilio

NOW = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)  # Monday 9:00 in Chicago
VISIT = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)  # Tuesday 1 December, 9:00 in Chicago
MOBILE = "+13125550199"
OTHER = "+13125550142"


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with running_fake_twilio() as state:
        yield state


@pytest.fixture
def sms(fake: FakeTwilio) -> Iterator[SmsClient]:
    client = SmsClient(account_for(fake, max_attempts=2), sleep=lambda _s: None)
    yield client
    client.close()


def _patient(clinic: Clinic, family: str, given: str, phone: str = MOBILE) -> str:
    draft = PatientDraft(family_name=family, given_names=given, phones=(PhoneDraft(phone),))
    return create_patient(clinic, draft).id


def _visit(clinic: Clinic, patient_id: str, start: datetime = VISIT) -> str:
    return appointments.book(clinic, patient_id, start, start + timedelta(minutes=30)).id


def _texted(
    clinic: Clinic,
    patient_id: str,
    *,
    about: str = "",
    to: str = MOBILE,
    sent_at: datetime = NOW - timedelta(days=1),
) -> str:
    """A reminder text the sender sent (as the sender leaves it in the outbox)."""
    occurrence = utc_text(sent_at)
    row = outbox.new_row(
        idem=outbox.idem_key("rule-sms", 1, about or patient_id, occurrence),
        rule_id="rule-sms",
        touch=1,
        purpose="appointment",
        patient_id=patient_id,
        subject_kind="appointment" if about else "recall",
        subject_id=about,
        occurrence=occurrence,
        due_at=utc_text(sent_at),
        stale_at=utc_text(sent_at + timedelta(hours=6)),
        now=utc_text(sent_at),
    )
    row.update(
        state="sent",
        channel="sms",
        recipient=to,
        body="Lakeside: your visit is Tue 9:00. Reply C to confirm.",
        provider_ref=f"SMout{row['id'][-12:]}",
        sent_at=utc_text(sent_at),
    )
    with clinic.store.write() as tx:
        tx.insert_many("outbox", [row])
    return str(row["id"])


def _reply(fake: FakeTwilio, body: str, sender: str = MOBILE, minutes_ago: int = 30) -> str:
    return fake.add_inbound(sender, body, NOW - timedelta(minutes=minutes_ago))


def _status(clinic: Clinic, appointment_id: str) -> str:
    return appointments.get(clinic, appointment_id).status


# --- confirm --------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["c", "C!", "Yes 👍", "confirm.", " Y ", "CONFIRMED"])
def test_a_confirm_reply_in_any_spelling_confirms_the_visit_asked_about(
    clinic: Clinic, fake: FakeTwilio, sms: SmsClient, text: str
) -> None:
    ada = _patient(clinic, "Okafor", "Ada")
    visit = _visit(clinic, ada)
    _texted(clinic, ada, about=visit)
    _reply(fake, text)

    report = replies.poll_replies(clinic, sms, now=NOW)

    assert (report.received, report.confirmed, report.to_inbox) == (1, 1, 0)
    assert _status(clinic, visit) == "confirmed"
    [item] = replies.inbox(clinic, include_handled=True)
    assert item.action == "Confirmed the visit on Tue Dec 1 at 9:00"
    assert item.handled and item.patient_id == ada
    assert replies.inbox(clinic) == []
    assert report.changes.touches("appointment", "inbound_message")


def test_the_confirm_action_follows_a_day_first_clinic(
    clinic: Clinic, fake: FakeTwilio, sms: SmsClient
) -> None:
    clinic.update_settings(day_first=True)
    ada = _patient(clinic, "Okafor", "Ada")
    _texted(clinic, ada, about=_visit(clinic, ada))
    _reply(fake, "C")
    replies.poll_replies(clinic, sms, now=NOW)
    [item] = replies.inbox(clinic, include_handled=True)
    assert item.action == "Confirmed the visit on Tue 1 Dec at 9:00"


def test_a_confirm_confirms_the_visit_of_the_newest_text_not_another_one(
    clinic: Clinic, fake: FakeTwilio, sms: SmsClient
) -> None:
    ada = _patient(clinic, "Okafor", "Ada")
    first = _visit(clinic, ada, VISIT)
    second = _visit(clinic, ada, VISIT + timedelta(days=7))
    _texted(clinic, ada, about=first, sent_at=NOW - timedelta(days=3))
    _texted(clinic, ada, about=second, sent_at=NOW - timedelta(hours=2))
    _reply(fake, "yes")

    replies.poll_replies(clinic, sms, now=NOW)

    assert _status(clinic, second) == "confirmed"
    assert _status(clinic, first) == "booked"


@pytest.mark.parametrize("case", ["past", "cancelled", "not about a visit", "never texted"])
def test_a_confirm_with_no_upcoming_booked_visit_asked_about_goes_to_the_inbox(
    clinic: Clinic, fake: FakeTwilio, sms: SmsClient, case: str
) -> None:
    ada = _patient(clinic, "Okafor", "Ada")
    visit = _visit(clinic, ada, NOW - timedelta(hours=3) if case == "past" else VISIT)
    if case == "cancelled":
        appointments.set_status(clinic, visit, "cancelled", "patient called")
    if case in ("past", "cancelled"):
        _texted(clinic, ada, about=visit)
    elif case == "not about a visit":
        _texted(clinic, ada)
    _reply(fake, "C")

    report = replies.poll_replies(clinic, sms, now=NOW)

    assert (report.received, report.confirmed, report.to_inbox) == (1, 0, 1)
    [item] = replies.inbox(clinic)
    assert item.action == replies.NOTHING_TO_CONFIRM
    assert item.patient_id == ada
    assert _status(clinic, visit) == ("cancelled" if case == "cancelled" else "booked")


def test_a_text_sent_more_than_two_weeks_before_is_not_what_a_reply_answers(
    clinic: Clinic, fake: FakeTwilio, sms: SmsClient
) -> None:
    ada = _patient(clinic, "Okafor", "Ada")
    visit = _visit(clinic, ada, NOW + timedelta(days=20))
    _texted(clinic, ada, about=visit, sent_at=NOW - timedelta(days=15))
    _reply(fake, "C")
    replies.poll_replies(clinic, sms, now=NOW)
    assert _status(clinic, visit) == "booked"
    assert replies.open_count(clinic) == 1


# --- stop -----------------------------------------------------------------------------


@pytest.mark.parametrize("word", ["STOP", "unsubscribe", "End.", "quit", "Stop!"])
def test_a_stop_word_opts_the_number_out_of_texts_at_once(
    clinic: Clinic, fake: FakeTwilio, sms: SmsClient, word: str
) -> None:
    ada = _patient(clinic, "Okafor", "Ada")
    _texted(clinic, ada)
    _reply(fake, word)

    report = replies.poll_replies(clinic, sms, now=NOW)

    assert (report.received, report.opted_out, report.to_inbox) == (1, 1, 0)
    patient = get_patient(clinic, ada)
    for purpose in PURPOSES:
        consent = patient.consent_for("sms", purpose)
        assert consent is not None and not consent.granted
        assert consent.source == replies.STOP_SOURCE
    assert patient.consent_for("email", "appointment") is None
    assert replies.inbox(clinic) == []
    [item] = replies.inbox(clinic, include_handled=True)
    assert item.action == replies.STOPPED and item.handled


def test_cancel_opts_out_and_is_left_for_a_person_to_call(
    clinic: Clinic, fake: FakeTwilio, sms: SmsClient
) -> None:
    ada = _patient(clinic, "Okafor", "Ada")
    visit = _visit(clinic, ada)
    _texted(clinic, ada, about=visit)
    _reply(fake, "CANCEL")

    report = replies.poll_replies(clinic, sms, now=NOW)

    assert (report.opted_out, report.to_inbox) == (1, 1)
    consent = get_patient(clinic, ada).consent_for("sms", "appointment")
    assert consent is not None and not consent.granted
    [item] = replies.inbox(clinic)
    assert "CANCEL" in item.action and "call them" in item.action
    assert _status(clinic, visit) == "booked"  # only a person cancels a visit


def test_a_stop_does_not_override_a_yes_the_desk_recorded_after_it(
    clinic: Clinic, fake: FakeTwilio, sms: SmsClient
) -> None:
    from app.patients.records import record_consent

    ada = _patient(clinic, "Okafor", "Ada")
    _reply(fake, "STOP", minutes_ago=60)
    record_consent(
        clinic, ada, "sms", "appointment", True, "phone call", at=utc_text(NOW - timedelta(1 / 48))
    )
    replies.poll_replies(clinic, sms, now=NOW)
    patient = get_patient(clinic, ada)
    assert patient.consent_for("sms", "appointment").granted  # type: ignore[union-attr]
    assert not patient.consent_for("sms", "recall").granted  # type: ignore[union-attr]


# --- help -----------------------------------------------------------------------------


def test_help_is_answered_once_with_the_clinic_phone_even_when_polled_twice(
    clinic: Clinic, fake: FakeTwilio, sms: SmsClient
) -> None:
    clinic.update_settings(phone="(312) 555-0100")
    ada = _patient(clinic, "Okafor", "Ada")
    _reply(fake, "HELP")

    first = replies.poll_replies(clinic, sms, now=NOW)
    second = replies.poll_replies(clinic, sms, now=NOW + timedelta(minutes=5))

    assert (first.received, first.helped, second.received, second.helped) == (1, 1, 0, 0)
    [answer] = fake.outbound()
    assert answer.to == MOBILE
    assert answer.body == (
        "Lakeside Family Practice: for help call (312) 555-0100. Reply STOP to stop texts."
    )
    [item] = replies.inbox(clinic, include_handled=True)
    assert item.handled and item.action == replies.HELPED and item.patient_id == ada


def test_a_help_answer_the_service_could_not_take_goes_at_the_next_poll(
    clinic: Clinic, fake: FakeTwilio, sms: SmsClient
) -> None:
    _patient(clinic, "Okafor", "Ada")
    sid = _reply(fake, "help")
    reply = InboundSms(sid, MOBILE, "help", utc_text(NOW - timedelta(minutes=30)))
    fake.script = [(503, {}), (503, {})]  # both attempts of the one send

    item = replies.handle_inbound(clinic, reply, sms, now=NOW)

    assert not item.handled and item.action == ""
    assert fake.outbound() == []
    report = replies.poll_replies(clinic, sms, now=NOW + timedelta(minutes=5))
    assert (report.received, report.helped) == (0, 1)
    assert len(fake.outbound()) == 1
    assert replies.open_count(clinic) == 0


def test_help_without_an_sms_account_is_left_for_a_person(clinic: Clinic) -> None:
    reply = InboundSms("SMhelp1", MOBILE, "Help", utc_text(NOW))
    item = replies.handle_inbound(clinic, reply, None, now=NOW)
    assert not item.handled and item.action == replies.NO_HELP_ACCOUNT


# --- the Inbox ------------------------------------------------------------------------


def test_a_question_lands_in_the_inbox_linked_to_the_patient_and_on_the_timeline(
    clinic: Clinic, fake: FakeTwilio, sms: SmsClient
) -> None:
    ada = _patient(clinic, "Okafor", "Ada")
    _texted(clinic, ada, about=_visit(clinic, ada))
    text = "yes but can we make it 10 instead?"
    _reply(fake, text)

    report = replies.poll_replies(clinic, sms, now=NOW)

    assert (report.received, report.confirmed, report.to_inbox) == (1, 0, 1)
    [item] = replies.inbox(clinic)
    assert (item.patient_name, item.body, item.meaning) == ("Okafor, Ada", text, "other")
    assert item.sender == "(312) 555-0199" and item.sender_number == MOBILE
    assert item.received_at == utc_text(NOW - timedelta(minutes=30))
    timeline = clinic.conn.execute(
        "SELECT kind, direction, subject, occurred_at FROM interaction WHERE patient_id = ?",
        (ada,),
    ).fetchall()
    assert [tuple(r) for r in timeline] == [("sms", "in", text, item.received_at)]


def test_a_reply_from_an_unknown_number_lands_in_the_inbox_without_a_patient(
    clinic: Clinic, fake: FakeTwilio, sms: SmsClient
) -> None:
    _patient(clinic, "Okafor", "Ada")
    _reply(fake, "who is this?", sender=OTHER)
    replies.poll_replies(clinic, sms, now=NOW)
    [item] = replies.inbox(clinic)
    assert item.patient_id is None and item.patient_name == ""
    assert item.sender == "(312) 555-0142"


def test_two_patients_sharing_a_number_link_the_one_texted_last_and_stop_covers_both(
    clinic: Clinic, fake: FakeTwilio, sms: SmsClient
) -> None:
    mother = _patient(clinic, "Okafor", "Ada")
    son = _patient(clinic, "Okafor", "Ben")
    _texted(clinic, mother, sent_at=NOW - timedelta(days=2))
    _texted(clinic, son, about=_visit(clinic, son), sent_at=NOW - timedelta(hours=5))
    _reply(fake, "Is the visit with Dr. Ruiz?", minutes_ago=40)
    _reply(fake, "STOP", minutes_ago=20)

    replies.poll_replies(clinic, sms, now=NOW)

    items = replies.inbox(clinic, include_handled=True)
    assert [i.patient_id for i in items] == [son, son]
    for pid in (mother, son):
        consent = get_patient(clinic, pid).consent_for("sms", "appointment")
        assert consent is not None and not consent.granted


def test_a_family_never_texted_links_the_first_on_file(
    clinic: Clinic, fake: FakeTwilio, sms: SmsClient
) -> None:
    mother = _patient(clinic, "Okafor", "Ada")
    _patient(clinic, "Okafor", "Ben")
    _reply(fake, "hello?")
    replies.poll_replies(clinic, sms, now=NOW)
    assert replies.inbox(clinic)[0].patient_id == mother


def test_marking_a_reply_done_takes_it_out_of_the_inbox_and_records_who(
    clinic: Clinic, fake: FakeTwilio, sms: SmsClient, dana: str
) -> None:
    _patient(clinic, "Okafor", "Ada")
    _reply(fake, "running late", minutes_ago=50)
    _reply(fake, "thanks!", minutes_ago=10)
    replies.poll_replies(clinic, sms, now=NOW)
    assert replies.open_count(clinic) == 2
    newest, oldest = replies.inbox(clinic)
    assert (newest.body, oldest.body) == ("thanks!", "running late")

    changes = replies.mark_handled(clinic, newest.id)

    assert changes.touches("inbound_message")
    assert replies.open_count(clinic) == 1
    assert [i.body for i in replies.inbox(clinic)] == ["running late"]
    row = clinic.conn.execute(
        "SELECT handled_by FROM inbound_message WHERE id = ?", (newest.id,)
    ).fetchone()
    assert row[0] == dana
    assert not replies.mark_handled(clinic, newest.id)  # already done: no change
    replies.mark_open(clinic, newest.id)
    assert replies.open_count(clinic) == 2


# --- the cursor -----------------------------------------------------------------------


def test_the_cursor_moves_to_the_newest_reply_and_a_second_poll_stores_nothing_new(
    clinic: Clinic, fake: FakeTwilio, sms: SmsClient
) -> None:
    _patient(clinic, "Okafor", "Ada")
    _reply(fake, "one", minutes_ago=90)
    _reply(fake, "two", minutes_ago=45)
    assert replies.read_cursor(clinic) is None

    first = replies.poll_replies(clinic, sms, now=NOW)
    again = replies.poll_replies(clinic, sms, now=NOW + timedelta(minutes=1))

    assert (first.received, again.received, again.to_inbox) == (2, 0, 0)
    assert replies.read_cursor(clinic) == utc_text(NOW - timedelta(minutes=45))
    asked = [path for method, path in fake.requests if method == "GET"]
    assert "DateSent%3E=2026-11-27" in asked[0]  # first poll: three days back
    assert "DateSent%3E=2026-11-30" in asked[-1]  # then from the cursor
    _reply(fake, "three", minutes_ago=-10)
    later = replies.poll_replies(clinic, sms, now=NOW + timedelta(minutes=20))
    assert later.received == 1
    assert replies.read_cursor(clinic) == utc_text(NOW + timedelta(minutes=10))
    count = clinic.conn.execute("SELECT count(*) FROM inbound_message").fetchone()[0]
    assert count == 3


def test_the_first_poll_looks_back_three_days(
    clinic: Clinic, fake: FakeTwilio, sms: SmsClient
) -> None:
    _reply(fake, "old", minutes_ago=60 * 24 * 4)
    _reply(fake, "recent", minutes_ago=60 * 24 * 2)
    report = replies.poll_replies(clinic, sms, now=NOW)
    assert report.received == 1
    assert [i.body for i in replies.inbox(clinic)] == ["recent"]


def test_a_reply_listed_late_with_an_older_time_is_still_stored(
    clinic: Clinic, fake: FakeTwilio, sms: SmsClient
) -> None:
    _reply(fake, "first", minutes_ago=10)
    replies.poll_replies(clinic, sms, now=NOW)
    _reply(fake, "sent a little earlier", minutes_ago=12)  # the service shows it late
    report = replies.poll_replies(clinic, sms, now=NOW + timedelta(minutes=1))
    assert report.received == 1
    assert replies.open_count(clinic) == 2


def test_replies_over_many_pages_are_all_stored_once(
    clinic: Clinic, fake: FakeTwilio, sms: SmsClient
) -> None:
    fake.page_size = 3
    _patient(clinic, "Okafor", "Ada")
    for i in range(11):
        _reply(fake, f"question {i}", minutes_ago=100 - i)
    _texted(clinic, _patient(clinic, "Ruiz", "Marta", OTHER), to=OTHER)

    report = replies.poll_replies(clinic, sms, now=NOW)

    assert (report.received, report.to_inbox) == (11, 11)
    assert len(replies.inbox(clinic, limit=5)) == 5
    assert {i.body for i in replies.inbox(clinic)} == {f"question {i}" for i in range(11)}
    assert replies.poll_replies(clinic, sms, now=NOW).received == 0
    assert sum(1 for method, _ in fake.requests if method == "GET") >= 8


def test_a_service_that_cannot_be_reached_leaves_the_cursor_where_it_was(
    clinic: Clinic, fake: FakeTwilio, sms: SmsClient
) -> None:
    from app.reminders.sms_channel import SmsDeliveryError

    _reply(fake, "one", minutes_ago=30)
    replies.poll_replies(clinic, sms, now=NOW)
    cursor = replies.read_cursor(clinic)
    _reply(fake, "two", minutes_ago=5)
    fake.script = [(503, {}), (503, {})]
    with pytest.raises(SmsDeliveryError):
        replies.poll_replies(clinic, sms, now=NOW + timedelta(minutes=1))
    assert replies.read_cursor(clinic) == cursor
    assert replies.poll_replies(clinic, sms, now=NOW + timedelta(minutes=2)).received == 1


def test_a_reply_stored_but_not_acted_on_before_a_crash_is_finished_by_the_next_poll(
    clinic: Clinic, fake: FakeTwilio, sms: SmsClient
) -> None:
    ada = _patient(clinic, "Okafor", "Ada")
    sid = _reply(fake, "STOP")
    with clinic.store.write() as tx:  # what a crash right after storing leaves behind
        tx.insert(
            "inbound_message",
            {
                "provider_ref": sid,
                "sender": MOBILE,
                "body": "STOP",
                "received_at": utc_text(NOW - timedelta(minutes=30)),
                "patient_id": ada,
                "meaning": "stop",
            },
        )

    report = replies.poll_replies(clinic, sms, now=NOW)

    assert (report.received, report.opted_out) == (0, 1)
    consent = get_patient(clinic, ada).consent_for("sms", "recall")
    assert consent is not None and not consent.granted
    [item] = replies.inbox(clinic, include_handled=True)
    assert item.handled and item.action == replies.STOPPED
    again = replies.poll_replies(clinic, sms, now=NOW)
    assert (again.received, again.opted_out) == (0, 0)
    rows = clinic.conn.execute(
        "SELECT count(*) FROM interaction WHERE patient_id = ?", (ada,)
    ).fetchone()
    assert rows[0] == 1
