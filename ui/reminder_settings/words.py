"""Plain words for rules, touches, channels and consent, shared by the reminder settings screens."""

from __future__ import annotations

from datetime import time
from typing import Final

from app.reminders.rules import CHANNEL_LABELS, Rule, Touch

PURPOSE_LABELS: Final = {
    "appointment": "Appointments (about a booked or missed visit)",
    "recall": "Recalls (a visit is due again)",
    "billing": "Bills and payments",
    "education": "Health information",
    "survey": "Surveys",
    "marketing": "Offers and greetings",
}
"""The reason a message is sent, which is what a patient says yes or no to."""

CONSENT_LABELS: Final = {
    "opt_out": "Send unless the patient said no",
    "opt_in": "Only after the patient said yes",
}

ANCHORS: Final = {
    "appointment": "the visit",
    "recall": "the due date",
    "billing": "the charge",
    "no_show": "the missed visit",
    "birthday": "the birthday",
    "survey": "the visit",
    "review": "the survey answer",
    "education": "the send day",
    "allergy": "the high-pollen day",
    "reactivation": "the start",
}
"""What a touch's days count from, per rule kind (see app/reminders/rules.py)."""

BEFORE, ON_THE_DAY, AFTER = "before", "on", "after"
DIRECTIONS: Final = {
    # appointment reminders go before the visit or on its day; follow-ups and bills after
    "appointment": (BEFORE, ON_THE_DAY),
    "no_show": (AFTER,),
    "billing": (ON_THE_DAY, AFTER),
    "recall": (BEFORE, ON_THE_DAY, AFTER),
    "birthday": (BEFORE, ON_THE_DAY, AFTER),
    # campaigns go on their day or after it: nothing is known before
    "survey": (ON_THE_DAY, AFTER),
    "review": (ON_THE_DAY, AFTER),
    "education": (ON_THE_DAY, AFTER),
    "allergy": (ON_THE_DAY,),
    "reactivation": (ON_THE_DAY, AFTER),
}
DIRECTION_LABELS: Final = {
    BEFORE: "days before",
    ON_THE_DAY: "on the day of",
    AFTER: "days after",
}

LANGUAGE_NAMES: Final = {
    "en": "English",
    "es": "Spanish",
    "fr": "French",
    "pt": "Portuguese",
    "zh": "Chinese",
    "vi": "Vietnamese",
    "ko": "Korean",
    "ar": "Arabic",
    "ru": "Russian",
    "de": "German",
    "it": "Italian",
    "pl": "Polish",
    "ht": "Haitian Creole",
    "tl": "Tagalog",
}


def clock(moment: time) -> str:
    """8:00, 14:30: the clinic's wall-clock time, short."""
    return f"{moment.hour}:{moment.minute:02d}"


def channel_chain(channels: tuple[str, ...]) -> str:
    """('sms', 'email') → 'text, else email'."""
    return ", else ".join(CHANNEL_LABELS[c].lower() for c in channels)


def when_text(kind: str, touch: Touch) -> str:
    """When one touch goes, counted from the rule's anchor, in words."""
    days = abs(touch.days)
    unit = "day" if days == 1 else "days"
    anchor = ANCHORS[kind]
    if kind == "billing":
        return "on the day of the charge" if days == 0 else f"when the bill is {days} {unit} old"
    if touch.days == 0:
        return "on the day" if kind == "appointment" else f"on {anchor}"
    if kind == "appointment":
        return f"{days} {unit} before"
    if kind == "no_show":
        return f"{days} {unit} after"
    side = "before" if touch.days < 0 else "after"
    return f"{days} {unit} {side} {anchor}"


def touch_text(rule: Rule, touch: Touch) -> str:
    how = channel_chain(rule.channels_for(touch))
    text = f"{when_text(rule.kind, touch)} at {clock(touch.at)} by {how}"
    if touch.ask_to_confirm and rule.kind == "appointment":
        text += " (asks to confirm)"
    return text


def touches_summary(rule: Rule, separator: str = "\n") -> str:
    """'7 days before at 10:00 by email', '2 days before … (asks to confirm)', 'on the day …',
    one line each, in the order they go."""
    ordered = sorted(rule.touches, key=lambda t: t.days)
    lines = [touch_text(rule, t) for t in ordered]
    return separator.join(line[:1].upper() + line[1:] for line in lines)


def language_name(code: str) -> str:
    base = code.replace("_", "-").split("-")[0].lower()
    name = LANGUAGE_NAMES.get(base)
    if name is None:
        return code
    return name if base == code else f"{name} ({code})"
