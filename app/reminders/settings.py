"""The clinic-wide reminder settings: whether sending is on, who sends, limits, consent policy.

Sending starts switched off: a clinic upgraded to this version, or a new one, sees its
reminders planned in Messages and turns sending on when its accounts are set up, so nobody
gets a text the clinic did not expect to send.

The sender workstation: exactly one workstation sends (its device id is stored here). Any
other workstation plans and shows the outbox but never sends, so a clinic with two desks
never texts a patient twice. With sync on the setting travels between desks with a
delay, so the chosen desk must also hold the sending turn, a lease at the sync server
(app/sync/sender_lease.py); without sync nothing else is asked.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Final

from app.clinic import Clinic, put_setting
from app.errors import DeviceRevokedError, InvalidInputError, RelayError
from app.store.changes import Changes
from app.sync import sender_lease

SETTING: Final = "reminders.settings"
CONSENT_RULES: Final = ("opt_out", "opt_in")
"""opt_out: send unless the patient said no. opt_in: send only after the patient said yes."""

DEFAULT_CONSENT: Final = {
    # Treatment and payment messages are expected by patients and allowed by HIPAA
    # without a separate authorisation; a "No" on record always wins.
    "appointment": "opt_out",
    "recall": "opt_out",
    "billing": "opt_out",
    # Anything promotional needs a recorded "Yes" first.
    "education": "opt_in",
    "survey": "opt_in",
    "marketing": "opt_in",
}


@dataclass(frozen=True)
class ReminderSettings:
    enabled: bool = False
    sender_device: str = ""  # the workstation that sends; "" = not chosen yet
    daily_limit: int = 2  # messages per patient per day, all rules together
    consent: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_CONSENT))
    language: str = "en"  # templates for patients with no language on record

    def consent_rule(self, purpose: str) -> str:
        return self.consent.get(purpose, DEFAULT_CONSENT.get(purpose, "opt_in"))


def check_settings(settings: ReminderSettings) -> None:
    if not 1 <= settings.daily_limit <= 10:
        raise InvalidInputError("Choose 1 to 10 messages a day per patient.")
    for purpose, rule in settings.consent.items():
        if purpose not in DEFAULT_CONSENT or rule not in CONSENT_RULES:
            raise InvalidInputError("A consent choice is not one Frontdesk knows.")


def load_settings(clinic: Clinic) -> ReminderSettings:
    row = clinic.conn.execute("SELECT value FROM setting WHERE id = ?", (SETTING,)).fetchone()
    if row is None:
        return ReminderSettings()
    values: dict[str, Any] = json.loads(row[0])
    known = {f.name for f in fields(ReminderSettings)}
    loaded = ReminderSettings(**{k: v for k, v in values.items() if k in known})
    return replace(loaded, consent={**DEFAULT_CONSENT, **dict(loaded.consent)})


def save_settings(clinic: Clinic, settings: ReminderSettings) -> Changes:
    check_settings(settings)
    values = asdict(settings)
    values["consent"] = dict(settings.consent)
    with clinic.store.write() as tx:
        put_setting(tx, SETTING, json.dumps(values, ensure_ascii=False, sort_keys=True))
    return tx.changes


def update_settings(clinic: Clinic, **values: Any) -> ReminderSettings:
    """Change some settings, keeping the rest as stored."""
    settings = replace(load_settings(clinic), **values)
    save_settings(clinic, settings)
    return settings


def device_id(clinic: Clinic) -> str:
    return clinic.store.device_id


def is_chosen_sender(clinic: Clinic, settings: ReminderSettings | None = None) -> bool:
    """Whether the clinic chose this workstation to send (whatever its sending turn)."""
    settings = settings or load_settings(clinic)
    return settings.sender_device == device_id(clinic)


def is_sender(clinic: Clinic, settings: ReminderSettings | None = None) -> bool:
    """Whether this workstation sends: the chosen one, and with sync on only while it
    holds the sending turn (no network asked: the turn is renewed by the sending pass).
    A clinic that has not chosen lets the first workstation that runs the sender take
    the role (claim_sender_if_unset)."""
    if not is_chosen_sender(clinic, settings):
        return False
    return not sender_lease.sync_on(clinic) or sender_lease.holds_turn(clinic)


def claim_sender(clinic: Clinic) -> ReminderSettings:
    """Make this workstation the one that sends (Settings ▸ Reminders, "Send from this
    computer"); the other workstations stop at their next pass. With sync on the next
    sending pass here takes the turn over at the relay (no network on this call)."""
    settings = update_settings(clinic, sender_device=device_id(clinic))
    if sender_lease.sync_on(clinic):
        sender_lease.want_take_over(clinic)
    return settings


def make_sender(clinic: Clinic) -> sender_lease.SenderTurn:
    """"Make this workstation the sender" (Settings ▸ Sync): the choice saved for every
    desk and, with sync on, the sending turn taken over at the sync server at once, so
    the desk that sent finds its next renewal refused and stops between two messages.
    It talks to the sync server: call it off the GUI thread. When the server cannot be
    reached the choice stays made and the next sending pass here takes the turn over;
    the turn's words say so. A removed workstation raises DeviceRevokedError."""
    claim_sender(clinic)
    try:
        return sender_lease.take_over(clinic)
    except DeviceRevokedError:
        raise
    except RelayError:
        return replace(sender_lease.sender_turn(clinic), message=sender_lease.TAKE_OVER_LATER)


def claim_sender_if_unset(clinic: Clinic) -> ReminderSettings:
    settings = load_settings(clinic)
    if settings.sender_device:
        return settings
    return update_settings(clinic, sender_device=device_id(clinic))
