"""The clinic's email and text-message accounts, kept in the encrypted clinic database.

The mail password and the SMS token are secrets: they live only in the clinic's own
settings (encrypted at rest with everything else, and synced only as ciphertext to the
workstations that send), never in a plain file and never in a log or a message. A
setting is checked by the channel's own rules before it is saved, so Settings refuses
exactly what sending would refuse, with the same words.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from app.clinic import Clinic, put_setting
from app.reminders.email_channel import SmtpSettings, validate_settings
from app.reminders.sms_channel import SmsAccount, check_account
from app.store.changes import Changes

__all__ = ["email_settings", "save_email_settings", "save_sms_account", "sms_account"]

EMAIL_SETTING = "reminders.email"
SMS_SETTING = "reminders.sms"


def save_email_settings(clinic: Clinic, settings: SmtpSettings) -> Changes:
    """Save the mail server settings; raises EmailDeliveryError (kind "settings") first."""
    validate_settings(settings)
    return _save(clinic, EMAIL_SETTING, dataclasses.asdict(settings))


def email_settings(clinic: Clinic) -> SmtpSettings | None:
    """The saved mail server settings, or None before anyone set them up."""
    values = _load(clinic, EMAIL_SETTING)
    return None if values is None else SmtpSettings(**_known(SmtpSettings, values))


def save_sms_account(clinic: Clinic, account: SmsAccount) -> Changes:
    """Save the text-message account; raises SmsDeliveryError (kind "settings") first."""
    check_account(account)
    return _save(clinic, SMS_SETTING, dataclasses.asdict(account))


def sms_account(clinic: Clinic) -> SmsAccount | None:
    """The saved text-message account, or None before anyone set it up."""
    values = _load(clinic, SMS_SETTING)
    return None if values is None else SmsAccount(**_known(SmsAccount, values))


def _save(clinic: Clinic, key: str, values: dict[str, Any]) -> Changes:
    encoded = json.dumps(values, ensure_ascii=False, sort_keys=True)
    with clinic.store.write() as tx:
        put_setting(tx, key, encoded)
    return tx.changes


def _load(clinic: Clinic, key: str) -> dict[str, Any] | None:
    row = clinic.conn.execute("SELECT value FROM setting WHERE id = ?", (key,)).fetchone()
    if row is None:
        return None
    values = json.loads(row[0])
    return values if isinstance(values, dict) else None


def _known(kind: type[Any], values: dict[str, Any]) -> dict[str, Any]:
    """Only the fields this version knows: a newer version's extra setting is ignored."""
    names = {f.name for f in dataclasses.fields(kind)}
    return {k: v for k, v in values.items() if k in names}
