"""Builds a believable clinic from a seed: families, providers, visits, calls, bills.

The same seed, reference day and clinic time zone give the same clinic, row for row,
so benchmarks and bug reports can name a clinic by its seed. (Without a given day the
demo is built around this very moment at the clinic, so whoever explores it finds the
morning's patients seen and the afternoon's still to come.) Everything goes through
the writer like any other data (change rows included) in one transaction, so
Cancel leaves the clinic as it was.

Speed: a 100,000-patient clinic is over three million rows, so the builder avoids
per-row overhead that does not change a value: random draws are made inline with
exactly the calls `random.Random` itself makes (see `_Builder.pick`), times stay
naive UTC datetimes until they are formatted, values that repeat within a patient
are computed once, and each day's UTC offset is looked up once.

Visits are booked the way the desk books them: on the clinic's wall clock (opening
hours, quarter-hour starts, no Sundays), stored as UTC like every other time.
"""

from __future__ import annotations

import math
import random
from bisect import bisect
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import accumulate
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

from app.clinic import Clinic
from app.demo import names
from app.demo.engagement import DEMO_RULE_ID, Engagement
from app.ops import CancelToken, Progress, no_progress
from app.store.changes import Changes
from app.store.writer import Tx, uuid7_text

_BATCH = 2000
_CONSENT_PURPOSES = ("appointment", "recall", "billing", "education", "survey", "marketing")
_OPTIONAL_PURPOSES = frozenset(("education", "survey", "marketing"))
_ADULT_ONLY_CODES = frozenset(("15777000", "44054006", "38341003"))
# Ids in the version-7 layout the writer uses (app.store.writer.new_id): a 48-bit time
# prefix, then 74 random bits. The demo counts its "milliseconds" up from a fixed
# start, so ids are deterministic and every insert lands at the end of its indexes.
_UUID7_EPOCH_MS = 1_700_000_000_000
# The page cache during generation, in KiB. Random UUID keys scatter every insert over
# the whole of each index; once the indexes outgrow the normal cache (32 MB), inserts
# keep evicting pages that the next insert reads back (and decrypts) again. A demo
# clinic has several KiB of index pages per patient: 100,000 patients took 272 s with
# the normal cache, 206 s with 400 MiB, 147 s with 1 GiB and no less with 3 GiB. The
# cache grows only as pages are used, and the normal size is restored (and the memory
# freed) afterwards.
_CACHE_KIB_PER_PATIENT = 10
_CACHE_KIB_MAX = 1024 * 1024
# Open follow-ups of a demo clinic: (kind, note, due in days from today). Most are due
# already, so the Today page of a demo has a call list; two lie ahead and do not show yet.
_TASKS = (
    ("call-back", "Lab results are in; go over them", -3),
    ("call-back", "Asked about a referral to physical therapy", -1),
    ("call-back", "Question about the last bill", 0),
    ("follow-up", "Check how the new medication is going", -2),
    ("call-back", "Wants to move next month's visit", 0),
    ("call-back", "Asked for a prescription refill", 5),
    ("follow-up", "School form to sign; tell the parent when it is ready", -4),
    ("call-back", "Asked whether the flu shot is in", 0),
    ("call-back", "Insurance card changed; get the new details", -1),
    ("follow-up", "Blood pressure check after the dose change", 2),
    ("call-back", "Asked about the new evening hours", -2),
    ("call-back", "Wants a copy of the vaccination record", 0),
)

# Opening hours as sessions of (open, close) wall-clock minutes: weekdays with a lunch
# hour, Saturday mornings, Sundays closed. Visits start on the quarter hour and end by
# the close of their session.
_SLOT_MINUTES = 15
_WEEKDAY_SESSIONS = ((8 * 60, 12 * 60), (13 * 60, 17 * 60 + 30))
_SATURDAY_SESSIONS = ((8 * 60, 12 * 60),)
# The booked week ahead: today and the next six days are filled like a real book (a
# day per provider of back-to-back visits with some gaps); the scattered visits of
# the patients' own histories start after it, so they never double-book that week.
_BOOKED_DAYS = 7
# One visit a day per this many patients (a small demo still gets a day worth showing),
# but never more than a provider can see: a 100k clinic books full days, not thousands.
_PATIENTS_PER_DAILY_VISIT = 25
_MIN_DAILY_VISITS = 10
_WEEKDAY_VISITS_PER_PROVIDER = 16
_SATURDAY_VISITS_PER_PROVIDER = 7
_SATURDAY_PROVIDERS = 2
# Enough providers are rostered that none is booked past this share of a full day.
_ROSTER_FILL = 0.6
# Statuses of visits still ahead, by days from today: today's were mostly confirmed
# yesterday, tomorrow's half (the rest are the desk's confirmation calls), later ones
# seldom yet.
_AHEAD_STATUSES = (
    (("confirmed", "booked", "cancelled"), (85, 10, 5)),
    (("confirmed", "booked", "cancelled"), (50, 45, 5)),
    (("confirmed", "booked", "cancelled"), (25, 73, 2)),
)
_PAST_STATUSES = (("fulfilled", "noshow", "cancelled"), (88, 7, 5))
_COPAYS = (4500, 7500, 12000, 15000, 2500)
# "Now" on a given demo day: the morning's first visits seen, one under way, more to come.
_REFERENCE_TIME = time(10, 30)

_T = TypeVar("_T")


def _sessions(day: date) -> tuple[tuple[int, int], ...]:
    weekday = day.weekday()
    if weekday < 5:
        return _WEEKDAY_SESSIONS
    return _SATURDAY_SESSIONS if weekday == 5 else ()


def _starts(sessions: tuple[tuple[int, int], ...], minutes: int) -> tuple[timedelta, ...]:
    """Every quarter-hour start (after local midnight) of a visit that ends in its session."""
    return tuple(
        timedelta(minutes=start)
        for opens, closes in sessions
        for start in range(opens, closes - minutes + 1, _SLOT_MINUTES)
    )


@dataclass(frozen=True)
class DemoSummary:
    patients: int
    appointments: int
    interactions: int
    changes: Changes


def _iso(moment: datetime) -> str:
    """UTC ISO text of a naive datetime that holds UTC (the builder keeps all times so)."""
    return moment.isoformat(timespec="seconds") + "Z"


class _Weighted(Generic[_T]):
    """A weighted draw identical to `rng.choices(population, weights)[0]`, with the
    cumulative weights that `choices` would recompute on every call made once."""

    def __init__(self, population: Sequence[_T], weights: Sequence[float]) -> None:
        self.population = population
        self.cum_weights = list(accumulate(weights))
        self.total = self.cum_weights[-1] + 0.0
        self.hi = len(population) - 1


class _Builder:
    def __init__(self, seed: int, zone: ZoneInfo, local_now: datetime) -> None:
        """`local_now`: the reference moment, aware, in the clinic's zone."""
        self.rng = random.Random(seed)
        self.seed = seed
        self._bits = self.rng.getrandbits
        self._id_counter = 0
        self._random = self.rng.random
        self.zone = zone
        self.today = local_now.date()
        self.local_now = local_now.replace(tzinfo=None)
        self._midnights: dict[date, datetime] = {}
        self._starts: dict[tuple[int, int], tuple[timedelta, ...]] = {}
        # Naive, meaning UTC: the same instants as an aware UTC datetime, cheaper to format.
        self.now = local_now.astimezone(UTC).replace(tzinfo=None)
        self.rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.provider_ids: list[str] = []
        self.location_ids: list[str] = []
        self.reachable: list[str] = []  # living patients with a phone who may be called
        self.active: list[tuple[str, int]] = []  # (id, age) of living, not lapsed patients
        self.last_start = self.last_end = self.now  # of the appointment made last
        self.sources = _Weighted(
            [s for s, _ in names.ACQUISITION_SOURCES], [w for _, w in names.ACQUISITION_SOURCES]
        )
        self.languages = _Weighted(("en", "es", "de", "zh", "vi", "so"), (80, 10, 3, 3, 2, 2))
        self.statuses = _Weighted(("fulfilled", "noshow", "cancelled"), (86, 6, 8))
        self.household_sizes = _Weighted((1, 2, 3, 4, 5), (45, 25, 14, 11, 5))
        self.all_given = names.FEMALE_GIVEN + names.MALE_GIVEN
        self.conditions_list = [
            (system, code, display, rate, code in _ADULT_ONLY_CODES)
            for system, code, display, rate in names.CONDITIONS
        ]
        self.child_kinds = [k for k in names.VISIT_KINDS if k[0] == "well-child"] or list(
            names.VISIT_KINDS
        )
        self.adult_kinds = [k for k in names.VISIT_KINDS if k[0] != "well-child"] or list(
            names.VISIT_KINDS
        )
        self.counter = 0
        self.reach: dict[str, str] = {}  # the patient being made: channel → address
        self.household_reach: dict[str, str] = {}  # the household's first adult's
        self.visit_reach: dict[str, str] = {}  # where this patient's reminders go
        self.last_day = self.today  # local day of the appointment made last
        self.engagement = Engagement(seed, self.now, self.today, DEMO_RULE_ID)
        self.engaged = False  # whether to write the engagement history (generate's flag)
        self._engagement_bits = self.engagement.rng.getrandbits

    # --- random draws, consuming the generator exactly as random.Random does -----------
    # choice(seq) is seq[_randbelow(len(seq))], randint(a, b) is a + _randbelow(b - a + 1),
    # and _randbelow(n) draws n.bit_length() bits until the value is below n. Doing the
    # same inline saves two or three Python calls per draw and changes no value.

    def pick(self, seq: Sequence[_T]) -> _T:
        n = len(seq)
        k = n.bit_length()
        r = self._bits(k)
        while r >= n:
            r = self._bits(k)
        return seq[r]

    def randint(self, low: int, high: int) -> int:
        n = high - low + 1
        k = n.bit_length()
        r = self._bits(k)
        while r >= n:
            r = self._bits(k)
        return low + r

    def uniform(self, low: float, high: float) -> float:
        return low + (high - low) * self._random()

    def weighted(self, draw: _Weighted[_T]) -> _T:
        return draw.population[bisect(draw.cum_weights, self._random() * draw.total, 0, draw.hi)]

    def uid(self) -> str:
        self._id_counter += 1
        return uuid7_text(_UUID7_EPOCH_MS + self._id_counter, self._bits(74))

    def engagement_uid(self) -> str:
        """An id for an engagement row: the next in order, its random part from the
        engagement generator, so those rows draw nothing from the main one."""
        self._id_counter += 1
        return uuid7_text(_UUID7_EPOCH_MS + self._id_counter, self._engagement_bits(74))

    def stamp(self, days_ago: float) -> str:
        return (self.now - timedelta(days=days_ago)).isoformat(timespec="seconds") + "Z"

    # --- the clinic's wall clock ---------------------------------------------------

    def utc_midnight(self, day: date) -> datetime:
        """Local midnight of `day` in naive UTC, shifted by the offset in force during
        opening hours (clocks change at night, so one offset holds for the whole day)."""
        found = self._midnights.get(day)
        if found is None:
            noon = datetime.combine(day, time(12), tzinfo=self.zone)
            offset = noon.utcoffset() or timedelta()
            found = self._midnights[day] = datetime.combine(day, time()) - offset
        return found

    def slot_starts(self, day: date, minutes: int) -> tuple[timedelta, ...]:
        key = (day.weekday(), minutes)
        found = self._starts.get(key)
        if found is None:
            found = self._starts[key] = _starts(_sessions(day), minutes)
        return found

    # --- the clinic's own people and places ---------------------------------------

    def staff(self) -> None:
        for family, given, title, specialty in names.PROVIDERS:
            pid = self.uid()
            self.provider_ids.append(pid)
            npi = "1" + "".join(str(self.randint(0, 9)) for _ in range(9))
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
        family = self.pick(names.FAMILY_NAMES)
        household_id = self.uid() if size > 1 else None
        street = f"{self.randint(1, 9999)} {self.pick(names.STREETS)}"
        city, state, zip2 = self.pick(names.CITIES)
        postal = f"{zip2}{self.randint(0, 999):03d}"
        adults_age = self.randint(19, 88)
        self.household_reach = {}
        members = []
        for index in range(size):
            if index == 0:
                age, role = adults_age, "guarantor"
            elif (index == 1 and size > 2) or (index == 1 and self._random() < 0.6):
                age, role = max(19, adults_age + self.randint(-6, 6)), "spouse"
            else:
                age, role = self.randint(0, min(17, max(0, adults_age - 18))), "child"
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
        random_ = self._random
        self.counter += 1
        pid = self.uid()
        sex = self.pick(
            ("female", "male", "female", "male", "other", "unknown")[: 4 if random_() < 0.98 else 6]
        )
        given = self.pick(names.FEMALE_GIVEN if sex == "female" else names.MALE_GIVEN)
        if random_() < 0.15:
            given = f"{given} {self.pick(self.all_given)}"
        preferred = names.PREFERRED.get(given.split()[0], "") if random_() < 0.5 else ""
        born = self.today - timedelta(days=age * 365 + self.randint(0, 364))
        # Older patients die on file now and then; a few younger ones too, so even a
        # small demo clinic shows how the desk treats them (never contacted, last in search).
        deceased = random_() < (0.08 if age > 70 else 0.004)
        created = self.uniform(30, 3650)
        # The dict is written out in column order, each value drawn in that order.
        self.rows["patient"].append(
            {
                "id": pid,
                "family_name": family,
                "given_names": given,
                "preferred_name": preferred,
                "birth_date": born.isoformat(),
                "sex": sex,
                "language": self.weighted(self.languages),
                "deceased": 1 if deceased else 0,
                "deceased_date": (self.today - timedelta(days=self.randint(10, 700))).isoformat()
                if deceased
                else None,
                "do_not_contact": 1 if random_() < 0.01 else 0,
                "acquisition_source": self.weighted(self.sources),
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
        channels: tuple[str, ...] = ("letter",)
        self.reach = {}
        if age >= 13:
            channels += self.contacts(pid, given, family)
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
        # A child's reminders go to the parent's phone or email (the first with one).
        if self.reach and not self.household_reach:
            self.household_reach = self.reach
        self.visit_reach = self.reach or self.household_reach
        if age >= 13 and not deceased and not self.rows["patient"][-1]["do_not_contact"]:
            self.reachable.append(pid)
        self.consents(pid, created, channels)
        self.conditions(pid, age)
        if not deceased:
            self.history(pid, age, created)
        return pid

    def contacts(self, pid: str, given: str, family: str) -> tuple[str, ...]:
        """Adds a phone and maybe an email; returns the channels they open."""
        area = self.pick(("612", "651", "763", "952", "715"))
        number = f"+1{area}{self.randint(200, 999)}{self.randint(0, 9999):04d}"
        reach = self.reach
        self.rows["contact_point"].append(
            {
                "id": self.uid(),
                "patient_id": pid,
                "kind": "phone",
                "value": number,
                "use": (use := "mobile" if self._random() < 0.85 else "home"),
                "rank": 1,
                "verified": 1,
            }
        )
        if use == "mobile":
            reach["sms"] = number
        if self._random() < 0.7:
            local = "".join(
                ch
                for ch in f"{given.split()[0]}.{family}".lower()
                if ch.isascii() and (ch.isalnum() or ch == ".")
            )
            domain = self.pick(("example.com", "example.org", "example.net"))
            self.rows["contact_point"].append(
                {
                    "id": self.uid(),
                    "patient_id": pid,
                    "kind": "email",
                    "value": f"{local or 'patient'}{self.randint(1, 999)}@{domain}",
                    "use": "home",
                    "rank": 1,
                    "verified": 0,
                }
            )
            reach["email"] = self.rows["contact_point"][-1]["value"]
            return ("sms", "email") if use == "mobile" else ("email",)
        return ("sms",) if use == "mobile" else ()

    def consents(self, pid: str, created: float, channels: tuple[str, ...]) -> None:
        """Consent is asked for the ways a patient can be reached: post always, texts
        with a mobile number, email with an address."""
        random_ = self._random
        rows = self.rows["consent"]
        recorded_at = self.stamp(created)  # the same for every consent of the patient
        for channel in channels:
            for purpose in _CONSENT_PURPOSES:
                if purpose in _OPTIONAL_PURPOSES and random_() < 0.5:
                    continue
                if random_() < 0.3:
                    continue
                rows.append(
                    {
                        "id": self.uid(),
                        "patient_id": pid,
                        "channel": channel,
                        "purpose": purpose,
                        "granted": 0 if random_() < 0.06 else 1,
                        "source": self.pick(("intake form", "phone", "patient portal")),
                        "recorded_at": recorded_at,
                    }
                )

    def conditions(self, pid: str, age: int) -> None:
        for system, code, display, rate, adult_only in self.conditions_list:
            if (adult_only and age < 25) or self._random() >= rate:
                continue
            self.rows["condition"].append(
                {
                    "id": self.uid(),
                    "patient_id": pid,
                    "system": system,
                    "code": code,
                    "display": display,
                    "onset": self.stamp(self.uniform(60, 3000))[:10],
                    "abated": None,
                }
            )

    def history(self, pid: str, age: int, created: float) -> None:
        random_ = self._random
        lapsed = random_() < 0.15  # patients who slipped away: nothing in 18 months
        if not lapsed:
            self.active.append((pid, age))
        visits = self.randint(0, 6)
        open_cents = 0
        for _ in range(visits):
            days_ago = self.uniform(560 if lapsed else 1, max(created, 600 if lapsed else 2))
            status = self.weighted(self.statuses)
            appt = self.appointment(pid, age, days_ago, status)
            if self.engaged and self.visit_reach:
                self.rows["appointment_status"] += self.engagement.visit(
                    pid,
                    self.rows["appointment"][-1],
                    self.last_start,
                    self.last_day,
                    self.visit_reach,
                    self.engagement_uid,
                )
            if status == "fulfilled":
                cents = self.pick(_COPAYS)
                posted_at = _iso(self.last_end)
                self.rows["charge"].append(
                    {
                        "id": self.uid(),
                        "patient_id": pid,
                        "amount_cents": cents,
                        "description": "Office visit copay",
                        "posted_at": posted_at,
                        "appointment_id": appt,
                    }
                )
                if random_() < 0.85:
                    self.rows["payment"].append(
                        {
                            "id": self.uid(),
                            "patient_id": pid,
                            "amount_cents": cents,
                            "method": self.pick(("card", "card", "cash", "check", "insurance")),
                            "reference": f"R{self.randint(100000, 999999)}",
                            "received_at": _iso(
                                min(self.now, self.last_end + timedelta(days=self.uniform(0, 20)))
                            ),
                        }
                    )
                else:
                    open_cents += cents
            if status == "noshow":
                self.interaction(
                    pid,
                    "call",
                    "out",
                    self.pick(names.CALL_OUTCOMES),
                    "Missed appointment follow-up",
                    _iso(self.last_end + timedelta(hours=3)),
                    appt,
                )
            if random_() < 0.5:
                self.interaction(
                    pid,
                    "sms",
                    "out",
                    "delivered",
                    "Appointment reminder",
                    _iso(self.last_start - timedelta(days=2)),
                    appt,
                )
        if random_() < 0.2:
            self.interaction(
                pid,
                "call",
                "in",
                "reached",
                "Question about a bill" if open_cents else "Asked about opening hours",
                self.stamp(self.uniform(1, 300)),
                None,
            )
        if not lapsed and random_() < 0.1:
            # A walk-in: a visit with no appointment behind it. (A booked visit shows on
            # the timeline as its fulfilled appointment, so it gets no second entry.)
            self.interaction(
                pid, "visit", "in", "seen", "Walk-in visit", self.stamp(self.uniform(1, 500)), None
            )
        if random_() < 0.1:
            self.interaction(
                pid,
                "email",
                "out",
                "sent",
                "Your lab results are ready",
                self.stamp(self.uniform(1, 400)),
                None,
            )
        if not lapsed and random_() < 0.3:
            days_ahead = self.uniform(_BOOKED_DAYS, 90)
            self.appointment(pid, age, -days_ahead, self.pick(("booked", "confirmed")))

    def tasks(self) -> None:
        """Patients who asked to be called back, each with the call that asked.

        Drawn after everyone else from a generator of their own, so adding them changed
        no row of an existing demo clinic; a larger clinic gets a few more of them.
        """
        rng = random.Random(f"demo-tasks:{self.seed}")
        wanted = min(len(self.reachable), len(_TASKS), max(6, len(self.reachable) // 25))
        for pid, (kind, note, due_in) in zip(
            rng.sample(self.reachable, wanted), _TASKS, strict=False
        ):
            asked_days_ago = -due_in + rng.randint(1, 6) + rng.random()
            asked_at = self.stamp(asked_days_ago)
            call_id = self.uid()
            self.rows["interaction"].append(
                {
                    "id": call_id,
                    "patient_id": pid,
                    "kind": "call",
                    "direction": "in",
                    "outcome": "reached",
                    "subject": "Asked for a call back",
                    "body": note,
                    "occurred_at": asked_at,
                    "appointment_id": None,
                }
            )
            self.rows["task"].append(
                {
                    "id": self.uid(),
                    "patient_id": pid,
                    "kind": kind,
                    "due_on": (self.today + timedelta(days=due_in)).isoformat(),
                    "note": note,
                    "created_at": asked_at,
                    "created_by": "",
                    "interaction_id": call_id,
                    "done_at": None,
                    "done_by": "",
                }
            )

    def week(self) -> None:
        """The book of the coming week: today and the next days filled per provider,
        each visit at its own time on the wall clock, with gaps between some.

        Today's visits that are over were seen (one or another missed), the one under
        way has arrived, the rest are mostly confirmed; tomorrow's are half confirmed,
        so the desk has confirmation calls to make. Drawn from a generator of its own
        after everyone else, from living patients who still come (never the deceased),
        each booked at most once this week.
        """
        rng = random.Random(f"demo-week:{self.seed}")
        providers = len(self.provider_ids)
        daily = max(_MIN_DAILY_VISITS, round(self.counter / _PATIENTS_PER_DAILY_VISIT))
        plans = []
        for ahead in range(_BOOKED_DAYS):
            day = self.today + timedelta(days=ahead)
            weekday = day.weekday()
            if weekday == 6:
                continue
            if weekday == 5:
                per, most = _SATURDAY_VISITS_PER_PROVIDER, min(_SATURDAY_PROVIDERS, providers)
                wanted = max(3, daily // 3)
            else:
                per, most, wanted = _WEEKDAY_VISITS_PER_PROVIDER, providers, daily
            visits = min(wanted, per * most)
            rostered = min(most, max(1, math.ceil(visits / (per * _ROSTER_FILL))))
            plans.append((day, ahead, visits, rostered))
        # A tiny clinic does not see half its patients in one week.
        wanted_total = min(sum(p[2] for p in plans), len(self.active) // 2)
        patients = iter(rng.sample(self.active, wanted_total))
        for day, ahead, visits, rostered in plans:
            booked: list[list[Any]] = []
            for index, provider in enumerate(rng.sample(self.provider_ids, rostered)):
                share = visits // rostered + (1 if index < visits % rostered else 0)
                people = [p for _, p in zip(range(share), patients, strict=False)]
                if not people:
                    break
                location = rng.choice(self.location_ids)
                for pid, kind, start_minute in self.provider_day(rng, day, people):
                    start = self.utc_midnight(day) + timedelta(minutes=start_minute)
                    end = start + timedelta(minutes=kind[2])
                    booked.append([pid, provider, location, kind, start, end, ""])
            self.statuses_of_day(rng, ahead, booked)
            for pid, provider, location, kind, start, end, status in booked:
                self.booked_visit(rng, pid, provider, location, kind, start, end, status)

    def provider_day(
        self, rng: random.Random, day: date, people: list[tuple[str, int]]
    ) -> list[tuple[str, tuple[str, str, int], int]]:
        """Places one provider's visits in the day's sessions, in proportion to their
        length, each at a quarter-hour start, with the free time spread between them
        at random. Returns (patient, kind, start minute after local midnight)."""
        sessions = _sessions(day)
        units = [(closes - opens) // _SLOT_MINUTES for opens, closes in sessions]
        placed = []
        first = 0
        for index, (opens, _closes) in enumerate(sessions):
            last = (
                len(people)
                if index == len(sessions) - 1
                else first + round(len(people) * units[index] / sum(units))
            )
            here = [
                (pid, rng.choice(self.child_kinds if age < 12 else self.adult_kinds))
                for pid, age in people[first:last]
            ]
            first = last
            lengths = [-(-kind[2] // _SLOT_MINUTES) for _, kind in here]
            while sum(lengths) > units[index]:  # more than fits: the last ones go
                here.pop()
                lengths.pop()
            free = units[index] - sum(lengths)
            # Stars and bars: which of the free + n places in the session are visits.
            positions = sorted(rng.sample(range(free + len(here)), len(here)))
            used = 0
            for n, ((pid, kind), length) in enumerate(zip(here, lengths, strict=True)):
                placed.append((pid, kind, opens + (positions[n] - n + used) * _SLOT_MINUTES))
                used += length
        return placed

    def statuses_of_day(self, rng: random.Random, ahead: int, booked: list[list[Any]]) -> None:
        """Sets the status (last item) of each of a day's visits from where it stands."""
        past = []
        coming = []
        for visit in booked:
            start, end = visit[4], visit[5]
            if end <= self.now:
                population, weights = _PAST_STATUSES
                visit[6] = rng.choices(population, weights)[0]
                past.append(visit)
            elif start <= self.now:
                visit[6] = "arrived"
            else:
                population, weights = _AHEAD_STATUSES[min(ahead, len(_AHEAD_STATUSES) - 1)]
                visit[6] = rng.choices(population, weights)[0]
                coming.append(visit)
        # Every desk knows a morning with a missed visit, and a tomorrow to confirm.
        if ahead == 0 and len(past) >= 3 and not any(v[6] == "noshow" for v in past):
            rng.choice(past)[6] = "noshow"
        if ahead == 1 and len(coming) >= 2 and not any(v[6] == "booked" for v in coming):
            rng.choice(coming)[6] = "booked"

    def booked_visit(
        self,
        rng: random.Random,
        pid: str,
        provider: str,
        location: str,
        kind: tuple[str, str, int],
        start: datetime,
        end: datetime,
        status: str,
    ) -> None:
        """One visit of the week with its status history (booked, then where it stands),
        and the copay of a visit already seen."""
        aid = self.uid()
        booked = self.now - timedelta(days=rng.uniform(1, 30))
        self.rows["appointment"].append(
            {
                "id": aid,
                "patient_id": pid,
                "provider_id": provider,
                "location_id": location,
                "start_at": _iso(start),
                "end_at": _iso(end),
                "kind": kind[0],
                "reason": kind[1],
                "status": status,
                "created_at": _iso(booked),
            }
        )
        self.rows["appointment_status"].append(
            {
                "id": self.uid(),
                "appointment_id": aid,
                "status": "booked",
                "changed_at": _iso(booked),
                "note": "",
            }
        )
        if status == "booked":
            return
        if status == "fulfilled":
            changed = end
        elif status == "arrived":
            changed = start - timedelta(minutes=5)
        elif status == "noshow":
            changed = min(start + timedelta(minutes=20), self.now)
        else:  # confirmed or cancelled, some time between booking and now
            changed = booked + (min(start, self.now) - booked) * rng.uniform(0.5, 1.0)
        self.rows["appointment_status"].append(
            {
                "id": self.uid(),
                "appointment_id": aid,
                "status": status,
                "changed_at": _iso(changed.replace(microsecond=0)),
                "note": "",
            }
        )
        if status == "fulfilled":
            cents = rng.choice(_COPAYS)
            self.rows["charge"].append(
                {
                    "id": self.uid(),
                    "patient_id": pid,
                    "amount_cents": cents,
                    "description": "Office visit copay",
                    "posted_at": _iso(end),
                    "appointment_id": aid,
                }
            )
            if rng.random() < 0.85:
                self.rows["payment"].append(
                    {
                        "id": self.uid(),
                        "patient_id": pid,
                        "amount_cents": cents,
                        "method": rng.choice(("card", "card", "cash", "check", "insurance")),
                        "reference": f"R{rng.randint(100000, 999999)}",
                        "received_at": _iso(end),
                    }
                )

    def appointment(self, pid: str, age: int, days_ago: float, status: str) -> str:
        """A visit on the local day `days_ago` before today (negative: ahead), at a time
        the clinic is open (a Sunday's visit moves to the Monday)."""
        kind, reason, minutes = self.pick(self.child_kinds if age < 12 else self.adult_kinds)
        day = (self.local_now - timedelta(days=days_ago)).date()
        if day.weekday() == 6:  # closed: the Monday after, unless that is not past yet
            day += timedelta(days=1 if days_ago < 0 or days_ago >= 2 else -2)
        start = self.utc_midnight(day) + self.pick(self.slot_starts(day, minutes))
        end = start + timedelta(minutes=minutes)
        self.last_start, self.last_end, self.last_day = start, end, day
        aid = self.uid()
        booked_days = self.uniform(1, 40)
        booked = start - timedelta(days=booked_days)
        if booked > self.now:  # a visit weeks ahead, booked in the last weeks
            booked = self.now - timedelta(days=booked_days - 1, hours=1)
        booked_at = _iso(booked)
        self.rows["appointment"].append(
            {
                "id": aid,
                "patient_id": pid,
                "provider_id": self.pick(self.provider_ids),
                "location_id": self.pick(self.location_ids),
                "start_at": _iso(start),
                "end_at": _iso(end),
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
        occurred_at: str,
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
                "occurred_at": occurred_at,
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
    "task",
    "charge",
    "payment",
    "outbox",
    "inbound_message",
    "survey_response",
    "lead",
    "lead_status",
    "channel_spend",
)


def _flush(tx: Tx, *sets: dict[str, list[dict[str, Any]]]) -> None:
    for table in _ORDER:
        for rows in sets:
            batch = rows.pop(table, [])
            if batch:
                tx.insert_many(table, batch)


def _appointment_rule(clinic: Clinic) -> str:
    """The clinic's appointment reminder rule, when it has one, for the demo's sent
    reminders; else a stand-in name (the outbox does not require the rule to exist)."""
    conn = getattr(getattr(clinic, "store", None), "conn", None)
    if conn is None:
        return DEMO_RULE_ID
    row = conn.execute(
        "SELECT id FROM reminder_rule WHERE kind = 'appointment' ORDER BY active DESC, id LIMIT 1"
    ).fetchone()
    return str(row[0]) if row is not None else DEMO_RULE_ID


def _zone(clinic: Clinic) -> ZoneInfo:
    # The benchmark's stand-in (a store that keeps nothing) has no settings: UTC then.
    settings = getattr(clinic, "settings", None)
    return ZoneInfo(settings.timezone if settings is not None else "UTC")


def _reference_moment(zone: ZoneInfo, today: date | None) -> datetime:
    """The demo's "now" at the clinic: mid-morning of a given day (a seed and a day name
    one clinic), else this minute, so the demo's day matches the clock on the wall."""
    if today is not None:
        return datetime.combine(today, _REFERENCE_TIME, tzinfo=zone)
    return datetime.now(zone).replace(second=0, microsecond=0)


def generate(
    clinic: Clinic,
    patients: int,
    seed: int = 1,
    *,
    today: date | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
    engagement: bool = False,
) -> DemoSummary:
    """Add about `patients` patients (whole households, so it may overshoot by a few).

    `engagement` adds the history the engagement screens and reports read (sent
    reminders, replies, survey answers, enquiries, spend: app/demo/engagement.py). Off
    by default, so a demo's outbox and inbox start empty where a test or a first look
    expects them so; it draws from a generator of its own and leaves every other row
    as it would be without it.

    `today` is the clinic's local day to build around (default: today in the clinic's
    time zone, at the present time of day; a given day is built as at 10:30 there).
    """
    zone = _zone(clinic)
    builder = _Builder(seed, zone, _reference_moment(zone, today))
    builder.engagement.rule_id = _appointment_rule(clinic)
    builder.engaged = engagement
    builder.staff()
    made = 0
    appointments = interactions = 0
    progress(0, patients, "Creating the demo clinic")
    conn = clinic.store.conn
    cache_size = int(conn.execute("PRAGMA cache_size").fetchone()[0])
    wanted = -min(_CACHE_KIB_MAX, patients * _CACHE_KIB_PER_PATIENT)
    # Negative sizes are KiB, positive ones pages; only ever grow the cache.
    grow = cache_size < 0 and wanted < cache_size
    if grow:
        conn.execute(f"PRAGMA cache_size = {wanted}")
    try:
        with clinic.store.write() as tx:
            # Households go in with their patients, so the guarantor link is always valid.
            tx.conn.execute("PRAGMA defer_foreign_keys = ON")
            _flush(tx, builder.rows)
            while made < patients:
                if cancel is not None:
                    cancel.raise_if_cancelled()
                size = builder.weighted(builder.household_sizes)
                made += builder.household(min(size, patients - made))
                if made >= patients:
                    builder.tasks()
                    builder.week()
                    if engagement:
                        builder.engagement.leads(made, builder.engagement_uid)
                        builder.engagement.spend(made, builder.engagement_uid)
                if len(builder.rows["patient"]) >= _BATCH or made >= patients:
                    appointments += len(builder.rows["appointment"])
                    interactions += len(builder.rows["interaction"])
                    _flush(tx, builder.rows, builder.engagement.rows)
                    progress(made, patients, "Creating the demo clinic")
            progress(made, patients, "Building the search index")
    finally:
        if grow:
            conn.execute(f"PRAGMA cache_size = {cache_size}")
    return DemoSummary(made, appointments, interactions, tx.changes)
