"""The planner's calendar: a 9:00 touch is 9:00 on the clinic's wall clock on both sides of a
daylight-saving change, months clamp to their end, Feb 29 birthdays are kept on Feb 28."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.reminders.planning_times import (
    add_months,
    birthday_in,
    birthday_keys,
    day_start,
    local_day,
    months_before_range,
    touch_moment,
    when_text,
    window_text,
)

CHICAGO = ZoneInfo("America/Chicago")
BERLIN = ZoneInfo("Europe/Berlin")
AUCKLAND = ZoneInfo("Pacific/Auckland")


def _utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2027, 3, 13), _utc(2027, 3, 13, 15)),  # Saturday, still CST (UTC-6)
        (date(2027, 3, 14), _utc(2027, 3, 14, 14)),  # the clocks went forward at 02:00: CDT
        (date(2027, 11, 6), _utc(2027, 11, 6, 14)),  # Saturday, still CDT (UTC-5)
        (date(2027, 11, 7), _utc(2027, 11, 7, 15)),  # back to CST at 02:00
    ],
)
def test_nine_oclock_in_chicago_is_nine_on_the_wall_either_side_of_a_change(
    day: date, expected: datetime
) -> None:
    moment = touch_moment(day, time(9, 0), CHICAGO)
    assert moment == expected
    assert moment.astimezone(CHICAGO).time() == time(9, 0)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2027, 3, 27), _utc(2027, 3, 27, 8)),  # CET (UTC+1)
        (date(2027, 3, 28), _utc(2027, 3, 28, 7)),  # CEST (UTC+2) from 02:00
        (date(2027, 10, 30), _utc(2027, 10, 30, 7)),  # CEST
        (date(2027, 10, 31), _utc(2027, 10, 31, 8)),  # CET again from 03:00
    ],
)
def test_nine_oclock_in_berlin_is_nine_on_the_wall_either_side_of_a_change(
    day: date, expected: datetime
) -> None:
    moment = touch_moment(day, time(9, 0), BERLIN)
    assert moment == expected
    assert moment.astimezone(BERLIN).time() == time(9, 0)


def test_a_time_the_clocks_skip_in_chicago_moves_forward_by_the_gap() -> None:
    moment = touch_moment(date(2027, 3, 14), time(2, 30), CHICAGO)
    assert moment == _utc(2027, 3, 14, 8, 30)
    assert moment.astimezone(CHICAGO).time() == time(3, 30)


def test_a_time_the_clocks_skip_in_berlin_moves_forward_by_the_gap() -> None:
    moment = touch_moment(date(2027, 3, 28), time(2, 30), BERLIN)
    assert moment.astimezone(BERLIN).time() == time(3, 30)
    assert moment == _utc(2027, 3, 28, 1, 30)


def test_a_time_that_happens_twice_in_chicago_means_the_first() -> None:
    # 01:30 CDT (UTC-5), not the second 01:30 in CST an hour later.
    assert touch_moment(date(2027, 11, 7), time(1, 30), CHICAGO) == _utc(2027, 11, 7, 6, 30)


def test_a_time_that_happens_twice_in_berlin_means_the_first() -> None:
    # 02:30 CEST (UTC+2), not the second 02:30 in CET.
    assert touch_moment(date(2027, 10, 31), time(2, 30), BERLIN) == _utc(2027, 10, 31, 0, 30)


def test_the_clinic_day_is_the_wall_calendar_not_utcs() -> None:
    # 02:00 UTC on the 13th is still the evening of the 12th in Chicago ...
    assert local_day(_utc(2027, 1, 13, 2), CHICAGO) == date(2027, 1, 12)
    # ... and already the afternoon of the 13th in Auckland from 11:00 UTC on the 12th.
    assert local_day(_utc(2027, 1, 12, 11), AUCKLAND) == date(2027, 1, 13)
    # A morning touch in Auckland falls on the previous UTC day.
    assert touch_moment(date(2027, 1, 13), time(9, 0), AUCKLAND) == _utc(2027, 1, 12, 20)


def test_a_local_day_on_a_change_day_is_twenty_three_or_twenty_five_hours() -> None:
    spring = day_start(date(2027, 3, 15), CHICAGO) - day_start(date(2027, 3, 14), CHICAGO)
    autumn = day_start(date(2027, 11, 8), CHICAGO) - day_start(date(2027, 11, 7), CHICAGO)
    assert (spring, autumn) == (timedelta(hours=23), timedelta(hours=25))


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2027, 1, 31), 1, date(2027, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2027, 3, 31), -1, date(2027, 2, 28)),
        (date(2027, 12, 15), 1, date(2028, 1, 15)),
        (date(2027, 5, 31), 12, date(2028, 5, 31)),
        (date(2028, 2, 29), 12, date(2029, 2, 28)),
        (date(2027, 1, 15), -13, date(2025, 12, 15)),
    ],
)
def test_months_are_added_clamped_to_the_end_of_the_month(
    day: date, months: int, expected: date
) -> None:
    assert add_months(day, months) == expected


@pytest.mark.parametrize("months", [1, 6, 12, 13, 120])
@pytest.mark.parametrize(
    ("first", "last"),
    [
        (date(2028, 2, 27), date(2028, 3, 2)),
        (date(2027, 2, 28), date(2027, 2, 28)),
        (date(2027, 3, 1), date(2027, 3, 1)),
        (date(2027, 4, 28), date(2027, 5, 3)),
        (date(2027, 12, 30), date(2028, 1, 2)),
    ],
)
def test_the_last_visits_of_a_recall_range_are_exactly_the_days_that_map_into_it(
    months: int, first: date, last: date
) -> None:
    since, until = months_before_range(first, last, months)
    day = since - timedelta(days=40)
    while day <= until + timedelta(days=40):
        assert (first <= add_months(day, months) <= last) == (since <= day <= until), day
        day += timedelta(days=1)


def test_a_feb_29_birthday_is_kept_on_feb_28_in_other_years() -> None:
    born = date(1992, 2, 29)
    assert birthday_in(2027, born) == date(2027, 2, 28)
    assert birthday_in(2028, born) == date(2028, 2, 29)
    assert birthday_in(2027, date(1990, 7, 4)) == date(2027, 7, 4)


def test_birthday_keys_find_feb_29_people_on_feb_28_of_a_common_year() -> None:
    assert birthday_keys(date(2027, 2, 27), date(2027, 3, 1)) == [
        "02-27",
        "02-28",
        "02-29",
        "03-01",
    ]
    assert birthday_keys(date(2028, 2, 28), date(2028, 2, 28)) == ["02-28"]
    assert birthday_keys(date(2027, 12, 31), date(2028, 1, 1)) == ["01-01", "12-31"]


def test_reasons_name_the_wall_clock_time_and_the_allowed_delay() -> None:
    assert when_text(_utc(2026, 12, 1, 15), CHICAGO) == "09:00 on Tue 1 Dec"
    assert window_text(6) == "6 hours"
    assert window_text(1) == "1 hour"
    assert window_text(72) == "3 days"
    assert window_text(36) == "36 hours"
