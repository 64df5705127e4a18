"""When a message may go: the rule's quiet hours and the per-patient daily limit.

Both are in the clinic's wall-clock time, so "no texts after 8 pm" means 8 pm in the
clinic, on either side of a daylight-saving change, whatever the workstation's clock says.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from app.clinic import Clinic
from app.reminders.planning_times import day_start, touch_moment
from app.reminders.rules import Rule, in_quiet_hours
from app.store.writer import utc_text

COUNTED_STATES = ("sending", "to_print", "sent")
"""Messages that went, or are going, out today: the daily limit counts these."""


def quiet_until(rule: Rule, now: datetime, zone: ZoneInfo) -> datetime | None:
    """The end of the quiet hours `now` falls in, or None when it is not quiet."""
    local = now.astimezone(zone)
    if not in_quiet_hours(local.time(), rule.quiet_start, rule.quiet_end):
        return None
    day = local.date()
    spans_midnight = rule.quiet_start > rule.quiet_end
    if spans_midnight and local.time() >= rule.quiet_start:
        day += timedelta(days=1)
    return touch_moment(day, rule.quiet_end, zone)


def earliest_tomorrow(rule: Rule, now: datetime, zone: ZoneInfo, *, quiet: bool) -> datetime:
    """The first moment of the clinic's next day a message may go (after its quiet hours)."""
    tomorrow = now.astimezone(zone).date() + timedelta(days=1)
    start = day_start(tomorrow, zone)
    if quiet:
        return quiet_until(rule, start, zone) or start
    return start


def sent_today(
    clinic: Clinic, patient_id: str, *, now: datetime, zone: ZoneInfo, besides: str = ""
) -> int:
    """Messages of this patient that went out (or are going) on the clinic's day of `now`."""
    today = now.astimezone(zone).date()
    start = utc_text(day_start(today, zone))
    end = utc_text(day_start(today + timedelta(days=1), zone))
    row = clinic.conn.execute(
        "SELECT count(*) FROM outbox WHERE patient_id = ? AND id != ? "
        "AND state IN ('sending', 'to_print', 'sent') "
        "AND coalesce(sent_at, updated_at) >= ? AND coalesce(sent_at, updated_at) < ?",
        (patient_id, besides, start, end),
    ).fetchone()
    return int(row[0])
