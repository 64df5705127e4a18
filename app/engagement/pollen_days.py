"""The pollen level decided for each local day, which the allergy alerts plan from.

The sending workstation decides today's level once a day (service.run_pass, before
planning) and stores it in pollen_day; every desk plans from that row and never from the
network, so two desks can never disagree about whether today was a high day. The order
of trust is the pollen module's: the desk's switch, then the clinic's pollen file, then the
Open-Meteo forecast for the clinic's location. A forecast that fails is stored as
"unknown" with its plain reason (shown in Settings), and unknown never sends an alert; it
is asked again at the next pass an hour or more later.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Final

from app.clinic import Clinic, put_setting
from app.engagement import pollen
from app.engagement.pollen import (
    SOURCE_CSV,
    SOURCE_MANUAL,
    SOURCE_NONE,
    CsvPollen,
    ManualPollen,
    OpenMeteoPollen,
    PollenProvider,
    PollenReading,
)
from app.errors import InvalidInputError
from app.store.changes import Changes
from app.store.database import Connection
from app.store.writer import Tx, utc_text

LOCATION_SETTING: Final = "engagement.clinic_location"
ALERT_LEVELS: Final = ("high", "very_high")
"""The stored levels on which allergy alerts go."""
RETRY_UNKNOWN: Final = timedelta(hours=1)
_LEVEL_WORDS: Final = {
    "en": {"low": "low", "moderate": "moderate", "high": "high", "very_high": "very high"},
    "es": {"low": "bajo", "moderate": "moderado", "high": "alto", "very_high": "muy alto"},
}


@dataclass(frozen=True)
class PollenDay:
    """A local day's decided level (low, moderate, high, very_high or unknown)."""

    day: date
    level: str
    source: str
    status: str

    @property
    def alert(self) -> bool:
        return self.level in ALERT_LEVELS


@dataclass(frozen=True)
class ClinicLocation:
    latitude: float
    longitude: float


@dataclass(frozen=True)
class ImportedLevels:
    """What a pollen file gave: the days stored, and the lines left out (with numbers)."""

    days: int
    problems: tuple[str, ...]
    changes: Changes


def level_words(level: str, language: str) -> str:
    """The level in plain words in the patient's language (English when not known)."""
    base = language.replace("_", "-").split("-")[0].strip().lower()
    return _LEVEL_WORDS.get(base, _LEVEL_WORDS["en"]).get(level, level.replace("_", " "))


# --- the clinic's location -------------------------------------------------------------------


def clinic_location(clinic: Clinic) -> ClinicLocation | None:
    row = clinic.conn.execute(
        "SELECT value FROM setting WHERE id = ?", (LOCATION_SETTING,)
    ).fetchone()
    if row is None:
        return None
    try:
        values = json.loads(row[0])
        return ClinicLocation(float(values["latitude"]), float(values["longitude"]))
    except (ValueError, TypeError, KeyError):
        return None


def save_clinic_location(clinic: Clinic, latitude: float, longitude: float) -> Changes:
    """Where the forecast is asked for: only these two numbers ever leave the clinic."""
    if not (-90 <= latitude <= 90) or not (-180 <= longitude <= 180):
        raise InvalidInputError(
            "The clinic's location must be a latitude from -90 to 90 and a longitude "
            "from -180 to 180 (for example 41.88 and -87.63)."
        )
    encoded = json.dumps({"latitude": latitude, "longitude": longitude}, sort_keys=True)
    with clinic.store.write() as tx:
        put_setting(tx, LOCATION_SETTING, encoded)
    return tx.changes


# --- stored days -----------------------------------------------------------------------------


def stored_day(conn: Connection, day: date) -> PollenDay | None:
    """The stored decision for a day, read from a connection (the planner has no clinic)."""
    row = conn.execute(
        "SELECT day, level, source, status FROM pollen_day WHERE day = ?", (day.isoformat(),)
    ).fetchone()
    if row is None:
        return None
    return PollenDay(date.fromisoformat(str(row[0])), str(row[1]), str(row[2]), str(row[3]))


def stored_days(conn: Connection, first: date, last: date) -> dict[date, PollenDay]:
    rows = conn.execute(
        "SELECT day, level, source, status FROM pollen_day WHERE day >= ? AND day <= ?",
        (first.isoformat(), last.isoformat()),
    ).fetchall()
    return {
        date.fromisoformat(str(r[0])): PollenDay(
            date.fromisoformat(str(r[0])), str(r[1]), str(r[2]), str(r[3])
        )
        for r in rows
    }


def pollen_for(clinic: Clinic, day: date) -> PollenDay | None:
    return stored_day(clinic.conn, day)


def _stored_level(level: str) -> str:
    # The table knows no "none": no pollen worth mentioning is the lowest level there.
    return "low" if level == "none" else level


def day_row_id(day: date) -> str:
    """The same id for a day on every desk, so two desks deciding one day while apart
    write one row (the later decision wins column by column when they sync)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"frontdesk:pollen-day:{day.isoformat()}"))


def _put(tx: Tx, found: PollenDay, at: datetime) -> None:
    row_id = day_row_id(found.day)
    values = {
        "level": _stored_level(found.level),
        "source": found.source,
        "status": found.status[:500],
        "decided_at": utc_text(at),
    }
    if tx.current("pollen_day", row_id, ("id",)) is None:
        tx.insert("pollen_day", {"id": row_id, "day": found.day.isoformat(), **values})
    else:
        tx.update("pollen_day", row_id, values)


def _drop(tx: Tx, day: date) -> None:
    row_id = day_row_id(day)
    if tx.current("pollen_day", row_id, ("id",)) is not None:
        tx.delete("pollen_day", row_id)


# --- the desk's switch, the file, the forecast ------------------------------------------------


def set_manual_high(clinic: Clinic, day: date, high: bool) -> Changes:
    """The desk's "High pollen today" switch: on wins over the file and the forecast for
    that day; off hands the day back to them (decided again at the next pass)."""
    if high:
        changes = pollen.set_manual(clinic, day, "high")
        with clinic.store.write() as tx:
            _put(
                tx,
                PollenDay(day, "high", SOURCE_MANUAL, "Set at the desk: pollen high today."),
                datetime.now(UTC),
            )
        return changes | tx.changes
    changes = pollen.clear_manual(clinic)
    with clinic.store.write() as tx:
        found = stored_day(tx.conn, day)
        if found is not None and found.source == SOURCE_MANUAL:
            _drop(tx, day)
    return changes | tx.changes


def import_levels(clinic: Clinic, path: Path) -> ImportedLevels:
    """Store a file of daily levels (source "Pollen file"). A file that is not such a table
    is refused whole (PollenCsvError with the reason); bad lines are left out and listed.
    A day the desk switched on keeps the desk's level."""
    reading = CsvPollen(path)
    now = datetime.now(UTC)
    stored = 0
    with clinic.store.write() as tx:
        for day, found in sorted(reading.days.items()):
            current = stored_day(tx.conn, day)
            if current is not None and current.source == SOURCE_MANUAL:
                continue
            _put(tx, PollenDay(day, found.level, SOURCE_CSV, found.detail), now)
            stored += 1
    return ImportedLevels(stored, tuple(reading.problems), tx.changes)


def _forecast(clinic: Clinic, provider: PollenProvider | None) -> PollenProvider | None:
    if provider is not None:
        return provider
    location = clinic_location(clinic)
    if location is None:
        return None
    return OpenMeteoPollen(location.latitude, location.longitude, timezone=clinic.settings.timezone)


def decide_day(
    clinic: Clinic,
    day: date,
    *,
    provider: PollenProvider | None = None,
    now: datetime | None = None,
) -> PollenDay:
    """Decide and store a day's level: the desk's switch, else the pollen file's line for
    the day, else the forecast (`provider`, by default Open-Meteo for the clinic's
    location). Never raises for a service that is down: the level is then "unknown"."""
    moment = now or datetime.now(UTC)
    found = _decide(clinic, day, provider)
    with clinic.store.write() as tx:
        _put(tx, found, moment)
    return PollenDay(found.day, _stored_level(found.level), found.source, found.status)


def _decide(clinic: Clinic, day: date, provider: PollenProvider | None) -> PollenDay:
    manual = ManualPollen(clinic).reading(day)
    if manual.known:
        return _from_reading(manual)
    current = stored_day(clinic.conn, day)
    if current is not None and current.source == SOURCE_CSV:
        return current
    forecast = _forecast(clinic, provider)
    if forecast is None:
        return PollenDay(
            day,
            "unknown",
            SOURCE_NONE,
            "No pollen source: set the clinic's location, load a pollen file or use the "
            f"desk's switch; {pollen.NO_ALERTS}.",
        )
    return _from_reading(forecast.reading(day))


def _from_reading(reading: PollenReading) -> PollenDay:
    return PollenDay(reading.day, reading.level, reading.source, reading.detail)


def needs_deciding(clinic: Clinic, day: date, now: datetime) -> bool:
    """Whether today's level is still to be decided: not yet, or unknown an hour ago."""
    row = clinic.conn.execute(
        "SELECT level, source, decided_at FROM pollen_day WHERE day = ?", (day.isoformat(),)
    ).fetchone()
    if row is None:
        return True
    level, source, decided_at = (str(v) for v in row)
    if level != "unknown" or source == SOURCE_MANUAL:
        return False
    try:
        at = datetime.fromisoformat(decided_at.replace("Z", "+00:00"))
    except ValueError:
        return True
    return now - at >= RETRY_UNKNOWN
