"""Builds a believable clinic from a seed: families, providers, visits, calls, bills.

The same seed and the same reference day give the same clinic, row for row, so
benchmarks and bug reports can name a clinic by its seed. Everything goes through
the writer like any other data (change rows included) in one transaction, so
Cancel leaves the clinic as it was.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from app.clinic import Clinic
from app.demo import names
from app.ops import CancelToken, Progress, no_progress
from app.store.changes import Changes
from app.store.writer import Tx

_BATCH = 2000
_CONSENT_PURPOSES = ("appointment", "recall", "billing", "education", "survey", "marketing")


@dataclass(frozen=True)
class DemoSummary:
    patients: int
    appointments: int
    interactions: int
    changes: Changes


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class _Builder:
    def __init__(self, seed: int, today: date) -> None:
        self.rng = random.Random(seed)
        self.today = today
        self.now = datetime.combine(today, time(8, 0), tzinfo=UTC)
        self.rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.provider_ids: list[str] = []
        self.location_ids: list[str] = []
        self.source_names = [s for s, _ in names.ACQUISITION_SOURCES]
        self.source_weights = [w for _, w in names.ACQUISITION_SOURCES]
        self.counter = 0

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def stamp(self, days_ago: float) -> str:
        return _iso(self.now - timedelta(days=days_ago))

    # --- the clinic's own people and places ---------------------------------------

    def staff(self) -> None:
        for family, given, title, specialty in names.PROVIDERS:
            pid = self.uid()
            self.provider_ids.append(pid)
            npi = "1" + "".join(str(self.rng.randrange(10)) for _ in range(9))
            self.rows["provider"].append(
                {
                    "id": pid,
                    "family_name": family,
                    "given_names": given,
                    "title": title,
                    "specialty": specialty,
                    "npi": npi,
                }
            )
        for name, line1, city, phone in names.LOCATIONS:
            lid = self.uid()
            self.location_ids.append(lid)
            self.rows["location"].append(
                {
                    "id": lid,
                    "name": name,
                    "line1": line1,
                    "city": city,
                    "region": "MN",
                    "postal_code": "55401",
                    "country": "US",
                    "phone": phone,
                }
            )

    # --- one household ------------------------------------------------------------

    def household(self, size: int) -> int:
        rng = self.rng
        family = rng.choice(names.FAMILY_NAMES)
        household_id = self.uid() if size > 1 else None
        street = f"{rng.randint(1, 9999)} {rng.choice(names.STREETS)}"
        city, state, zip2 = rng.choice(names.CITIES)
        postal = f"{zip2}{rng.randint(0, 999):03d}"
        adults_age = rng.randint(19, 88)
        members = []
        for index in range(size):
            if index == 0:
                age, role = adults_age, "guarantor"
            elif (index == 1 and size > 2) or (index == 1 and rng.random() < 0.6):
                age, role = max(19, adults_age + rng.randint(-6, 6)), "spouse"
            else:
                age, role = rng.randint(0, min(17, max(0, adults_age - 18))), "child"
            members.append(
                self.patient(family, age, role, household_id, street, city, state, postal)
            )
        if household_id:
            self.rows["household"].append(
                {
                    "id": household_id,
                    "name": f"{family} household",
                    "guarantor_patient_id": members[0],
                    "created_at": self.stamp(900),
                }
            )
        return size

    def patient(
        self,
        family: str,
        age: int,
        role: str,
        household_id: str | None,
        street: str,
        city: str,
        state: str,
        postal: str,
    ) -> str:
        rng = self.rng
        self.counter += 1
        pid = self.uid()
        sex = rng.choice(
            ("female", "male", "female", "male", "other", "unknown")[
                : 4 if rng.random() < 0.98 else 6
            ]
        )
        given = rng.choice(names.FEMALE_GIVEN if sex == "female" else names.MALE_GIVEN)
        if rng.random() < 0.15:
            given = f"{given} {rng.choice(names.FEMALE_GIVEN + names.MALE_GIVEN)}"
        preferred = names.PREFERRED.get(given.split()[0], "") if rng.random() < 0.5 else ""
        born = self.today - timedelta(days=age * 365 + rng.randint(0, 364))
        deceased = age > 70 and rng.random() < 0.03
        created = rng.uniform(30, 3650)
        self.rows["patient"].append(
            {
                "id": pid,
                "family_name": family,
                "given_names": given,
                "preferred_name": preferred,
                "birth_date": born.isoformat(),
                "sex": sex,
                "language": rng.choices(("en", "es", "de", "zh", "vi", "so"), (80, 10, 3, 3, 2, 2))[
                    0
                ],
                "deceased": 1 if deceased else 0,
                "deceased_date": (self.today - timedelta(days=rng.randint(10, 700))).isoformat()
                if deceased
                else None,
                "do_not_contact": 1 if rng.random() < 0.01 else 0,
                "acquisition_source": rng.choices(self.source_names, self.source_weights)[0],
                "household_id": household_id,
                "household_role": role if household_id else "",
                "created_at": self.stamp(created),
                "updated_at": self.stamp(created / 2),
            }
        )
        self.rows["patient_identifier"].append(
            {
                "id": self.uid(),
                "patient_id": pid,
                "system": "urn:frontdesk:demo:mrn",
                "value": f"MRN{self.counter:07d}",
                "kind": "MR",
            }
        )
        if age >= 13:
            self.contacts(pid, given, family)
        self.rows["address"].append(
            {
                "id": self.uid(),
                "patient_id": pid,
                "use": "home",
                "line1": street,
                "line2": "",
                "city": city,
                "region": state,
                "postal_code": postal,
                "country": "US",
                "rank": 1,
            }
        )
        self.consents(pid, created)
        self.conditions(pid, age)
        if not deceased:
            self.history(pid, age, created)
        return pid

    def contacts(self, pid: str, given: str, family: str) -> None:
        rng = self.rng
        area = rng.choice(("612", "651", "763", "952", "715"))
        number = f"+1{area}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"
        self.rows["contact_point"].append(
            {
                "id": self.uid(),
                "patient_id": pid,
                "kind": "phone",
                "value": number,
                "use": "mobile" if rng.random() < 0.85 else "home",
                "rank": 1,
                "verified": 1,
            }
        )
        if rng.random() < 0.7:
            local = "".join(
                ch
                for ch in f"{given.split()[0]}.{family}".lower()
                if ch.isascii() and (ch.isalnum() or ch == ".")
            )
            domain = rng.choice(("example.com", "example.org", "example.net"))
            self.rows["contact_point"].append(
                {
                    "id": self.uid(),
                    "patient_id": pid,
                    "kind": "email",
                    "value": f"{local or 'patient'}{rng.randint(1, 999)}@{domain}",
                    "use": "home",
                    "rank": 1,
                    "verified": 0,
                }
            )

    def consents(self, pid: str, created: float) -> None:
        rng = self.rng
        for channel in ("sms", "email", "letter"):
            for purpose in _CONSENT_PURPOSES:
                if purpose in ("education", "survey", "marketing") and rng.random() < 0.5:
                    continue
                if rng.random() < 0.3:
                    continue
                self.rows["consent"].append(
                    {
                        "id": self.uid(),
                        "patient_id": pid,
                        "channel": channel,
                        "purpose": purpose,
                        "granted": 0 if rng.random() < 0.06 else 1,
                        "source": rng.choice(("intake form", "phone", "patient portal")),
                        "recorded_at": self.stamp(created),
                    }
                )

    def conditions(self, pid: str, age: int) -> None:
        for system, code, display, rate in names.CONDITIONS:
            adult_only = code in ("15777000", "44054006", "38341003")
            if (adult_only and age < 25) or self.rng.random() >= rate:
                continue
            self.rows["condition"].append(
                {
                    "id": self.uid(),
                    "patient_id": pid,
                    "system": system,
                    "code": code,
                    "display": display,
                    "onset": self.stamp(self.rng.uniform(60, 3000))[:10],
                    "abated": None,
                }
            )

    def history(self, pid: str, age: int, created: float) -> None:
        rng = self.rng
        lapsed = rng.random() < 0.15  # patients who slipped away: nothing in 18 months
        visits = rng.randint(0, 6)
        open_cents = 0
        for _ in range(visits):
            days_ago = rng.uniform(560 if lapsed else 1, max(created, 600 if lapsed else 2))
            status = rng.choices(("fulfilled", "noshow", "cancelled"), (86, 6, 8))[0]
            appt = self.appointment(pid, age, days_ago, status)
            if status == "fulfilled":
                cents = rng.choice((4500, 7500, 12000, 15000, 2500))
                self.rows["charge"].append(
                    {
                        "id": self.uid(),
                        "patient_id": pid,
                        "amount_cents": cents,
                        "description": "Office visit copay",
                        "posted_at": self.stamp(days_ago),
                        "appointment_id": appt,
                    }
                )
                self.interaction(pid, "visit", "none", "attended", "Visit", days_ago, appt)
                if rng.random() < 0.85:
                    self.rows["payment"].append(
                        {
                            "id": self.uid(),
                            "patient_id": pid,
                            "amount_cents": cents,
                            "method": rng.choice(("card", "card", "cash", "check", "insurance")),
                            "reference": f"R{rng.randint(100000, 999999)}",
                            "received_at": self.stamp(max(0.0, days_ago - rng.uniform(0, 20))),
                        }
                    )
                else:
                    open_cents += cents
            if status == "noshow":
                self.interaction(
                    pid,
                    "call",
                    "out",
                    rng.choice(names.CALL_OUTCOMES),
                    "Missed appointment follow-up",
                    days_ago - 0.2,
                    appt,
                )
            if rng.random() < 0.5:
                self.interaction(
                    pid, "sms", "out", "delivered", "Appointment reminder", days_ago + 2, appt
                )
        if rng.random() < 0.2:
            self.interaction(
                pid,
                "call",
                "in",
                "reached",
                "Question about a bill" if open_cents else "Asked about opening hours",
                rng.uniform(1, 300),
                None,
            )
        if not lapsed and rng.random() < 0.3:
            days_ahead = rng.uniform(0.1, 90)
            self.appointment(pid, age, -days_ahead, rng.choice(("booked", "confirmed")))

    def appointment(self, pid: str, age: int, days_ago: float, status: str) -> str:
        rng = self.rng
        kinds = [k for k in names.VISIT_KINDS if (k[0] == "well-child") == (age < 12)]
        kind, reason, minutes = rng.choice(kinds or names.VISIT_KINDS)
        start = self.now - timedelta(days=days_ago)
        start = start.replace(
            hour=rng.randint(13, 23), minute=rng.choice((0, 15, 30, 45)), second=0
        )
        aid = self.uid()
        booked_at = _iso(start - timedelta(days=rng.uniform(1, 40)))
        self.rows["appointment"].append(
            {
                "id": aid,
                "patient_id": pid,
                "provider_id": rng.choice(self.provider_ids),
                "location_id": rng.choice(self.location_ids),
                "start_at": _iso(start),
                "end_at": _iso(start + timedelta(minutes=minutes)),
                "kind": kind,
                "reason": reason,
                "status": status,
                "created_at": booked_at,
            }
        )
        self.rows["appointment_status"].append(
            {
                "id": self.uid(),
                "appointment_id": aid,
                "status": "booked",
                "changed_at": booked_at,
                "note": "",
            }
        )
        if status != "booked":
            self.rows["appointment_status"].append(
                {
                    "id": self.uid(),
                    "appointment_id": aid,
                    "status": status,
                    "changed_at": _iso(min(start, self.now)),
                    "note": "",
                }
            )
        return aid

    def interaction(
        self,
        pid: str,
        kind: str,
        direction: str,
        outcome: str,
        subject: str,
        days_ago: float,
        appointment_id: str | None,
    ) -> None:
        self.rows["interaction"].append(
            {
                "id": self.uid(),
                "patient_id": pid,
                "kind": kind,
                "direction": direction,
                "outcome": outcome,
                "subject": subject,
                "body": "",
                "occurred_at": self.stamp(days_ago),
                "appointment_id": appointment_id,
            }
        )


# Parents before children, so foreign keys hold at every insert.
_ORDER = (
    "provider",
    "location",
    "household",
    "patient",
    "patient_identifier",
    "contact_point",
    "address",
    "consent",
    "condition",
    "appointment",
    "appointment_status",
    "interaction",
    "charge",
    "payment",
)


def _flush(tx: Tx, rows: dict[str, list[dict[str, Any]]]) -> None:
    for table in _ORDER:
        batch = rows.pop(table, [])
        if batch:
            tx.insert_many(table, batch)


def generate(
    clinic: Clinic,
    patients: int,
    seed: int = 1,
    *,
    today: date | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> DemoSummary:
    """Add about `patients` patients (whole households, so it may overshoot by a few)."""
    builder = _Builder(seed, today or datetime.now(UTC).date())
    builder.staff()
    made = 0
    appointments = interactions = 0
    progress(0, patients, "Creating the demo clinic")
    with clinic.store.write() as tx:
        # Households go in with their patients, so the guarantor link is always valid.
        tx.conn.execute("PRAGMA defer_foreign_keys = ON")
        _flush(tx, builder.rows)
        while made < patients:
            if cancel is not None:
                cancel.raise_if_cancelled()
            size = builder.rng.choices((1, 2, 3, 4, 5), (45, 25, 14, 11, 5))[0]
            made += builder.household(min(size, patients - made))
            if len(builder.rows["patient"]) >= _BATCH or made >= patients:
                appointments += len(builder.rows["appointment"])
                interactions += len(builder.rows["interaction"])
                _flush(tx, builder.rows)
                progress(made, patients, "Creating the demo clinic")
        progress(made, patients, "Building the search index")
    return DemoSummary(made, appointments, interactions, tx.changes)
