"""Health education, seasonal allergy alerts and reactivation campaigns: what each wants
planned, how its open messages are judged, and what holds at send time.

The planner and the send-time checks of app/reminders call into this module for its kinds
(rules.ENGAGEMENT_KINDS), through WANTERS, JUDGES and the three functions below.

Who a campaign is for is read set-based (a few statements for the whole clinic, the choice
of item in Python), and only patients that the rule's channels can reach for its purpose
are planned: a campaign to a clinic where few gave consent for education must not fill the
Messages page with thousands of "no consent" rows every month. The sender checks consent
again at send time (compose), so a "No" recorded after planning still wins.

- education: on the rule's send_day each month; one item per patient per send day, chosen
  by education.choose_items from the clinic's library; the outbox row's subject is the
  item's stem, so an item (in any language, by any rule) is never sent twice.
- allergy: on each local day whose stored pollen level (pollen_days) is high or very high,
  in the season's months, to patients with an allergy to pollen; one a day, at most
  season_limit per season.
- reactivation: patients with no fulfilled visit (of the rule's kinds) for recall_months
  and nothing booked; the anchor is the later of the campaign's start and the day they
  lapsed. A touch whose channels are ("call",) puts the patient on Today's call list.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Final, Protocol
from zoneinfo import ZoneInfo

from app.clinic import Clinic
from app.engagement import library as content
from app.engagement.education import (
    FALLBACK_LANGUAGE,
    SNOMED_SYSTEM,
    EducationItem,
    age_in_years,
    choose_items,
    stem_of,
)
from app.engagement.pollen_days import ALERT_LEVELS, level_words, stored_day, stored_days
from app.growth import segments
from app.patients.model import Patient
from app.reminders import wording
from app.reminders.outbox import Message
from app.reminders.planning_base import OpenMessage, Span, Verdict, Wanted
from app.reminders.planning_subjects import full_date, recall_candidates, recall_facts, utc_range
from app.reminders.planning_times import (
    add_months,
    day_start,
    days,
    local_day,
    months_before_range,
    parse_utc,
)
from app.reminders.reach import SMS_STOP_SOURCE
from app.reminders.rules import Rule, Touch
from app.reminders.settings import DEFAULT_CONSENT
from app.reminders.settings import SETTING as REMINDER_SETTINGS
from app.reminders.subject_facts import Facts, Gone
from app.store.database import Connection
from app.store.writer import utc_text

KINDS: Final = ("education", "allergy", "reactivation")
CALL: Final = "call"
"""The channel of a reactivation touch that puts the patient on Today's call list."""

Wanter = Callable[[Connection, Rule, Span], Iterable[Wanted]]
Judge = Callable[[Connection, Rule, Sequence[OpenMessage], Span], dict[str, Verdict]]

# Who a campaign never reaches (the planner's REACHABLE, plus patients who moved away).
CONTACTABLE: Final = (
    "p.deceased = 0 AND p.do_not_contact = 0 AND p.merged_into IS NULL AND p.moved_on IS NULL"
)
ALIVE: Final = "p.deceased = 0 AND p.merged_into IS NULL"
"""Who an audience counts before consent: do-not-contact and moved patients are blocked
with their reason (audience.py), the deceased and merged are nobody's audience."""
NOT_OPEN_AGAIN: Final = ("cancelled", "skipped")
"""States of an outbox row that do not count as "sent": the item may be tried again."""

# Why an open campaign message is cancelled, as the Messages page shows it.
MOVED_AWAY: Final = "The patient moved away"
ITEM_REMOVED: Final = "The item was taken out of the education library"
DAY_CHANGED: Final = "The campaign's day of the month was changed"
NOT_IN_SEGMENT: Final = "The patient is no longer in the campaign's group"
POLLEN_NOT_HIGH: Final = "The pollen level is no longer high for that day"
OUT_OF_SEASON: Final = "The day is no longer in the allergy season"
SEEN_SINCE: Final = "The patient has been seen since"
BOOKED: Final = "Already booked"
NO_LAST_VISIT: Final = "The visit the campaign counted from was removed"

# --- the allergy codes ---------------------------------------------------------------------

ALLERGY_SNOMED_CONDITIONS: Final = (
    "61582004",  # Allergic rhinitis
    "21719001",  # Allergic rhinitis caused by pollen (hay fever)
    "367498001",  # Seasonal allergic rhinitis (Synthea's exports, the demo clinic)
    "232353008",  # Perennial allergic rhinitis with seasonal variation (Synthea)
    "300910009",  # Allergy to pollen
    "444908001",  # Allergic rhinitis caused by grass pollen
)
POLLEN_SNOMED_SUBSTANCES: Final = (
    "256259004",  # Pollen (substance)
    "256277009",  # Grass pollen (substance) — AllergyIntolerance in Synthea exports
    "782576004",  # Tree pollen (substance) — AllergyIntolerance in Synthea exports
    "418689008",  # Allergy to grass pollen
)
ALLERGY_ICD10_PREFIX: Final = "J30"
"""J30.* (vasomotor and allergic rhinitis) except J30.0, vasomotor rhinitis, which is not an
allergy: J30.1 due to pollen, J30.2 other seasonal, J30.5 food, J30.8x other, J30.9."""
ALLERGY_ICD10_EXCLUDED: Final = ("J300",)
POLLEN_WORDS: Final = ("pollen", "polen")
"""An AllergyIntolerance whose display names pollen (in English or Spanish) counts whatever
its code: exports often carry a local code and only the words."""

_ACTIVE: Final = "{a}.clinical_status NOT IN ('inactive', 'remission', 'resolved')"
_ICD_SYSTEMS: Final = segments.ICD10_SYSTEMS


def _allergy_sql() -> tuple[str, list[str]]:
    snomed = json.dumps([*ALLERGY_SNOMED_CONDITIONS, *POLLEN_SNOMED_SUBSTANCES])
    icd = json.dumps(list(_ICD_SYSTEMS))
    excluded = json.dumps(list(ALLERGY_ICD10_EXCLUDED))
    icd_code = "upper(replace(trim({a}.code), '.', ''))"
    parts: list[str] = []
    params: list[str] = []
    for table, a in (("condition", "c"), ("allergy", "g")):
        code = icd_code.format(a=a)
        parts.append(
            f"SELECT {a}.patient_id FROM {table} {a} WHERE {_ACTIVE.format(a=a)} AND ("  # noqa: S608
            f"({a}.system = ? AND {a}.code IN (SELECT value FROM json_each(?))) OR "
            f"({a}.system IN (SELECT value FROM json_each(?)) AND substr({code}, 1, 3) = ? "
            f"AND {code} NOT IN (SELECT value FROM json_each(?)))"
            + (
                " OR lower(g.display) LIKE '%pollen%' OR lower(g.display) LIKE '%polen%'"
                if table == "allergy"
                else ""
            )
            + ")"
        )
        params += [SNOMED_SYSTEM, snomed, icd, ALLERGY_ICD10_PREFIX, excluded]
    return " UNION ".join(parts), params


def allergy_patients(conn: Connection) -> set[str]:
    """Patients with an active record of an allergy to pollen (see the codes above)."""
    sql, params = _allergy_sql()
    return {str(r[0]) for r in conn.execute(sql, params)}


# --- shared targeting -----------------------------------------------------------------------


def policy_from(conn: Connection, zone: ZoneInfo) -> segments.ClinicPolicy:
    """The clinic's consent policy and default language, read from a connection (the
    planner has no clinic object); the same values reminders.settings.load_settings reads."""
    row = conn.execute("SELECT value FROM setting WHERE id = ?", (REMINDER_SETTINGS,)).fetchone()
    values = json.loads(row[0]) if row is not None else {}
    consent = values.get("consent") if isinstance(values, dict) else None
    language = values.get("language", "en") if isinstance(values, dict) else "en"
    return segments.ClinicPolicy(
        timezone=str(zone),
        consent={**DEFAULT_CONSENT, **(consent if isinstance(consent, dict) else {})},
        default_language=str(language or "en"),
    )


def segment_members(conn: Connection, rule: Rule, today: date, zone: ZoneInfo) -> set[str] | None:
    """The patients of the rule's saved segment, or None when it has none (everybody).
    A segment that was deleted holds nobody: a campaign never widens by itself."""
    if not rule.segment_id:
        return None
    row = conn.execute("SELECT definition FROM segment WHERE id = ?", (rule.segment_id,)).fetchone()
    if row is None:
        return set()
    terms = segments.from_json(str(row[0]))
    sql, params = segments.compile_terms(terms, today=today, policy=policy_from(conn, zone))
    return {str(r[0]) for r in conn.execute(sql, params)}


def reachable_by_any(
    conn: Connection,
    channels: Sequence[str],
    purpose: str,
    today: date,
    zone: ZoneInfo,
) -> set[str]:
    """Patients whose consent (by the clinic's policy, STOP included) and contact details
    allow at least one of the channels for the purpose: the segments' reading of
    app/reminders/reach.py, set-based. A call is the phone channel's consent."""
    policy = policy_from(conn, zone)
    selects: list[str] = []
    params: list[object] = []
    for channel in dict.fromkeys("phone" if c == CALL else c for c in channels):
        terms = segments.SegmentTerms(reachable_by=(channel, purpose))
        sql, values = segments.compile_terms(terms, today=today, policy=policy)
        selects.append(sql)
        params += values
    if not selects:
        return set()
    return {str(r[0]) for r in conn.execute(" UNION ".join(selects), params)}


def _contactable(
    conn: Connection, patient_ids: Iterable[str], *, include_blocked: bool = False
) -> set[str]:
    rows = conn.execute(
        "SELECT p.id FROM patient p WHERE p.id IN (SELECT value FROM json_each(?)) AND "  # noqa: S608
        + (ALIVE if include_blocked else CONTACTABLE),
        (json.dumps(sorted(set(patient_ids))),),
    ).fetchall()
    return {str(r[0]) for r in rows}


def _moved(conn: Connection, patient_ids: Iterable[str]) -> set[str]:
    rows = conn.execute(
        "SELECT id FROM patient WHERE id IN (SELECT value FROM json_each(?)) "
        "AND moved_on IS NOT NULL",
        (json.dumps(sorted(set(patient_ids))),),
    ).fetchall()
    return {str(r[0]) for r in rows}


# --- reach, set-based -----------------------------------------------------------------------


class ConsentPolicy(Protocol):
    """The clinic's consent policy (ReminderSettings or segments.ClinicPolicy)."""

    def consent_rule(self, purpose: str) -> str: ...


Known = tuple[bool, bool, str]
"""A patient's do_not_contact, moved away and preferred channel, as read from patient."""


@dataclass(frozen=True)
class ReachFacts:
    """What reach.py's rules read of one patient for a message's channels and purpose."""

    do_not_contact: bool
    moved: bool
    preferred_channel: str
    decisions: Mapping[str, bool | None]  # consent channel → the decision in force, if any
    texts_stopped: bool  # the newest decision about texts, any purpose, is a STOP
    has_phone: bool
    has_email: bool
    has_postal: bool  # an address with a street and a town or postal code


def consent_channels(channels: Sequence[str]) -> tuple[str, ...]:
    """The consent channels an order asks about: a call is the phone channel's consent when
    it is the touch's only channel (reach.py never sends a call among other channels)."""
    if tuple(channels) == (CALL,):
        return ("phone",)
    return tuple(dict.fromkeys(c for c in channels if c != CALL))


_WS: Final = "' ' || char(9, 10, 11, 12, 13)"  # what str.strip() removes from an address
# "+kind": the patient's own few contacts, not the clinic-wide (kind, value) index.
_HAS_CONTACT: Final = (
    "EXISTS (SELECT 1 FROM contact_point t WHERE t.patient_id = p.id "
    "AND +t.kind = '{kind}' AND t.value != '')"
)
_HAS_POSTAL: Final = (
    "EXISTS (SELECT 1 FROM address d WHERE d.patient_id = p.id "  # noqa: S608 - fixed text
    f"AND trim(d.line1, {_WS}) != '' "
    f"AND (trim(d.postal_code, {_WS}) != '' OR trim(d.city, {_WS}) != ''))"
)
_SCAN_FROM: Final = 10_000
"""From this many patients the consent table is read whole (~0.3 s at 100k) rather than
sought per patient (~25 µs each: a page decrypted for each)."""


def _contact_sets(
    conn: Connection, *, phone: bool, email: bool, letter: bool
) -> tuple[set[str], set[str], set[str]]:
    """Every patient with a phone, an email, a postal address (those asked for), read whole:
    reach.py's contact_for, as _HAS_CONTACT and _HAS_POSTAL read it per patient."""
    phones: set[str] = set()
    emails: set[str] = set()
    postal: set[str] = set()
    kinds = [k for k, asked in (("phone", phone), ("email", email)) if asked]
    if kinds:
        # "+kind": the table in rowid order, not the clinic-wide (kind, value) index.
        for pid, kind in conn.execute(
            "SELECT patient_id, kind FROM contact_point "
            "WHERE +kind IN (SELECT value FROM json_each(?)) AND value != ''",
            (json.dumps(kinds),),
        ):
            (phones if kind == "phone" else emails).add(str(pid))
    if letter:
        postal = {
            str(r[0])
            for r in conn.execute(
                "SELECT d.patient_id FROM address d WHERE "  # noqa: S608 - fixed text
                f"trim(d.line1, {_WS}) != '' "
                f"AND (trim(d.postal_code, {_WS}) != '' OR trim(d.city, {_WS}) != '')"
            )
        }
    return phones, emails, postal


def _lets_texts_go(held: tuple[str, int, bool] | None, by_default: bool) -> bool:
    return by_default if held is None else held[2]


def reach_facts(
    conn: Connection,
    patient_ids: Iterable[str],
    channels: Sequence[str],
    purpose: str,
    *,
    sendable_only: ConsentPolicy | None = None,
    known: Mapping[str, Known] | None = None,
) -> dict[str, ReachFacts]:
    """The facts of every listed patient (one not on record is left out), read with a few
    whole-table statements rather than seeks per patient: at 100k a seek decrypts a page of
    its own, and the consent, contact and patient pages of a campaign do not fit the page
    cache together, so a scan of each table is several times cheaper.

    The decision in force is the newest row for the channel and purpose, the later row of
    two in the same second (records.current_consents); a STOP is the newest row about texts,
    whatever its purpose, being a "No" from the reply handler (reach._texts_stopped).

    `sendable_only` (the clinic's policy): the planner asks only whether some channel can
    be used, so a STOP is looked up only where it decides that (a phone and a decision that
    lets texts go); texts_stopped of the others is then False, not their reason.

    `known`: the patient columns (Known) of at least the listed patients, when the caller
    has just read them: the wide patient rows are then not read again, only the contacts."""
    wanted = set(patient_ids)
    if not wanted:
        return {}
    asked = consent_channels(channels)
    listed = json.dumps(sorted(wanted))
    phone = bool({"sms", CALL} & set(channels))
    email = "email" in channels
    letter = "letter" in channels
    # Consent is the large table: a scan for many patients (decisions and STOP rows in one
    # pass), a seek each for a few (the decisions only: the index finds their rows).
    seek = len(wanted) < _SCAN_FROM
    if seek:
        # A few patients: a probe each in contact_point and address.
        contacts = (
            f"{_HAS_CONTACT.format(kind='phone') if phone else '0'}, "
            f"{_HAS_CONTACT.format(kind='email') if email else '0'}, "
            f"{_HAS_POSTAL if letter else '0'}"
        )
    else:
        # Many: two probes each (an index seek, then the row for its kind and value) cost
        # more than reading contact_point and address whole (at 100k: 0.3 s against 0.1 s).
        has = _contact_sets(conn, phone=phone, email=email, letter=letter)
        contacts = "0, 0, 0"
    people: list[Sequence[object]]
    if known is None:
        people = conn.execute(
            "SELECT p.id, p.do_not_contact, p.moved_on IS NOT NULL, p.preferred_channel, "  # noqa: S608
            f"{contacts} FROM patient p WHERE p.id IN (SELECT value FROM json_each(?))",
            (listed,),
        ).fetchall()
    elif seek:
        # "p.id" is the listed id: the contact subqueries read only contact_point, address.
        people = [
            (pid, *known[pid], *found)
            for pid, *found in conn.execute(
                f"SELECT p.id, {contacts} FROM (SELECT value AS id FROM json_each(?)) p",  # noqa: S608
                (json.dumps(sorted(wanted & known.keys())),),
            )
        ]
    else:
        people = [(pid, *known[pid], 0, 0, 0) for pid in sorted(wanted & known.keys())]
    if not seek:
        people = [
            (pid, dnc, moved, pref, pid in has[0], pid in has[1], pid in has[2])
            for pid, dnc, moved, pref, *_ in people
        ]
    newest: dict[tuple[str, str], tuple[str, int, bool]] = {}
    stop_rows: set[str] = set()
    if seek:
        rows = conn.execute(
            "SELECT patient_id, channel, purpose, granted, '', recorded_at, rowid FROM consent "
            "WHERE patient_id IN (SELECT value FROM json_each(?)) "
            "AND channel IN (SELECT value FROM json_each(?)) AND purpose = ?",
            (listed, json.dumps(list(asked)), purpose),
        ).fetchall()
    else:
        rows = conn.execute(
            "SELECT patient_id, channel, purpose, granted, source, recorded_at, rowid "
            "FROM consent WHERE (purpose = ? AND channel IN (SELECT value FROM json_each(?))) "
            "OR (channel = 'sms' AND granted = 0 AND source = ?)",
            (purpose, json.dumps(list(asked)), SMS_STOP_SOURCE),
        ).fetchall()
    for pid, channel, row_purpose, granted, source, at, rowid in rows:
        patient = str(pid)
        if patient not in wanted:
            continue
        if channel == "sms" and not granted and source == SMS_STOP_SOURCE:
            stop_rows.add(patient)
        if row_purpose == purpose and channel in asked:
            key = (patient, str(channel))
            held = newest.get(key)
            if held is None or (str(at), int(rowid)) > held[:2]:
                newest[key] = (str(at), int(rowid), bool(granted))
    # Who may have texted STOP: from the scan, those with a STOP row; when sought, anyone.
    maybe = stop_rows if not seek else set(wanted)
    if sendable_only is not None:
        texts_go = sendable_only.consent_rule(purpose) != "opt_in"
        phones = {str(r[0]) for r in people if r[4]}
        maybe = {
            pid for pid in maybe & phones if _lets_texts_go(newest.get((pid, "sms")), texts_go)
        }
    stopped: set[str] = set()
    if maybe and "sms" in channels:
        # The newest row about texts of each patient who may have texted STOP.
        stopped = {
            str(r[0])
            for r in conn.execute(
                "SELECT j.value FROM json_each(?) j WHERE (SELECT k.granted = 0 AND k.source = ? "
                "FROM consent k WHERE k.patient_id = j.value AND k.channel = 'sms' "
                "ORDER BY k.recorded_at DESC, k.rowid DESC LIMIT 1)",
                (json.dumps(sorted(maybe)), SMS_STOP_SOURCE),
            )
        }
    found: dict[str, ReachFacts] = {}
    for pid, do_not_contact, moved, preferred, has_phone, has_email, has_postal in people:
        patient = str(pid)
        decisions: dict[str, bool | None] = {}
        for channel in asked:
            held = newest.get((patient, channel))
            decisions[channel] = None if held is None else held[2]
        found[patient] = ReachFacts(
            do_not_contact=bool(do_not_contact),
            moved=bool(moved),
            preferred_channel=str(preferred or ""),
            decisions=decisions,
            texts_stopped=patient in stopped,
            has_phone=bool(has_phone),
            has_email=bool(has_email),
            has_postal=bool(has_postal),
        )
    return found


def consent_blocks(
    facts: ReachFacts, channel: str, purpose: str, policy: ConsentPolicy
) -> str | None:
    """reach.consent_problem: "stop", "no" or "none" when consent stops the channel."""
    if channel == "sms" and facts.texts_stopped:
        return "stop"
    decision = facts.decisions.get(channel)
    if decision is False:
        return "no"
    if decision is None and policy.consent_rule(purpose) == "opt_in":
        return "none"
    return None


def has_contact(facts: ReachFacts, channel: str) -> bool:
    """reach.contact_for: a phone for texts, an email, a postal address; none for a call
    among other channels (a call is only ever a touch's one channel)."""
    if channel == "sms":
        return facts.has_phone
    if channel == "email":
        return facts.has_email
    if channel == "letter":
        return facts.has_postal
    return False


def can_reach(
    facts: ReachFacts, channels: Sequence[str], purpose: str, policy: ConsentPolicy
) -> bool:
    """reach.ways_to_reach finds a way (or, for the call list, phone consent and a phone)."""
    if facts.do_not_contact or facts.moved:
        return False
    if tuple(channels) == (CALL,):
        return consent_blocks(facts, "phone", purpose, policy) is None and facts.has_phone
    return any(
        consent_blocks(facts, c, purpose, policy) is None and has_contact(facts, c)
        for c in channels
    )


def reachable_among(
    conn: Connection,
    patient_ids: Iterable[str],
    channels: Sequence[str],
    purpose: str,
    today: date,
    zone: ZoneInfo,
    *,
    known: Mapping[str, Known] | None = None,
) -> set[str]:
    """The listed patients whose consent (by the clinic's policy, STOP included) and contact
    details allow at least one of the channels for the purpose: reach.py's reading, the
    audience's own (`today` is unused: consent has no date)."""
    policy = policy_from(conn, zone)
    facts = reach_facts(conn, patient_ids, channels, purpose, sendable_only=policy, known=known)
    return {pid for pid, found in facts.items() if can_reach(found, channels, purpose, policy)}


def _narrow(
    conn: Connection,
    rule: Rule,
    candidates: set[str],
    channels: Sequence[str],
    today: date,
    zone: ZoneInfo,
    *,
    reach: bool,
    known: Mapping[str, Known] | None = None,
) -> set[str]:
    members = segment_members(conn, rule, today, zone)
    if members is not None:
        candidates &= members
    if reach and candidates:
        candidates = reachable_among(
            conn, candidates, channels, rule.effective_purpose, today, zone, known=known
        )
    return candidates


def _today(span: Span) -> date:
    return local_day(span.now, span.zone)


def _occurrence_day(occurrence: str) -> date | None:
    try:
        return date.fromisoformat(occurrence[:10])
    except ValueError:
        return None


# --- education ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Person:
    id: str
    birth_date: str | None
    household_id: str | None
    role: str
    language: str
    do_not_contact: bool
    moved: bool
    preferred_channel: str


def _people(conn: Connection) -> list[_Person]:
    """Every patient alive and not merged (the wide patient rows read once: the campaign's
    people, their household's children and what reach_facts needs of them)."""
    rows = conn.execute(
        "SELECT p.id, p.birth_date, p.household_id, p.household_role, p.language, "  # noqa: S608
        "p.do_not_contact, p.moved_on IS NOT NULL, p.preferred_channel "
        f"FROM patient p WHERE {ALIVE}"
    ).fetchall()
    return [
        _Person(
            str(r[0]),
            r[1],
            r[2],
            str(r[3] or ""),
            str(r[4] or ""),
            bool(r[5]),
            bool(r[6]),
            str(r[7] or ""),
        )
        for r in rows
    ]


def _children_by_household(people: Iterable[_Person]) -> dict[str, list[tuple[str, date]]]:
    found: dict[str, list[tuple[str, date]]] = defaultdict(list)
    for person in people:
        if person.role == "child" and person.household_id is not None:
            day = full_date(person.birth_date)
            if day is not None:
                found[person.household_id].append((person.id, day))
    return found


def patient_codes(conn: Connection) -> dict[str, set[tuple[str, str]]]:
    """Each patient's active condition and allergy codes, (system, code) as imported."""
    found: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for table, a in (("condition", "c"), ("allergy", "g")):
        sql = (
            f"SELECT {a}.patient_id, {a}.system, {a}.code FROM {table} {a} "  # noqa: S608
            f"WHERE {_ACTIVE.format(a=a)}"
        )
        for pid, system, code in conn.execute(sql):
            found[str(pid)].add((str(system), str(code)))
    return found


@dataclass(frozen=True)
class _EducationHistory:
    sent: dict[str, set[str]]  # patient → stems sent or on their way (any rule)
    planned_on: set[tuple[str, str]]  # (patient, anchor ISO) already planned by this rule


def _education_history(
    conn: Connection, rule_id: str, patient_ids: Iterable[str]
) -> _EducationHistory:
    """The history of these patients only: a seek per patient on outbox(patient_id,
    subject_kind, state) instead of a scan of every message the clinic ever sent."""
    sent: dict[str, set[str]] = defaultdict(set)
    planned_on: set[tuple[str, str]] = set()
    for pid, stem, rule, occurrence, state in conn.execute(
        "SELECT patient_id, subject_id, rule_id, occurrence, state FROM outbox "
        "WHERE patient_id IN (SELECT value FROM json_each(?)) AND subject_kind = 'education'",
        (json.dumps(sorted(set(patient_ids))),),
    ):
        if state not in NOT_OPEN_AGAIN:
            sent[str(pid)].add(str(stem))
        if rule == rule_id:
            planned_on.add((str(pid), str(occurrence)[:10]))
    return _EducationHistory(sent, planned_on)


def education_occurrence(anchor: date, patient_id: str) -> str:
    """The day and the patient: the stem is not unique per patient, so the key needs both."""
    return f"{anchor.isoformat()}/{patient_id}"


def education_choices(
    conn: Connection,
    rule: Rule,
    anchor: date,
    zone: ZoneInfo,
    *,
    reach: bool = True,
    channels: Sequence[str] | None = None,
    include_blocked: bool = False,
) -> dict[str, EducationItem]:
    """The item each patient of the campaign would get on `anchor`: one query per table for
    the whole clinic, the choice in Python (choose_items). Patients with nothing left to
    send, or already planned for that day by this rule, are left out."""
    items = content.library_from(conn)
    if not items:
        return {}
    # Whole-table reads: at 100k a scan of the patients (or of the codes) costs less than
    # a seek per patient of the campaign, each seek decrypting a page of its own.
    alive = _people(conn)
    people = {p.id: p for p in alive if include_blocked or not (p.do_not_contact or p.moved)}
    wanted = _narrow(
        conn,
        rule,
        set(people),
        channels if channels is not None else rule.channels_for(rule.touches[0]),
        anchor,
        zone,
        reach=reach,
        known={p.id: (p.do_not_contact, p.moved, p.preferred_channel) for p in people.values()},
    )
    if not wanted:
        return {}
    children = _children_by_household(alive)
    codes = patient_codes(conn)
    history = _education_history(conn, rule.id, wanted)
    default_language = policy_from(conn, zone).default_language
    # choose_items reads an age only through item.fits_age, i.e. where age * 12 falls
    # among the items' month bounds: patients alike in that, their children's, codes,
    # language and history get the same choice, worked out once (at 100k: ~4,000 calls
    # instead of 45,000).
    bounds = sorted(
        {m for i in items for m in (i.min_age_months, i.max_age_months) if m is not None}
    )
    ages: dict[date, float] = {}

    def age_on(born: date) -> float:
        found = ages.get(born)
        if found is None:
            found = ages[born] = age_in_years(born, anchor)
        return found

    def band(age: float | None) -> int | None:
        return None if age is None else bisect_right(bounds, age * 12)

    memo: dict[tuple[object, ...], EducationItem | None] = {}
    chosen: dict[str, EducationItem] = {}
    day_key = anchor.isoformat()
    for pid in sorted(wanted):
        if (pid, day_key) in history.planned_on:
            continue
        person = people[pid]
        born = full_date(person.birth_date)
        age = age_on(born) if born is not None and born <= anchor else None
        kids: list[float] = []
        if person.household_id and person.role != "child":
            kids = [
                age_on(b)
                for other, b in children.get(person.household_id, ())
                if other != pid and b <= anchor
            ]
        conditions = frozenset(codes.get(pid, ()))
        language = person.language or default_language
        sent = frozenset(history.sent.get(pid, ()))
        key = (band(age), frozenset(band(k) for k in kids), conditions, language, sent)
        if key not in memo:
            choices = choose_items(
                items,
                age_years=age,
                child_ages=kids,
                conditions=set(conditions),
                month=anchor.month,
                language=language,
                already_sent=set(sent),
            )
            memo[key] = choices[0] if choices else None
        item = memo[key]
        if item is not None:
            chosen[pid] = item
    return chosen


def _education_anchors(rule: Rule, span: Span, touch: int) -> list[date]:
    first, last = span.anchors(rule, touch)
    return [d for d in days(first, last) if d.day == rule.send_day]


def _want_education(conn: Connection, rule: Rule, span: Span) -> Iterable[Wanted]:
    for touch in range(len(rule.touches)):
        for anchor in _education_anchors(rule, span, touch):
            channels = rule.channels_for(rule.touches[touch])
            choices = education_choices(conn, rule, anchor, span.zone, channels=channels)
            due, stale = span.timing(rule, touch, anchor)
            for pid, item in choices.items():
                yield Wanted(touch, pid, item.stem, education_occurrence(anchor, pid), due, stale)


def _judge_education(
    conn: Connection, rule: Rule, messages: Sequence[OpenMessage], span: Span
) -> dict[str, Verdict]:
    stems = {item.stem for item in content.library_from(conn)}
    moved = _moved(conn, [m.patient_id for m in messages])
    verdicts: dict[str, Verdict] = {}
    for m in messages:
        anchor = _occurrence_day(m.occurrence)
        if m.patient_id in moved:
            verdicts[m.id] = MOVED_AWAY
        elif m.subject_id not in stems:
            verdicts[m.id] = ITEM_REMOVED
        elif anchor is None or anchor.day != rule.send_day:
            verdicts[m.id] = DAY_CHANGED
        else:
            verdicts[m.id] = span.timing(rule, m.touch, anchor)
    return verdicts


def item_for(conn: Connection, stem: str, language: str) -> EducationItem | None:
    """The item of this stem in the patient's language, else in English."""
    versions = {i.language: i for i in content.library_from(conn) if i.stem == stem}
    wanted = wording.base_language(language)
    return versions.get(wanted) or versions.get(FALLBACK_LANGUAGE)


def education_values(item: EducationItem) -> dict[str, str]:
    links = "\n".join(f"{link.label}: {link.url}" for link in item.sendable_links)
    return {
        "education_title": item.title,
        "education_body": item.body,
        "education_sms": item.sms,
        "education_links": links,
    }


# --- allergy alerts -------------------------------------------------------------------------


def _alert_days(conn: Connection, rule: Rule, first: date, last: date) -> list[date]:
    return [
        day
        for day, found in sorted(stored_days(conn, first, last).items())
        if found.level in ALERT_LEVELS and day.month in rule.season_months
    ]


def _season_counts(
    conn: Connection, rule: Rule, year: int, patient_ids: Iterable[str]
) -> tuple[dict[str, int], set[tuple[str, str]]]:
    """Alerts of this rule to these patients this season (sent or on their way), and every
    (patient, day) already alerted by any allergy rule: a seek per patient on
    outbox(patient_id, subject_kind, state), not a scan of every message ever sent."""
    counts: dict[str, int] = defaultdict(int)
    alerted: set[tuple[str, str]] = set()
    for pid, rule_id, occurrence, state in conn.execute(
        "SELECT patient_id, rule_id, occurrence, state FROM outbox "
        "WHERE patient_id IN (SELECT value FROM json_each(?)) AND subject_kind = 'pollen' "
        "AND occurrence >= ? AND occurrence < ?",
        (json.dumps(sorted(set(patient_ids))), f"{year}-01-01", f"{year + 1}-01-01"),
    ):
        if state in NOT_OPEN_AGAIN:
            continue
        alerted.add((str(pid), str(occurrence)[:10]))
        day = _occurrence_day(str(occurrence))
        if rule_id == rule.id and day is not None and day.month in rule.season_months:
            counts[str(pid)] += 1
    return counts, alerted


def allergy_targets(
    conn: Connection,
    rule: Rule,
    today: date,
    zone: ZoneInfo,
    *,
    reach: bool = True,
    channels: Sequence[str] | None = None,
    include_blocked: bool = False,
) -> set[str]:
    """Patients with a pollen allergy the campaign may reach (before day and season limits)."""
    candidates = _contactable(conn, allergy_patients(conn), include_blocked=include_blocked)
    used = channels if channels is not None else rule.channels_for(rule.touches[0])
    return _narrow(conn, rule, candidates, used, today, zone, reach=reach)


def _want_allergy(conn: Connection, rule: Rule, span: Span) -> Iterable[Wanted]:
    for touch in range(len(rule.touches)):
        first, last = span.anchors(rule, touch)
        alert_days = _alert_days(conn, rule, first, last)
        if not alert_days:
            continue
        channels = rule.channels_for(rule.touches[touch])
        targets = allergy_targets(conn, rule, _today(span), span.zone, channels=channels)
        for day in alert_days:
            counts, alerted = _season_counts(conn, rule, day.year, targets)
            due, stale = span.timing(rule, touch, day)
            for pid in sorted(targets):
                if (pid, day.isoformat()) in alerted or counts.get(pid, 0) >= rule.season_limit:
                    continue
                yield Wanted(touch, pid, "", day.isoformat(), due, stale)


def _judge_allergy(
    conn: Connection, rule: Rule, messages: Sequence[OpenMessage], span: Span
) -> dict[str, Verdict]:
    moved = _moved(conn, [m.patient_id for m in messages])
    verdicts: dict[str, Verdict] = {}
    for m in messages:
        day = _occurrence_day(m.occurrence)
        found = stored_day(conn, day) if day is not None else None
        if m.patient_id in moved:
            verdicts[m.id] = MOVED_AWAY
        elif day is None or found is None or found.level not in ALERT_LEVELS:
            verdicts[m.id] = POLLEN_NOT_HIGH
        elif day.month not in rule.season_months:
            verdicts[m.id] = OUT_OF_SEASON
        else:
            verdicts[m.id] = span.timing(rule, m.touch, day)
    return verdicts


# --- reactivation ---------------------------------------------------------------------------

_KINDS_FILTER: Final = " AND a.kind IN (SELECT value FROM json_each(?))"


@dataclass(frozen=True)
class Lapsed:
    patient_id: str
    last_visit: str  # UTC text of the last fulfilled visit (of the kinds)
    last_kind: str


def lapsed(
    conn: Connection,
    *,
    months: int,
    visit_kinds: Sequence[str],
    today: date,
    zone: ZoneInfo,
    include_blocked: bool = False,
) -> list[Lapsed]:
    """Patients seen (a fulfilled visit of the kinds, any kind when none) but not since the
    same day `months` ago, with nothing booked from today on; never the deceased, merged,
    do-not-contact or moved away. One seek per patient on appointment(patient_id, status,
    start_at)."""
    cutoff = utc_text(day_start(add_months(today, -months), zone))
    kinds = _KINDS_FILTER if visit_kinds else ""
    who = ALIVE if include_blocked else CONTACTABLE
    sql = (
        "SELECT id, last, (SELECT a.kind FROM appointment a WHERE a.patient_id = x.id "  # noqa: S608
        f"AND a.status = 'fulfilled' AND a.start_at = x.last{kinds} LIMIT 1) FROM ("
        "SELECT p.id, (SELECT max(a.start_at) FROM appointment a WHERE a.patient_id = p.id "
        f"AND a.status = 'fulfilled'{kinds}) AS last FROM patient p WHERE {who} "
        "AND NOT EXISTS (SELECT 1 FROM appointment b WHERE b.patient_id = p.id "
        "AND b.status IN ('booked', 'confirmed') AND b.start_at >= ?)) x "
        "WHERE x.last IS NOT NULL AND x.last < ? ORDER BY x.last, x.id"
    )
    listed = json.dumps(list(visit_kinds))
    params: list[object] = [listed] if visit_kinds else []
    params += [listed] if visit_kinds else []
    params += [utc_text(day_start(today, zone)), cutoff]
    return [Lapsed(str(r[0]), str(r[1]), str(r[2] or "")) for r in conn.execute(sql, params)]


def lapsed_since(
    conn: Connection,
    *,
    months: int,
    visit_kinds: Sequence[str],
    today: date,
    zone: ZoneInfo,
    include_blocked: bool = False,
) -> dict[str, str]:
    """lapsed() as patient → last visit, in lapsed()'s order, for the planner and the
    audience: with no visit kinds, two whole reads (the last visits and the booked in one
    pass over the covering index appointment_patient_status, then the contactable) instead
    of two seeks per patient."""
    if visit_kinds:
        found = lapsed(
            conn,
            months=months,
            visit_kinds=visit_kinds,
            today=today,
            zone=zone,
            include_blocked=include_blocked,
        )
        return {entry.patient_id: entry.last_visit for entry in found}
    cutoff = utc_text(day_start(add_months(today, -months), zone))
    # One pass over the covering index appointment_patient_status in patient order, grouped
    # without sorting: the last fulfilled visit and whether anything is booked from today
    # on (a range read on appointment(status, start_at) would then read each booked row).
    last = conn.execute(
        "SELECT a.patient_id, max(CASE WHEN a.status = 'fulfilled' THEN a.start_at END) "
        "AS seen FROM appointment a INDEXED BY appointment_patient_status "
        "GROUP BY a.patient_id HAVING seen < ? "
        "AND NOT max(a.status IN ('booked', 'confirmed') AND a.start_at >= ?)",
        (cutoff, utc_text(day_start(today, zone))),
    ).fetchall()
    who = {
        str(r[0])
        for r in conn.execute(
            "SELECT p.id FROM patient p WHERE "  # noqa: S608 - one of two fixed conditions
            + (ALIVE if include_blocked else CONTACTABLE)
        )
    }
    kept = sorted(((str(at), str(pid)) for pid, at in last if str(pid) in who))
    return {pid: at for at, pid in kept}


def campaign_start(rule: Rule, zone: ZoneInfo, today: date) -> date:
    """The first day of a reactivation campaign: its start_on, else the day it was made."""
    if rule.start_on:
        try:
            return date.fromisoformat(rule.start_on)
        except ValueError:
            pass
    if rule.created_at:
        return local_day(parse_utc(rule.created_at), zone)
    return today


def reactivation_anchor(rule: Rule, last_visit: str, zone: ZoneInfo, today: date) -> date:
    lapse = add_months(local_day(parse_utc(last_visit), zone), rule.recall_months)
    return max(campaign_start(rule, zone, today), lapse)


def _want_reactivation(conn: Connection, rule: Rule, span: Span) -> Iterable[Wanted]:
    today = _today(span)
    start = campaign_start(rule, span.zone, today)
    for touch in range(len(rule.touches)):
        first, last = span.anchors(rule, touch)
        found: dict[str, str] = {}
        # Those who lapse on a day of the range, after the start: a range read.
        since, until = months_before_range(max(first, start), last, rule.recall_months)
        if since <= until:
            lo, hi = utc_range(since, until, span.zone)
            found.update(recall_candidates(conn, rule, lo, hi, span.now_text))
        # On the start day itself, everyone who had lapsed by then.
        if first <= start <= last:
            away = lapsed_since(
                conn,
                months=rule.recall_months,
                visit_kinds=rule.recall_visit_kinds,
                today=start,
                zone=span.zone,
            )
            for pid, last_visit in away.items():
                found.setdefault(pid, last_visit)
        if not found:
            continue
        channels = rule.channels_for(rule.touches[touch])
        keep = _narrow(
            conn, rule, _contactable(conn, found), channels, today, span.zone, reach=True
        )
        for pid in sorted(keep):
            anchor = reactivation_anchor(rule, found[pid], span.zone, today)
            if first <= anchor <= last:
                due, stale = span.timing(rule, touch, anchor)
                yield Wanted(touch, pid, "", anchor.isoformat(), due, stale)


def _judge_reactivation(
    conn: Connection, rule: Rule, messages: Sequence[OpenMessage], span: Span
) -> dict[str, Verdict]:
    pids = sorted({m.patient_id for m in messages})
    facts = recall_facts(conn, rule, pids, span.now_text)
    moved = _moved(conn, pids)
    today = _today(span)
    verdicts: dict[str, Verdict] = {}
    for m in messages:
        found = facts.get(m.patient_id)
        if m.patient_id in moved:
            verdicts[m.id] = MOVED_AWAY
        elif found is None or found.last_visit is None:
            verdicts[m.id] = NO_LAST_VISIT
        elif found.booked:
            verdicts[m.id] = BOOKED
        else:
            anchor = reactivation_anchor(rule, found.last_visit, span.zone, today)
            if anchor.isoformat() != m.occurrence:
                verdicts[m.id] = SEEN_SINCE
            else:
                verdicts[m.id] = span.timing(rule, m.touch, anchor)
    return verdicts


def last_visit_text(day: date, language: str) -> str:
    """'March 10, 2026' / '10 de marzo de 2026'."""
    if wording.base_language(language) == "es":
        return f"{wording.month_day(day, 'es')} de {day.year}"
    return f"{wording.month_day(day, 'en')}, {day.year}"


WANTERS: Final[dict[str, Wanter]] = {
    "education": _want_education,
    "allergy": _want_allergy,
    "reactivation": _want_reactivation,
}
JUDGES: Final[dict[str, Judge]] = {
    "education": _judge_education,
    "allergy": _judge_allergy,
    "reactivation": _judge_reactivation,
}


# --- at send time -----------------------------------------------------------------------------


def _language(clinic: Clinic, patient: Patient) -> str:
    zone = ZoneInfo(clinic.settings.timezone)
    return patient.language.strip() or policy_from(clinic.conn, zone).default_language


def still_holds(
    clinic: Clinic,
    rule: Rule,
    touch: Touch,
    message: Message,
    patient: Patient,
    *,
    now: datetime,
    zone: ZoneInfo,
) -> Facts | Gone:
    if patient.moved_on:
        return Gone(MOVED_AWAY)
    language = _language(clinic, patient)
    if rule.kind == "education":
        item = item_for(clinic.conn, message.subject_id, language)
        if item is None:
            return Gone(ITEM_REMOVED)
        return Facts(extra=education_values(item))
    if rule.kind == "allergy":
        day = _occurrence_day(message.occurrence)
        found = stored_day(clinic.conn, day) if day is not None else None
        if found is None or found.level not in ALERT_LEVELS:
            return Gone(POLLEN_NOT_HIGH)
        return Facts(extra={"pollen_level": level_words(found.level, language)})
    facts = recall_facts(clinic.conn, rule, [patient.id], utc_text(now)).get(patient.id)
    if facts is None or facts.last_visit is None:
        return Gone(NO_LAST_VISIT)
    if facts.booked:
        return Gone("The patient has a visit booked")
    anchor = reactivation_anchor(rule, facts.last_visit, zone, local_day(now, zone))
    if anchor.isoformat() != message.occurrence:
        return Gone(SEEN_SINCE)
    seen = local_day(parse_utc(facts.last_visit), zone)
    return Facts(extra={"last_visit_date": last_visit_text(seen, language)})


def facts_for(
    clinic: Clinic, rule: Rule, patient_id: str, subject_id: str, occurrence: str
) -> Facts:
    """The values of one message as the record stands, for the template editor and the
    Messages page; a part that is gone is left out."""
    row = clinic.conn.execute("SELECT language FROM patient WHERE id = ?", (patient_id,)).fetchone()
    zone = ZoneInfo(clinic.settings.timezone)
    language = (str(row[0] or "") if row else "") or policy_from(clinic.conn, zone).default_language
    if rule.kind == "education":
        item = item_for(clinic.conn, subject_id, language)
        return Facts(extra=education_values(item)) if item is not None else Facts()
    if rule.kind == "allergy":
        day = _occurrence_day(occurrence)
        found = stored_day(clinic.conn, day) if day is not None else None
        if found is None or found.level == "unknown":
            return Facts()
        return Facts(extra={"pollen_level": level_words(found.level, language)})
    return _last_visit_facts(clinic, rule, patient_id, language, zone)


def _last_visit_facts(
    clinic: Clinic, rule: Rule, patient_id: str, language: str, zone: ZoneInfo
) -> Facts:
    facts = recall_facts(clinic.conn, rule, [patient_id], "9999").get(patient_id)
    if facts is None or facts.last_visit is None:
        return Facts()
    seen = local_day(parse_utc(facts.last_visit), zone)
    return Facts(extra={"last_visit_date": last_visit_text(seen, language)})


def upcoming_facts(clinic: Clinic, rule: Rule, patient_id: str, *, now: datetime) -> Facts:
    """A preview's real values: the item the patient would get next, today's level words,
    their last visit."""
    zone = ZoneInfo(clinic.settings.timezone)
    row = clinic.conn.execute("SELECT language FROM patient WHERE id = ?", (patient_id,)).fetchone()
    language = (str(row[0] or "") if row else "") or policy_from(clinic.conn, zone).default_language
    today = local_day(now, zone)
    if rule.kind == "education":
        probe = replace(rule, id=rule.id or "preview")
        chosen = education_choices(clinic.conn, probe, today, zone, reach=False)
        item = chosen.get(patient_id)
        return Facts(extra=education_values(item)) if item is not None else Facts()
    if rule.kind == "allergy":
        found = stored_day(clinic.conn, today)
        if found is None or found.level == "unknown":
            return Facts()
        return Facts(extra={"pollen_level": level_words(found.level, language)})
    return _last_visit_facts(clinic, rule, patient_id, language, zone)


def stem_sent(conn: Connection, patient_id: str) -> set[str]:
    """The education stems this patient was sent or has on the way (any rule)."""
    rows = conn.execute(
        "SELECT subject_id, state FROM outbox WHERE patient_id = ? AND subject_kind = 'education'",
        (patient_id,),
    ).fetchall()
    return {stem_of(str(s)) for s, state in rows if state not in NOT_OPEN_AGAIN}
