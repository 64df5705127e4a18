"""`main.py send-due` as the OS scheduled task runs it: a real process, real loopback servers."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from app.clinic import Clinic
from app.patients.model import PatientDraft, PhoneDraft
from app.patients.records import create_patient
from app.reminders.accounts import save_email_settings, save_sms_account
from app.reminders.email_channel import SmtpSettings
from app.reminders.rules import Rule, Touch, save_rule
from app.reminders.settings import update_settings
from app.scheduling.appointments import book
from tests.conftest import PASSPHRASE
from tests.support.fake_smtp import Mailbox, free_port, running_smtp
from tests.support.fake_twilio import FakeTwilio, account_for, running_fake_twilio

ROOT = Path(__file__).resolve().parents[2]
EMAIL = "ana.quispe@example.org"
MOBILE = "+13125550199"


def _send_due(
    home: Path, *args: str, passphrase: str = PASSPHRASE
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.update(
        FRONTDESK_HOME=str(home),
        FRONTDESK_PASSPHRASE=passphrase,
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",  # as a scheduled task on a server
        PYTHONPATH=str(ROOT),
    )
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "send-due", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def _smtp(port: int) -> SmtpSettings:
    return SmtpSettings(
        host="127.0.0.1", port=port, security="none", sender_address="desk@lakeside.example"
    )


@pytest.fixture
def servers(clinic: Clinic) -> Iterator[tuple[Mailbox, FakeTwilio]]:
    with running_smtp() as (mailbox, port), running_fake_twilio() as fake:
        save_email_settings(clinic, _smtp(port))
        save_sms_account(clinic, account_for(fake))
        yield mailbox, fake


def _due_reminders(clinic: Clinic) -> None:
    """Two patients with a visit tomorrow and a reminder that came due two minutes ago:
    one reachable by text only, one by email only. Sending is on."""
    clinic.update_settings(address="120 Lake Street, Chicago, IL", phone="+1 312 555 0100")
    zone = ZoneInfo(clinic.settings.timezone)
    touch_at = (
        (datetime.now(UTC) - timedelta(minutes=2)).astimezone(zone).replace(second=0, microsecond=0)
    )
    save_rule(
        clinic,
        Rule(
            id="",
            kind="appointment",
            name="The day before",
            touches=(Touch(days=-1, at=touch_at.time()),),
            channels=("sms", "email"),
            window_hours=6,
            # No quiet hours (start = end): the test runs at any hour of the day.
            quiet_start=time(0, 0),
            quiet_end=time(0, 0),
        ),
    )
    visit = datetime.combine(touch_at.date() + timedelta(days=1), touch_at.time(), zone)
    texted = create_patient(
        clinic, PatientDraft(family_name="Quispe", given_names="Ana", phones=(PhoneDraft(MOBILE),))
    ).id
    emailed = create_patient(
        clinic, PatientDraft(family_name="Okafor", given_names="Ben", emails=(EMAIL,))
    ).id
    for patient in (texted, emailed):
        book(clinic, patient, visit, visit + timedelta(minutes=30))
    update_settings(clinic, enabled=True)


def _no_patient_data(text: str) -> None:
    for value in ("Quispe", "Okafor", EMAIL, MOBILE, "555"):
        assert value not in text


def test_send_due_delivers_a_due_reminder_once_and_the_second_run_sends_nothing(
    clinic: Clinic, clinic_home: Path, servers: tuple[Mailbox, FakeTwilio]
) -> None:
    mailbox, fake = servers
    _due_reminders(clinic)

    first = _send_due(clinic_home)

    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("Reminders: sent 2,")
    assert len(first.stdout.strip().splitlines()) == 1
    assert [m.to for m in fake.outbound()] == [MOBILE]
    assert [e.rcpt_tos for e in mailbox.envelopes] == [[EMAIL]]
    _no_patient_data(first.stdout + first.stderr)

    second = _send_due(clinic_home)

    assert second.returncode == 0, second.stderr
    assert second.stdout.startswith("Reminders: sent 0,")
    assert len(fake.outbound()) == 1 and len(mailbox.envelopes) == 1


def test_plan_only_plans_the_reminder_and_sends_nothing(
    clinic: Clinic, clinic_home: Path, servers: tuple[Mailbox, FakeTwilio]
) -> None:
    mailbox, fake = servers
    _due_reminders(clinic)

    result = _send_due(clinic_home, "--plan-only")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Reminders (plan only, nothing sent): newly planned 2."
    assert fake.outbound() == [] and mailbox.envelopes == []


def test_a_mail_server_that_is_down_makes_the_task_fail_with_the_reason(
    clinic: Clinic, clinic_home: Path, servers: tuple[Mailbox, FakeTwilio]
) -> None:
    _mailbox, fake = servers
    _due_reminders(clinic)
    save_email_settings(clinic, _smtp(free_port()))  # nobody listens there

    result = _send_due(clinic_home)

    assert result.returncode == 1
    assert "Problem with email: Could not reach the mail server" in result.stderr
    assert "Traceback" not in result.stderr
    assert [m.to for m in fake.outbound()] == [MOBILE]  # the text still went
    _no_patient_data(result.stdout + result.stderr)


def test_a_clinic_that_cannot_be_opened_exits_with_2(clinic_home: Path) -> None:
    result = _send_due(clinic_home, passphrase="not the passphrase 000")
    assert result.returncode == 2
    assert "passphrase is not right" in result.stderr
    assert "Traceback" not in result.stderr
