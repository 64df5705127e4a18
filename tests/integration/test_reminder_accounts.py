"""The email and SMS accounts, saved in the real encrypted clinic and read back."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.clinic import Clinic
from app.reminders.accounts import (
    email_settings,
    save_email_settings,
    save_sms_account,
    sms_account,
)
from app.reminders.email_channel import EmailDeliveryError, SmtpSettings
from app.reminders.sms_channel import SmsAccount, SmsDeliveryError

PASSWORD = "mail-secret-7a1f9c"
TOKEN = "sms-token-3e8d0b"


def _smtp(**changes: object) -> SmtpSettings:
    values: dict[str, object] = {
        "host": "smtp.example.org",
        "port": 587,
        "security": "starttls",
        "username": "desk@example.org",
        "password": PASSWORD,
        "sender_address": "desk@example.org",
        "sender_name": "Lakeside Family Practice",
    }
    values.update(changes)
    return SmtpSettings(**values)  # type: ignore[arg-type]


def _sms() -> SmsAccount:
    return SmsAccount(account_sid="AC0123456789abcdef", auth_token=TOKEN, sender="+13125550100")


def test_nothing_is_set_up_in_a_new_clinic(clinic: Clinic) -> None:
    assert email_settings(clinic) is None
    assert sms_account(clinic) is None


def test_the_accounts_are_saved_and_read_back_whole(clinic: Clinic) -> None:
    save_email_settings(clinic, _smtp())
    save_sms_account(clinic, _sms())
    assert email_settings(clinic) == _smtp()
    assert sms_account(clinic) == _sms()
    save_email_settings(clinic, _smtp(port=465, security="tls"))  # saving again replaces
    saved = email_settings(clinic)
    assert saved is not None and (saved.port, saved.security) == (465, "tls")


def test_settings_that_cannot_work_are_refused_and_nothing_is_saved(clinic: Clinic) -> None:
    with pytest.raises(EmailDeliveryError) as refused:
        save_email_settings(clinic, _smtp(host=" "))
    assert refused.value.kind == "settings" and PASSWORD not in str(refused.value)
    with pytest.raises(SmsDeliveryError):
        save_sms_account(clinic, SmsAccount(account_sid="", auth_token=TOKEN, sender="+1312"))
    assert email_settings(clinic) is None and sms_account(clinic) is None


def test_the_secrets_are_never_in_a_plain_file(clinic: Clinic) -> None:
    save_email_settings(clinic, _smtp())
    save_sms_account(clinic, _sms())
    clinic.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    home = Path(clinic.home)
    for path in home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert PASSWORD.encode() not in data, path.name
            assert TOKEN.encode() not in data, path.name
    assert PASSWORD not in repr(email_settings(clinic)) and TOKEN not in repr(sms_account(clinic))
