"""How a patient may be reached for a message: channel order, consent, and the contact to use.

Each channel of the rule's order is either usable (with the number, address or postal
line to send to) or blocked with a reason the desk can act on ("Email: no email address").
Consent follows the clinic's policy per purpose (settings.consent_rule): opt_out sends
unless the patient's newest decision for the channel and purpose is a No; opt_in sends only
after a Yes. A STOP texted back opts the number out of every text, whatever the purpose.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from app.clinic import Clinic
from app.patients.model import Address, Patient
from app.reminders import wording
from app.reminders.rules import CHANNEL_LABELS, Rule, Touch
from app.reminders.settings import ReminderSettings

SMS_STOP_SOURCE = "sms-stop"
"""The consent source the reply handler records when a patient texts STOP."""


@dataclass(frozen=True)
class Way:
    """One usable channel and where to send on it."""

    channel: str
    recipient: str  # E.164 number, email address, or the one-line postal address


def channel_order(rule: Rule, touch: Touch, patient: Patient) -> tuple[str, ...]:
    """The touch's channels (or the rule's), with the patient's preferred one moved first."""
    order = rule.channels_for(touch)
    preferred = patient.preferred_channel
    if preferred in order:
        return (preferred, *(c for c in order if c != preferred))
    return tuple(order)


def blocked(channel: str, reason: str) -> str:
    return f"{CHANNEL_LABELS.get(channel, channel)}: {reason}"


def _texts_stopped(clinic: Clinic, patient_id: str) -> bool:
    """The patient's newest decision about texts, whatever its purpose, is a STOP."""
    row = clinic.conn.execute(
        "SELECT granted, source FROM consent WHERE patient_id = ? AND channel = 'sms' "
        "ORDER BY recorded_at DESC, rowid DESC LIMIT 1",
        (patient_id,),
    ).fetchone()
    return row is not None and not row[0] and row[1] == SMS_STOP_SOURCE


def consent_problem(
    clinic: Clinic, patient: Patient, channel: str, purpose: str, settings: ReminderSettings
) -> str | None:
    """Why consent stops this channel for this purpose, or None."""
    noun = wording.CHANNEL_NOUNS.get(channel, channel) + "s"
    what = wording.PURPOSE_PHRASES.get(purpose, purpose)
    if channel == "sms" and _texts_stopped(clinic, patient.id):
        return "the patient replied STOP to our texts"
    decision = patient.consent_for(channel, purpose)
    if decision is not None and not decision.granted:
        return f"the patient said no to {noun} for {what}"
    if settings.consent_rule(purpose) == "opt_in" and decision is None:
        return f"the patient has not agreed to {noun} for {what}"
    return None


def best_phone(patient: Patient) -> str | None:
    """A mobile first, then the others by rank."""
    phones = [c for c in patient.contact_points if c.kind == "phone" and c.value]
    phones.sort(key=lambda c: (c.use != "mobile", c.rank))
    return phones[0].value if phones else None


def best_email(patient: Patient) -> str | None:
    emails = sorted(
        (c for c in patient.contact_points if c.kind == "email" and c.value),
        key=lambda c: c.rank,
    )
    return emails[0].value if emails else None


def _mailable(address: Address) -> bool:
    return bool(address.line1.strip() and (address.postal_code.strip() or address.city.strip()))


def full_name(patient: Patient) -> str:
    return " ".join(p for p in (patient.given_names, patient.family_name) if p)


def postal_line(patient: Patient, clinic_region: str) -> str | None:
    """ "Ada Okafor, 12 Elm St, Apt 3, Springfield IL 62701": the letters module lays it out."""
    for address in sorted(patient.addresses, key=lambda a: a.rank):
        if not _mailable(address):
            continue
        town = " ".join(p for p in (address.city, address.region, address.postal_code) if p)
        parts = [full_name(patient), address.line1, address.line2, town]
        if address.country and address.country.upper() != clinic_region.upper():
            parts.append(address.country)
        return ", ".join(" ".join(p.split()) for p in parts if p.strip())
    return None


def contact_for(patient: Patient, channel: str, clinic_region: str) -> str | None:
    if channel == "sms":
        return best_phone(patient)
    if channel == "email":
        return best_email(patient)
    if channel == "letter":
        return postal_line(patient, clinic_region)
    return None


_NO_CONTACT = {
    "sms": "no mobile number",
    "email": "no email address",
    "letter": "no postal address",
}
MISSING_CONTACT: Final = tuple(_NO_CONTACT.values())
"""The endings of a blocked reason that a receptionist fixes on the patient's record."""


def ways_to_reach(
    clinic: Clinic,
    patient: Patient,
    channels: tuple[str, ...],
    purpose: str,
    settings: ReminderSettings,
) -> tuple[list[Way], list[str]]:
    """The usable channels in order, and a reason for each one that is not."""
    usable: list[Way] = []
    reasons: list[str] = []
    for channel in channels:
        problem = consent_problem(clinic, patient, channel, purpose, settings)
        if problem is not None:
            reasons.append(blocked(channel, problem))
            continue
        recipient = contact_for(patient, channel, clinic.settings.region)
        if recipient is None:
            reasons.append(blocked(channel, _NO_CONTACT.get(channel, "no contact details")))
            continue
        usable.append(Way(channel, recipient))
    return usable, reasons
