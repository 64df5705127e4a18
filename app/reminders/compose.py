"""Send-time decisions: whether a due message goes, when, by which channels, and its text.

The sender calls `decide` for every due message just before sending, so everything is
read from the record as it is at that moment: a moved visit gets its new time, a cancelled
one nothing, a patient who opted out nothing. The answer is one of three: skip (with a
reason the desk can read on the Messages page), wait until a time (quiet hours, the daily
limit), or the drafts to try in order (the fallback chain, e.g. text → email → letter),
each fully rendered for its channel and the patient's language.

Reasons never carry more than the desk already sees (no diagnosis, no message text); the
values a template sees are only its purpose's VARIABLES, built here from the record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from app.clinic import Clinic
from app.errors import InvalidInputError, RecordNotFoundError
from app.patients.model import Patient
from app.patients.records import get_patient
from app.patients.validation import display_phone
from app.reminders import wording
from app.reminders.accounts import email_settings
from app.reminders.outbox import Message
from app.reminders.planning_times import parse_utc, when_text
from app.reminders.reach import (
    MISSING_CONTACT,
    Way,
    best_phone,
    blocked,
    channel_order,
    consent_problem,
    contact_for,
    ways_to_reach,
)
from app.reminders.rules import CALL_CHANNEL, CHANNELS, Rule, Touch
from app.reminders.send_window import earliest_tomorrow, quiet_until, sent_today
from app.reminders.settings import ReminderSettings, load_settings
from app.reminders.subject_checks import facts_for, still_holds, upcoming_facts
from app.reminders.subject_facts import Facts, Gone
from app.reminders.template_store import template_for
from app.reminders.templates import (
    TemplateError,
    render,
    render_email,
    sample_values,
    variable_names,
)
from app.store.writer import utc_text

__all__ = ["Decision", "Draft", "decide", "preview", "template_values"]


@dataclass(frozen=True)
class Draft:
    """One message ready for one channel: what the sender hands to SMS, SMTP or the printer."""

    channel: str  # sms | email | letter | call (a reactivation touch for the call list)
    recipient: str  # E.164 number, email address, or the one-line postal address
    subject: str  # email only
    body: str  # the text (SMS, letter, the email's plain part)
    html: str = ""  # email only
    language: str = "en"  # the language the template and values are in
    unsubscribe: str = ""  # email only: a mailto: for the List-Unsubscribe header, or ""


@dataclass(frozen=True)
class Decision:
    """Exactly one of: drafts to try in order, skip (reason), or wait_until (UTC text).

    `blocked` lists the channels that could not be used and why, whatever the outcome, so
    the Messages page can show why a text became a letter.
    """

    drafts: tuple[Draft, ...] = ()
    skip: str = ""
    wait_until: str | None = None
    blocked: tuple[str, ...] = ()
    waiting_for: str = ""  # with wait_until: why, for the message's history


def _skip(reason: str, blocked_ways: tuple[str, ...] = ()) -> Decision:
    return Decision(skip=reason, blocked=blocked_ways)


# --- the decision -----------------------------------------------------------------------------


def decide(
    clinic: Clinic,
    message: Message,
    rule: Rule | None,
    *,
    now: datetime,
    settings: ReminderSettings,
) -> Decision:
    """Whether and what to send for one due message, from the current data (see module)."""
    if now.tzinfo is None:
        raise ValueError("decide needs an aware 'now'")
    if rule is None:
        return _skip("The rule was removed")
    if not rule.active:
        return _skip("The rule was paused")
    if not 0 <= message.touch < len(rule.touches):
        return _skip("The rule was changed and no longer has this message")
    touch = rule.touches[message.touch]
    patient = _patient(clinic, message.patient_id)
    if patient is None:
        return _skip("The patient is no longer on file")
    unreachable = _not_to_be_contacted(patient)
    if unreachable:
        return _skip(unreachable)
    zone = ZoneInfo(clinic.settings.timezone)
    stale_at = parse_utc(message.stale_at)
    if now > stale_at:
        return _skip(
            f"Too late to send: it was due at {when_text(parse_utc(message.due_at), zone)}"
        )
    facts = still_holds(clinic, rule, touch, message, patient, now=now, zone=zone)
    if isinstance(facts, Gone):
        return _skip(facts.reason)
    if rule.channels_for(touch) == (CALL_CHANNEL,):
        return _call(clinic, patient, message.purpose, settings)

    order = channel_order(rule, touch, patient)
    ways, reasons = ways_to_reach(clinic, patient, order, message.purpose, settings)
    drafts: list[Draft] = []
    for way in ways:
        made = _draft(clinic, rule, touch, patient, facts, way, message.purpose, settings)
        if isinstance(made, Draft):
            drafts.append(made)
        else:
            reasons.append(made)
    blocked_ways = tuple(reasons)
    if not drafts:
        return _skip(_no_way(reasons), blocked_ways)

    only_letters = all(d.channel == "letter" for d in drafts)
    limit = settings.daily_limit
    if limit and sent_today(clinic, patient.id, now=now, zone=zone, besides=message.id) >= limit:
        later = earliest_tomorrow(rule, now, zone, quiet=not only_letters)
        if later > stale_at:
            return _skip(f"The daily limit of {limit} messages was reached", blocked_ways)
        return Decision(
            wait_until=utc_text(later),
            blocked=blocked_ways,
            waiting_for=f"Waiting for tomorrow: the daily limit of {limit} messages was reached",
        )
    if not only_letters:
        quiet_end = quiet_until(rule, now, zone)
        if quiet_end is not None:
            if quiet_end > stale_at:
                return _skip(
                    f"Too late to send: the quiet hours last until "
                    f"{quiet_end.astimezone(zone):%H:%M}, after this message was still useful",
                    blocked_ways,
                )
            return Decision(
                wait_until=utc_text(quiet_end),
                blocked=blocked_ways,
                waiting_for="Waiting for the end of the quiet hours at "
                f"{quiet_end.astimezone(zone):%H:%M}",
            )
    return Decision(drafts=tuple(drafts), blocked=blocked_ways)


CALL_NOTE = "Reactivation: ask if they would like to book"
"""What Today's call list says for a reactivation call (no more than the desk sees)."""


def _call(clinic: Clinic, patient: Patient, purpose: str, settings: ReminderSettings) -> Decision:
    """A call-list touch: the patient's phone consent for the purpose (the purpose's
    opt-in or opt-out) and a phone number; the sender puts them on Today's call list."""
    problem = consent_problem(clinic, patient, "phone", purpose, settings)
    if problem is not None:
        reason = blocked(CALL_CHANNEL, problem.replace("phones", "phone calls"))
        return _skip(f"No way to reach the patient: {reason}", (reason,))
    number = best_phone(patient)
    if number is None:
        reason = blocked(CALL_CHANNEL, "no phone number")
        return _skip(f"No way to reach the patient: {reason}", (reason,))
    return Decision(drafts=(Draft(CALL_CHANNEL, number, "", CALL_NOTE),))


def _patient(clinic: Clinic, patient_id: str) -> Patient | None:
    try:
        return get_patient(clinic, patient_id)
    except RecordNotFoundError:
        return None


def _not_to_be_contacted(patient: Patient) -> str:
    if patient.merged_into:
        return "The patient's record was merged into another"
    if patient.deceased:
        return "The patient is deceased"
    if patient.do_not_contact:
        return "The patient asked not to be contacted"
    return ""


# --- drafts -------------------------------------------------------------------------------------

_TEMPLATE_KIND = {"sms": "sms", "email": "email", "letter": "letter"}


def _languages(patient: Patient, settings: ReminderSettings) -> tuple[str, ...]:
    """The patient's language, then the clinic's."""
    clinic_language = settings.language or "en"
    return tuple(dict.fromkeys((patient.language.strip() or clinic_language, clinic_language)))


def _template(
    clinic: Clinic, rule: Rule, kind: str, languages: tuple[str, ...]
) -> tuple[str, str] | None:
    for language in languages:
        source = template_for(clinic, rule.id, rule.kind, kind, language)
        if source is not None:
            return source, language
    return None


def _no_template(channel: str, languages: tuple[str, ...]) -> str:
    names = " or ".join(dict.fromkeys(wording.language_name(code) for code in languages))
    return blocked(channel, f"no {wording.CHANNEL_NOUNS[channel]} template in {names}")


def _draft(
    clinic: Clinic,
    rule: Rule,
    touch: Touch,
    patient: Patient,
    facts: Facts,
    way: Way,
    purpose: str,
    settings: ReminderSettings,
) -> Draft | str:
    """The rendered draft for one usable channel, or why that channel cannot be used."""
    languages = _languages(patient, settings)
    found = _template(clinic, rule, _TEMPLATE_KIND[way.channel], languages)
    if found is None:
        return _no_template(way.channel, languages)
    source, language = found
    values = _values(
        clinic,
        rule,
        patient,
        facts,
        channel=way.channel,
        language=language,
        ask=touch.ask_to_confirm,
    )
    try:
        if way.channel == "email":
            html_source = template_for(clinic, rule.id, rule.kind, "email_html", language)
            email = render_email(source, purpose=rule.kind, values=values, html_source=html_source)
            return Draft(
                channel="email",
                recipient=way.recipient,
                subject=email.subject,
                body=email.text,
                html=email.html,
                language=language,
                unsubscribe=_unsubscribe(clinic, purpose),
            )
        body = render(source, purpose=rule.kind, kind=way.channel, values=values).strip()
    except TemplateError as exc:
        return blocked(way.channel, f"the template has a problem ({str(exc.problem).rstrip('.')})")
    if not body:
        return blocked(way.channel, "the template makes an empty message")
    return Draft(
        channel=way.channel, recipient=way.recipient, subject="", body=body, language=language
    )


def _unsubscribe(clinic: Clinic, purpose: str) -> str:
    """A mailto: to the clinic's sending address, for anything but appointment messages
    (a patient cannot "unsubscribe" from the visit they booked; the rest they may)."""
    if purpose == "appointment":
        return ""
    smtp = email_settings(clinic)
    address = smtp.sender_address.strip() if smtp is not None else ""
    if not address or "@" not in address or any(c.isspace() or c in "<>,?" for c in address):
        return ""
    return f"mailto:{address}?subject=Unsubscribe"


# --- values ---------------------------------------------------------------------------------------


def template_values(
    clinic: Clinic,
    rule: Rule,
    patient_id: str,
    subject_id: str,
    occurrence: str,
    *,
    channel: str,
    language: str,
    ask_to_confirm: bool = False,
) -> dict[str, str]:
    """The values a template of this rule sees for one message, as the record stands now:
    only the purpose's variables, formatted for `language`. A part that is gone (a removed
    visit) is left empty, which a template that needs it reports as missing."""
    try:
        patient = get_patient(clinic, patient_id)
    except RecordNotFoundError:
        raise InvalidInputError("That patient is no longer on file.") from None
    facts = facts_for(clinic, rule, patient_id, subject_id, occurrence)
    return _values(
        clinic, rule, patient, facts, channel=channel, language=language, ask=ask_to_confirm
    )


def _common(clinic: Clinic, patient: Patient) -> dict[str, str]:
    settings = clinic.settings
    given = patient.given_names.strip()
    return {
        "patient_first_name": given,
        "patient_preferred_name": patient.preferred_name.strip() or given or patient.family_name,
        "patient_full_name": " ".join(p for p in (given, patient.family_name) if p),
        "clinic_name": settings.name,
        "clinic_phone": display_phone(settings.phone, settings.region) if settings.phone else "",
    }


def _values(
    clinic: Clinic,
    rule: Rule,
    patient: Patient,
    facts: Facts,
    *,
    channel: str,
    language: str,
    ask: bool,
) -> dict[str, str]:
    values = _common(clinic, patient)
    zone = ZoneInfo(clinic.settings.timezone)
    visit = facts.visit
    if visit is not None and visit.start_at:
        local = parse_utc(visit.start_at).astimezone(zone)
        values.update(
            appointment_date=wording.long_date(local.date(), language),
            appointment_time=wording.clock_time(local.time(), language),
            weekday=wording.weekday(local.date(), language),
            missed_date=wording.long_date(local.date(), language),
            provider_name=_provider_name(clinic, visit.provider_id) or wording.our_team(language),
        )
        values.update(_location(clinic, visit.location_id))
    values["confirm_instructions"] = wording.confirm_instructions(
        channel, language, values["clinic_phone"], ask=ask
    )
    if facts.due_date is not None:
        values["due_date"] = wording.month_day(facts.due_date, language)
    if rule.kind == "recall":
        values["recall_reason"] = wording.recall_reason(facts.recall_kind, language)
    if facts.balance_cents is not None:
        values["balance"] = wording.money(facts.balance_cents, clinic.settings.region)
    if rule.kind == "billing":
        values["pay_instructions"] = wording.pay_instructions(language, online=False)
    values.update(facts.extra)
    wanted = variable_names(rule.kind)
    return {name: values[name] for name in wanted if name in values}


def _provider_name(clinic: Clinic, provider_id: str | None) -> str:
    """'Dr. Rivera' with a title, 'Maria Rivera' without one."""
    if not provider_id:
        return ""
    row = clinic.conn.execute(
        "SELECT title, given_names, family_name FROM provider WHERE id = ?", (provider_id,)
    ).fetchone()
    if row is None:
        return ""
    title, given, family = (str(v or "").strip() for v in row)
    parts = (title, family) if title else (given, family)
    return " ".join(p for p in parts if p)


def _location(clinic: Clinic, location_id: str | None) -> dict[str, str]:
    """Where the visit is; without a location on the visit, the clinic itself."""
    settings = clinic.settings
    row = None
    if location_id:
        row = clinic.conn.execute(
            "SELECT name, line1, city, region, postal_code FROM location WHERE id = ?",
            (location_id,),
        ).fetchone()
    if row is None:
        return {"location_name": settings.name, "location_address": settings.address}
    name, line1, city, region, postal = (str(v or "").strip() for v in row)
    town = " ".join(p for p in (city, region, postal) if p)
    address = ", ".join(p for p in (line1, town) if p) or settings.address
    return {"location_name": name or settings.name, "location_address": address}


# --- the template editor's preview -----------------------------------------------------------


def _no_way(reasons: list[str]) -> str:
    """Why nothing can go, and what the desk can do about it when details are missing."""
    text = "No way to reach the patient: " + "; ".join(reasons)
    if any(r.endswith(MISSING_CONTACT) for r in reasons):
        text += (
            ". Add the missing details with Edit details and consent, or give the rule "
            "another way of sending in Settings ▸ Reminders."
        )
    return text


def preview(
    clinic: Clinic,
    rule: Rule,
    patient_id: str,
    channel: str,
    language: str | None = None,
    *,
    source: str | None = None,
) -> Draft:
    """The rule's message for `channel` filled in for a real patient: their next visit,
    balance or recall when they have one, else made-up values for those parts (the patient's
    and the clinic's own details are always real). `source` previews words not saved yet
    (the editor's), in `language`. Raises TemplateError with the line and reason for a
    template that cannot be filled in, InvalidInputError for the rest."""
    if channel not in CHANNELS:
        raise InvalidInputError("Choose text, email or letter.")
    try:
        patient = get_patient(clinic, patient_id)
    except RecordNotFoundError:
        raise InvalidInputError("That patient is no longer on file.") from None
    settings = load_settings(clinic)
    languages = (language,) if language else _languages(patient, settings)
    found = (
        (source, languages[0])
        if source is not None
        else _template(clinic, rule, _TEMPLATE_KIND[channel], languages)
    )
    if found is None:
        names = " or ".join(dict.fromkeys(wording.language_name(code) for code in languages))
        raise InvalidInputError(
            f"This rule has no {wording.CHANNEL_NOUNS[channel]} message in {names}."
        )
    source, used = found
    facts = upcoming_facts(clinic, rule, patient.id, now=datetime.now(UTC))
    ask = any(t.ask_to_confirm and channel in rule.channels_for(t) for t in rule.touches)
    real = _values(clinic, rule, patient, facts, channel=channel, language=used, ask=ask)
    values = _with_samples(real, sample_values(rule.kind, used), _common(clinic, patient))
    recipient = contact_for(patient, channel, clinic.settings.region) or ""
    if channel == "email":
        html_source = template_for(clinic, rule.id, rule.kind, "email_html", used)
        email = render_email(source, purpose=rule.kind, values=values, html_source=html_source)
        return Draft(
            channel="email",
            recipient=recipient,
            subject=email.subject,
            body=email.text,
            html=email.html,
            language=used,
            unsubscribe=_unsubscribe(clinic, rule.effective_purpose),
        )
    body = render(source, purpose=rule.kind, kind=channel, values=values).strip()
    return Draft(channel=channel, recipient=recipient, subject="", body=body, language=used)


def _with_samples(
    real: Mapping[str, str], samples: Mapping[str, str], own: Mapping[str, str]
) -> dict[str, str]:
    """Real values where the record has them; samples for the subject parts it lacks. The
    patient's and clinic's own details stay real even when empty, so the preview shows the
    problem a real send would have (a clinic without a phone number)."""
    values = {name: real.get(name) or sample for name, sample in samples.items()}
    values.update({name: value for name, value in own.items() if name in samples})
    values["confirm_instructions"] = real.get("confirm_instructions", "")
    return {k: v for k, v in values.items() if k in samples}
