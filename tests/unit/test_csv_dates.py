"""Date formats in CSV exports: detection over a column, ambiguity, and reading."""

from __future__ import annotations

import datetime

import pytest

from app.errors import InvalidDateError
from app.importers.csv.dates import (
    DateFormat,
    detect_date_format,
    parse_birth,
    parse_date,
    parse_moment,
)

TODAY = datetime.date(2025, 6, 1)


def test_iso_column_is_iso_and_not_ambiguous() -> None:
    found = detect_date_format(["2014-10-06", "2008-04-07", "2023-01-27T16:17:47Z"])
    assert (found.format, found.ambiguous) == (DateFormat.ISO, False)


def test_a_first_part_above_12_settles_eu() -> None:
    found = detect_date_format(["03/04/1975", "25/12/1980", "01/02/2000"])
    assert (found.format, found.ambiguous, found.candidates) == (
        DateFormat.EU,
        False,
        (DateFormat.EU,),
    )


def test_a_second_part_above_12_settles_us() -> None:
    found = detect_date_format(["03/04/1975", "12/25/1980"])
    assert (found.format, found.ambiguous) == (DateFormat.US, False)


def test_all_parts_up_to_12_is_ambiguous_and_follows_the_clinic_habit() -> None:
    values = ["03/04/1975", "11/12/1980", "1/2/2000"]
    us = detect_date_format(values)
    eu = detect_date_format(values, day_first=True)
    assert us.ambiguous and eu.ambiguous
    assert us.format is DateFormat.US
    assert eu.format is DateFormat.EU
    assert set(us.candidates) == {DateFormat.US, DateFormat.EU}


def test_dotted_dates_are_day_first_without_ambiguity() -> None:
    found = detect_date_format(["03.04.1975", "01.02.2000"])
    assert (found.format, found.ambiguous) == (DateFormat.EU_DOT, False)


def test_values_that_are_no_date_are_counted_not_guessed() -> None:
    found = detect_date_format(["unknown", "", "   "])
    assert (found.format, found.seen, found.unreadable) == (None, 1, 1)
    mixed = detect_date_format(["1975-03-04", "soon"])
    assert (mixed.format, mixed.unreadable) == (DateFormat.ISO, 1)


@pytest.mark.parametrize(
    ("text", "fmt", "expected"),
    [
        ("1975-03-04", DateFormat.ISO, datetime.date(1975, 3, 4)),
        ("03/04/1975", DateFormat.US, datetime.date(1975, 3, 4)),
        ("03/04/1975", DateFormat.EU, datetime.date(1975, 4, 3)),
        ("3-4-1975", DateFormat.EU, datetime.date(1975, 4, 3)),
        ("04.03.1975", DateFormat.EU_DOT, datetime.date(1975, 3, 4)),
        ("1975-03-04", DateFormat.US, datetime.date(1975, 3, 4)),  # ISO is never misread
        ("2023-01-27T16:17:47Z", DateFormat.ISO, datetime.date(2023, 1, 27)),
    ],
)
def test_dates_are_read_in_the_chosen_format(
    text: str, fmt: DateFormat, expected: datetime.date
) -> None:
    assert parse_date(text, fmt) == expected


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        ("13/45/1980", DateFormat.US),
        ("04.03.1975", DateFormat.US),
        ("03/04/75", DateFormat.US),
        ("1975-02-30", DateFormat.ISO),
        ("yesterday", DateFormat.ISO),
        ("03/04/1975", DateFormat.ISO),
    ],
)
def test_unreadable_dates_say_the_format_without_echoing_the_value(
    text: str, fmt: DateFormat
) -> None:
    with pytest.raises(InvalidDateError) as caught:
        parse_date(text, fmt)
    assert text not in str(caught.value)


def test_moments_keep_their_time_and_zone() -> None:
    assert parse_moment("2023-01-27T16:17:47Z", DateFormat.ISO) == datetime.datetime(
        2023, 1, 27, 16, 17, 47, tzinfo=datetime.UTC
    )
    assert parse_moment("01/27/2023 09:05", DateFormat.US) == datetime.datetime(2023, 1, 27, 9, 5)
    aware = parse_moment("27.01.2023 09:05:10+0100", DateFormat.EU_DOT)
    assert isinstance(aware, datetime.datetime)
    assert aware.utcoffset() == datetime.timedelta(hours=1)
    assert parse_moment("2023-01-27", DateFormat.ISO) == datetime.date(2023, 1, 27)
    with pytest.raises(InvalidDateError):
        parse_moment("2023-01-27 25:99", DateFormat.ISO)


def test_birth_dates_follow_the_typed_birth_date_rules() -> None:
    assert parse_birth("02/01/1980", DateFormat.EU, today=TODAY) == "1980-01-02"
    assert parse_birth("1974", DateFormat.ISO, today=TODAY) == "1974"
    assert parse_birth("1974-12", DateFormat.ISO, today=TODAY) == "1974-12"
    with pytest.raises(InvalidDateError, match="future"):
        parse_birth("2030-01-01", DateFormat.ISO, today=TODAY)
    with pytest.raises(InvalidDateError, match="1880"):
        parse_birth("1700-01-01", DateFormat.ISO, today=TODAY)
