"""Segments: saved filters over the clinic's patients, read as one set-based SQL statement.

A segment is a set of terms (`SegmentTerms`), every one optional; a patient is in the
segment when they meet *every* term that is set. Campaigns, reports and exports take the
same segment, so the rules below are the one place that says what a term means:

* Never in a segment: deceased patients (a "we miss you" letter to a family in mourning is
  the worst thing this module could do), patients marked do-not-contact (they asked us to
  stop, and a segment exists to reach people), and merged records (the patient lives on in
  the record they were folded into; counting both would count one person twice). This is
  the reminders planner's own test (planning_subjects.REACHABLE), so both agree.
* Age is whole years on `today`, as the patients list reads it (a birth date of only a year
  counts from 1 July, a year and month from the 1st). No birth date: not in an age term.
* Last visit: a *fulfilled* appointment (of `visit_kinds` when given). "Before N months"
  means the patient has been seen, but not since the same day N months ago: a patient who
  never came is not lapsed, they never started. "Within N months" means seen since then.
  Both together: last seen between the two.
* Future visit: a booked or confirmed appointment from the start of today (local) on.
* Conditions, any of: an active condition or allergy record (clinical status not inactive,
  remission or resolved; none recorded counts as active) with a listed code. SNOMED CT
  matches the code itself (as stored: a FHIR code has no spaces); an ICD-10 code matches
  itself and every code below it (E11 covers E11.9), whichever ICD-10 system name the
  record came with — the health education rule (app/engagement/education.py), so a
  campaign and its items agree on who has what.
* Sources, any of: the patient's acquisition source is one of them.
* Tags, ALL of: each tag narrows the segment, like every other term ("diabetic" and
  "interpreter" = patients with both). A choice among tags is a segment per tag.
* Balance: charges minus payments, at least `balance_min_cents`.
* Reachable by (channel, purpose): the clinic's consent policy allows it (opt_out: unless
  the newest decision for that channel and purpose is a No; opt_in: only after a Yes), a
  STOP texted back stops every text, and the patient has the contact for it: a phone for
  sms and phone calls, an email address for email, a postal address with a street and a
  town or postal code for letters — the reminders' own reading (app/reminders/reach.py).
* Language: the patient's language ("es-MX" reads "es"); no language on record counts as
  the clinic's default language, the one its messages to them are written in.

The statement is built from fixed fragments and whitelisted names; every value is a
parameter. Each term is an index probe or an index range (appointment_patient_status,
consent_patient, condition_code, allergy_code, patient_acquisition, patient_tag's unique
index). Measured at 100k (`make bench ONLY=segments`): a campaign (35-70, no visit in 18
months, none booked, email for education) counts in ~0.5 s against ~0.93 s for a query
per patient. Nearly all of it is page decryption: the 32 MB page cache cannot hold the
pages a segment reads, and with 128 MB a repeated count takes ~0.2 s.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.clinic import Clinic, put_setting
from app.engagement.education import (
    ICD10CM_SYSTEM,
    SNOMED_SYSTEM,
    is_icd10cm_code,
    is_snomed_concept_id,
)
from app.errors import InvalidInputError, RecordNotFoundError
from app.patients.model import CHANNELS, PURPOSES, SEXES
from app.reminders.planning_subjects import REACHABLE
from app.reminders.planning_times import add_months, day_start
from app.reminders.reach import SMS_STOP_SOURCE
from app.reminders.settings import DEFAULT_CONSENT, load_settings
from app.store.changes import Changes
from app.store.writer import new_id, utc_now, utc_text

MAX_AGE_YEARS: Final = 130
MAX_MONTHS: Final = 1200
MAX_LIST: Final = 50  # codes, sources or tags in one term: a filter, not a mailing list
MAX_NAME_CHARS: Final = 80

# The ICD-10 system names imported records use; all match an ICD-10-CM term code
# (the same set as app/engagement/education.py).
ICD10_SYSTEMS: Final = (
    ICD10CM_SYSTEM,
    "http://hl7.org/fhir/sid/icd-10",
    "urn:oid:2.16.840.1.113883.6.90",
)
CONDITION_SYSTEMS: Final = (SNOMED_SYSTEM, ICD10CM_SYSTEM)
INACTIVE_STATUSES: Final = ("inactive", "remission", "resolved")
VISITED: Final = "fulfilled"
UPCOMING: Final = ("booked", "confirmed")

DEFAULT_ASK_ABOVE: Final = 500
"""A send to more patients than this asks first: a small clinic's usual campaign reaches a
few hundred; thousands at once is more often a filter left too wide than a plan."""
ASK_ABOVE_SETTING: Final = "campaigns.ask_above"
MAX_ASK_ABOVE: Final = 1_000_000
"""More patients than any clinic Frontdesk serves: a larger number is a typing slip."""
DEFAULT_WARN_SHARE: Final = 0.8
"""A filter that keeps this share of everyone it could keep has hardly filtered."""
MATCHES_EVERYONE_WARNING: Final = (
    "This filter matches every patient the clinic can contact. "
    "Check the filter before sending to all of them."
)

_LANGUAGE_RE: Final = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*")
_WS: Final = "' ' || char(9, 10, 11, 12, 13)"  # what Python's str.strip() removes, in SQL


@dataclass(frozen=True)
class SegmentTerms:
    """What a segment asks for; None or empty = that term is not used."""

    age_min: int | None = None
    age_max: int | None = None
    sex: str | None = None
    last_visit_before_months: int | None = None
    last_visit_within_months: int | None = None
    has_future_visit: bool | None = None
    visit_kinds: tuple[str, ...] = ()
    conditions: tuple[tuple[str, str], ...] = ()
    sources: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    balance_min_cents: int | None = None
    reachable_by: tuple[str, str] | None = None  # (channel, purpose)
    language: str | None = None
    # Terms written by a newer Frontdesk: kept through load and save, not applied here.
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class ClinicPolicy:
    """What of the clinic's settings a segment reads: its day, consent policy, language."""

    timezone: str = "UTC"
    consent: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_CONSENT))
    default_language: str = "en"

    def consent_rule(self, purpose: str) -> str:
        return self.consent.get(purpose, DEFAULT_CONSENT.get(purpose, "opt_in"))


def clinic_policy(clinic: Clinic) -> ClinicPolicy:
    settings = load_settings(clinic)
    return ClinicPolicy(
        timezone=clinic.settings.timezone,
        consent=dict(settings.consent),
        default_language=base_language(settings.language) or "en",
    )


def base_language(language: str) -> str:
    """ "es-MX" → "es": the part that picks the words, as the reminders read it."""
    return language.strip().replace("_", "-").split("-")[0].lower()


# --- checking -------------------------------------------------------------------------


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_count(value: int | None, low: int, high: int, message: str) -> None:
    if value is not None and (not _whole(value) or not low <= value <= high):
        raise InvalidInputError(message)


def _check_texts(values: Sequence[str], what: str) -> None:
    if len(values) > MAX_LIST:
        raise InvalidInputError(f"Choose at most {MAX_LIST} {what}.")
    for value in values:
        if not isinstance(value, str) or not value.strip():
            raise InvalidInputError(f"One of the {what} is empty; remove it or fill it in.")


def check_terms(terms: SegmentTerms) -> None:
    """Refuse terms that could not work, with a sentence the filter editor can show."""
    _check_count(terms.age_min, 0, MAX_AGE_YEARS, f"Age from must be 0 to {MAX_AGE_YEARS}.")
    _check_count(terms.age_max, 0, MAX_AGE_YEARS, f"Age to must be 0 to {MAX_AGE_YEARS}.")
    if terms.age_min is not None and terms.age_max is not None and terms.age_min > terms.age_max:
        raise InvalidInputError("The lowest age is above the highest; swap them.")
    if terms.sex is not None and terms.sex not in SEXES:
        raise InvalidInputError("Choose female, male, other or unknown for sex.")
    months = f"Months since the last visit must be a whole number from 1 to {MAX_MONTHS}."
    _check_count(terms.last_visit_before_months, 1, MAX_MONTHS, months)
    _check_count(terms.last_visit_within_months, 1, MAX_MONTHS, months)
    before, within = terms.last_visit_before_months, terms.last_visit_within_months
    if before is not None and within is not None and within <= before:
        raise InvalidInputError(
            f"Nobody can have a visit in the last {within} months but none in the last "
            f"{before}; make the 'within' months larger."
        )
    if terms.has_future_visit not in (None, True, False):
        raise InvalidInputError("Choose yes, no or either for a future visit.")
    if terms.visit_kinds:
        if before is None and within is None:
            raise InvalidInputError(
                "Visit types only narrow the last visit: choose how long since it, too."
            )
        _check_texts(terms.visit_kinds, "visit types")
    _check_conditions(terms.conditions)
    _check_texts(terms.sources, "sources")
    _check_texts(terms.tags, "tags")
    _check_count(
        terms.balance_min_cents,
        1,
        10**12,
        "The smallest balance must be above zero (leave it empty for any balance).",
    )
    if terms.reachable_by is not None:
        if len(terms.reachable_by) != 2:
            raise InvalidInputError("Choose a way of contacting and a reason.")
        channel, purpose = terms.reachable_by
        if channel not in CHANNELS:
            raise InvalidInputError("Choose text, email, letter or phone as the way of contacting.")
        if purpose not in PURPOSES:
            raise InvalidInputError(
                "Choose the reason for contacting: appointment, recall, billing, education, "
                "survey or marketing."
            )
    if terms.language is not None and not _LANGUAGE_RE.fullmatch(terms.language.strip()):
        raise InvalidInputError("Choose a language such as en or es.")


def _check_conditions(conditions: Sequence[tuple[str, str]]) -> None:
    if len(conditions) > MAX_LIST:
        raise InvalidInputError(f"Choose at most {MAX_LIST} conditions.")
    for pair in conditions:
        if len(pair) != 2:
            raise InvalidInputError("A condition needs its code system and its code.")
        system, code = pair
        if system not in CONDITION_SYSTEMS:
            raise InvalidInputError(
                f"A condition's code system must be {SNOMED_SYSTEM} or {ICD10CM_SYSTEM}."
            )
        clean = str(code).strip().upper()
        if system == ICD10CM_SYSTEM and not is_icd10cm_code(clean):
            raise InvalidInputError("An ICD-10 code looks like E11 or E11.9.")
        if system == SNOMED_SYSTEM and not is_snomed_concept_id(str(code).strip()):
            raise InvalidInputError("That is not a SNOMED CT concept code.")


# --- the stored form ------------------------------------------------------------------

_KNOWN_KEYS: Final = frozenset(
    {
        "age_min",
        "age_max",
        "sex",
        "last_visit_before_months",
        "last_visit_within_months",
        "has_future_visit",
        "visit_kinds",
        "conditions",
        "sources",
        "tags",
        "balance_min_cents",
        "reachable_by",
        "language",
    }
)


def to_json(terms: SegmentTerms) -> str:
    """The definition column: the terms that are set, plus any a newer version wrote."""
    values: dict[str, Any] = dict(terms.extra)
    for key in _KNOWN_KEYS:
        values.pop(key, None)
    scalars = {
        "age_min": terms.age_min,
        "age_max": terms.age_max,
        "sex": terms.sex,
        "last_visit_before_months": terms.last_visit_before_months,
        "last_visit_within_months": terms.last_visit_within_months,
        "has_future_visit": terms.has_future_visit,
        "balance_min_cents": terms.balance_min_cents,
        "language": terms.language,
    }
    values.update({k: v for k, v in scalars.items() if v is not None})
    lists = {
        "visit_kinds": list(terms.visit_kinds),
        "conditions": [list(pair) for pair in terms.conditions],
        "sources": list(terms.sources),
        "tags": list(terms.tags),
    }
    values.update({k: v for k, v in lists.items() if v})
    if terms.reachable_by is not None:
        values["reachable_by"] = list(terms.reachable_by)
    return json.dumps(values, ensure_ascii=False, sort_keys=True)


_UNREADABLE: Final = "This saved group of patients cannot be read; make it again."


def _int(values: Mapping[str, Any], key: str) -> int | None:
    value = values.get(key)
    if value is None:
        return None
    if not _whole(value):
        raise InvalidInputError(_UNREADABLE)
    return int(value)


def _text(values: Mapping[str, Any], key: str) -> str | None:
    value = values.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInputError(_UNREADABLE)
    return value


def _texts(values: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = values.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInputError(_UNREADABLE)
    return tuple(value)


def _pair(value: object) -> tuple[str, str]:
    if not isinstance(value, list) or len(value) != 2 or not all(isinstance(v, str) for v in value):
        raise InvalidInputError(_UNREADABLE)
    return (value[0], value[1])


def from_json(text: str) -> SegmentTerms:
    """Terms from the definition column; keys this version does not know are kept."""
    try:
        values = json.loads(text)
    except ValueError:
        raise InvalidInputError(_UNREADABLE) from None
    if not isinstance(values, dict):
        raise InvalidInputError(_UNREADABLE)
    future = values.get("has_future_visit")
    if future is not None and not isinstance(future, bool):
        raise InvalidInputError(_UNREADABLE)
    conditions = values.get("conditions") or []
    reachable = values.get("reachable_by")
    if not isinstance(conditions, list):
        raise InvalidInputError(_UNREADABLE)
    return SegmentTerms(
        age_min=_int(values, "age_min"),
        age_max=_int(values, "age_max"),
        sex=_text(values, "sex"),
        last_visit_before_months=_int(values, "last_visit_before_months"),
        last_visit_within_months=_int(values, "last_visit_within_months"),
        has_future_visit=future,
        visit_kinds=_texts(values, "visit_kinds"),
        conditions=tuple(_pair(c) for c in conditions),
        sources=_texts(values, "sources"),
        tags=_texts(values, "tags"),
        balance_min_cents=_int(values, "balance_min_cents"),
        reachable_by=None if reachable is None else _pair(reachable),
        language=_text(values, "language"),
        extra={k: v for k, v in values.items() if k not in _KNOWN_KEYS},
    )


# --- the statement --------------------------------------------------------------------


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInputError("The clinic's time zone is not one Frontdesk knows.") from None


def _cutoff(years: int, today: date) -> str:
    """The latest birth date (normalised) of someone at least `years` old on `today`:
    age ≥ N exactly when (y, m, d) ≤ (today.year - N, today.month, today.day), Feb 29
    included, so a text comparison of ISO dates decides it."""
    return f"{today.year - years:04d}-{today.month:02d}-{today.day:02d}"


# A partial birth date as app/patients/search.age_on reads it: '1974' is 1 July 1974,
# '1974-12' is 1 December.
_BIRTH: Final = (
    "(substr(p.birth_date, 1, 4) || '-' || "
    "CASE WHEN length(p.birth_date) >= 7 THEN substr(p.birth_date, 6, 2) ELSE '07' END || '-' || "
    "CASE WHEN length(p.birth_date) >= 10 THEN substr(p.birth_date, 9, 2) ELSE '01' END)"
)


class _Builder:
    def __init__(self) -> None:
        self.parts: list[str] = [REACHABLE]
        self.params: dict[str, Any] = {}

    def add(self, sql: str, **params: Any) -> None:
        self.parts.append(sql)
        self.params.update(params)


# An age band at most this wide reads patient_birth_date; a wider one is cheaper as the
# scan of the patients the other terms make anyway (at 100k, a 35-year band through the
# index costs twice the scan: a row lookup per patient in it).
_AGE_INDEX_MAX_YEARS: Final = 15


def _age(b: _Builder, terms: SegmentTerms, today: date) -> None:
    if terms.age_min is None and terms.age_max is None:
        return
    narrow = (
        terms.age_min is not None
        and terms.age_max is not None
        and terms.age_max - terms.age_min <= _AGE_INDEX_MAX_YEARS
    )
    column = "p.birth_date" if narrow else "+p.birth_date"
    b.add("p.birth_date IS NOT NULL")
    if terms.age_min is not None:
        # The year bound alone is a range on the index; the exact day follows.
        b.add(
            f"{column} < :age_min_year AND {_BIRTH} <= :age_min_day",
            age_min_year=f"{today.year - terms.age_min + 1:04d}",
            age_min_day=_cutoff(terms.age_min, today),
        )
    if terms.age_max is not None:
        b.add(
            f"{column} >= :age_max_year AND {_BIRTH} > :age_max_day",
            age_max_year=f"{today.year - terms.age_max - 1:04d}",
            age_max_day=_cutoff(terms.age_max + 1, today),
        )


def _visits(b: _Builder, terms: SegmentTerms, today: date, zone: ZoneInfo) -> None:
    kinds = ""
    if terms.visit_kinds:
        kinds = " AND v.kind IN (SELECT value FROM json_each(:visit_kinds))"
        b.params["visit_kinds"] = json.dumps(list(terms.visit_kinds))
    # One probe for both terms: the patient's latest fulfilled visit (NULL, so not in
    # the segment, when they were never seen).
    tests: list[str] = []
    if terms.last_visit_before_months is not None:
        since = add_months(today, -terms.last_visit_before_months)
        tests.append("max(v.start_at) < :before")
        b.params["before"] = utc_text(day_start(since, zone))
    if terms.last_visit_within_months is not None:
        since = add_months(today, -terms.last_visit_within_months)
        tests.append("max(v.start_at) >= :within")
        b.params["within"] = utc_text(day_start(since, zone))
    if tests:
        b.add(
            f"(SELECT {' AND '.join(tests)} FROM appointment v "  # noqa: S608 - fixed text
            f"WHERE v.patient_id = p.id AND v.status = '{VISITED}'{kinds}) = 1"
        )
    if terms.has_future_visit is not None:
        upcoming = (
            "EXISTS (SELECT 1 FROM appointment u WHERE u.patient_id = p.id "
            "AND u.status IN ('booked', 'confirmed') AND u.start_at >= :today_start)"
        )
        b.add(
            upcoming if terms.has_future_visit else "NOT " + upcoming,
            today_start=utc_text(day_start(today, zone)),
        )


def _conditions(b: _Builder, terms: SegmentTerms) -> None:
    if not terms.conditions:
        return
    selects: list[str] = []
    icd_marks = ", ".join(f":icd{i}" for i in range(len(ICD10_SYSTEMS)))
    for i, (system, code) in enumerate(terms.conditions):
        for table, alias in (("condition", "c"), ("allergy", "g")):
            active = f"{alias}.clinical_status NOT IN ('inactive', 'remission', 'resolved')"
            if system == SNOMED_SYSTEM:
                # A seek on (system, code): FHIR codes never carry spaces, so as stored.
                match = f"{alias}.system = :sys{i} AND {alias}.code = :code{i}"
                b.params[f"sys{i}"] = system
                b.params[f"code{i}"] = code.strip()
            else:
                # Each ICD-10 system name is a seek on (system, code); the code test is on
                # the index entry, so only matching rows are read.
                prefix = code.strip().replace(".", "").upper()
                match = (
                    f"{alias}.system IN ({icd_marks}) AND substr(upper(replace(trim("
                    f"{alias}.code, {_WS}), '.', '')), 1, {len(prefix)}) = :code{i}"
                )
                b.params[f"code{i}"] = prefix
            selects.append(
                f"SELECT {alias}.patient_id FROM {table} {alias} "  # noqa: S608 - fixed names
                f"WHERE {match} AND {active}"
            )
    if any(system != SNOMED_SYSTEM for system, _code in terms.conditions):
        b.params.update({f"icd{i}": s for i, s in enumerate(ICD10_SYSTEMS)})
    b.add(f"p.id IN ({' UNION '.join(selects)})")


# The decision in force: the newest row for the channel and purpose (rowid breaks a tie
# within one second, as records.current_consents does), read from consent_patient.
_NEWEST_CONSENT: Final = (
    "(SELECT k.granted FROM consent k WHERE k.patient_id = p.id "
    "AND k.channel = :channel AND k.purpose = :purpose "
    "ORDER BY k.recorded_at DESC, k.rowid DESC LIMIT 1)"
)


def _reach(b: _Builder, terms: SegmentTerms, policy: ClinicPolicy) -> None:
    if terms.reachable_by is None:
        return
    channel, purpose = terms.reachable_by
    # The contact first: it is the cheaper probe and leaves fewer patients for consent.
    if channel == "letter":
        b.add(
            "EXISTS (SELECT 1 FROM address d WHERE d.patient_id = p.id "  # noqa: S608
            f"AND trim(d.line1, {_WS}) != '' "
            f"AND (trim(d.postal_code, {_WS}) != '' OR trim(d.city, {_WS}) != ''))"
        )
    else:
        # "+kind": the patient's own few contacts, not the clinic-wide (kind, value) index.
        b.add(
            "EXISTS (SELECT 1 FROM contact_point t WHERE t.patient_id = p.id "
            "AND +t.kind = :contact_kind AND t.value != '')",
            contact_kind="email" if channel == "email" else "phone",
        )
    b.params.update(channel=channel, purpose=purpose)
    if policy.consent_rule(purpose) == "opt_in":
        b.add(f"{_NEWEST_CONSENT} = 1")
    else:
        b.add(f"coalesce({_NEWEST_CONSENT}, 1) = 1")
    if channel == "sms":
        b.add(
            "coalesce((SELECT k.granted = 0 AND k.source = :stop FROM consent k "
            "WHERE k.patient_id = p.id AND k.channel = 'sms' "
            "ORDER BY k.recorded_at DESC, k.rowid DESC LIMIT 1), 0) = 0",
            stop=SMS_STOP_SOURCE,
        )


def _language(b: _Builder, terms: SegmentTerms, policy: ClinicPolicy) -> None:
    if terms.language is None:
        return
    spoken = f"lower(replace(trim(p.language, {_WS}), '_', '-'))"
    base = f"substr({spoken}, 1, instr({spoken} || '-', '-') - 1)"
    b.add(
        f"coalesce(nullif({base}, ''), :default_language) = :language",
        default_language=policy.default_language,
        language=base_language(terms.language),
    )


def compile_terms(
    terms: SegmentTerms, *, today: date, policy: ClinicPolicy | None = None
) -> tuple[str, list[Any]]:
    """One parameterised statement selecting the ids of the patients in the segment.

    `policy` is the clinic's (clinic_policy); the default is a clinic on UTC with the
    default consent policy, for callers that have no clinic at hand.
    """
    check_terms(terms)
    policy = policy or ClinicPolicy()
    zone = _zone(policy.timezone)
    b = _Builder()
    _age(b, terms, today)
    if terms.sex is not None:
        b.add("p.sex = :sex", sex=terms.sex)
    if terms.sources:
        # A list of marks (not json_each) lets SQLite seek patient_acquisition per source.
        marks = ", ".join(f":source{i}" for i in range(len(terms.sources)))
        b.add(
            f"p.acquisition_source IN ({marks})",
            **{f"source{i}": source for i, source in enumerate(terms.sources)},
        )
    _language(b, terms, policy)
    for i, tag in enumerate(dict.fromkeys(" ".join(t.split()) for t in terms.tags)):
        b.add(
            "EXISTS (SELECT 1 FROM patient_tag g "  # noqa: S608 - a numbered parameter
            f"WHERE g.patient_id = p.id AND g.tag = :tag{i})",
            **{f"tag{i}": tag},
        )
    _conditions(b, terms)
    _visits(b, terms, today, zone)
    _reach(b, terms, policy)
    if terms.balance_min_cents is not None:
        b.add(
            "(SELECT coalesce(sum(h.amount_cents), 0) FROM charge h WHERE h.patient_id = p.id)"
            " - (SELECT coalesce(sum(y.amount_cents), 0) FROM payment y "
            "WHERE y.patient_id = p.id) >= :balance_min",
            balance_min=terms.balance_min_cents,
        )
    sql = "SELECT p.id FROM patient p WHERE " + " AND ".join(b.parts)  # noqa: S608
    return _positional(sql, b.params)


_NAMED: Final = re.compile(r":([a-z_][a-z0-9_]*)")


def _positional(sql: str, named: Mapping[str, Any]) -> tuple[str, list[Any]]:
    """The fragments name their values (clear to read); callers get `?` and a list, so a
    segment's statement can be nested in a larger one with parameters of its own."""
    values: list[Any] = []

    def mark(found: re.Match[str]) -> str:
        values.append(named[found.group(1)])
        return "?"

    return _NAMED.sub(mark, sql), values


def _today(clinic: Clinic, today: date | None) -> date:
    if today is not None:
        return today
    return datetime.now(_zone(clinic.settings.timezone)).date()


def count(clinic: Clinic, terms: SegmentTerms, *, today: date | None = None) -> int:
    """How many patients the segment holds now (for the count beside the filter)."""
    sql, params = compile_terms(terms, today=_today(clinic, today), policy=clinic_policy(clinic))
    row = clinic.conn.execute(f"SELECT count(*) FROM ({sql})", params).fetchone()  # noqa: S608
    return int(row[0])


def patient_ids(
    clinic: Clinic, terms: SegmentTerms, *, today: date | None = None, limit: int | None = None
) -> list[str]:
    """The patients in the segment, in the order they were registered."""
    if limit is not None and (not _whole(limit) or limit < 0):
        raise InvalidInputError("The number of patients to list must be 0 or more.")
    sql, params = compile_terms(terms, today=_today(clinic, today), policy=clinic_policy(clinic))
    sql += " ORDER BY p.rowid"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [str(r[0]) for r in clinic.conn.execute(sql, params).fetchall()]


def everyone(clinic: Clinic) -> int:
    """Every patient a segment could hold (the living, contactable, unmerged)."""
    return count(clinic, SegmentTerms())


def warn_size(
    matched: int,
    total: int,
    *,
    ask_above: int = DEFAULT_ASK_ABOVE,
    share: float = DEFAULT_WARN_SHARE,
) -> str | None:
    """A sentence to ask with before sending to `matched` of `total` patients, or None.

    `total` is everyone a segment could hold (`everyone(clinic)`). Asks when the filter
    keeps everyone (MATCHES_EVERYONE_WARNING), or at least `share` of everyone, or more
    than `ask_above` patients, whichever comes first.
    """
    if matched <= 0:
        return None
    if total > 0 and matched >= total:
        return MATCHES_EVERYONE_WARNING
    if total > 0 and matched >= share * total:
        return (
            f"This filter matches {matched:,} of the {total:,} patients the clinic can "
            "contact, nearly everyone. Check the filter before sending."
        )
    if matched > ask_above:
        return f"This will go to {matched:,} patients. Send to all of them?"
    return None


def ask_above(clinic: Clinic) -> int:
    """The clinic's own "ask before sending to more than N patients" (Settings), or the
    default. A stored value that is not a whole number in range (written by hand, or by a
    newer Frontdesk) reads as the default rather than stopping every campaign."""
    row = clinic.conn.execute(
        "SELECT value FROM setting WHERE id = ?", (ASK_ABOVE_SETTING,)
    ).fetchone()
    if row is None:
        return DEFAULT_ASK_ABOVE
    try:
        value = json.loads(row[0])
    except (TypeError, ValueError):
        return DEFAULT_ASK_ABOVE
    if _whole(value) and 1 <= value <= MAX_ASK_ABOVE:
        return int(value)
    return DEFAULT_ASK_ABOVE


def save_ask_above(clinic: Clinic, n: int) -> Changes:
    """Store the number of patients above which a campaign asks before it starts."""
    if not _whole(n) or not 1 <= n <= MAX_ASK_ABOVE:
        raise InvalidInputError(
            f"The number of patients to ask above is a whole number from 1 to {MAX_ASK_ABOVE:,}."
        )
    with clinic.store.write() as tx:
        put_setting(tx, ASK_ABOVE_SETTING, json.dumps(n))
    return tx.changes


# --- stored segments ------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    id: str
    name: str
    terms: SegmentTerms
    created_at: str = ""
    updated_at: str = ""


_SELECT: Final = "SELECT id, name, definition, created_at, updated_at FROM segment"


def _from_row(row: Sequence[Any]) -> Segment:
    return Segment(str(row[0]), str(row[1]), from_json(str(row[2])), str(row[3]), str(row[4]))


def load_segments(clinic: Clinic) -> list[Segment]:
    """The clinic's saved segments by name."""
    rows = clinic.conn.execute(_SELECT).fetchall()
    segments = [_from_row(r) for r in rows]
    return sorted(segments, key=lambda s: (s.name.casefold(), s.id))


def get_segment(clinic: Clinic, segment_id: str) -> Segment:
    row = clinic.conn.execute(_SELECT + " WHERE id = ?", (segment_id,)).fetchone()
    if row is None:
        raise RecordNotFoundError("That group of patients no longer exists.")
    return _from_row(row)


def save_segment(clinic: Clinic, segment: Segment) -> Segment:
    """Check and store a segment (new when its id is empty); returns it as stored."""
    name = " ".join(segment.name.split())
    if not name:
        raise InvalidInputError("Give the group a name, such as “Lapsed adults”.")
    if len(name) > MAX_NAME_CHARS:
        raise InvalidInputError(f"Keep the group's name under {MAX_NAME_CHARS} characters.")
    check_terms(segment.terms)
    for other in load_segments(clinic):
        if other.id != segment.id and other.name.casefold() == name.casefold():
            raise InvalidInputError("Another group has that name; choose a different one.")
    now = utc_now()
    stored = replace(
        segment, id=segment.id or new_id(), name=name, created_at=segment.created_at or now
    )
    stored = replace(stored, updated_at=now)
    row = {"name": stored.name, "definition": to_json(stored.terms), "updated_at": now}
    with clinic.store.write() as tx:
        existing = tx.current("segment", stored.id, ("created_at",))
        if existing is not None:
            tx.update("segment", stored.id, row)
            stored = replace(stored, created_at=str(existing["created_at"]))
        else:
            tx.insert("segment", {"id": stored.id, **row, "created_at": stored.created_at})
    return stored


def delete_segment(clinic: Clinic, segment_id: str) -> Changes:
    get_segment(clinic, segment_id)
    with clinic.store.write() as tx:
        tx.delete("segment", segment_id)
    return tx.changes
