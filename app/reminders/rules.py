"""Reminder rules: what the clinic sends automatically, to whom, when and by which channel.

A rule is one programme (appointment reminders, recalls, billing notices, no-show
follow-ups, birthday greetings) with one or more touches. Every touch is a number of days
from the rule's anchor date at a local time of day:

- appointment: the visit's day (-7 = a week before, 0 = the morning of);
- recall: the day the patient is due again (last visit + the recall interval);
- billing: the day the oldest unpaid charge was posted (30 = when it is 30 days old);
- no_show: the day of the missed visit (+1 = the next day);
- birthday: the birthday this year.

The times are the clinic's wall-clock times, so a 9:00 touch goes at 9:00 on both sides of
a daylight-saving change. Rules are clinic data (the reminder_rule table, synced); the
parts a future version adds to the JSON definition are ignored by this one, not lost.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, time
from typing import Any, Final

from app.clinic import Clinic
from app.errors import InvalidInputError, RecordNotFoundError
from app.store.changes import Changes
from app.store.writer import new_id, utc_now

KINDS: Final = (
    "appointment",
    "recall",
    "billing",
    "no_show",
    "birthday",
    "survey",
    "review",
    "education",
    "allergy",
    "reactivation",
)
ENGAGEMENT_KINDS: Final = ("survey", "review", "education", "allergy", "reactivation")
"""Kinds whose planning and send-time checks live in app/engagement (see planner)."""
KIND_LABELS: Final = {
    "appointment": "Appointment reminder",
    "recall": "Recall",
    "billing": "Billing notice",
    "no_show": "Missed visit follow-up",
    "birthday": "Birthday greeting",
    "survey": "Satisfaction survey",
    "review": "Review request",
    "education": "Health education",
    "allergy": "Allergy alert",
    "reactivation": "Reactivation",
}
CHANNELS: Final = ("sms", "email", "letter")
CHANNEL_LABELS: Final = {"sms": "Text", "email": "Email", "letter": "Letter", "call": "Call"}
CALL_CHANNEL: Final = "call"
"""A reactivation touch's only channel when it puts the patient on Today's call list."""
PURPOSES: Final = ("appointment", "recall", "billing", "education", "survey", "marketing")
DEFAULT_PURPOSE: Final = {
    "appointment": "appointment",
    "recall": "recall",
    "billing": "billing",
    "no_show": "appointment",
    "birthday": "marketing",
    "survey": "survey",
    "review": "survey",
    "education": "education",
    "allergy": "education",
    # Bringing back a lapsed patient is about their care (like a recall): opt-out, so
    # the patients who said no are left out and the others are asked.
    "reactivation": "recall",
}
PRINT_FORMATS: Final = ("letter", "postcard")
MAX_TOUCHES: Final = 8
MAX_OFFSET_DAYS: Final = 366
SUBJECT_KIND: Final = {
    "appointment": "appointment",
    "no_show": "appointment",
    "recall": "recall",
    "billing": "balance",
    "birthday": "birthday",
    "survey": "survey",  # subject_id: the fulfilled visit asked about
    "review": "review",  # subject_id: the survey answer that was a promoter's
    "education": "education",  # subject_id: the education item's key
    "allergy": "pollen",  # occurrence: the high-pollen day
    "reactivation": "reactivation",  # occurrence: the day the patient's outreach began
}
"""What an outbox row of each rule kind is about (outbox.subject_kind)."""


@dataclass(frozen=True)
class Touch:
    """One message of a rule: `days` from the anchor date, at `at` local time.

    `channels` overrides the rule's order for this touch (a recall's last touch: a letter).
    `ask_to_confirm` adds "Reply C to confirm" to an appointment reminder.
    """

    days: int
    at: time
    channels: tuple[str, ...] = ()
    ask_to_confirm: bool = False


@dataclass(frozen=True)
class Rule:
    """One automatic message programme. Kind-specific terms are ignored by other kinds."""

    id: str
    kind: str
    name: str
    touches: tuple[Touch, ...]
    purpose: str = ""
    active: bool = True
    channels: tuple[str, ...] = ("sms", "email", "letter")
    # A touch that could not go within this many hours of its time is stale: skipped
    # with the reason (the clinic was closed, the computer off), never sent late.
    window_hours: int = 12
    # No text or email goes out between quiet_start and quiet_end (local time); a
    # message due then waits for quiet_end. Letters are printed by staff, so unaffected.
    quiet_start: time = time(20, 0)
    quiet_end: time = time(8, 0)
    # appointment and no_show: which visits (empty = all)
    appointment_kinds: tuple[str, ...] = ()
    provider_ids: tuple[str, ...] = ()
    location_ids: tuple[str, ...] = ()
    # recall: due this many months after the last fulfilled visit of these kinds
    recall_months: int = 12
    recall_visit_kinds: tuple[str, ...] = ()
    # billing: only balances of at least this much
    min_balance_cents: int = 1
    # What a letter-channel message of this rule prints as: "letter" or "postcard"
    # (billing notices always print as statements with the open charges).
    print_format: str = "letter"
    # survey and review: at most one per patient in this many months
    every_months: int = 6
    # education, allergy, reactivation (and survey): only patients in this saved segment
    segment_id: str = ""
    # education: the day of the month the campaign goes out
    send_day: int = 1
    # allergy: at most this many alerts per patient in a season of these months
    season_limit: int = 10
    season_months: tuple[int, ...] = (3, 4, 5, 6, 7, 8, 9)
    # reactivation: the first day of the campaign (patients lapsed before it are asked from
    # this day; those who lapse later, from the day they do). Uses recall_months and
    # recall_visit_kinds for "no visit of these kinds for N months".
    start_on: str = ""
    created_at: str = ""
    updated_at: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def effective_purpose(self) -> str:
        return self.purpose or DEFAULT_PURPOSE[self.kind]

    @property
    def subject_kind(self) -> str:
        return SUBJECT_KIND[self.kind]

    def channels_for(self, touch: Touch) -> tuple[str, ...]:
        return touch.channels or self.channels


# --- checking ---------------------------------------------------------------------------


def _problem(message: str) -> InvalidInputError:
    return InvalidInputError(message)


def _check_channels(channels: tuple[str, ...], where: str) -> None:
    unknown = [c for c in channels if c not in CHANNELS]
    if unknown:
        raise _problem(f"{where}: choose text, email or letter.")
    if len(set(channels)) != len(channels):
        raise _problem(f"{where}: each way of sending may appear only once.")


def _check_touches(rule: Rule) -> None:
    if not rule.touches:
        raise _problem("A rule needs at least one message: add a touch.")
    if len(rule.touches) > MAX_TOUCHES:
        raise _problem(f"A rule can have at most {MAX_TOUCHES} messages.")
    seen: set[int] = set()
    for number, touch in enumerate(rule.touches, start=1):
        where = f"Message {number}"
        if not -MAX_OFFSET_DAYS <= touch.days <= MAX_OFFSET_DAYS:
            raise _problem(f"{where}: choose at most {MAX_OFFSET_DAYS} days before or after.")
        if rule.kind == "appointment" and touch.days > 0:
            raise _problem(f"{where}: an appointment reminder goes before the visit or on its day.")
        if rule.kind == "no_show" and touch.days < 1:
            raise _problem(f"{where}: a missed-visit follow-up goes a day or more after the visit.")
        if rule.kind == "billing" and touch.days < 0:
            raise _problem(f"{where}: a billing notice counts days since the charge, from 0 up.")
        if rule.kind == "survey" and touch.days < 0:
            raise _problem(f"{where}: a survey goes on the day of the visit or after it.")
        if rule.kind == "review" and touch.days < 0:
            raise _problem(f"{where}: a review request goes on the day of the answer or after it.")
        if touch.days in seen:
            raise _problem(f"{where}: two messages of one rule cannot go on the same day.")
        seen.add(touch.days)
        if rule.kind == "reactivation" and touch.channels == (CALL_CHANNEL,):
            continue  # a reactivation touch may put the patient on the call list instead
        _check_channels(touch.channels, where)


def check_rule(rule: Rule) -> None:
    """Refuse a rule that could not work, with a sentence the Settings page can show."""
    if rule.kind not in KINDS:
        raise _problem("Choose what kind of message this rule sends.")
    if not rule.name.strip():
        raise _problem("Give the rule a name, such as “Reminder a week before”.")
    if len(rule.name) > 80:
        raise _problem("Keep the rule's name under 80 characters.")
    if rule.purpose and rule.purpose not in PURPOSES:
        raise _problem("Choose the reason for this message (for consent).")
    if not rule.channels:
        raise _problem("Choose at least one way of sending.")
    _check_channels(rule.channels, "Ways of sending")
    if not 1 <= rule.window_hours <= 24 * 14:
        raise _problem("A message may be sent late by 1 hour up to 14 days; choose in that range.")
    if rule.kind == "recall" and not 1 <= rule.recall_months <= 120:
        raise _problem("A recall comes 1 to 120 months after the last visit.")
    if rule.print_format not in PRINT_FORMATS:
        raise _problem("Choose whether the letters of this rule print as letters or postcards.")
    if rule.kind == "billing" and rule.min_balance_cents < 1:
        raise _problem("A billing notice needs a smallest balance above zero.")
    _check_touches(rule)
    _check_campaign(rule)
    if rule.kind in ("survey", "review") and not 1 <= rule.every_months <= 60:
        raise _problem("Ask the same patient at most once in 1 to 60 months; choose in that range.")
    for touch in rule.touches:
        if (
            rule.quiet_start != rule.quiet_end
            and _in_quiet(touch.at, rule)
            and not _only_letters(rule.channels_for(touch))
        ):
            raise _problem(
                f"A message set for {touch.at:%H:%M} falls in the quiet hours "
                f"({rule.quiet_start:%H:%M}–{rule.quiet_end:%H:%M}); choose another time."
            )


def _check_campaign(rule: Rule) -> None:
    """The terms of the health education, allergy alert and reactivation campaigns."""
    if rule.kind == "education" and not 1 <= rule.send_day <= 28:
        raise _problem("Choose a day of the month from 1 to 28 for the campaign to go out.")
    if rule.kind == "allergy":
        if not 1 <= rule.season_limit <= 366:
            raise _problem("Allow 1 or more allergy alerts per patient in a season.")
        months = rule.season_months
        if not months or len(set(months)) != len(months) or any(not 1 <= m <= 12 for m in months):
            raise _problem("Choose the months of the allergy season (each once, 1 to 12).")
    if rule.kind == "reactivation":
        if not 1 <= rule.recall_months <= 120:
            raise _problem("A patient counts as away after 1 to 120 months without a visit.")
        if rule.start_on:
            try:
                date.fromisoformat(rule.start_on)
            except ValueError:
                raise _problem("Write the campaign's first day as a date.") from None
    if rule.kind != "reactivation" and any(
        CALL_CHANNEL in t.channels for t in rule.touches
    ):  # pragma: no cover - _check_channels refuses it first
        raise _problem("Only a reactivation campaign can put patients on the call list.")


def _only_letters(channels: tuple[str, ...]) -> bool:
    return channels == ("letter",)


def _in_quiet(moment: time, rule: Rule) -> bool:
    return in_quiet_hours(moment, rule.quiet_start, rule.quiet_end)


def in_quiet_hours(moment: time, start: time, end: time) -> bool:
    """Quiet hours may span midnight (20:00–08:00) or not (12:00–13:00); equal = none."""
    if start == end:
        return False
    if start < end:
        return start <= moment < end
    return moment >= start or moment < end


# --- the stored form ------------------------------------------------------------------------


def _time_text(moment: time) -> str:
    return moment.strftime("%H:%M")


def _parse_time(text: Any) -> time:
    if not isinstance(text, str):
        raise ValueError("time must be text")
    return time.fromisoformat(text)


def _definition(rule: Rule) -> str:
    values: dict[str, Any] = dict(rule.extra)
    values.update(
        touches=[
            {
                "days": t.days,
                "at": _time_text(t.at),
                "channels": list(t.channels),
                "ask_to_confirm": t.ask_to_confirm,
            }
            for t in rule.touches
        ],
        channels=list(rule.channels),
        window_hours=rule.window_hours,
        quiet_start=_time_text(rule.quiet_start),
        quiet_end=_time_text(rule.quiet_end),
        appointment_kinds=list(rule.appointment_kinds),
        provider_ids=list(rule.provider_ids),
        location_ids=list(rule.location_ids),
        recall_months=rule.recall_months,
        recall_visit_kinds=list(rule.recall_visit_kinds),
        min_balance_cents=rule.min_balance_cents,
        print_format=rule.print_format,
        every_months=rule.every_months,
        segment_id=rule.segment_id,
        send_day=rule.send_day,
        season_limit=rule.season_limit,
        season_months=list(rule.season_months),
        start_on=rule.start_on,
    )
    return json.dumps(values, ensure_ascii=False, sort_keys=True)


_KNOWN_KEYS: Final = frozenset(
    {
        "touches",
        "channels",
        "window_hours",
        "quiet_start",
        "quiet_end",
        "appointment_kinds",
        "provider_ids",
        "location_ids",
        "recall_months",
        "recall_visit_kinds",
        "min_balance_cents",
        "print_format",
        "every_months",
        "segment_id",
        "send_day",
        "season_limit",
        "season_months",
        "start_on",
    }
)


def _strings(values: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in values or ())


def _from_row(row: tuple[Any, ...]) -> Rule:
    rule_id, kind, name, purpose, active, definition, created_at, updated_at = row
    values = json.loads(definition)
    touches = tuple(
        Touch(
            days=int(t["days"]),
            at=_parse_time(t["at"]),
            channels=_strings(t.get("channels")),
            ask_to_confirm=bool(t.get("ask_to_confirm", False)),
        )
        for t in values.get("touches", ())
    )
    defaults = Rule(id="", kind=kind, name="", touches=())
    return Rule(
        id=rule_id,
        kind=kind,
        name=name,
        touches=touches,
        purpose=purpose,
        active=bool(active),
        channels=_strings(values.get("channels")) or defaults.channels,
        window_hours=int(values.get("window_hours", defaults.window_hours)),
        quiet_start=_parse_time(values.get("quiet_start", "20:00")),
        quiet_end=_parse_time(values.get("quiet_end", "08:00")),
        appointment_kinds=_strings(values.get("appointment_kinds")),
        provider_ids=_strings(values.get("provider_ids")),
        location_ids=_strings(values.get("location_ids")),
        recall_months=int(values.get("recall_months", defaults.recall_months)),
        recall_visit_kinds=_strings(values.get("recall_visit_kinds")),
        min_balance_cents=int(values.get("min_balance_cents", defaults.min_balance_cents)),
        print_format=str(values.get("print_format", defaults.print_format)),
        every_months=int(values.get("every_months", defaults.every_months)),
        segment_id=str(values.get("segment_id", "")),
        send_day=int(values.get("send_day", defaults.send_day)),
        season_limit=int(values.get("season_limit", defaults.season_limit)),
        season_months=tuple(int(m) for m in values.get("season_months", defaults.season_months)),
        start_on=str(values.get("start_on", "")),
        created_at=created_at,
        updated_at=updated_at,
        extra={k: v for k, v in values.items() if k not in _KNOWN_KEYS},
    )


_SELECT: Final = (
    "SELECT id, kind, name, purpose, active, definition, created_at, updated_at FROM reminder_rule"
)


def load_rules(clinic: Clinic, *, active_only: bool = False) -> list[Rule]:
    """The clinic's rules in a stable order (kind, then name)."""
    sql = _SELECT + (" WHERE active = 1" if active_only else "")
    rows = clinic.conn.execute(sql).fetchall()
    rules = [_from_row(tuple(r)) for r in rows]
    return sorted(rules, key=lambda r: (KINDS.index(r.kind), r.name.casefold(), r.id))


def get_rule(clinic: Clinic, rule_id: str) -> Rule:
    row = clinic.conn.execute(_SELECT + " WHERE id = ?", (rule_id,)).fetchone()
    if row is None:
        raise RecordNotFoundError("That reminder rule no longer exists.")
    return _from_row(tuple(row))


def save_rule(clinic: Clinic, rule: Rule) -> Rule:
    """Check and store a rule (new when its id is empty); returns it as stored."""
    check_rule(rule)
    now = utc_now()
    stored = replace(
        rule,
        id=rule.id or new_id(),
        purpose=rule.effective_purpose,
        name=rule.name.strip(),
        created_at=rule.created_at or now,
        updated_at=now,
    )
    row = {
        "kind": stored.kind,
        "name": stored.name,
        "purpose": stored.purpose,
        "active": int(stored.active),
        "definition": _definition(stored),
        "updated_at": now,
    }
    with clinic.store.write() as tx:
        exists = tx.current("reminder_rule", stored.id, ("id",)) is not None
        if exists:
            tx.update("reminder_rule", stored.id, row)
        else:
            tx.insert("reminder_rule", {"id": stored.id, **row, "created_at": stored.created_at})
    return stored


def set_active(clinic: Clinic, rule_id: str, active: bool) -> Changes:
    """Pause or resume a rule. Its planned messages are cancelled by the next planning run."""
    get_rule(clinic, rule_id)
    with clinic.store.write() as tx:
        tx.update("reminder_rule", rule_id, {"active": int(active), "updated_at": utc_now()})
    return tx.changes


def delete_rule(clinic: Clinic, rule_id: str) -> Changes:
    """Remove a rule and the words the clinic wrote for it. Messages already sent keep
    their history; the next planning run cancels the ones not sent yet ("The rule was
    removed")."""
    get_rule(clinic, rule_id)
    templates = clinic.conn.execute(
        "SELECT id FROM message_template WHERE rule_id = ?", (rule_id,)
    ).fetchall()
    with clinic.store.write() as tx:
        for (template_id,) in templates:
            tx.delete("message_template", str(template_id))
        tx.delete("reminder_rule", rule_id)
    return tx.changes


# --- what a new clinic starts with -----------------------------------------------------------


def default_rules() -> list[Rule]:
    """Good starting rules, as most small clinics run them. Installed inactive-safe: nothing
    is sent until the clinic turns sending on (reminder settings) and sets up an account."""
    return [
        Rule(
            id="",
            kind="appointment",
            name="Appointment reminders",
            touches=(
                Touch(days=-7, at=time(10, 0), channels=("email",)),
                Touch(days=-2, at=time(10, 0), channels=("sms", "email"), ask_to_confirm=True),
                Touch(days=0, at=time(8, 0), channels=("sms",)),
            ),
            channels=("sms", "email", "letter"),
            window_hours=6,
        ),
        Rule(
            id="",
            kind="recall",
            name="Yearly check-up recall",
            touches=(
                Touch(days=-14, at=time(10, 0)),
                Touch(days=0, at=time(10, 0)),
                Touch(days=21, at=time(10, 0)),
                Touch(days=45, at=time(10, 0), channels=("letter",)),
            ),
            channels=("sms", "email", "letter"),
            recall_months=12,
            window_hours=72,
        ),
        Rule(
            id="",
            kind="billing",
            name="Balance reminders",
            touches=(
                Touch(days=30, at=time(10, 0), channels=("email", "letter")),
                Touch(days=60, at=time(10, 0), channels=("email", "letter")),
                Touch(days=90, at=time(10, 0), channels=("letter",)),
            ),
            channels=("email", "letter"),
            min_balance_cents=1000,
            window_hours=72,
        ),
        Rule(
            id="",
            kind="no_show",
            name="We missed you",
            touches=(Touch(days=1, at=time(10, 0)),),
            channels=("sms", "email"),
            window_hours=24,
        ),
        Rule(
            id="",
            kind="birthday",
            name="Birthday greeting",
            touches=(Touch(days=0, at=time(9, 0)),),
            channels=("email", "sms"),
            window_hours=10,
        ),
        *satisfaction_rules(),
    ]


def satisfaction_rules() -> list[Rule]:
    """The ready-made satisfaction survey and review request (part of the defaults; the
    campaigns are not: the clinic sets those up itself)."""
    return [
        # The evening after the visit: home, and the visit still fresh. Opt-in (consent
        # for surveys), so only patients who agreed are asked.
        Rule(
            id="",
            kind="survey",
            name="Satisfaction survey",
            touches=(Touch(days=1, at=time(18, 0)),),
            channels=("sms", "email"),
            window_hours=24,
            every_months=6,
        ),
        # Planned only once the clinic has review links in Settings.
        Rule(
            id="",
            kind="review",
            name="Review request",
            touches=(Touch(days=1, at=time(10, 0)),),
            channels=("email", "sms"),
            window_hours=24,
            every_months=12,
        ),
    ]


def install_default_rules(clinic: Clinic) -> list[Rule]:
    """Give a clinic without rules the defaults, once (a clinic that deleted them all is
    not refilled: the setting remembers that the defaults were offered)."""
    marker = clinic.conn.execute(
        "SELECT 1 FROM setting WHERE id = 'reminders.defaults_installed'"
    ).fetchone()
    has_rules = clinic.conn.execute("SELECT 1 FROM reminder_rule LIMIT 1").fetchone()
    if marker is not None or has_rules is not None:
        return []
    now = utc_now()
    installed = [
        replace(r, id=new_id(), purpose=r.effective_purpose, created_at=now, updated_at=now)
        for r in default_rules()
    ]
    for rule in installed:
        check_rule(rule)
    with clinic.store.write() as tx:
        for rule in installed:
            tx.insert(
                "reminder_rule",
                {
                    "id": rule.id,
                    "kind": rule.kind,
                    "name": rule.name,
                    "purpose": rule.purpose,
                    "active": int(rule.active),
                    "definition": _definition(rule),
                    "created_at": now,
                    "updated_at": now,
                },
            )
        tx.insert("setting", {"id": "reminders.defaults_installed", "value": "true"})
    return installed


def rules_by_id(rules: Iterable[Rule]) -> dict[str, Rule]:
    return {r.id: r for r in rules}
