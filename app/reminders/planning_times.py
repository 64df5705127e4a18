"""Calendar arithmetic of the planner: wall-clock touches to UTC, months, birthdays.

Kept apart from the SQL so the rules that go wrong twice a year (daylight saving) and
once every four (Feb 29) are tested on their own, with no clinic needed.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def touch_moment(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC moment of `at` on the clinic's wall clock on `day`.

    Unlike a booked visit (app.scheduling.local_time refuses a time the clocks skip), a
    reminder must still go: a time in the spring-forward gap is read in the offset in
    force before the change, i.e. as far after the gap as it was into it (02:30 → 03:30).
    A time that happens twice (autumn) means the first of the two (fold=0).
    """
    return datetime.combine(day, at).replace(tzinfo=zone, fold=0).astimezone(UTC)


def local_day(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


def parse_utc(text: str) -> datetime:
    """A stored UTC text ("2026-11-28T15:00:00Z", or a bare date) as an aware moment."""
    if len(text) == 10:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """Local midnight as a UTC moment (a day is 23 or 25 hours on change days)."""
    return datetime.combine(day, time(0)).replace(tzinfo=zone, fold=0).astimezone(UTC)


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end (Jan 31 + 1 → Feb 28/29)."""
    year, index = divmod(day.month - 1 + months, 12)
    year += day.year
    month = index + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def months_before_range(first: date, last: date, months: int) -> tuple[date, date]:
    """The days d with add_months(d, months) in [first, last], as an inclusive range.

    add_months never goes backwards, so the days form one range; month ends clamp (Jan
    29-31 + 1 month are all Feb 28), so its ends are found by stepping up to three days.
    """
    since = add_months(first, -months)
    while add_months(since - timedelta(days=1), months) >= first:
        since -= timedelta(days=1)
    while add_months(since, months) < first:
        since += timedelta(days=1)
    until = add_months(last, -months)
    while add_months(until + timedelta(days=1), months) <= last:
        until += timedelta(days=1)
    return since, until


def birthday_in(year: int, born: date) -> date:
    """The day a birthday is kept in `year`; Feb 29 birthdays on Feb 28 in other years."""
    if born.month == 2 and born.day == 29 and not calendar.isleap(year):
        return date(year, 2, 28)
    return date(year, born.month, born.day)


def birthday_keys(first: date, last: date) -> list[str]:
    """The stored 'MM-DD' endings whose birthday falls in [first, last] in some year of
    the range: what the patient_birthday index is searched with."""
    keys: set[str] = set()
    day = first
    while day <= last:
        keys.add(f"{day.month:02d}-{day.day:02d}")
        if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
            keys.add("02-29")
        day += timedelta(days=1)
    return sorted(keys)


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def window_text(hours: int) -> str:
    if hours % 24 == 0 and hours >= 48:
        return f"{hours // 24} days"
    return "1 hour" if hours == 1 else f"{hours} hours"


def when_text(moment: datetime, zone: ZoneInfo) -> str:
    """'09:00 on Tue 1 Dec': how the desk reads a time in a reason (English month and day
    names whatever the computer's locale, like the rest of the stored reasons)."""
    local = moment.astimezone(zone)
    weekday = _DAYS[local.weekday()]
    return f"{local:%H:%M} on {weekday} {local.day} {_MONTHS[local.month - 1]}"


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
