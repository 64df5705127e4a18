"""One reminder pass over a real clinic and loopback servers: who sends, when, and what is kept."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.clinic import Clinic
from app.patients.model import PatientDraft, PhoneDraft
from app.patients.records import create_patient
from app.reminders import outbox
from app.reminders.accounts import save_email_settings, save_sms_account
from app.reminders.email_channel import SmtpSettings
from app.reminders.rules import Rule, Touch, save_rule
from app.reminders.service import (
    MODE_OFF,
    MODE_OTHER_SENDER,
    MODE_PLAN_ONLY,
    MODE_SENDING,
    QUIET_RECORD_EVERY,
    keep_running_in_tray,
    last_pass,
    run_pass,
    set_keep_running_in_tray,
)
from app.reminders.settings import load_settings, update_settings
from app.scheduling.appointments import book
from tests.support.fake_smtp import Mailbox, free_port, running_smtp
from tests.support.fake_twilio import account_for, running_fake_twilio

CHICAGO = ZoneInfo("America/Chicago")
PATIENT_EMAIL = "ana.quispe@example.org"


@pytest.fixture(autouse=True)
def clinic_details(clinic: Clinic) -> None:
    """What the default templates quote: the clinic's address and phone."""
    clinic.update_settings(address="120 Lake Street, Chicago, IL", phone="+1 312 555 0100")


@pytest.fixture
def mailbox(clinic: Clinic) -> Iterator[Mailbox]:
    """The clinic's mail server: a real SMTP server on loopback."""
    with running_smtp() as (box, port):
        save_email_settings(clinic, _smtp(port))
        yield box


def _smtp(port: int) -> SmtpSettings:
    return SmtpSettings(
        host="127.0.0.1",
        port=port,
        security="none",
        sender_address="desk@lakeside.example",
        sender_name="Lakeside Family Practice",
        timeout_s=5.0,
    )


def _patient(clinic: Clinic) -> str:
    draft = PatientDraft(
        family_name="Quispe",
        given_names="Ana",
        emails=(PATIENT_EMAIL,),
        phones=(PhoneDraft("+1 312 555 0199"),),
    )
    return create_patient(clinic, draft).id


def _nine_oclock_rule(clinic: Clinic) -> Rule:
    """Email two days before the visit and on its morning, both at 9:00 clinic time."""
    rule = Rule(
        id="",
        kind="appointment",
        name="Visit reminders",
        touches=(Touch(days=-2, at=time(9, 0)), Touch(days=0, at=time(9, 0))),
        channels=("email",),
        window_hours=6,
    )
    return save_rule(clinic, rule)


def _visit(clinic: Clinic, patient_id: str, day: datetime) -> str:
    start = day.replace(hour=10, minute=30, tzinfo=CHICAGO)
    return book(clinic, patient_id, start, start + timedelta(minutes=30)).id


def _at(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=CHICAGO)


def _messages(clinic: Clinic) -> list[outbox.Message]:
    return sorted((r.message for r in outbox.list_messages(clinic)), key=lambda m: m.due_at)


# --- daylight saving: 9:00 local on both sides of each change ----------------------------


@pytest.mark.parametrize(
    ("visit_day", "before", "after"),
    [
        # Clocks go back on Sun 1 Nov 2026: Sat 31 Oct is CDT (UTC-5), Mon 2 Nov is CST (UTC-6).
        (
            datetime(2026, 11, 2),
            ("2026-10-31", "2026-10-31T14:00:00Z"),
            ("2026-11-02", "2026-11-02T15:00:00Z"),
        ),
        # Clocks go forward on Sun 14 Mar 2027: Sat 13 Mar is CST, Mon 15 Mar is CDT.
        (
            datetime(2027, 3, 15),
            ("2027-03-13", "2027-03-13T15:00:00Z"),
            ("2027-03-15", "2027-03-15T14:00:00Z"),
        ),
    ],
    ids=["november-change", "march-change"],
)
def test_a_nine_oclock_reminder_goes_at_nine_local_on_both_sides_of_a_clock_change(
    clinic: Clinic,
    mailbox: Mailbox,
    visit_day: datetime,
    before: tuple[str, str],
    after: tuple[str, str],
) -> None:
    patient = _patient(clinic)
    _nine_oclock_rule(clinic)
    _visit(clinic, patient, visit_day)
    update_settings(clinic, enabled=True)

    for local_day, utc_due in (before, after):
        year, month, day = (int(x) for x in local_day.split("-"))
        already = len(mailbox.messages())

        early = run_pass(clinic, now=_at(year, month, day, 8, 59))
        assert early.mode == MODE_SENDING and early.sent == 0, early.summary()
        assert len(mailbox.messages()) == already

        on_time = run_pass(clinic, now=_at(year, month, day, 9, 0))
        assert on_time.sent == 1, on_time.summary()
        assert len(mailbox.messages()) == already + 1
        assert mailbox.envelopes[-1].rcpt_tos == [PATIENT_EMAIL]
        sent = [m for m in _messages(clinic) if m.state == "sent"]
        assert sent[-1].due_at == utc_due

    assert [m.state for m in _messages(clinic)] == ["sent", "sent"]


def test_a_clock_that_jumps_three_days_skips_the_old_messages_with_a_reason(
    clinic: Clinic, mailbox: Mailbox
) -> None:
    patient = _patient(clinic)
    _nine_oclock_rule(clinic)
    _visit(clinic, patient, datetime(2026, 11, 2))
    update_settings(clinic, enabled=True)
    planned = run_pass(clinic, now=_at(2026, 10, 31, 7, 0))
    assert planned.sent == 0 and [m.state for m in _messages(clinic)] == ["planned", "planned"]

    jumped = run_pass(clinic, now=_at(2026, 10, 31, 7, 0) + timedelta(days=3))

    assert jumped.sent == 0 and mailbox.messages() == []
    assert jumped.plan is not None and jumped.plan.stale == 2
    for message in _messages(clinic):
        assert message.state == "skipped"
        assert message.reason  # the reason Messages shows


# --- who sends -------------------------------------------------------------------------------


def test_with_sending_off_a_pass_plans_but_sends_nothing_and_claims_nothing(
    clinic: Clinic, mailbox: Mailbox
) -> None:
    patient = _patient(clinic)
    _nine_oclock_rule(clinic)
    _visit(clinic, patient, datetime(2026, 11, 2))

    report = run_pass(clinic, now=_at(2026, 10, 31, 9, 0))

    assert report.mode == MODE_OFF
    assert report.plan is not None and report.plan.planned == 2
    assert report.send is None and mailbox.messages() == []
    assert [m.state for m in _messages(clinic)] == ["due", "planned"]
    assert load_settings(clinic).sender_device == ""
    assert last_pass(clinic) is None
    assert "sending is off" in report.summary() and report.ok


def test_the_first_computer_to_send_takes_the_sender_role(clinic: Clinic, mailbox: Mailbox) -> None:
    update_settings(clinic, enabled=True)
    run_pass(clinic, now=_at(2026, 10, 31, 9, 0))
    assert load_settings(clinic).sender_device == clinic.store.device_id


def test_another_computer_that_sends_keeps_this_one_to_planning(
    clinic: Clinic, mailbox: Mailbox
) -> None:
    patient = _patient(clinic)
    _nine_oclock_rule(clinic)
    _visit(clinic, patient, datetime(2026, 11, 2))
    update_settings(clinic, enabled=True, sender_device="the-other-desk")

    report = run_pass(clinic, now=_at(2026, 10, 31, 9, 0))

    assert report.mode == MODE_OTHER_SENDER and report.sent == 0
    assert mailbox.messages() == []
    assert [m.state for m in _messages(clinic)] == ["due", "planned"]
    assert "another computer sends" in report.summary()


def test_plan_only_never_sends_even_on_the_sender(clinic: Clinic, mailbox: Mailbox) -> None:
    patient = _patient(clinic)
    _nine_oclock_rule(clinic)
    _visit(clinic, patient, datetime(2026, 11, 2))
    update_settings(clinic, enabled=True)

    report = run_pass(clinic, now=_at(2026, 10, 31, 9, 0), plan_only=True)

    assert report.mode == MODE_PLAN_ONLY and mailbox.messages() == []
    assert run_pass(clinic, now=_at(2026, 10, 31, 9, 0)).sent == 1


# --- one broken part does not stop the others --------------------------------------------------


def test_a_broken_sms_account_is_reported_and_the_email_still_goes(
    clinic: Clinic, mailbox: Mailbox
) -> None:
    patient = _patient(clinic)
    _nine_oclock_rule(clinic)
    _visit(clinic, patient, datetime(2026, 11, 2))
    update_settings(clinic, enabled=True)
    with running_fake_twilio() as fake:
        wrong_token = replace(account_for(fake, max_attempts=1), auth_token="not the token")
        save_sms_account(clinic, wrong_token)

        report = run_pass(clinic, now=_at(2026, 10, 31, 9, 0))

    assert report.sent == 1 and len(mailbox.messages()) == 1
    assert not report.ok
    lines = report.problem_lines()
    assert lines and all("Ana" not in line and "555" not in line for line in lines)
    assert "problem" in report.summary()


def test_a_mail_server_that_is_down_leaves_the_message_due_and_says_so(clinic: Clinic) -> None:
    patient = _patient(clinic)
    _nine_oclock_rule(clinic)
    _visit(clinic, patient, datetime(2026, 11, 2))
    save_email_settings(clinic, _smtp(free_port()))  # nobody listens there
    update_settings(clinic, enabled=True)

    report = run_pass(clinic, now=_at(2026, 10, 31, 9, 0))

    assert report.sent == 0 and not report.ok
    assert any("email" in line for line in report.problem_lines())
    assert _messages(clinic)[0].state in ("due", "failed")
    assert _messages(clinic)[0].state != "sent"


def test_replies_are_read_in_the_same_pass(clinic: Clinic, mailbox: Mailbox) -> None:
    update_settings(clinic, enabled=True)
    with running_fake_twilio() as fake:
        save_sms_account(clinic, account_for(fake))
        fake.add_inbound("+13125550199", "What time do you open?", _at(2026, 10, 31, 8, 30))
        report = run_pass(clinic, now=_at(2026, 10, 31, 9, 0))
    assert report.replies is not None and report.replies.received == 1
    assert report.ok and report.changed


# --- what is kept about a pass -----------------------------------------------------------------


def test_the_last_pass_is_recorded_in_counts_without_patient_data(
    clinic: Clinic, mailbox: Mailbox
) -> None:
    patient = _patient(clinic)
    _nine_oclock_rule(clinic)
    _visit(clinic, patient, datetime(2026, 11, 2))
    update_settings(clinic, enabled=True)

    run_pass(clinic, now=_at(2026, 10, 31, 9, 0))

    recorded = last_pass(clinic)
    assert recorded is not None
    assert recorded.sent == 1 and recorded.device == clinic.store.device_id
    assert recorded.last_sent_at == "2026-10-31T14:00:00Z"
    raw = clinic.conn.execute(
        "SELECT value FROM setting WHERE id = 'reminders.last_pass'"
    ).fetchone()[0]
    assert "Quispe" not in raw and PATIENT_EMAIL not in raw and patient not in raw
    assert set(json.loads(raw)) == {"at", "device", "mode", "last_sent_at", "counts"}


def test_passes_with_nothing_to_do_are_recorded_only_now_and_then(
    clinic: Clinic, mailbox: Mailbox
) -> None:
    update_settings(clinic, enabled=True)
    start = _at(2026, 10, 31, 9, 0)
    run_pass(clinic, now=start)
    first = last_pass(clinic)
    assert first is not None

    run_pass(clinic, now=start + timedelta(minutes=1))
    assert last_pass(clinic) == first

    later = start + QUIET_RECORD_EVERY
    run_pass(clinic, now=later)
    recorded = last_pass(clinic)
    assert recorded is not None and recorded.at == "2026-10-31T14:15:00Z"
    assert recorded.last_sent_at is None


def test_keep_running_in_the_tray_is_on_until_turned_off_on_this_computer(clinic: Clinic) -> None:
    assert keep_running_in_tray(clinic)
    changes = set_keep_running_in_tray(clinic, False)
    assert changes.touches("setting")
    assert not keep_running_in_tray(clinic)
