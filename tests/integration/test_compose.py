"""Send-time decisions on a real clinic: what goes, when, by which channel, with which words."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.clinic import Clinic
from app.directory import add_location, add_provider
from app.patients.model import AddressDraft, PatientDraft, PhoneDraft
from app.patients.records import create_patient, mark_deceased, record_consent, update_patient
from app.reminders import outbox
from app.reminders.compose import Decision, decide
from app.reminders.outbox import Message
from app.reminders.rules import Rule, Touch, get_rule, save_rule, set_active
from app.reminders.settings import ReminderSettings
from app.reminders.template_store import save_template
from app.scheduling.appointments import book, move, set_status
from app.store.writer import utc_now, utc_text

CHICAGO = ZoneInfo("America/Chicago")
SETTINGS = ReminderSettings()
VISIT = datetime(2027, 3, 9, 9, 30, tzinfo=CHICAGO)  # a Tuesday, before the DST change
DUE = datetime(2027, 3, 7, 10, 0, tzinfo=CHICAGO)  # two days before, 10:00
NOW = DUE + timedelta(minutes=5)


# --- the world ----------------------------------------------------------------------------


def _clinic_details(clinic: Clinic) -> None:
    clinic.update_settings(phone="(312) 555-0100", address="120 Main Street, Springfield")


def _patient(
    clinic: Clinic,
    *,
    language: str = "en",
    phones: tuple[PhoneDraft, ...] = (PhoneDraft("312-555-0142", "mobile"),),
    emails: tuple[str, ...] = ("ada@example.com",),
    addresses: tuple[AddressDraft, ...] = (),
    birth_date: str = "",
) -> str:
    draft = PatientDraft(
        family_name="Okafor",
        given_names="Ada",
        language=language,
        phones=phones,
        emails=emails,
        addresses=addresses,
        birth_date=birth_date,
    )
    return create_patient(clinic, draft).id


def _appointment_rule(clinic: Clinic, **changes: object) -> Rule:
    rule = Rule(
        id="",
        kind="appointment",
        name="Appointment reminders",
        touches=(
            Touch(days=-2, at=time(10, 0), channels=("sms", "email"), ask_to_confirm=True),
            Touch(days=0, at=time(8, 0), channels=("sms",)),
        ),
        channels=("sms", "email", "letter"),
        window_hours=6,
    )
    return save_rule(clinic, replace(rule, **changes))  # type: ignore[arg-type]


def _visit(clinic: Clinic, patient_id: str, start: datetime = VISIT) -> str:
    provider = add_provider(clinic, "Rivera", "Maria", title="Dr.").id
    place = add_location(clinic, "Main Street office", line1="120 Main Street", city="Springfield")
    return book(
        clinic,
        patient_id,
        start,
        start + timedelta(minutes=30),
        provider_id=provider,
        location_id=place.id,
        kind="checkup",
    ).id


def _message(
    clinic: Clinic,
    rule: Rule,
    patient_id: str,
    *,
    subject_id: str = "",
    occurrence: str = "2027-03-09",
    touch: int = 0,
    due: datetime = DUE,
    window: timedelta = timedelta(hours=6),
    state: str = "due",
    sent_at: str | None = None,
) -> Message:
    row = outbox.new_row(
        idem=outbox.idem_key(rule.id, touch, subject_id or patient_id, occurrence + state),
        rule_id=rule.id,
        touch=touch,
        purpose=rule.effective_purpose,
        patient_id=patient_id,
        subject_kind=rule.subject_kind,
        subject_id=subject_id,
        occurrence=occurrence,
        due_at=utc_text(due),
        stale_at=utc_text(due + window),
        now=utc_now(),
    )
    row.update(state=state, sent_at=sent_at)
    with clinic.store.write() as tx:
        tx.insert_many("outbox", [row])
    return outbox.get_message(clinic, str(row["id"]))


def _decide(
    clinic: Clinic,
    message: Message,
    rule: Rule | None,
    now: datetime = NOW,
    settings: ReminderSettings = SETTINGS,
) -> Decision:
    return decide(clinic, message, rule, now=now, settings=settings)


def _booked(clinic: Clinic, *, language: str = "en") -> tuple[Rule, str, str, Message]:
    _clinic_details(clinic)
    rule = _appointment_rule(clinic)
    pid = _patient(clinic, language=language)
    visit = _visit(clinic, pid)
    return rule, pid, visit, _message(clinic, rule, pid, subject_id=visit)


# --- the text itself --------------------------------------------------------------------------


def test_appointment_text_in_english_reads_exactly_as_sent(clinic: Clinic) -> None:
    rule, _, _, message = _booked(clinic)
    decision = _decide(clinic, message, rule)
    assert decision.skip == "" and decision.wait_until is None
    text = decision.drafts[0]
    assert (text.channel, text.recipient, text.language) == ("sms", "+13125550142", "en")
    assert text.body == (
        "Lakeside Family Practice: Hi Ada, a reminder of your appointment with Dr. Rivera "
        "on Tuesday, March 9 at 9:30 AM. Reply C to confirm. To change it, call (312) 555-0100."
    )


def test_appointment_text_in_spanish_uses_the_spanish_template_and_dates(clinic: Clinic) -> None:
    rule, _, _, message = _booked(clinic, language="es")
    text = _decide(clinic, message, rule).drafts[0]
    assert text.language == "es"
    assert text.body == (
        "Lakeside Family Practice: Ada, su cita con Dr. Rivera es el martes 9 de marzo "
        "a las 9:30. Responda C para confirmar."
    )


def test_the_fallback_email_asks_to_reply_and_carries_no_unsubscribe(clinic: Clinic) -> None:
    rule, _, _, message = _booked(clinic)
    email = _decide(clinic, message, rule).drafts[1]
    assert email.channel == "email" and email.recipient == "ada@example.com"
    assert email.subject == "Your appointment at Lakeside Family Practice on Tuesday, March 9"
    assert "Please reply to this email or call us at (312) 555-0100 to confirm." in email.body
    assert "120 Main Street, Springfield" in email.body
    assert email.html.startswith("<!DOCTYPE html>")
    assert email.unsubscribe == ""


def test_a_visit_moved_within_the_day_is_reminded_at_its_new_time(clinic: Clinic) -> None:
    rule, _, visit, message = _booked(clinic)
    later = VISIT.replace(hour=14, minute=5)
    move(clinic, visit, later, later + timedelta(minutes=30))
    assert "on Tuesday, March 9 at 2:05 PM." in _decide(clinic, message, rule).drafts[0].body


# --- the subject must still hold --------------------------------------------------------------


def test_a_visit_moved_to_another_day_is_skipped(clinic: Clinic) -> None:
    rule, _, visit, message = _booked(clinic)
    other = VISIT + timedelta(days=1)
    move(clinic, visit, other, other + timedelta(minutes=30))
    assert _decide(clinic, message, rule).skip == "The visit was moved to another day"


def test_a_cancelled_visit_gets_nothing(clinic: Clinic) -> None:
    rule, _, visit, message = _booked(clinic)
    set_status(clinic, visit, "cancelled")
    decision = _decide(clinic, message, rule)
    assert decision == Decision(skip="The visit was cancelled")


def test_a_visit_whose_time_has_come_is_not_reminded(clinic: Clinic) -> None:
    rule, pid, visit, _ = _booked(clinic)
    morning = _message(
        clinic, rule, pid, subject_id=visit, touch=1, due=VISIT.replace(hour=8, minute=0)
    )
    assert _decide(clinic, morning, rule, now=VISIT - timedelta(minutes=1)).drafts
    just_after = _decide(clinic, morning, rule, now=VISIT + timedelta(minutes=1))
    assert just_after.skip == "The visit already took place"
    set_status(clinic, visit, "fulfilled")
    assert _decide(clinic, morning, rule, now=VISIT - timedelta(minutes=1)).skip == (
        "The visit already took place"
    )


def test_a_paused_or_removed_rule_sends_nothing(clinic: Clinic) -> None:
    rule, _, _, message = _booked(clinic)
    set_active(clinic, rule.id, False)
    assert _decide(clinic, message, get_rule(clinic, rule.id)).skip == "The rule was paused"
    assert _decide(clinic, message, None).skip == "The rule was removed"


def test_a_stale_message_is_skipped_with_its_due_time_in_clinic_time(clinic: Clinic) -> None:
    rule, _, _, message = _booked(clinic)
    decision = _decide(clinic, message, rule, now=DUE + timedelta(hours=6, seconds=1))
    assert decision.skip == "Too late to send: it was due at 10:00 on Sun 7 Mar"


# --- who may be contacted ---------------------------------------------------------------------


def test_a_deceased_patient_gets_nothing(clinic: Clinic) -> None:
    rule, pid, _, message = _booked(clinic)
    mark_deceased(clinic, pid)
    assert _decide(clinic, message, rule).skip == "The patient is deceased"


def test_a_patient_marked_do_not_contact_gets_nothing(clinic: Clinic) -> None:
    rule, pid, _, message = _booked(clinic)
    update_patient(clinic, pid, {"do_not_contact": True})
    assert _decide(clinic, message, rule).skip == "The patient asked not to be contacted"


def test_a_merged_record_gets_nothing(clinic: Clinic) -> None:
    rule, pid, _, message = _booked(clinic)
    survivor = _patient(clinic)
    with clinic.store.write() as tx:
        tx.update("patient", pid, {"merged_into": survivor})
    assert _decide(clinic, message, rule).skip == "The patient's record was merged into another"


def test_a_no_to_texts_falls_back_to_email_and_says_why(clinic: Clinic, dana: str) -> None:
    rule, pid, _, message = _booked(clinic)
    record_consent(clinic, pid, "sms", "appointment", False, "phone")
    decision = _decide(clinic, message, rule)
    assert [d.channel for d in decision.drafts] == ["email"]
    assert decision.blocked == ("Text: the patient said no to texts for appointment reminders",)


def test_a_stop_reply_blocks_texts_of_every_purpose(clinic: Clinic) -> None:
    rule, pid, _, message = _booked(clinic)
    record_consent(clinic, pid, "sms", "marketing", False, "sms-stop")
    decision = _decide(clinic, message, rule)
    assert decision.blocked == ("Text: the patient replied STOP to our texts",)
    # Saying yes again (at the desk, later) lifts it.
    record_consent(clinic, pid, "sms", "appointment", True, "form", at="2099-01-01T00:00:00Z")
    assert _decide(clinic, message, rule).drafts[0].channel == "sms"


def test_when_no_channel_is_left_the_message_is_skipped_with_every_reason(
    clinic: Clinic,
) -> None:
    _clinic_details(clinic)
    rule = _appointment_rule(clinic)
    pid = _patient(clinic, phones=(), emails=())
    visit = _visit(clinic, pid)
    record_consent(clinic, pid, "letter", "appointment", False, "form")
    message = _message(clinic, rule, pid, subject_id=visit)
    decision = _decide(clinic, message, replace(rule, touches=(Touch(-2, time(10, 0)),)))
    assert decision.skip == (
        "No way to reach the patient: Text: no mobile number; Email: no email address; "
        "Letter: the patient said no to letters for appointment reminders. Add the missing "
        "details with Edit details and consent, or give the rule another way of sending in "
        "Settings ▸ Reminders."
    )
    assert decision.drafts == ()


def test_the_preferred_channel_goes_first_then_the_rule_order(clinic: Clinic) -> None:
    rule, pid, _, message = _booked(clinic)
    update_patient(clinic, pid, {"preferred_channel": "email"})
    assert [d.channel for d in _decide(clinic, message, rule).drafts] == ["email", "sms"]
    update_patient(clinic, pid, {"preferred_channel": "letter"})  # not a channel of this touch
    assert [d.channel for d in _decide(clinic, message, rule).drafts] == ["sms", "email"]


def test_without_a_phone_the_reminder_goes_by_email(clinic: Clinic) -> None:
    _clinic_details(clinic)
    rule = _appointment_rule(clinic)
    pid = _patient(clinic, phones=())
    message = _message(clinic, rule, pid, subject_id=_visit(clinic, pid))
    decision = _decide(clinic, message, rule)
    assert [d.channel for d in decision.drafts] == ["email"]
    assert decision.blocked == ("Text: no mobile number",)


def test_a_mobile_is_texted_before_a_home_phone_ranked_higher(clinic: Clinic) -> None:
    _clinic_details(clinic)
    rule = _appointment_rule(clinic)
    phones = (PhoneDraft("312-555-0199", "home"), PhoneDraft("312-555-0142", "mobile"))
    pid = _patient(clinic, phones=phones)
    message = _message(clinic, rule, pid, subject_id=_visit(clinic, pid))
    assert _decide(clinic, message, rule).drafts[0].recipient == "+13125550142"


def test_opt_in_purposes_need_a_recorded_yes(clinic: Clinic) -> None:
    _clinic_details(clinic)
    rule = save_rule(
        clinic,
        Rule(
            id="",
            kind="birthday",
            name="Birthday greeting",
            touches=(Touch(0, time(9, 0)),),
            channels=("email", "sms"),
        ),
    )
    pid = _patient(clinic, birth_date="1980-03-07")
    due = datetime(2027, 3, 7, 9, 0, tzinfo=CHICAGO)
    message = _message(clinic, rule, pid, occurrence="2027", due=due)
    decision = _decide(clinic, message, rule, now=due)
    assert decision.skip == (
        "No way to reach the patient: "
        "Email: the patient has not agreed to emails for news and greetings; "
        "Text: the patient has not agreed to texts for news and greetings"
    )
    record_consent(clinic, pid, "email", "marketing", True, "form")
    greeting = _decide(clinic, message, rule, now=due).drafts
    assert [d.channel for d in greeting] == ["email"]
    assert greeting[0].subject == "Happy birthday from Lakeside Family Practice"


# --- when -------------------------------------------------------------------------------------


def _evening(clinic: Clinic) -> tuple[Rule, Message]:
    """A reminder due at 19:00 that may still go up to a day later."""
    _clinic_details(clinic)
    rule = _appointment_rule(
        clinic, touches=(Touch(-2, time(19, 0), channels=("sms",)),), window_hours=24
    )
    pid = _patient(clinic)
    visit = _visit(clinic, pid)
    due = datetime(2027, 3, 7, 19, 0, tzinfo=CHICAGO)
    return rule, _message(clinic, rule, pid, subject_id=visit, due=due, window=timedelta(hours=24))


def test_quiet_hours_across_midnight_hold_the_text_until_morning(clinic: Clinic) -> None:
    rule, message = _evening(clinic)
    morning = utc_text(datetime(2027, 3, 8, 8, 0, tzinfo=CHICAGO))
    before_midnight = datetime(2027, 3, 7, 23, 30, tzinfo=CHICAGO)
    after_midnight = datetime(2027, 3, 8, 2, 0, tzinfo=CHICAGO)
    assert _decide(clinic, message, rule, now=before_midnight) == Decision(
        wait_until=morning, waiting_for="Waiting for the end of the quiet hours at 08:00"
    )
    assert _decide(clinic, message, rule, now=after_midnight).wait_until == morning
    at_eight = _decide(clinic, message, rule, now=datetime(2027, 3, 8, 8, 0, tzinfo=CHICAGO))
    assert at_eight.drafts and at_eight.wait_until is None


def test_letters_are_not_held_by_quiet_hours(clinic: Clinic) -> None:
    _clinic_details(clinic)
    rule = save_rule(
        clinic,
        Rule(
            id="",
            kind="recall",
            name="Yearly check-up",
            touches=(Touch(45, time(19, 0), channels=("letter",)),),
            window_hours=24,
        ),
    )
    street = AddressDraft("12 Elm St", "Apt 3", "Springfield", "IL", "62701", "US")
    pid = _patient(clinic, addresses=(street,))
    due = datetime(2027, 3, 7, 19, 0, tzinfo=CHICAGO)
    message = _message(clinic, rule, pid, occurrence="2027-01-21", due=due, window=timedelta(1))
    decision = _decide(clinic, message, rule, now=datetime(2027, 3, 7, 23, 0, tzinfo=CHICAGO))
    assert [d.channel for d in decision.drafts] == ["letter"]
    letter = decision.drafts[0]
    assert letter.recipient == "Ada Okafor, 12 Elm St, Apt 3, Springfield IL 62701"
    assert letter.body.startswith("Dear Ada Okafor,\n\nOur records show that you are due for ")
    assert "your check-up around January 21." in letter.body


def test_an_appointment_letter_uses_the_shipped_letter_in_the_patients_language(
    clinic: Clinic,
) -> None:
    _clinic_details(clinic)
    rule = _appointment_rule(clinic, touches=(Touch(-2, time(10, 0), channels=("letter",)),))
    street = AddressDraft("12 Elm St", "", "Springfield", "IL", "62701", "US")
    pid = _patient(clinic, language="es", addresses=(street,))
    message = _message(clinic, rule, pid, subject_id=_visit(clinic, pid))
    letter = _decide(clinic, message, rule).drafts[0]
    assert (letter.channel, letter.language) == ("letter", "es")
    assert letter.body.startswith("Estimado/a Ada Okafor:\n\nLe escribimos para recordarle")
    assert "martes 9 de marzo, a las 9:30" in letter.body


def test_the_daily_limit_holds_a_message_until_tomorrow_morning(clinic: Clinic) -> None:
    rule, message = _evening(clinic)
    today = utc_text(datetime(2027, 3, 7, 12, 0, tzinfo=CHICAGO))
    yesterday = utc_text(datetime(2027, 3, 6, 12, 0, tzinfo=CHICAGO))
    for sent_at, state in ((today, "sent"), (yesterday, "sent"), (today, "cancelled")):
        _message(clinic, rule, message.patient_id, occurrence=sent_at, state=state, sent_at=sent_at)
    at_seven = datetime(2027, 3, 7, 19, 0, tzinfo=CHICAGO)
    assert _decide(clinic, message, rule, now=at_seven).drafts  # one today: under the limit
    _message(clinic, rule, message.patient_id, occurrence="x", state="sent", sent_at=today)
    held = _decide(clinic, message, rule, now=at_seven)
    assert held.wait_until == utc_text(datetime(2027, 3, 8, 8, 0, tzinfo=CHICAGO))
    assert held.waiting_for == "Waiting for tomorrow: the daily limit of 2 messages was reached"


def test_the_daily_limit_skips_a_message_that_would_be_stale_by_tomorrow(clinic: Clinic) -> None:
    rule, _, _, message = _booked(clinic)  # stale six hours after 10:00
    today = utc_text(DUE - timedelta(hours=1))
    for n in range(2):
        _message(clinic, rule, message.patient_id, occurrence=f"s{n}", state="sent", sent_at=today)
    decision = _decide(clinic, message, rule)
    assert decision.skip == "The daily limit of 2 messages was reached"
    assert _decide(clinic, message, rule, settings=replace(SETTINGS, daily_limit=3)).drafts


# --- templates --------------------------------------------------------------------------------


def test_a_template_the_clinic_edited_is_the_one_sent(clinic: Clinic) -> None:
    rule, _, _, message = _booked(clinic)
    save_template(
        clinic,
        rule.id,
        "appointment",
        "sms",
        "en",
        "{{ clinic_name }}: see you {{ weekday }} at {{ appointment_time }}. "
        "{{ confirm_instructions }}",
    )
    assert _decide(clinic, message, rule).drafts[0].body == (
        "Lakeside Family Practice: see you Tuesday at 9:30 AM. Reply C to confirm."
    )


def test_a_broken_stored_template_blocks_its_channel_with_the_line(clinic: Clinic) -> None:
    rule, _, _, message = _booked(clinic)
    with clinic.store.write() as tx:  # as a newer version or a sync could have left it
        tx.insert(
            "message_template",
            {
                "rule_id": rule.id,
                "kind": "sms",
                "language": "en",
                "body": "Hi {{ patient_first_name }},\n{% if clinic_name %}see you soon",
                "updated_at": utc_now(),
            },
        )
    decision = _decide(clinic, message, rule)
    assert [d.channel for d in decision.drafts] == ["email"]
    assert decision.blocked == (
        "Text: the template has a problem (Line 2: a {% if %} is not closed "
        "(it needs a {% endif %}))",
    )


def test_a_language_without_a_template_falls_back_to_the_clinic_language(clinic: Clinic) -> None:
    rule, _, _, message = _booked(clinic, language="vi")
    text = _decide(clinic, message, rule).drafts[0]
    assert text.language == "en" and "Tuesday, March 9 at 9:30 AM" in text.body


def test_dates_and_times_do_not_depend_on_the_workstation_locale(clinic: Clinic) -> None:
    import locale

    rule, _, _, message = _booked(clinic, language="es")
    before = locale.setlocale(locale.LC_TIME)
    try:
        for name in ("de_DE.UTF-8", "C.UTF-8", "C"):
            try:
                locale.setlocale(locale.LC_TIME, name)
            except locale.Error:
                continue
            assert "martes 9 de marzo a las 9:30" in _decide(clinic, message, rule).drafts[0].body
    finally:
        locale.setlocale(locale.LC_TIME, before)


def test_now_must_be_aware(clinic: Clinic) -> None:
    rule, _, _, message = _booked(clinic)
    with pytest.raises(ValueError, match="aware"):
        _decide(clinic, message, rule, now=NOW.astimezone(UTC).replace(tzinfo=None))
