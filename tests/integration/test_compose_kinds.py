"""Send-time decisions per kind of message (recall, billing, no-show, birthday), the editor's
preview, and the promise that no diagnosis ever reaches a message."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.billing.ledger import post_charge, record_payment
from app.clinic import Clinic
from app.demo.names import CONDITIONS
from app.directory import add_provider
from app.errors import InvalidInputError
from app.patients.model import PatientDraft, PhoneDraft
from app.patients.records import create_patient, record_consent, update_patient
from app.reminders import outbox
from app.reminders.accounts import save_email_settings
from app.reminders.compose import Decision, decide, preview, template_values
from app.reminders.email_channel import SmtpSettings
from app.reminders.outbox import Message
from app.reminders.rules import KINDS, Rule, Touch, save_rule
from app.reminders.settings import ReminderSettings
from app.reminders.template_store import save_template
from app.reminders.templates import TemplateError
from app.scheduling.appointments import book, set_status
from app.store.writer import utc_now, utc_text

CHICAGO = ZoneInfo("America/Chicago")
SETTINGS = ReminderSettings()
NOW = datetime(2027, 3, 7, 10, 5, tzinfo=CHICAGO)


def _setup(clinic: Clinic, *, language: str = "en", birth_date: str = "") -> str:
    clinic.update_settings(phone="(312) 555-0100", address="120 Main Street, Springfield")
    draft = PatientDraft(
        family_name="Okafor",
        given_names="Ada",
        language=language,
        birth_date=birth_date,
        phones=(PhoneDraft("312-555-0142"),),
        emails=("ada@example.com",),
    )
    return create_patient(clinic, draft).id


def _rule(clinic: Clinic, kind: str, channels: tuple[str, ...] = ("sms", "email")) -> Rule:
    days = {"appointment": -2, "no_show": 1, "billing": 30}.get(kind, 0)
    return save_rule(
        clinic,
        Rule(
            id="",
            kind=kind,
            name=f"{kind} rule",
            touches=(Touch(days, time(10, 0)),),
            channels=channels,
            window_hours=12,
            min_balance_cents=1000,
        ),
    )


def _message(
    clinic: Clinic,
    rule: Rule,
    patient_id: str,
    occurrence: str,
    subject_id: str = "",
    window: timedelta = timedelta(hours=12),
) -> Message:
    due = NOW - timedelta(minutes=5)
    row = outbox.new_row(
        idem=outbox.idem_key(rule.id, 0, subject_id or patient_id, occurrence),
        rule_id=rule.id,
        touch=0,
        purpose=rule.effective_purpose,
        patient_id=patient_id,
        subject_kind=rule.subject_kind,
        subject_id=subject_id,
        occurrence=occurrence,
        due_at=utc_text(due),
        stale_at=utc_text(due + window),
        now=utc_now(),
    )
    row["state"] = "due"
    with clinic.store.write() as tx:
        tx.insert_many("outbox", [row])
    return outbox.get_message(clinic, str(row["id"]))


def _decide(clinic: Clinic, message: Message, rule: Rule, now: datetime = NOW) -> Decision:
    return decide(clinic, message, rule, now=now, settings=SETTINGS)


def _visit(clinic: Clinic, pid: str, start: datetime, kind: str = "checkup") -> str:
    return book(clinic, pid, start, start + timedelta(minutes=20), kind=kind).id


# --- recall -------------------------------------------------------------------------------------


def test_a_recall_names_the_due_date_and_a_plain_visit_label(clinic: Clinic) -> None:
    pid = _setup(clinic, language="es")
    rule = _rule(clinic, "recall")
    seen = _visit(clinic, pid, datetime(2026, 3, 14, 9, 0, tzinfo=CHICAGO))
    set_status(clinic, seen, "fulfilled")
    text = _decide(clinic, _message(clinic, rule, pid, "2027-03-14"), rule).drafts[0]
    assert text.body == (
        "Lakeside Family Practice: Ada, le corresponde su revisión hacia el 14 de marzo. "
        "Llame al (312) 555-0100 para pedir cita."
    )


def test_a_recall_is_skipped_once_the_patient_was_seen_or_booked(clinic: Clinic) -> None:
    pid = _setup(clinic)
    rule = _rule(clinic, "recall")
    message = _message(clinic, rule, pid, "2027-03-14")
    upcoming = _visit(clinic, pid, datetime(2027, 3, 20, 9, 0, tzinfo=CHICAGO))
    assert _decide(clinic, message, rule).skip == "The patient has a visit booked"
    set_status(clinic, upcoming, "cancelled")
    assert _decide(clinic, message, rule).drafts
    recent = _visit(clinic, pid, datetime(2027, 2, 1, 9, 0, tzinfo=CHICAGO))
    set_status(clinic, recent, "fulfilled")
    assert _decide(clinic, message, rule).skip == "The patient has been seen since"


# --- billing ------------------------------------------------------------------------------------


def test_a_billing_notice_shows_the_balance_as_it_is_now(clinic: Clinic) -> None:
    pid = _setup(clinic)
    rule = _rule(clinic, "billing", channels=("email", "letter"))
    post_charge(clinic, pid, 15050, "Visit", posted_at="2027-02-05T15:00:00Z")
    record_payment(clinic, pid, 3000, "card")
    message = _message(clinic, rule, pid, "2027-02-05")
    email = _decide(clinic, message, rule).drafts[0]
    assert "Our records show a balance of $120.50 on your account." in email.body
    assert "You can pay by phone or at the front desk." in email.body
    record_payment(clinic, pid, 11500, "cash")
    assert _decide(clinic, message, rule).skip == "The balance is now under $10.00"
    record_payment(clinic, pid, 550, "cash")
    assert _decide(clinic, message, rule).skip == "The balance was paid"


def test_a_billing_email_carries_an_unsubscribe_address_when_the_clinic_has_one(
    clinic: Clinic,
) -> None:
    pid = _setup(clinic)
    rule = _rule(clinic, "billing", channels=("email",))
    post_charge(clinic, pid, 5000, "Visit")
    message = _message(clinic, rule, pid, "2027-02-05")
    assert _decide(clinic, message, rule).drafts[0].unsubscribe == ""
    save_email_settings(
        clinic,
        SmtpSettings("smtp.example.com", 587, "starttls", sender_address="desk@lakeside.example"),
    )
    unsubscribe = _decide(clinic, message, rule).drafts[0].unsubscribe
    assert unsubscribe == "mailto:desk@lakeside.example?subject=Unsubscribe"


# --- no-show and birthday -----------------------------------------------------------------------


def test_a_missed_visit_follow_up_stops_once_the_patient_books_again(clinic: Clinic) -> None:
    pid = _setup(clinic)
    rule = _rule(clinic, "no_show")
    missed = _visit(clinic, pid, datetime(2027, 3, 5, 15, 0, tzinfo=CHICAGO))
    set_status(clinic, missed, "noshow")
    message = _message(clinic, rule, pid, "2027-03-05", subject_id=missed)
    text = _decide(clinic, message, rule).drafts[0]
    assert "we missed you at your appointment on Friday, March 5." in text.body
    _visit(clinic, pid, datetime(2027, 3, 12, 9, 0, tzinfo=CHICAGO))
    assert _decide(clinic, message, rule).skip == "The patient has booked again"


def test_a_birthday_greeting_goes_only_on_the_day(clinic: Clinic, dana: str) -> None:
    pid = _setup(clinic, birth_date="1980-03-07")
    rule = _rule(clinic, "birthday", channels=("sms",))
    record_consent(clinic, pid, "sms", "marketing", True, "form")
    message = _message(clinic, rule, pid, "2027", window=timedelta(hours=24))
    assert _decide(clinic, message, rule).drafts[0].body == (
        "Happy birthday, Ada! Warm wishes from all of us at Lakeside Family Practice."
    )
    next_day = NOW.replace(hour=8, minute=30) + timedelta(days=1)
    assert _decide(clinic, message, rule, now=next_day).skip == "The birthday has passed"
    update_patient(clinic, pid, {"birth_date": "1980-03-08"})
    assert _decide(clinic, message, rule, now=next_day).skip == "The birth date on file was changed"


# --- template values and the preview ------------------------------------------------------------


def test_template_values_are_the_purpose_variables_only(clinic: Clinic) -> None:
    pid = _setup(clinic)
    rule = _rule(clinic, "appointment")
    provider = add_provider(clinic, "Rivera", "Maria").id
    start = datetime(2027, 3, 9, 14, 5, tzinfo=CHICAGO)
    visit = book(clinic, pid, start, start + timedelta(minutes=20), provider_id=provider).id
    values = template_values(clinic, rule, pid, visit, "2027-03-09", channel="email", language="en")
    assert values == {
        "patient_first_name": "Ada",
        "patient_preferred_name": "Ada",
        "patient_full_name": "Ada Okafor",
        "clinic_name": "Lakeside Family Practice",
        "clinic_phone": "(312) 555-0100",
        "appointment_date": "Tuesday, March 9",
        "appointment_time": "2:05 PM",
        "weekday": "Tuesday",
        "provider_name": "Maria Rivera",
        "location_name": "Lakeside Family Practice",
        "location_address": "120 Main Street, Springfield",
        "confirm_instructions": "There is no need to reply.",
    }
    spanish = template_values(clinic, rule, pid, visit, "2027-03-09", channel="sms", language="es")
    assert (spanish["appointment_date"], spanish["appointment_time"]) == (
        "martes 9 de marzo",
        "14:05",
    )


def test_the_preview_uses_the_patients_real_next_visit(clinic: Clinic) -> None:
    pid = _setup(clinic)
    rule = _rule(clinic, "appointment")
    soon = datetime.now(CHICAGO).replace(hour=9, minute=30, second=0, microsecond=0)
    _visit(clinic, pid, soon + timedelta(days=3))
    draft = preview(clinic, rule, pid, "sms")
    assert draft.recipient == "+13125550142"
    assert "Hi Ada," in draft.body and " at 9:30 AM." in draft.body


def test_the_preview_without_a_visit_fills_in_sample_values(clinic: Clinic) -> None:
    pid = _setup(clinic)
    rule = _rule(clinic, "appointment")
    draft = preview(clinic, rule, pid, "email", language="es")
    assert draft.language == "es"
    assert draft.subject == "Su cita en Lakeside Family Practice el martes 10 de marzo"
    assert "Estimado/a Ada:" in draft.body


def test_the_preview_reports_a_broken_template_and_a_missing_one(clinic: Clinic) -> None:
    pid = _setup(clinic)
    rule = _rule(clinic, "appointment")
    with clinic.store.write() as tx:
        tx.insert(
            "message_template",
            {
                "rule_id": rule.id,
                "kind": "sms",
                "language": "en",
                "body": "Hi\n{{ patient_first_name }",
                "updated_at": utc_now(),
            },
        )
    with pytest.raises(TemplateError, match="Line 2"):
        preview(clinic, rule, pid, "sms")
    with pytest.raises(InvalidInputError, match="no letter message in English"):
        preview(clinic, _rule(clinic, "no_show"), pid, "letter")


def test_a_template_edited_in_spanish_reaches_a_spanish_speaker(clinic: Clinic) -> None:
    pid = _setup(clinic, language="es-MX")
    rule = _rule(clinic, "birthday", channels=("sms",))
    save_template(
        clinic, rule.id, "birthday", "sms", "es", "¡Felicidades, {{ patient_first_name }}!"
    )
    assert preview(clinic, rule, pid, "sms").body == "¡Felicidades, Ada!"


# --- minimum necessary -------------------------------------------------------------------------

_DIAGNOSES = st.one_of(
    st.sampled_from([display for _, _, display, _ in CONDITIONS]),
    st.from_regex(r"[A-Z][a-z]{6,12} (syndrome|disorder|disease)", fullmatch=True),
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(diagnosis=_DIAGNOSES, language=st.sampled_from(["en", "es"]))
def test_no_value_or_message_ever_holds_a_diagnosis(
    clinic: Clinic, diagnosis: str, language: str
) -> None:
    """The condition is on the record, typed as the visit's reason and even as its kind."""
    pid = _setup(clinic, language=language, birth_date="1980-03-07")
    with clinic.store.write() as tx:
        tx.insert(
            "condition",
            {
                "patient_id": pid,
                "system": "http://snomed.info/sct",
                "code": "1",
                "display": diagnosis,
            },
        )
    for channel in ("sms", "email", "letter"):
        record_consent(clinic, pid, channel, "marketing", True, "form", recorded_by="")
    start = datetime(2027, 3, 9, 9, 0, tzinfo=CHICAGO)
    visit = book(
        clinic, pid, start, start + timedelta(minutes=20), kind=diagnosis, reason=diagnosis
    ).id
    seen = book(
        clinic, pid, start - timedelta(days=400), start - timedelta(days=399), kind=diagnosis
    )
    set_status(clinic, seen.id, "fulfilled")
    post_charge(clinic, pid, 5000, diagnosis)
    drafts = 0
    for kind in KINDS:
        rule = _rule(clinic, kind, channels=("sms", "email", "letter"))
        for channel in ("sms", "email", "letter"):
            values = template_values(
                clinic, rule, pid, visit, "2027-03-09", channel=channel, language=language
            )
            assert all(diagnosis.lower() not in v.lower() for v in values.values())
        occurrence = {"appointment": "2027-03-09", "birthday": "2027"}.get(kind, "2027-02-05")
        decision = _decide(clinic, _message(clinic, rule, pid, occurrence, visit), rule)
        for draft in decision.drafts:
            drafts += 1
            for text in (draft.subject, draft.body, draft.html):
                assert diagnosis.lower() not in text.lower()
    assert drafts >= 3  # the appointment, billing and birthday messages were really made
