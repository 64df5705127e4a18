"""Dates in CSV exports: which format a column uses, and reading values in that format.

A column of 03/04/1975 is March 4th in a US export and 3 April in a European one,
and nothing in the file says which. So the format is detected over many values: one
value with a first part above 12 settles it; if every value fits both readings the
result says so (`ambiguous`) and the wizard asks rather than guessing, since a wrong
guess silently moves every birthday. ISO (Synthea's format) is never ambiguous, and
nor is DD.MM.YYYY: nobody writes month.day.year.
"""

from __future__ import annotations

import contextlib
import datetime
import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import islice

from app.errors import InvalidDateError
from app.patients.validation import parse_birth_date

__all__ = [
    "DateDetection",
    "DateFormat",
    "detect_date_format",
    "parse_birth",
    "parse_date",
    "parse_moment",
]


class DateFormat(enum.StrEnum):
    """The date formats a column can be read with; the value is what the wizard shows."""

    ISO = "YYYY-MM-DD"
    US = "MM/DD/YYYY"
    EU = "DD/MM/YYYY"
    EU_DOT = "DD.MM.YYYY"


_ISO = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:[T ](.*))?")
# Day/month formats accept '/' and '-' alike (exports use both), and a time after a space.
_NUMERIC = re.compile(r"([0-9]{1,2})([/.-])([0-9]{1,2})\2([0-9]+)(?:[ T](.*))?")
_TIME = re.compile(
    r"([0-9]{1,2}):([0-9]{2})(?::([0-9]{2})(?:[.,]([0-9]{1,6})[0-9]*)?)?"
    r"\s*(Z|[+-][0-9]{2}:?[0-9]{2})?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class DateDetection:
    """What a column's values say about their format.

    `format` is the best reading (None when no value is a date in any format);
    `ambiguous` is True when US and EU both fit every value, so the user must choose
    (`format` then follows the clinic's habit). `candidates` lists every format that
    fits all the dates seen; `unreadable` counts values that fit no format at all,
    for a warning in the preview.
    """

    format: DateFormat | None
    ambiguous: bool
    candidates: tuple[DateFormat, ...]
    seen: int
    unreadable: int


def _possible_formats(text: str) -> tuple[DateFormat, ...]:
    if match := _ISO.fullmatch(text):
        return (DateFormat.ISO,) if _real(int(match[1]), int(match[2]), int(match[3])) else ()
    if not (match := _NUMERIC.fullmatch(text)) or len(match[4]) != 4:
        return ()
    first, second, year = int(match[1]), int(match[3]), int(match[4])
    if match[2] == ".":
        return (DateFormat.EU_DOT,) if _real(year, second, first) else ()
    found: list[DateFormat] = []
    if _real(year, first, second):
        found.append(DateFormat.US)
    if _real(year, second, first):
        found.append(DateFormat.EU)
    return tuple(found)


def _real(year: int, month: int, day: int) -> bool:
    try:
        datetime.date(year, month, day)
    except ValueError:
        return False
    return True


def detect_date_format(
    values: Iterable[str], *, day_first: bool = False, limit: int = 5000
) -> DateDetection:
    """Detect the format of a date column from its values (the first `limit` non-empty).

    `day_first` is the clinic's habit, used only to order an ambiguous result.
    """
    fits: dict[DateFormat, int] = dict.fromkeys(DateFormat, 0)
    seen = unreadable = 0
    for value in islice((v.strip() for v in values if v and v.strip()), limit):
        seen += 1
        formats = _possible_formats(value)
        if not formats:
            unreadable += 1
        for fmt in formats:
            fits[fmt] += 1
    readable = seen - unreadable
    if readable == 0:
        return DateDetection(None, False, (), seen, unreadable)
    best = max(fits.values())
    candidates = tuple(fmt for fmt in DateFormat if fits[fmt] == best)
    ambiguous = DateFormat.US in candidates and DateFormat.EU in candidates
    if ambiguous:
        preferred = DateFormat.EU if day_first else DateFormat.US
        candidates = (preferred, *(c for c in candidates if c is not preferred))
    return DateDetection(candidates[0], ambiguous, candidates, seen, unreadable)


def _not_in_format(fmt: DateFormat) -> InvalidDateError:
    return InvalidDateError(f"This is not a date in the chosen format ({fmt.value}).")


def _split(text: str, fmt: DateFormat) -> tuple[datetime.date, str | None]:
    """The date part read in `fmt`, and the rest (a time) if any.

    ISO is accepted whatever the chosen format, since it cannot be misread; a
    day/month value must match the chosen format exactly.
    """
    cleaned = text.strip()
    if match := _ISO.fullmatch(cleaned):
        year, month, day, rest = int(match[1]), int(match[2]), int(match[3]), match[4]
    elif fmt is not DateFormat.ISO and (match := _NUMERIC.fullmatch(cleaned)):
        if len(match[4]) != 4:
            raise InvalidDateError("The year must have all four digits.")
        first, second, year, rest = int(match[1]), int(match[3]), int(match[4]), match[5]
        dotted = match[2] == "."
        if dotted != (fmt is DateFormat.EU_DOT):
            raise _not_in_format(fmt)
        month, day = (first, second) if fmt is DateFormat.US else (second, first)
    else:
        raise _not_in_format(fmt)
    try:
        return datetime.date(year, month, day), rest
    except ValueError:
        raise InvalidDateError(
            f"This date does not exist; check it is in the chosen format ({fmt.value})."
        ) from None


def parse_date(text: str, fmt: DateFormat) -> datetime.date:
    """A date (a time after it, as in 2023-01-27T16:17:47Z, is ignored)."""
    cleaned = text.strip()
    if len(cleaned) == 10 and fmt is DateFormat.ISO:
        # The fast common case; when it fails, the full reading below says why.
        with contextlib.suppress(ValueError):
            return datetime.date.fromisoformat(cleaned)
    return _split(cleaned, fmt)[0]


def parse_moment(text: str, fmt: DateFormat) -> datetime.date | datetime.datetime:
    """A date, or a date and time when the value has one.

    A time with Z or an offset comes back aware (UTC when Z); a time without a zone
    comes back naive, to be read in the clinic's time zone by whoever stores it.
    Synthea writes encounter times as 2023-01-27T16:17:47Z.
    """
    cleaned = text.strip()
    if fmt is DateFormat.ISO and len(cleaned) > 10:
        # The fast common case; when it fails, the full reading below says why.
        with contextlib.suppress(ValueError):
            return datetime.datetime.fromisoformat(cleaned)
    day, rest = _split(cleaned, fmt)
    if not rest or not rest.strip():
        return day
    match = _TIME.fullmatch(rest.strip())
    if not match:
        raise InvalidDateError("The time after the date is not a time (hh:mm or hh:mm:ss).")
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    micro = int((match[4] or "0").ljust(6, "0"))
    zone = _zone(match[5])
    try:
        return datetime.datetime.combine(
            day, datetime.time(hour, minute, second, micro), tzinfo=zone
        )
    except ValueError:
        raise InvalidDateError("The time after the date does not exist.") from None


def _zone(text: str | None) -> datetime.tzinfo | None:
    if not text:
        return None
    if text.upper() == "Z":
        return datetime.UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    offset = datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    if offset >= datetime.timedelta(hours=24):
        raise InvalidDateError("The time zone after the time does not exist.")
    return datetime.timezone(sign * offset)


_PARTIAL = re.compile(r"[0-9]{4}(?:-[0-9]{1,2})?")
# parse_birth_date refuses years before 1880; dates from then on up to today pass.
_EARLIEST_BIRTH = datetime.date(1880, 1, 1)


def parse_birth(text: str, fmt: DateFormat, *, today: datetime.date) -> str:
    """A birth date as ISO text (YYYY-MM-DD, or YYYY-MM / YYYY when only that is known).

    The value is read in the chosen format, then checked by the same rules as a
    typed birth date (not in the future, not before 1880), so imported and typed
    patients follow one standard.
    """
    cleaned = text.strip()
    if _PARTIAL.fullmatch(cleaned):
        return parse_birth_date(cleaned, today=today)
    day = parse_date(cleaned, fmt)
    if _EARLIEST_BIRTH <= day <= today:
        # Plainly fine: skip re-reading it (the common case, 100,000 times a file).
        return day.isoformat()
    return parse_birth_date(day.isoformat(), today=today)
