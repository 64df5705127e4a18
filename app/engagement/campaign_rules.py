"""Health education, seasonal allergy alerts and reactivation campaigns: what each wants
planned, how its open messages are judged, and what holds at send time.

The planner and the send-time checks of app/reminders call into this module for its kinds
(rules.ENGAGEMENT_KINDS), through WANTERS, JUDGES and the three functions below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from app.clinic import Clinic
from app.patients.model import Patient
from app.reminders.outbox import Message
from app.reminders.planning_base import OpenMessage, Span, Verdict, Wanted
from app.reminders.rules import Rule, Touch
from app.reminders.subject_facts import Facts, Gone
from app.store.database import Connection

KINDS: Final = ("education", "allergy", "reactivation")

Wanter = Callable[[Connection, Rule, Span], Iterable[Wanted]]
Judge = Callable[[Connection, Rule, Sequence[OpenMessage], Span], dict[str, Verdict]]

WANTERS: Final[dict[str, Wanter]] = {}
JUDGES: Final[dict[str, Judge]] = {}


def still_holds(
    clinic: Clinic,
    rule: Rule,
    touch: Touch,
    message: Message,
    patient: Patient,
    *,
    now: datetime,
    zone: ZoneInfo,
) -> Facts | Gone:
    return Gone("This kind of message is not one Frontdesk knows")


def facts_for(
    clinic: Clinic, rule: Rule, patient_id: str, subject_id: str, occurrence: str
) -> Facts:
    return Facts()


def upcoming_facts(clinic: Clinic, rule: Rule, patient_id: str, *, now: datetime) -> Facts:
    return Facts()
