"""Clinic wall-clock times become the right UTC moment, also when the clocks change."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from app.errors import InvalidDateError
from app.scheduling.local_time import local_start

CHICAGO = ZoneInfo("America/Chicago")


def test_nine_in_the_morning_in_chicago_winter_is_fifteen_utc() -> None:
    moment = local_start(date(2027, 1, 12), time(9, 0), CHICAGO)
    assert moment.astimezone(UTC) == datetime(2027, 1, 12, 15, 0, tzinfo=UTC)


def test_nine_in_the_morning_in_chicago_summer_is_fourteen_utc() -> None:
    moment = local_start(date(2027, 7, 6), time(9, 0), CHICAGO)
    assert moment.astimezone(UTC) == datetime(2027, 7, 6, 14, 0, tzinfo=UTC)


def test_time_skipped_when_clocks_go_forward_is_refused_with_a_plain_reason() -> None:
    with pytest.raises(InvalidDateError) as refused:
        local_start(date(2027, 3, 14), time(2, 30), CHICAGO)
    message = str(refused.value)
    assert "clocks go forward" in message and "Choose a time outside that hour" in message


def test_time_that_happens_twice_when_clocks_go_back_means_the_first() -> None:
    moment = local_start(date(2027, 11, 7), time(1, 30), CHICAGO)
    # 01:30 CDT (UTC-5), not the second 01:30 an hour later in CST (UTC-6).
    assert moment.astimezone(UTC) == datetime(2027, 11, 7, 6, 30, tzinfo=UTC)


def test_hours_either_side_of_the_skipped_hour_are_accepted() -> None:
    before = local_start(date(2027, 3, 14), time(1, 59), CHICAGO)
    after = local_start(date(2027, 3, 14), time(3, 0), CHICAGO)
    assert before.astimezone(UTC) == datetime(2027, 3, 14, 7, 59, tzinfo=UTC)
    assert after.astimezone(UTC) == datetime(2027, 3, 14, 8, 0, tzinfo=UTC)
