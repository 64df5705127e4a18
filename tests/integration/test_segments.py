"""Segments pick exactly the patients their terms describe, checked against plain Python.

The reference (`Reference`) reads every table with simple SELECTs and decides each term in
Python from the rules in app/growth/segments.py's docstring, never from its SQL, so a
mistake in the statement shows up as a difference in the ids.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.clinic import Clinic
from app.errors import InvalidInputError, RecordNotFoundError
from app.growth import segments
from app.growth.segments import Segment, SegmentTerms
from app.patients import records
from app.patients.model import AddressDraft, PatientDraft, PhoneDraft
from app.reminders.settings import load_settings, update_settings
from app.scheduling import appointments

SNOMED = "http://snomed.info/sct"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
WHO_ICD = "http://hl7.org/fhir/sid/icd-10"


# --- the independent reference ----------------------------------------------------------


def _months_back(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("no such month")


def _age(birth: str | None, today: date) -> int | None:
    if not birth:
        return None
    year = int(birth[:4])
    month = int(birth[5:7]) if len(birth) >= 7 else 7
    day = int(birth[8:10]) if len(birth) >= 10 else 1
    had_birthday = (today.month, today.day) >= (month, day)
    return today.year - year - (0 if had_birthday else 1)


def _code_key(system: str, code: str) -> tuple[str, str]:
    clean = code.strip()
    if system in (ICD, WHO_ICD, "urn:oid:2.16.840.1.113883.6.90"):
        return ("icd", clean.replace(".", "").upper())
    return (system, code)


@dataclass
class Reference:
    today: date
    zone: ZoneInfo
    policy: dict[str, str]
    default_language: str
    patients: dict[str, dict[str, Any]] = field(default_factory=dict)
    visits: dict[str, list[tuple[str, date, str]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    codes: dict[str, set[tuple[str, str]]] = field(default_factory=lambda: defaultdict(set))
    tags: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    balance: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    consents: dict[str, list[tuple[str, int, str, str, int, str]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    contacts: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    mailable: set[str] = field(default_factory=set)

    @classmethod
    def read(cls, clinic: Clinic, today: date) -> Reference:
        settings = load_settings(clinic)
        ref = cls(
            today,
            ZoneInfo(clinic.settings.timezone),
            dict(settings.consent),
            segments.base_language(settings.language),
        )
        c = clinic.conn
        for row in c.execute(
            "SELECT id, birth_date, sex, language, deceased, do_not_contact, merged_into, "
            "acquisition_source, rowid FROM patient"
        ):
            ref.patients[row[0]] = dict(
                zip(
                    ("id", "birth", "sex", "language", "deceased", "dnc", "merged", "source"),
                    row,
                    strict=False,
                )
            )
            ref.patients[row[0]]["rowid"] = row[8]
        for pid, status, start, kind in c.execute(
            "SELECT patient_id, status, start_at, kind FROM appointment"
        ):
            if start:
                moment = datetime.fromisoformat(start.replace("Z", "+00:00"))
                ref.visits[pid].append((status, moment.astimezone(ref.zone).date(), kind))
        for table in ("condition", "allergy"):
            for pid, system, code, status in c.execute(
                f"SELECT patient_id, system, code, clinical_status FROM {table}"
            ):
                if status not in ("inactive", "remission", "resolved"):
                    ref.codes[pid].add(_code_key(system, code))
        for pid, tag in c.execute("SELECT patient_id, tag FROM patient_tag"):
            ref.tags[pid].add(tag)
        for pid, cents in c.execute("SELECT patient_id, amount_cents FROM charge"):
            ref.balance[pid] += cents
        for pid, cents in c.execute("SELECT patient_id, amount_cents FROM payment"):
            ref.balance[pid] -= cents
        for row in c.execute(
            "SELECT patient_id, recorded_at, rowid, channel, purpose, granted, source FROM consent"
        ):
            ref.consents[row[0]].append(tuple(row[1:]))  # type: ignore[arg-type]
        for pid, kind, value in c.execute("SELECT patient_id, kind, value FROM contact_point"):
            if value:
                ref.contacts[pid].add(kind)
        for pid, line1, city, postal in c.execute(
            "SELECT patient_id, line1, city, postal_code FROM address"
        ):
            if line1.strip() and (city.strip() or postal.strip()):
                ref.mailable.add(pid)
        return ref

    def _newest(self, pid: str, channel: str, purpose: str | None) -> tuple[Any, ...] | None:
        rows = [
            r
            for r in self.consents[pid]
            if r[2] == channel and (purpose is None or r[3] == purpose)
        ]
        return max(rows, key=lambda r: (r[0], r[1])) if rows else None

    def reachable(self, pid: str, channel: str, purpose: str) -> bool:
        newest = self._newest(pid, channel, purpose)
        if self.policy[purpose] == "opt_in":
            if newest is None or not newest[4]:
                return False
        elif newest is not None and not newest[4]:
            return False
        if channel == "sms":
            any_sms = self._newest(pid, "sms", None)
            if any_sms is not None and not any_sms[4] and any_sms[5] == "sms-stop":
                return False
        if channel == "letter":
            return pid in self.mailable
        return ("email" if channel == "email" else "phone") in self.contacts[pid]

    def matches(self, pid: str, t: SegmentTerms) -> bool:
        p = self.patients[pid]
        if p["deceased"] or p["dnc"] or p["merged"]:
            return False
        if t.age_min is not None or t.age_max is not None:
            age = _age(p["birth"], self.today)
            if age is None:
                return False
            if t.age_min is not None and age < t.age_min:
                return False
            if t.age_max is not None and age > t.age_max:
                return False
        if t.sex is not None and p["sex"] != t.sex:
            return False
        if t.sources and p["source"] not in t.sources:
            return False
        if t.language is not None:
            spoken = segments.base_language(p["language"]) or self.default_language
            if spoken != segments.base_language(t.language):
                return False
        if any(tag not in self.tags[pid] for tag in t.tags):
            return False
        if t.conditions:
            mine = self.codes[pid]
            wanted = [_code_key(s, c) for s, c in t.conditions]
            if not any(
                (kind == "icd" and have_kind == "icd" and have.startswith(code))
                or (kind != "icd" and (kind, code) == (have_kind, have))
                for kind, code in wanted
                for have_kind, have in mine
            ):
                return False
        seen = [
            day
            for status, day, kind in self.visits[pid]
            if status == "fulfilled" and (not t.visit_kinds or kind in t.visit_kinds)
        ]
        if t.last_visit_before_months is not None:
            since = _months_back(self.today, t.last_visit_before_months)
            if not seen or max(seen) >= since:
                return False
        if t.last_visit_within_months is not None:
            since = _months_back(self.today, t.last_visit_within_months)
            if not seen or max(seen) < since:
                return False
        if t.has_future_visit is not None:
            future = any(
                status in ("booked", "confirmed") and day >= self.today
                for status, day, _kind in self.visits[pid]
            )
            if future != t.has_future_visit:
                return False
        if t.balance_min_cents is not None and self.balance[pid] < t.balance_min_cents:
            return False
        return t.reachable_by is None or self.reachable(pid, *t.reachable_by)

    def ids(self, terms: SegmentTerms) -> list[str]:
        chosen = [pid for pid in self.patients if self.matches(pid, terms)]
        return sorted(chosen, key=lambda pid: self.patients[pid]["rowid"])


def _today(clinic: Clinic) -> date:
    return datetime.now(ZoneInfo(clinic.settings.timezone)).date()


def _assert_same(clinic: Clinic, terms: SegmentTerms, today: date | None = None) -> list[str]:
    today = today or _today(clinic)
    expected = Reference.read(clinic, today).ids(terms)
    assert segments.patient_ids(clinic, terms, today=today) == expected
    assert segments.count(clinic, terms, today=today) == len(expected)
    return expected


# --- the demo clinic ----------------------------------------------------------------------

DEMO_TERMS = [
    SegmentTerms(),
    SegmentTerms(age_min=35, age_max=70),
    SegmentTerms(age_max=12),
    SegmentTerms(age_min=65),
    SegmentTerms(sex="female"),
    SegmentTerms(last_visit_before_months=18),
    SegmentTerms(last_visit_within_months=6),
    SegmentTerms(last_visit_before_months=3, last_visit_within_months=12),
    SegmentTerms(has_future_visit=True),
    SegmentTerms(has_future_visit=False),
    SegmentTerms(conditions=((SNOMED, "44054006"),)),
    SegmentTerms(conditions=((SNOMED, "15777000"), (SNOMED, "195967001"))),
    SegmentTerms(balance_min_cents=1),
    SegmentTerms(balance_min_cents=10_000),
    SegmentTerms(language="es"),
    SegmentTerms(language="en"),
    SegmentTerms(reachable_by=("email", "education")),
    SegmentTerms(reachable_by=("sms", "appointment")),
    SegmentTerms(reachable_by=("letter", "billing")),
    SegmentTerms(reachable_by=("phone", "recall")),
    SegmentTerms(reachable_by=("sms", "marketing")),
    SegmentTerms(
        age_min=35,
        age_max=70,
        last_visit_before_months=18,
        has_future_visit=False,
        reachable_by=("email", "education"),
    ),
    SegmentTerms(age_min=18, conditions=((SNOMED, "38341003"),), reachable_by=("sms", "recall")),
]


@pytest.mark.parametrize("terms", DEMO_TERMS, ids=[segments.to_json(t) for t in DEMO_TERMS])
def test_demo_segment_ids_equal_an_independent_computation(
    demo_clinic: Clinic, terms: SegmentTerms
) -> None:
    _assert_same(demo_clinic, terms)


def test_demo_terms_are_not_vacuous(demo_clinic: Clinic) -> None:
    """The comparisons above mean something only if the terms keep some and drop some."""
    today = _today(demo_clinic)
    everyone = segments.count(demo_clinic, SegmentTerms(), today=today)
    for terms in DEMO_TERMS[1:-2]:
        n = segments.count(demo_clinic, terms, today=today)
        assert 0 < n < everyone, segments.to_json(terms)


def test_demo_sources_and_tags(demo_clinic: Clinic) -> None:
    sources = [
        r[0]
        for r in demo_clinic.conn.execute(
            "SELECT DISTINCT acquisition_source FROM patient WHERE acquisition_source != '' "
            "ORDER BY 1 LIMIT 2"
        )
    ]
    assert sources
    _assert_same(demo_clinic, SegmentTerms(sources=tuple(sources)))
    ids = [r[0] for r in demo_clinic.conn.execute("SELECT id FROM patient ORDER BY rowid LIMIT 40")]
    for pid in ids[:30]:
        records.add_tag(demo_clinic, pid, "diabetic")
    for pid in ids[20:40]:
        records.add_tag(demo_clinic, pid, "interpreter")
    both = _assert_same(demo_clinic, SegmentTerms(tags=("diabetic", "interpreter")))
    assert 0 < len(both) <= 10
    _assert_same(demo_clinic, SegmentTerms(tags=("diabetic",), age_min=18))


_channels = st.sampled_from(["sms", "email", "letter", "phone"])
_purposes = st.sampled_from(
    ["appointment", "recall", "billing", "education", "survey", "marketing"]
)


@st.composite
def _terms(draw: st.DrawFn) -> SegmentTerms:
    age_min = draw(st.none() | st.integers(0, 90))
    age_max = draw(st.none() | st.integers(age_min or 0, 100))
    before = draw(st.none() | st.integers(1, 36))
    within = draw(st.none() | st.integers((before or 0) + 1, 60))
    kinds: tuple[str, ...] = ()
    if before is not None or within is not None:
        kinds = tuple(
            draw(st.lists(st.sampled_from(["checkup", "sick", "well-child"]), max_size=2))
        )
    return SegmentTerms(
        age_min=age_min,
        age_max=age_max,
        sex=draw(st.none() | st.sampled_from(["female", "male", "other", "unknown"])),
        last_visit_before_months=before,
        last_visit_within_months=within,
        has_future_visit=draw(st.sampled_from([None, True, False])),
        visit_kinds=kinds,
        conditions=tuple(
            draw(
                st.lists(
                    st.sampled_from(
                        [(SNOMED, "44054006"), (SNOMED, "367498001"), (SNOMED, "38341003")]
                    ),
                    max_size=2,
                )
            )
        ),
        balance_min_cents=draw(st.none() | st.integers(1, 50_000)),
        reachable_by=draw(st.none() | st.tuples(_channels, _purposes)),
        language=draw(st.none() | st.sampled_from(["en", "es", "de", "es-MX"])),
    )


@pytest.fixture
def demo_reference(demo_clinic: Clinic) -> Iterator[tuple[Clinic, Reference]]:
    yield demo_clinic, Reference.read(demo_clinic, _today(demo_clinic))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(terms=_terms())
def test_random_combinations_match_the_independent_computation(
    demo_reference: tuple[Clinic, Reference], terms: SegmentTerms
) -> None:
    clinic, reference = demo_reference
    assert segments.patient_ids(clinic, terms, today=reference.today) == reference.ids(terms)


def _plan(clinic: Clinic, terms: SegmentTerms) -> str:
    sql, params = segments.compile_terms(terms, today=date(2025, 1, 15))
    rows = clinic.conn.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
    return " ".join(str(r[3]) for r in rows)


def test_demo_plan_reads_the_indexes(demo_clinic: Clinic) -> None:
    campaign = SegmentTerms(
        age_min=40,
        age_max=50,
        last_visit_before_months=18,
        has_future_visit=False,
        tags=("diabetic",),
        reachable_by=("email", "education"),
    )
    sql, _params = segments.compile_terms(campaign, today=date(2025, 1, 15))
    assert "?" in sql and "diabetic" not in sql and "education" not in sql
    plan = _plan(demo_clinic, campaign)
    for index in (
        "patient_birth_date",
        "appointment_patient_status",
        "consent_patient",
        "sqlite_autoindex_patient_tag",
        "contact_point_patient",
    ):
        assert index in plan, index
    plan = _plan(demo_clinic, SegmentTerms(conditions=((SNOMED, "44054006"), (ICD, "E11"))))
    assert "condition_code" in plan and "allergy_code" in plan
    assert "patient_acquisition" in _plan(demo_clinic, SegmentTerms(sources=("search",)))


# --- a clinic built by hand -----------------------------------------------------------------


@dataclass
class Hand:
    clinic: Clinic
    today: date
    ids: dict[str, str]


def _patient(clinic: Clinic, name: str, birth: str, **values: Any) -> str:
    draft = PatientDraft(family_name=name, given_names="Test", birth_date=birth, **values)
    return records.create_patient(clinic, draft).id


def _visit(hand: Hand, who: str, days_ago: int, status: str, kind: str = "checkup") -> None:
    zone = ZoneInfo(hand.clinic.settings.timezone)
    start = datetime.combine(hand.today - timedelta(days=days_ago), time(10), zone)
    created = appointments.book(
        hand.clinic, hand.ids[who], start, start + timedelta(minutes=20), kind=kind
    )
    if status != "booked":
        appointments.set_status(hand.clinic, created.id, status)


def _condition(clinic: Clinic, pid: str, system: str, code: str, status: str = "") -> None:
    with clinic.store.write() as tx:
        tx.insert(
            "condition",
            {"patient_id": pid, "system": system, "code": code, "clinical_status": status},
        )


@pytest.fixture
def hand(clinic: Clinic) -> Hand:
    today = date(2025, 6, 15)
    h = Hand(clinic, today, {})
    ids = h.ids
    ids["ana"] = _patient(
        clinic,
        "Ana",
        "1980-06-15",
        sex="female",
        language="es-MX",
        acquisition_source="referral",
        emails=("ana@example.com",),
        phones=(PhoneDraft("612-555-0101"),),
    )
    ids["ben"] = _patient(
        clinic,
        "Ben",
        "1980-06-16",
        sex="male",
        acquisition_source="search",
        addresses=(AddressDraft(line1="1 Elm St", city="Springfield"),),
    )
    ids["cai"] = _patient(
        clinic, "Cai", "2020", language="en", emails=("cai@example.com",), tags=("vip",)
    )
    ids["dee"] = _patient(clinic, "Dee", "1950-01-01", emails=("dee@example.com",))
    ids["eve"] = _patient(clinic, "Eve", "1990-03-03", phones=(PhoneDraft("612-555-0105"),))
    ids["gone"] = _patient(clinic, "Gone", "1970-01-01", emails=("gone@example.com",))
    ids["dnc"] = _patient(clinic, "Dnc", "1970-01-01", emails=("dnc@example.com",))
    ids["dup"] = _patient(clinic, "Dup", "1980-06-15", emails=("dup@example.com",))
    ids["nob"] = _patient(clinic, "Nob", "", addresses=(AddressDraft(line1="  ", city="X"),))
    records.update_patient(clinic, ids["dnc"], {"do_not_contact": True})
    with clinic.store.write() as tx:
        tx.update("patient", ids["gone"], {"deceased": 1, "deceased_date": "2025-01-01"})
        tx.update("patient", ids["dup"], {"merged_into": ids["ana"]})
    for pid in (ids["ana"], ids["cai"]):
        records.add_tag(clinic, pid, "diabetic")
    # Ana: seen 2 years ago, nothing since, nothing booked. Ben: seen last month.
    _visit(h, "ana", 730, "fulfilled")
    _visit(h, "ben", 30, "fulfilled", kind="sick")
    _visit(h, "ben", 800, "fulfilled")
    _visit(h, "cai", 400, "fulfilled", kind="well-child")
    _visit(h, "cai", -10, "booked")
    _visit(h, "dee", 900, "fulfilled")
    _visit(h, "dee", -3, "cancelled")
    _visit(h, "eve", 10, "noshow")
    for who in ("gone", "dnc", "dup"):
        _visit(h, who, 900, "fulfilled")
    _condition(clinic, ids["ana"], ICD, "E11.9")
    _condition(clinic, ids["ben"], "urn:oid:2.16.840.1.113883.6.90", "e119")
    _condition(clinic, ids["cai"], ICD, "E10.9")
    _condition(clinic, ids["dee"], ICD, "E11.65", status="resolved")
    _condition(clinic, ids["eve"], SNOMED, "44054006")
    for who in ("gone", "dnc", "dup"):
        _condition(clinic, ids[who], ICD, "E11.9")
    with clinic.store.write() as tx:
        tx.insert(
            "allergy",
            {"patient_id": ids["dee"], "system": SNOMED, "code": "300910009"},
        )
        tx.insert("charge", {"patient_id": ids["ben"], "amount_cents": 5000, "posted_at": "x"})
        tx.insert("payment", {"patient_id": ids["ben"], "amount_cents": 2000, "received_at": "x"})
        tx.insert("charge", {"patient_id": ids["dee"], "amount_cents": 900, "posted_at": "x"})
        tx.insert("charge", {"patient_id": ids["gone"], "amount_cents": 9000, "posted_at": "x"})
    # Consent: Ana yes then no to education email; Cai yes; Dee no then yes.
    consent = records.record_consent
    consent(clinic, ids["ana"], "email", "education", True, "form", at="2025-01-01T10:00:00Z")
    consent(clinic, ids["ana"], "email", "education", False, "phone", at="2025-02-01T10:00:00Z")
    consent(clinic, ids["cai"], "email", "education", True, "form", at="2025-01-01T10:00:00Z")
    consent(clinic, ids["dee"], "email", "education", False, "form", at="2025-01-01T10:00:00Z")
    consent(clinic, ids["dee"], "email", "education", True, "form", at="2025-03-01T10:00:00Z")
    for who in ("gone", "dnc", "dup"):
        consent(clinic, ids[who], "email", "education", True, "form", at="2025-01-01T10:00:00Z")
    # Eve texted STOP (about reminders): no texts at all, whatever the purpose.
    consent(clinic, ids["eve"], "sms", "appointment", False, "sms-stop", at="2025-05-01T10:00:00Z")
    # Ana said no to appointment texts; the opt-out policy still lets others through.
    consent(clinic, ids["ana"], "sms", "recall", False, "phone", at="2025-05-01T10:00:00Z")
    return h


def _names(hand: Hand, terms: SegmentTerms) -> set[str]:
    found = set(_assert_same(hand.clinic, terms, hand.today))
    return {name for name, pid in hand.ids.items() if pid in found}


def test_deceased_do_not_contact_and_merged_are_never_in_a_segment(hand: Hand) -> None:
    assert _names(hand, SegmentTerms()) == {"ana", "ben", "cai", "dee", "eve", "nob"}
    assert _names(hand, SegmentTerms(conditions=((ICD, "E11"),))) == {"ana", "ben"}
    assert _names(hand, SegmentTerms(reachable_by=("email", "education"))) == {"cai", "dee"}
    assert _names(hand, SegmentTerms(balance_min_cents=1)) == {"ben", "dee"}
    assert "gone" not in _names(hand, SegmentTerms(last_visit_before_months=18))


def test_age_is_whole_years_on_the_day(hand: Hand) -> None:
    # Ana turns 45 today, Ben tomorrow; Cai's '2020' counts from 1 July 2020.
    assert _names(hand, SegmentTerms(age_min=45, age_max=45)) == {"ana"}
    assert _names(hand, SegmentTerms(age_min=44, age_max=44)) == {"ben"}
    assert _names(hand, SegmentTerms(age_max=4)) == {"cai"}
    assert _names(hand, SegmentTerms(age_min=5, age_max=5)) == set()
    assert "nob" not in _names(hand, SegmentTerms(age_min=0))
    assert _names(hand, SegmentTerms(sex="female")) == {"ana"}


def test_last_and_future_visits(hand: Hand) -> None:
    assert _names(hand, SegmentTerms(last_visit_before_months=18)) == {"ana", "dee"}
    assert _names(hand, SegmentTerms(last_visit_before_months=12)) == {"ana", "cai", "dee"}
    assert _names(hand, SegmentTerms(last_visit_within_months=2)) == {"ben"}
    assert _names(hand, SegmentTerms(last_visit_before_months=18, visit_kinds=("checkup",))) == {
        "ana",
        "ben",
        "dee",
    }
    assert _names(hand, SegmentTerms(last_visit_before_months=12, last_visit_within_months=24)) == {
        "ana",
        "cai",
    }
    assert _names(hand, SegmentTerms(has_future_visit=True)) == {"cai"}
    assert _names(hand, SegmentTerms(has_future_visit=False)) == {"ana", "ben", "dee", "eve", "nob"}
    assert _names(hand, SegmentTerms(last_visit_before_months=18, has_future_visit=False)) == {
        "ana",
        "dee",
    }


def test_conditions_match_icd10_children_and_skip_resolved(hand: Hand) -> None:
    assert _names(hand, SegmentTerms(conditions=((ICD, "E11"),))) == {"ana", "ben"}
    assert _names(hand, SegmentTerms(conditions=((ICD, "E11.9"),))) == {"ana", "ben"}
    assert _names(hand, SegmentTerms(conditions=((ICD, "E10"), (SNOMED, "44054006")))) == {
        "cai",
        "eve",
    }
    assert _names(hand, SegmentTerms(conditions=((SNOMED, "300910009"),))) == {"dee"}


def test_sources_tags_balance_language(hand: Hand) -> None:
    assert _names(hand, SegmentTerms(sources=("referral", "search"))) == {"ana", "ben"}
    assert _names(hand, SegmentTerms(tags=("diabetic",))) == {"ana", "cai"}
    assert _names(hand, SegmentTerms(tags=("diabetic", "vip"))) == {"cai"}
    assert _names(hand, SegmentTerms(balance_min_cents=3000)) == {"ben"}
    assert _names(hand, SegmentTerms(balance_min_cents=3001)) == set()
    assert _names(hand, SegmentTerms(language="es")) == {"ana"}
    assert _names(hand, SegmentTerms(language="en")) == {"ben", "cai", "dee", "eve", "nob"}


def test_consent_opt_in_and_opt_out_always_win(hand: Hand) -> None:
    # Education is opt-in: only a Yes in force (Dee's newer Yes, Cai's), never Ana's
    # withdrawn one.
    assert _names(hand, SegmentTerms(reachable_by=("email", "education"))) == {"cai", "dee"}
    # Recall is opt-out: everyone with a phone but Ana (said no) and Eve (texted STOP).
    assert _names(hand, SegmentTerms(reachable_by=("sms", "recall"))) == set()
    assert _names(hand, SegmentTerms(reachable_by=("sms", "appointment"))) == {"ana"}
    # A phone call is not a text: Ana's No to recall texts and Eve's STOP do not stop it.
    assert _names(hand, SegmentTerms(reachable_by=("phone", "recall"))) == {"ana", "eve"}
    assert _names(hand, SegmentTerms(reachable_by=("letter", "billing"))) == {"ben"}
    assert _names(hand, SegmentTerms(reachable_by=("email", "recall"))) == {"ana", "cai", "dee"}
    # The clinic makes recall opt-in: nobody has said yes to it.
    update_settings(hand.clinic, consent={"recall": "opt_in"})
    assert _names(hand, SegmentTerms(reachable_by=("email", "recall"))) == set()
    # ... and education opt-out: Ana's No still wins.
    update_settings(hand.clinic, consent={"education": "opt_out"})
    assert _names(hand, SegmentTerms(reachable_by=("email", "education"))) == {"cai", "dee"}


def test_limit_keeps_registration_order(hand: Hand) -> None:
    everyone = segments.patient_ids(hand.clinic, SegmentTerms(), today=hand.today)
    assert (
        segments.patient_ids(hand.clinic, SegmentTerms(), today=hand.today, limit=2)
        == (everyone[:2])
    )


# --- bad terms, storage, the size warning ------------------------------------------------------


@pytest.mark.parametrize(
    ("terms", "reason"),
    [
        (SegmentTerms(age_min=70, age_max=35), "lowest age is above the highest"),
        (SegmentTerms(age_min=-1), "Age from"),
        (SegmentTerms(age_max=200), "Age to"),
        (SegmentTerms(last_visit_before_months=-3), "Months since the last visit"),
        (SegmentTerms(last_visit_within_months=0), "Months since the last visit"),
        (
            SegmentTerms(last_visit_before_months=12, last_visit_within_months=6),
            "make the 'within' months larger",
        ),
        (SegmentTerms(visit_kinds=("checkup",)), "Visit types only narrow"),
        (SegmentTerms(reachable_by=("fax", "recall")), "way of contacting"),
        (SegmentTerms(reachable_by=("sms", "gossip")), "reason for contacting"),
        (SegmentTerms(conditions=((ICD, "E1"),)), "ICD-10 code looks like"),
        (SegmentTerms(conditions=(("http://loinc.org", "1234-5"),)), "code system"),
        (SegmentTerms(conditions=((SNOMED, "123"),)), "SNOMED CT"),
        (SegmentTerms(balance_min_cents=0), "smallest balance"),
        (SegmentTerms(sex="robot"), "female, male"),
        (SegmentTerms(tags=("  ",)), "tags is empty"),
        (SegmentTerms(language="español!"), "language such as"),
    ],
)
def test_bad_terms_are_refused_with_the_reason(terms: SegmentTerms, reason: str) -> None:
    with pytest.raises(InvalidInputError, match=reason):
        segments.check_terms(terms)
    with pytest.raises(InvalidInputError, match=reason):
        segments.compile_terms(terms, today=date(2025, 1, 15))


def test_terms_round_trip_through_json_keeping_unknown_keys() -> None:
    terms = SegmentTerms(
        age_min=35,
        age_max=70,
        sex="female",
        last_visit_before_months=18,
        last_visit_within_months=60,
        has_future_visit=False,
        visit_kinds=("checkup",),
        conditions=((ICD, "E11"), (SNOMED, "44054006")),
        sources=("referral",),
        tags=("diabetic",),
        balance_min_cents=100,
        reachable_by=("email", "education"),
        language="es",
    )
    assert segments.from_json(segments.to_json(terms)) == terms
    newer = '{"age_min": 40, "insurance_plan": ["abc"]}'
    read = segments.from_json(newer)
    assert read.age_min == 40 and read.extra == {"insurance_plan": ["abc"]}
    assert '"insurance_plan": ["abc"]' in segments.to_json(read)
    for broken in ("[1, 2]", "{", '{"age_min": "forty"}', '{"reachable_by": ["sms"]}'):
        with pytest.raises(InvalidInputError, match="cannot be read"):
            segments.from_json(broken)


def test_segments_are_saved_loaded_renamed_and_deleted(hand: Hand) -> None:
    clinic = hand.clinic
    journal = clinic.conn.execute("SELECT count(*) FROM change WHERE tbl = 'segment'").fetchone()
    terms = SegmentTerms(age_min=18, reachable_by=("email", "education"), extra={"future": 1})
    saved = segments.save_segment(clinic, Segment("", "  Adults   by email ", terms))
    assert saved.id and saved.name == "Adults by email" and saved.created_at
    assert segments.load_segments(clinic) == [saved]
    loaded = segments.get_segment(clinic, saved.id)
    assert loaded.terms == terms and loaded.terms.extra == {"future": 1}
    assert segments.count(clinic, loaded.terms, today=hand.today) == 1
    renamed = segments.save_segment(clinic, Segment(saved.id, "Adults", terms))
    assert renamed.created_at == saved.created_at
    assert [s.name for s in segments.load_segments(clinic)] == ["Adults"]
    with pytest.raises(InvalidInputError, match="Another group has that name"):
        segments.save_segment(clinic, Segment("", "adults", SegmentTerms()))
    with pytest.raises(InvalidInputError, match="name"):
        segments.save_segment(clinic, Segment("", "   ", SegmentTerms()))
    with pytest.raises(InvalidInputError, match="lowest age"):
        segments.save_segment(clinic, Segment("", "Odd", SegmentTerms(age_min=9, age_max=1)))
    after = clinic.conn.execute("SELECT count(*) FROM change WHERE tbl = 'segment'").fetchone()
    assert after[0] > journal[0]
    segments.delete_segment(clinic, saved.id)
    assert segments.load_segments(clinic) == []
    with pytest.raises(RecordNotFoundError):
        segments.get_segment(clinic, saved.id)


def test_a_filter_that_matches_everyone_asks_first(hand: Hand) -> None:
    total = segments.everyone(hand.clinic)
    assert total == 6
    everyone = segments.count(hand.clinic, SegmentTerms(), today=hand.today)
    assert segments.warn_size(everyone, total) == segments.MATCHES_EVERYONE_WARNING
    assert segments.warn_size(5, total) is not None  # 5 of 6: nearly everyone
    assert segments.warn_size(2, total) is None
    assert segments.warn_size(0, total) is None
    assert segments.warn_size(600, 10_000) is not None  # over the set number
    assert segments.warn_size(600, 10_000, ask_above=1000) is None
    assert segments.warn_size(400, 10_000) is None
    assert segments.warn_size(9_000, 10_000, share=0.95) is not None  # still over 500


def test_dates_follow_the_clinic_time_zone(clinic: Clinic) -> None:
    """A visit at 23:30 local on the cutoff day is on that day (UTC is already the next)."""
    pid = _patient(clinic, "Late", "1980-01-01")
    zone = ZoneInfo(clinic.settings.timezone)
    today = date(2025, 6, 15)
    start = datetime.combine(date(2024, 6, 15), time(23, 30), zone)
    assert start.astimezone(UTC).date() == date(2024, 6, 16)
    created = appointments.book(clinic, pid, start, start + timedelta(minutes=20))
    appointments.set_status(clinic, created.id, "fulfilled")
    within = SegmentTerms(last_visit_within_months=12)
    assert segments.patient_ids(clinic, within, today=today) == [pid]
    assert segments.patient_ids(clinic, within, today=today + timedelta(days=1)) == []
