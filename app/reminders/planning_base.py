"""The parts of planning that every kind of rule shares: what a rule wants, the run's span
of time, an open message as a run found it, and the verdict on it.

They live apart from the planner so that the kinds of rule defined outside the reminders
package (surveys, review requests, campaigns in app/engagement) can say what they want and
judge their open messages without importing the planner, which imports them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from app.reminders import outbox
from app.reminders.planning_times import local_day, touch_moment
from app.reminders.rules import Rule
from app.store.writer import utc_text


@dataclass(frozen=True)
class Wanted:
    """A message a rule asks for now."""

    touch: int
    patient_id: str
    subject_id: str  # the appointment for appointment and no-show rules, else ''
    occurrence: str
    due_at: datetime
    stale_at: datetime

    def key(self, rule_id: str) -> str:
        return outbox.idem_key(
            rule_id, self.touch, self.subject_id or self.patient_id, self.occurrence
        )


@dataclass(frozen=True)
class Span:
    now: datetime
    until: datetime
    zone: ZoneInfo

    @property
    def now_text(self) -> str:
        return utc_text(self.now)

    def due_days(self, rule: Rule) -> tuple[date, date]:
        """The local days on which a message of this rule may be due in this run."""
        earliest = self.now - timedelta(hours=rule.window_hours)
        return local_day(earliest, self.zone), local_day(self.until, self.zone)

    def anchors(self, rule: Rule, touch: int) -> tuple[date, date]:
        """The anchor days whose `touch` falls on a due day of this run."""
        first, last = self.due_days(rule)
        offset = timedelta(days=rule.touches[touch].days)
        return first - offset, last - offset

    def timing(
        self, rule: Rule, touch: int, anchor: date, cap: datetime | None = None
    ) -> tuple[datetime, datetime]:
        """(due, stale) of a touch for an anchor day; `cap` ends the window early (a
        reminder is worth nothing once the visit has started)."""
        step = rule.touches[touch]
        due = touch_moment(anchor + timedelta(days=step.days), step.at, self.zone)
        stale = due + timedelta(hours=rule.window_hours)
        return due, stale if cap is None else min(stale, cap)


@dataclass(frozen=True)
class OpenMessage:
    """A planned or due message as the run found it, with its patient's flags."""

    id: str
    idem_key: str
    rule_id: str
    touch: int
    patient_id: str
    subject_id: str
    occurrence: str
    due_at: str
    stale_at: str
    state: str
    deceased: bool
    do_not_contact: bool
    merged: bool
    birth_date: str | None


# A verdict on an open message: the reason to cancel it, or the (due, stale) it should have.
Verdict = str | tuple[datetime, datetime]
