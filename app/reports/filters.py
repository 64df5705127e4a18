"""What every report is asked for: a range of days and, where it applies, one provider.

A report counts by **calendar month in the clinic's time zone**. The range is of local
days, both ends included; its first and last months are cut to the range, so a range
from 15 March shows March as 15–31 March. SQLite knows no time zones, so each month is
turned here into UTC bounds once and the queries join on them instead of converting
every row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from app.clinic import Clinic
from app.errors import InvalidInputError
from app.store.writer import utc_text

MAX_MONTHS = 120  # ten years at a time: more would make a chart nobody can read
DEFAULT_MONTHS = 12


@dataclass(frozen=True)
class ReportFilters:
    """Local days `first` to `last`, both included; `provider_id` None means everyone."""

    first: date
    last: date
    provider_id: str | None = None


@dataclass(frozen=True)
class MonthBounds:
    month: str  # "2025-03"
    lo: str  # UTC text, included
    hi: str  # UTC text, excluded


def default_filters(today: date) -> ReportFilters:
    """The last 12 months: from the first of the month 11 months back to today."""
    year, month = today.year, today.month - (DEFAULT_MONTHS - 1)
    while month < 1:
        year, month = year - 1, month + 12
    return ReportFilters(date(year, month, 1), today)


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _first_of_next(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def check(filters: ReportFilters) -> None:
    if filters.last < filters.first:
        raise InvalidInputError("The end of the range comes before its start.")
    first, last = filters.first, filters.last
    months = (last.year - first.year) * 12 + last.month - first.month
    if months >= MAX_MONTHS:
        raise InvalidInputError(f"Choose at most {MAX_MONTHS // 12} years at a time.")


def month_bounds(clinic: Clinic, filters: ReportFilters) -> list[MonthBounds]:
    """Each local calendar month of the range, cut to the range, as UTC bounds."""
    check(filters)
    zone = ZoneInfo(clinic.settings.timezone)

    def utc(day: date) -> str:
        return utc_text(datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC))

    bounds = []
    start = filters.first
    end = filters.last + timedelta(days=1)
    while start < end:
        stop = min(_first_of_next(start), end)
        bounds.append(MonthBounds(month_key(start), utc(start), utc(stop)))
        start = stop
    return bounds


def months_param(bounds: list[MonthBounds]) -> str:
    """The bounds as one JSON parameter, read by MONTHS_CTE."""
    return json.dumps([[b.month, b.lo, b.hi] for b in bounds])


# MATERIALIZED: a handful of rows the big tables join against by range, never the reverse.
MONTHS_CTE = (
    "months(month, lo, hi) AS MATERIALIZED (SELECT value ->> 0, value ->> 1, value ->> 2 "
    "FROM json_each(:months))"
)


def whole_months(filters: ReportFilters) -> tuple[str, str]:
    """The first and last month the range touches ("2025-03"), for reports by whole month."""
    check(filters)
    return month_key(filters.first), month_key(filters.last)
