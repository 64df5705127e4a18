"""An open clinic: the store, its settings, and the derived indexes kept in step."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from app.audit.change_entries import audit_every_change
from app.errors import InvalidInputError, StoreError
from app.patients.search_index import SOURCE_TABLES, reindex_patients
from app.patients.validation import normalize_phone
from app.store import database, lifecycle
from app.store.changes import Changes
from app.store.database import Connection, DatabaseError
from app.store.hlc import HybridLogicalClock
from app.store.lifecycle import OpenDatabase
from app.store.writer import Store, Tx

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClinicSettings:
    """The settings every feature reads; stored as rows of `setting`, synced like data."""

    name: str = ""
    address: str = ""
    phone: str = ""
    timezone: str = "UTC"
    region: str = "US"  # default country for phone numbers typed without +
    day_first: bool = False  # 03/04/1975 means 3 April (True) or March 4 (False)


_SETTING_KEYS = {
    "name": "clinic.name",
    "address": "clinic.address",
    "phone": "clinic.phone",
    "timezone": "clinic.timezone",
    "region": "clinic.region",
    "day_first": "clinic.day_first",
}


def _checked_settings(values: dict[str, Any], region: str) -> dict[str, Any]:
    """The same rules for every way in (wizard, Settings, command line): a bad value is
    refused with the reason, a phone number is stored in its international form."""
    checked = dict(values)
    if "name" in checked:
        name = " ".join(str(checked["name"]).split())
        if not name:
            raise InvalidInputError("The clinic needs a name.")
        if len(name) > 120:
            raise InvalidInputError("A clinic name of at most 120 characters, please.")
        checked["name"] = name
    if "timezone" in checked:
        try:
            ZoneInfo(str(checked["timezone"]))
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInputError(
                "Choose a time zone from the list, for example America/Chicago."
            ) from None
    if "region" in checked and str(checked["region"]) not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidInputError("Choose the clinic's country from the list.")
    if "phone" in checked and str(checked["phone"]).strip():
        checked["phone"] = normalize_phone(str(checked["phone"]), region)
    if "day_first" in checked:
        checked["day_first"] = bool(checked["day_first"])
    return checked


def put_setting(tx: Tx, key: str, encoded: str) -> None:
    """Insert or replace one setting row (its value already JSON), through the writer."""
    if tx.conn.execute("SELECT 1 FROM setting WHERE id = ?", (key,)).fetchone():
        tx.update("setting", key, {"value": encoded})
    else:
        tx.insert("setting", {"id": key, "value": encoded})


class Clinic:
    """What every core function takes: one clinic, unlocked."""

    def __init__(self, opened: OpenDatabase, clock: HybridLogicalClock | None = None) -> None:
        self.opened = opened
        self.store = Store(opened.conn, self._meta("device_id"), clock=clock)
        self.store.on_patients_written(SOURCE_TABLES, reindex_patients)
        audit_every_change(self)
        self.settings = self._load_settings()
        # Who is working: recorded on consents, calls, tasks and the audit log. Set at
        # sign-in by the desktop; the command line acts as the first administrator.
        self.acting_user_id = ""
        # Timers of a window may still fire after the clinic closed (at quit): they ask.
        self.closed = False

    def fork(self) -> Clinic:
        """The same clinic on a second connection, for work on another thread.

        A background import or the finder then never reads the GUI's uncommitted rows
        (nor the GUI theirs); WAL lets them read while the other writes. The clock is
        shared so the change journal stays in one order on this device.
        """
        conn = database.connect(self.opened.paths.database, self.opened.data_key)
        twin = Clinic(replace(self.opened, conn=conn), clock=self.store.clock)
        twin.acting_user_id = self.acting_user_id
        return twin

    def reload_settings(self) -> None:
        """Pick up settings another connection saved."""
        self.settings = self._load_settings()

    @property
    def clinic_id(self) -> str:
        return self.opened.clinic_id

    @property
    def conn(self) -> Connection:
        return self.store.conn

    @property
    def home(self) -> Path:
        return self.opened.paths.home

    def _meta(self, key: str) -> str:
        row = self.opened.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise StoreError(f"The clinic database lacks its {key}.")
        return str(row[0])

    def _load_settings(self) -> ClinicSettings:
        rows = dict(self.store.conn.execute("SELECT id, value FROM setting").fetchall())
        values: dict[str, Any] = {}
        for field, key in _SETTING_KEYS.items():
            if key in rows:
                values[field] = json.loads(rows[key])
        return ClinicSettings(**values)

    def update_settings(self, **values: Any) -> Changes:
        unknown = set(values) - set(_SETTING_KEYS)
        if unknown:
            raise ValueError(f"unknown settings: {sorted(unknown)}")
        values = _checked_settings(values, values.get("region", self.settings.region))
        with self.store.write() as tx:
            for field, value in values.items():
                key = _SETTING_KEYS[field]
                put_setting(tx, key, json.dumps(value, ensure_ascii=False))
        self.settings = self._load_settings()
        return tx.changes

    def close(self) -> None:
        # SQLite's advice for long-lived connections: refresh the planner's statistics
        # on close, bounded so it stays quick on a large clinic.
        try:
            self.store.conn.execute("PRAGMA analysis_limit = 400")
            self.store.conn.execute("PRAGMA optimize")
        except DatabaseError as exc:  # a read-only or full disk: statistics can wait
            log.info("planner statistics not refreshed: %s", type(exc).__name__)
        self.closed = True
        self.store.close()

    def __enter__(self) -> Clinic:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@dataclass(frozen=True)
class NewClinic:
    clinic: Clinic
    recovery_key: str
    keyring_saved: bool


def create_clinic(
    name: str,
    passphrase: str,
    home: Path | None = None,
    *,
    timezone: str = "UTC",
    region: str = "US",
    day_first: bool = False,
    use_keyring: bool = True,
) -> NewClinic:
    """Create the encrypted clinic; the caller must show the recovery key once."""
    if not name.strip():
        raise StoreError("The clinic needs a name.")
    created = lifecycle.create(passphrase, home, use_keyring=use_keyring)
    clinic = Clinic(created.opened)
    clinic.update_settings(name=name.strip(), timezone=timezone, region=region, day_first=day_first)
    return NewClinic(clinic, created.recovery_key, created.keyring_saved)


def open_clinic(
    home: Path | None = None,
    *,
    passphrase: str | None = None,
    recovery_key: str | None = None,
    use_keyring: bool = True,
) -> Clinic:
    return Clinic(
        lifecycle.unlock(
            home, passphrase=passphrase, recovery_key=recovery_key, use_keyring=use_keyring
        )
    )


def open_clinic_headless(home: Path | None = None) -> Clinic:
    return Clinic(lifecycle.unlock_headless(home))
