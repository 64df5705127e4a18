"""Pollen level providers for the seasonal allergy alerts: Open-Meteo, the desk's switch, a CSV.

Every provider answers one question — how high is the pollen on a given local day — as a
`PollenReading`, and never raises: a service that is down or answers nonsense gives the
level "unknown" and a plain sentence for the status line, so the alert campaign simply
sends nothing that day. `combined` puts them in the order the clinic trusts them: the
desk's switch, then the clinic's own list of days, then the forecast service.

Levels. A forecast in grains per cubic metre becomes a level with the National Allergy
Bureau's ranges (American Academy of Allergy, Asthma & Immunology, "Reading the charts";
the same table is published by the St. Louis County pollen station), per pollen group:

    group   pollens                 low       moderate   high        very high
    trees   alder, birch, olive     1–14      15–89      90–1499     1500 and more
    grass   grass                   1–4       5–19       20–199      200 and more
    weeds   mugwort, ragweed        1–9       10–49      50–499      500 and more

Below 1 grain/m³ (the model's trace amounts) is "none". The NAB ranges are percentiles of
daily counts at US stations, not symptom thresholds; they agree in size with Europe's
services (MeteoSwiss calls birch "high" from 70 grains/m³). Open-Meteo gives hourly
values, and the day's level is taken from the day's highest hour, which is higher than
the daily average the ranges were made for: on the side of warning, which is the point
of an alert. The day's level is the highest of the six pollens.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests

from app.clinic import Clinic, put_setting
from app.errors import InvalidInputError
from app.store.changes import Changes

log = logging.getLogger(__name__)

LEVELS: Final = ("none", "low", "moderate", "high", "very_high", "unknown")
"""In rising order, then "unknown" (no answer: never a reason to send an alert)."""
_RANK: Final = {level: rank for rank, level in enumerate(LEVELS[:-1])}
_LEVEL_WORDS: Final = {
    "none": "no pollen",
    "low": "low",
    "moderate": "moderate",
    "high": "high",
    "very_high": "very high",
    "unknown": "unknown",
}

POLLENS: Final = ("alder", "birch", "grass", "mugwort", "olive", "ragweed")
"""The pollens Open-Meteo forecasts (hourly variables `<name>_pollen`, in grains/m³)."""

# (low from, moderate from, high from, very high from) in grains/m³; see the docstring.
_TREES: Final = (1.0, 15.0, 90.0, 1500.0)
_GRASS: Final = (1.0, 5.0, 20.0, 200.0)
_WEEDS: Final = (1.0, 10.0, 50.0, 500.0)
THRESHOLDS: Final[Mapping[str, tuple[float, float, float, float]]] = {
    "alder": _TREES,
    "birch": _TREES,
    "olive": _TREES,
    "grass": _GRASS,
    "mugwort": _WEEDS,
    "ragweed": _WEEDS,
}

SOURCE_OPEN_METEO: Final = "Open-Meteo"
SOURCE_MANUAL: Final = "Desk switch"
SOURCE_CSV: Final = "Pollen file"
SOURCE_NONE: Final = "No pollen source"

MANUAL_SETTING: Final = "engagement.pollen_manual"

NO_ALERTS: Final = "no allergy alerts today"


@dataclass(frozen=True)
class PollenReading:
    """One local day's pollen level; `detail` says which pollen and how much, in plain words."""

    day: date
    level: str
    source: str
    detail: str

    @property
    def known(self) -> bool:
        return self.level != "unknown"


class PollenProvider(Protocol):
    def reading(self, day: date) -> PollenReading: ...


def level_for(pollen: str, grains_per_m3: float) -> str:
    """The level of one pollen's concentration, with the ranges of its group."""
    low, moderate, high, very_high = THRESHOLDS[pollen]
    if grains_per_m3 >= very_high:
        return "very_high"
    if grains_per_m3 >= high:
        return "high"
    if grains_per_m3 >= moderate:
        return "moderate"
    if grains_per_m3 >= low:
        return "low"
    return "none"


def higher(first: str, second: str) -> str:
    """The higher of two known levels."""
    return first if _RANK[first] >= _RANK[second] else second


def _amount(value: float) -> str:
    # One decimal, never rounded up across a range limit (19.5 must not read as 20).
    return f"{math.floor(value * 10) / 10:g}"


def reading_from_amounts(day: date, amounts: Mapping[str, float], source: str) -> PollenReading:
    """The day's level from each pollen's highest amount: the worst pollen decides."""
    level = "none"
    for pollen, value in amounts.items():
        level = higher(level, level_for(pollen, value))
    if level == "none":
        return PollenReading(day, "none", source, "No pollen worth mentioning.")
    worst = sorted(
        (p for p in amounts if level_for(p, amounts[p]) == level),
        key=lambda p: -amounts[p],
    )
    parts = [f"{p} pollen up to {_amount(amounts[p])} grains/m³" for p in worst]
    detail = f"{_LEVEL_WORDS[level].capitalize()}: {', '.join(parts)}."
    return PollenReading(day, level, source, detail)


# --- Open-Meteo ---------------------------------------------------------------------------


class _NonsenseError(Exception):
    """The answer does not have the shape the API documents; the text is for the log."""


class _NoCoverageError(Exception):
    """Every pollen value is null: the location is outside the CAMS pollen domain."""


@dataclass(frozen=True)
class _Cached:
    at: float
    reading: PollenReading


class OpenMeteoPollen:
    """The Open-Meteo Air Quality API's pollen forecast for the clinic's location.

    Coverage: Open-Meteo takes pollen from the CAMS European air quality forecast, which
    covers Europe only ("Only available in Europe during pollen season with 4 days
    forecast", open-meteo.com/en/docs/air-quality-api). Elsewhere — a clinic in the US —
    the answer still lists the six pollen series, every value null; a European clinic
    outside the season may see the same. That gives "unknown" with this reason, not "none":
    no data is not the same as no pollen.

    Only the clinic's coordinates and time zone are sent, never anything about a patient.
    Good answers are kept in memory per day for `cache_hours` (every day of one answer,
    so asking about tomorrow after today costs no request); failures are not kept, so the
    next pass tries again.
    """

    FORECAST_DAYS: Final = 3  # today and two more: inside the 4 days CAMS Europe forecasts
    UNIT: Final = "grains/m³"

    def __init__(
        self,
        latitude: float,
        longitude: float,
        *,
        timezone: str,
        base_url: str = "https://air-quality-api.open-meteo.com",
        session: requests.Session | None = None,
        timeout_s: float = 10,
        cache_hours: float = 3,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise InvalidInputError(
                "The clinic's location must be a latitude from -90 to 90 and a longitude "
                "from -180 to 180."
            )
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInputError(
                "Choose a time zone from the list, for example America/Chicago."
            ) from None
        if timeout_s <= 0 or cache_hours < 0:
            raise InvalidInputError("The waiting time and the keeping time must be positive.")
        self.latitude = latitude
        self.longitude = longitude
        self.timezone = timezone
        self.url = base_url.rstrip("/") + "/v1/air-quality"
        self.session = session or requests.Session()
        self.timeout_s = timeout_s
        self.cache_s = cache_hours * 3600
        self._clock = clock
        self._cache: dict[date, _Cached] = {}
        self._lock = threading.Lock()

    def reading(self, day: date) -> PollenReading:
        with self._lock:
            now = self._clock()
            cached = self._cache.get(day)
            if cached is not None and now - cached.at < self.cache_s:
                return cached.reading
            days, failure = self._fetch()
            if failure is not None:
                return self._unknown(day, failure)
            for each, found in days.items():
                self._cache[each] = _Cached(now, found)
            if day in days:
                return days[day]
            return self._unknown(
                day,
                f"The pollen forecast does not reach {day.isoformat()}; {NO_ALERTS}.",
            )

    def _unknown(self, day: date, status: str) -> PollenReading:
        return PollenReading(day, "unknown", SOURCE_OPEN_METEO, status)

    def _fetch(self) -> tuple[dict[date, PollenReading], str | None]:
        """Every day of one answer, or the status line that says why there is none."""
        params: dict[str, str | int | float] = {
            "latitude": self.latitude,
            "longitude": self.longitude,
            "hourly": ",".join(f"{p}_pollen" for p in POLLENS),
            "timezone": self.timezone,
            "forecast_days": self.FORECAST_DAYS,
        }
        try:
            response = self.session.get(self.url, params=params, timeout=self.timeout_s)
        except requests.Timeout:
            log.warning("The pollen service did not answer within %s s", self.timeout_s)
            return {}, f"The pollen service did not answer in time; {NO_ALERTS}."
        except requests.RequestException as exc:
            log.warning("The pollen service could not be reached: %s", type(exc).__name__)
            return {}, f"The pollen service could not be reached; {NO_ALERTS}."
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.status_code >= 400:
            reason = payload.get("reason") if isinstance(payload, dict) else None
            log.warning(
                "The pollen service answered HTTP %s (%s)",
                response.status_code,
                str(reason)[:200] if reason else "no reason given",
            )
            if response.status_code < 500:
                return {}, (
                    f"The pollen service refused the clinic's location or settings; {NO_ALERTS}."
                )
            return {}, f"The pollen service is having trouble; {NO_ALERTS}."
        try:
            return self._days(payload), None
        except _NonsenseError as exc:
            log.warning("The pollen service's answer made no sense: %s", exc)
            return {}, f"The pollen service gave an answer that makes no sense; {NO_ALERTS}."
        except _NoCoverageError:
            return {}, (
                "Open-Meteo has no pollen forecast for the clinic's location (its pollen "
                f"data covers Europe only, in the pollen season); {NO_ALERTS}."
            )

    def _days(self, payload: Any) -> dict[date, PollenReading]:
        """Each local day's highest value per pollen, after checking the whole shape."""
        if not isinstance(payload, dict):
            raise _NonsenseError("not a JSON object")
        hourly = payload.get("hourly")
        if not isinstance(hourly, dict):
            raise _NonsenseError("no hourly block")
        units = payload.get("hourly_units")
        if units is not None and not isinstance(units, dict):
            raise _NonsenseError("hourly_units is not an object")
        times = hourly.get("time")
        if not isinstance(times, list) or not times:
            raise _NonsenseError("no hourly times")
        try:
            # Local times: the request names the clinic's time zone, so the date part
            # is the clinic's own day.
            hours = [datetime.fromisoformat(t).date() for t in times]
        except (TypeError, ValueError):
            raise _NonsenseError("an hourly time is not a date and time") from None
        series: dict[str, list[float | None]] = {}
        for pollen in POLLENS:
            key = f"{pollen}_pollen"
            values = hourly.get(key)
            if not isinstance(values, list):
                raise _NonsenseError(f"{key} is missing")
            if len(values) != len(times):
                raise _NonsenseError(f"{key} has {len(values)} values for {len(times)} hours")
            if units is not None and units.get(key) not in (None, self.UNIT):
                raise _NonsenseError(f"{key} is not in {self.UNIT}")
            series[key] = [_checked_value(key, v) for v in values]
        if all(v is None for values in series.values() for v in values):
            raise _NoCoverageError
        found: dict[date, PollenReading] = {}
        for day in sorted(set(hours)):
            amounts: dict[str, float] = {}
            for pollen in POLLENS:
                present = [
                    v
                    for v, hour in zip(series[f"{pollen}_pollen"], hours, strict=True)
                    if hour == day and v is not None
                ]
                if present:
                    amounts[pollen] = max(present)
            if amounts:
                found[day] = reading_from_amounts(day, amounts, SOURCE_OPEN_METEO)
        return found


def _checked_value(key: str, value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _NonsenseError(f"{key} holds a value that is not a number")
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise _NonsenseError(f"{key} holds a negative or endless number")
    return number


# --- the desk's switch ----------------------------------------------------------------


class ManualPollen:
    """The desk's "High pollen today" switch, kept as a clinic setting so every desk sees it.

    A switch counts only on the day it was set: left on overnight, it says nothing about
    tomorrow, and tomorrow falls through to the file or the forecast.
    """

    def __init__(self, clinic: Clinic) -> None:
        self.clinic = clinic

    def reading(self, day: date) -> PollenReading:
        row = self.clinic.conn.execute(
            "SELECT value FROM setting WHERE id = ?", (MANUAL_SETTING,)
        ).fetchone()
        stored = _stored_switch(row[0]) if row else None
        if stored is None or stored[0] != day:
            return PollenReading(
                day, "unknown", SOURCE_MANUAL, "The desk's pollen switch is not set for today."
            )
        level = stored[1]
        return PollenReading(
            day,
            level,
            SOURCE_MANUAL,
            f"Set at the desk: pollen {_LEVEL_WORDS[level]} today.",
        )


def _stored_switch(encoded: str) -> tuple[date, str] | None:
    try:
        value = json.loads(encoded)
        day = date.fromisoformat(value["day"])
        level = value["level"]
    except (ValueError, TypeError, KeyError):
        log.warning("The stored pollen switch is damaged; it is ignored")
        return None
    if level not in _RANK:
        log.warning("The stored pollen switch has an unknown level; it is ignored")
        return None
    return day, str(level)


def set_manual(clinic: Clinic, day: date, level: str) -> Changes:
    """Turn the switch on for one day ("high" for the desk's button; any known level)."""
    if level not in _RANK:
        raise InvalidInputError("Choose a pollen level: none, low, moderate, high or very high.")
    encoded = json.dumps({"day": day.isoformat(), "level": level}, sort_keys=True)
    with clinic.store.write() as tx:
        put_setting(tx, MANUAL_SETTING, encoded)
    return tx.changes


def clear_manual(clinic: Clinic) -> Changes:
    """Turn the switch off; the file or the forecast decide again."""
    with clinic.store.write() as tx:
        if tx.conn.execute("SELECT 1 FROM setting WHERE id = ?", (MANUAL_SETTING,)).fetchone():
            tx.delete("setting", MANUAL_SETTING)
    return tx.changes


# --- a CSV of daily levels --------------------------------------------------------------


class PollenCsvError(InvalidInputError):
    """A pollen file, or some of its lines, cannot be used; `problems` says which and why,
    one plain sentence each with its line number."""

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


_MAX_CSV_BYTES: Final = 2_000_000  # ten years of days is about 50 kB
_LEVEL_ALIASES: Final = {
    "none": "none",
    "no": "none",
    "0": "none",
    "low": "low",
    "moderate": "moderate",
    "medium": "moderate",
    "high": "high",
    "very_high": "very_high",
    "very high": "very_high",
    "very-high": "very_high",
}


class CsvPollen:
    """Daily levels the clinic keeps itself (from a local pollen count or a newsletter).

    Accepted forms — the first line names the columns, comma or semicolon between cells,
    UTF-8 with or without a byte-order mark; dates are written 2026-05-04:

        date,level                 level is none, low, moderate, high or very high
        date,grass,birch,...       numbers in grains/m³ for any of alder, birch, grass,
                                   mugwort, olive, ragweed (a "_pollen" ending is fine);
                                   an empty cell means not counted. With semicolons a
                                   decimal comma is read too (12,5).

    A file without the header line is read as `date,level` when its first cell is a date.
    A bad line is left out and described in `problems` (and `error`); the other lines are
    used. A file that is not such a table is refused whole: the constructor raises
    PollenCsvError with the reason.

    `source` is a Path to read, or the CSV text itself.
    """

    def __init__(self, source: Path | str) -> None:
        text = _csv_text(source)
        self.problems: list[str] = []
        self._days: dict[date, PollenReading] = {}
        self._read(text)

    @property
    def days(self) -> Mapping[date, PollenReading]:
        return dict(self._days)

    @property
    def error(self) -> PollenCsvError | None:
        """The skipped lines as one error, for the screen that loaded the file."""
        if not self.problems:
            return None
        count = len(self.problems)
        return PollenCsvError(
            f"{count} {'line was' if count == 1 else 'lines were'} left out of the pollen "
            "file; the rest is used.",
            self.problems,
        )

    def reading(self, day: date) -> PollenReading:
        found = self._days.get(day)
        if found is not None:
            return found
        return PollenReading(
            day, "unknown", SOURCE_CSV, f"The pollen file has no line for {day.isoformat()}."
        )

    def _read(self, text: str) -> None:
        lines = [line for line in text.splitlines() if line.strip()]
        if not lines:
            raise PollenCsvError("The pollen file is empty.", ["The file has no lines."])
        first = lines[0]
        delimiter = ";" if first.count(";") > first.count(",") else ","
        rows = csv.reader(io.StringIO(text), delimiter=delimiter)
        started = False
        pollen_columns: dict[int, str] = {}
        level_column = -1
        seen: dict[date, int] = {}
        for row in rows:
            line = rows.line_num
            cells = [cell.strip() for cell in row]
            if not any(cells):
                continue
            if not started:
                started = True
                if _parse_date(cells[0]) is not None:
                    level_column = 1  # no header line: date,level
                else:
                    level_column, pollen_columns = _columns(cells, line, self.problems)
                    continue
            self._row(cells, line, level_column, pollen_columns, delimiter, seen)
        if not self._days:
            raise PollenCsvError(
                "The pollen file has no line that can be used.",
                self.problems or ["The file has a header line but no days."],
            )

    def _row(
        self,
        cells: list[str],
        line: int,
        level_column: int,
        pollen_columns: Mapping[int, str],
        delimiter: str,
        seen: dict[date, int],
    ) -> None:
        day = _parse_date(cells[0])
        if day is None:
            self.problems.append(
                f"Line {line}: “{cells[0][:40]}” is not a date written like 2026-05-04."
            )
            return
        if day in seen:
            self.problems.append(
                f"Line {line}: {day.isoformat()} is already on line {seen[day]}; "
                "the first one is used."
            )
            return
        if level_column >= 0:
            cell = cells[level_column] if level_column < len(cells) else ""
            level = _LEVEL_ALIASES.get(" ".join(cell.lower().split()))
            if level is None:
                self.problems.append(
                    f"Line {line}: “{cell[:40]}” is not a level (none, low, moderate, "
                    "high or very high)."
                )
                return
            words = _LEVEL_WORDS[level]
            found = PollenReading(day, level, SOURCE_CSV, f"From the pollen file: {words}.")
        else:
            amounts: dict[str, float] = {}
            for index, pollen in pollen_columns.items():
                cell = cells[index] if index < len(cells) else ""
                if not cell:
                    continue
                number = _parse_number(cell, delimiter)
                if number is None:
                    self.problems.append(
                        f"Line {line}: the {pollen} count “{cell[:20]}” is not a number "
                        "of grains/m³ of 0 or more."
                    )
                    return
                amounts[pollen] = number
            if not amounts:
                self.problems.append(f"Line {line}: no pollen count on this line.")
                return
            found = reading_from_amounts(day, amounts, SOURCE_CSV)
        seen[day] = line
        self._days[day] = found


def _csv_text(source: Path | str) -> str:
    if isinstance(source, str):
        return source.removeprefix("\ufeff")
    try:
        if source.stat().st_size > _MAX_CSV_BYTES:
            raise PollenCsvError(
                "The pollen file is too large to be a list of days.",
                ["Choose a file of daily pollen levels, one line a day."],
            )
        data = source.read_bytes()
    except OSError:
        raise PollenCsvError(
            "The pollen file could not be opened.", ["Check that the file is still there."]
        ) from None
    if b"\x00" in data:
        raise PollenCsvError(
            "The pollen file is not a table of text (it may be a spreadsheet file).",
            ["Save it from the spreadsheet as CSV, UTF-8, and choose it again."],
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PollenCsvError(
            "The pollen file is not UTF-8 text.",
            ["Save it as CSV UTF-8 and choose it again."],
        ) from None


def _columns(header: list[str], line: int, problems: list[str]) -> tuple[int, dict[int, str]]:
    """Which column holds the level, or which hold pollen counts; refuses a header that
    is neither form."""
    names = [name.lower().replace(" ", "_") for name in header]
    if not names or names[0] not in ("date", "day"):
        raise PollenCsvError(
            "The pollen file's first column must be the date.",
            [f"Line {line}: the first column is not called date."],
        )
    if "level" in names:
        return names.index("level"), {}
    pollens: dict[int, str] = {}
    for index, name in enumerate(names[1:], start=1):
        pollen = name.removesuffix("_pollen")
        if pollen in THRESHOLDS:
            pollens[index] = pollen
        elif name:
            problems.append(
                f"Line {line}: the column “{header[index][:30]}” is not a pollen Frontdesk "
                "knows; it is left out."
            )
    if not pollens:
        raise PollenCsvError(
            "The pollen file has neither a level column nor a pollen column.",
            [f"Line {line}: name the columns date,level or date,grass,birch (and so on)."],
        )
    return -1, pollens


def _parse_date(text: str) -> date | None:
    if len(text) != 10:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _parse_number(text: str, delimiter: str) -> float | None:
    if delimiter == ";":
        text = text.replace(",", ".")
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


# --- all together ---------------------------------------------------------------------


def _priority(provider: PollenProvider) -> int:
    if isinstance(provider, ManualPollen):
        return 0
    if isinstance(provider, CsvPollen):
        return 1
    return 2


@dataclass(frozen=True)
class _Combined:
    providers: tuple[PollenProvider, ...]

    def reading(self, day: date) -> PollenReading:
        last: PollenReading | None = None
        for provider in self.providers:
            last = provider.reading(day)
            if last.known:
                return last
        if last is None:
            return PollenReading(
                day, "unknown", SOURCE_NONE, f"No pollen source is set up; {NO_ALERTS}."
            )
        # The last word is the forecast's: "switch not set" and "no line in the file"
        # are ordinary, the service's reason is what the desk needs to see.
        return last


def combined(providers: Sequence[PollenProvider]) -> PollenProvider:
    """The first known answer: the desk's switch wins, then the file's line for that day,
    then the forecast (other providers keep their given order after these). Lower ones are
    not asked once a higher one knows, so a set switch costs no request."""
    ordered = sorted(providers, key=_priority)  # stable: equal ranks keep their order
    return _Combined(tuple(ordered))
